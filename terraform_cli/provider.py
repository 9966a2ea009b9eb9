"""One provider process shared by several Terraform commands, through `TF_REATTACH_PROVIDERS`.

Every Terraform command starts the AWS provider (about 540 MB) in each of its walks (validate, plan, apply) and
reads its schema; a provider started once with `-debug` and reattached skips that. Such a provider is not
Terraform's child: Terraform neither stops nor kills it, so this module does, and never reuses one after trouble:

- after an interrupt Terraform sends StopProvider, after which an SDKv2 provider's stop context stays cancelled
  for its lifetime, so the caller kills it (`kill`) on any error or stop and the next command starts a fresh one;
- setting `stop` kills it at once (SIGKILL: it holds no state; Terraform keeps the state), so a Terraform waiting
  on it ends instead of hanging;
- the kernel kills it when the thread that owns it ends (the parent-death signal), and that thread lives exactly
  as long as the provider, so a killed local mode leaves no provider behind;
- its reattach line is read from a file (not a pipe: no SIGPIPE), with a time bound; a provider that does not
  print it in time is killed and `ProviderUnavailable` says why, so the caller can run Terraform as usual.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from terraform_cli.children import ends_with_this_process

AWS_PROVIDER_SOURCE = "registry.terraform.io/hashicorp/aws"
REATTACH_VARIABLE = "TF_REATTACH_PROVIDERS"
START_TIMEOUT_SECONDS = 60.0  # it prints its address in well under a second idle; minutes mean it is stuck
POLL_SECONDS = 0.05
# The provider's custom CA bundle wraps its shared HTTP client once per process, so a second ConfigureProvider
# in the same process fails ("unable to add custom RootCAs HTTPClient"); the emulator is plain HTTP anyway.
UNSHARED_VARIABLES = ("AWS_CA_BUNDLE",)
_REATTACH_LINE = re.compile(r"TF_REATTACH_PROVIDERS='(\{.*\})'")


class ProviderUnavailable(RuntimeError):
    """The shared provider could not be started; the message says why."""


def installed_provider(directory: Path, source: str = AWS_PROVIDER_SOURCE) -> Path | None:
    """The provider binary `terraform init` installed for a stack folder, or None before an init."""
    found = sorted((directory / ".terraform" / "providers" / source).glob("*/*/terraform-provider-*"))
    return found[-1] if found else None


def reattach_value(output: str, source: str = AWS_PROVIDER_SOURCE) -> str | None:
    """The `TF_REATTACH_PROVIDERS` value a `-debug` provider printed for `source`, once it is complete JSON."""
    for match in _REATTACH_LINE.finditer(output):
        try:
            value = json.loads(match.group(1))
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get(source), dict) and "Addr" in value[source]:
            return json.dumps({source: value[source]})
    return None


@dataclass
class SharedProvider:
    """`binary -debug`, started on first use in `directory` with `env`, killed by `kill()` or once `stop` is set."""

    binary: Path
    directory: Path
    env: Mapping[str, str]
    stop: threading.Event | None = None
    start_timeout: float = START_TIMEOUT_SECONDS
    _process: subprocess.Popen[bytes] | None = None
    _output: Path | None = None
    _reattach: str | None = None
    _killed: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None and not self._killed.is_set()

    def usable(self) -> bool:
        """Not killed, and running or not started yet."""
        return not self._killed.is_set() and (self._process is None or self._process.poll() is None)

    def start(self) -> None:
        """Start the provider (if it has not been) without waiting for it to be ready."""
        with self._lock:
            if self._process is not None or self._killed.is_set():
                return
            descriptor, output = tempfile.mkstemp(prefix="provider-", suffix=".out")
            self._output = Path(output)
            started = threading.Event()
            failure: list[BaseException] = []
            owner = threading.Thread(
                target=self._own, args=(descriptor, started, failure), name="shared provider", daemon=True
            )
            owner.start()
            if not started.wait(self.start_timeout) or failure:
                self._kill_now()
                raise ProviderUnavailable(f"the provider did not start: {failure[0] if failure else 'timed out'}")

    def reattach_env(self) -> dict[str, str]:
        """{TF_REATTACH_PROVIDERS: …} for a Terraform command; starts the provider and waits (bounded) for it."""
        self.start()
        deadline = time.monotonic() + self.start_timeout
        while self._reattach is None:
            text = self._output.read_text(errors="replace") if self._output and self._output.exists() else ""
            self._reattach = reattach_value(text)
            if self._reattach is not None:
                break
            if not self.alive():
                self.kill()
                raise ProviderUnavailable(f"the provider exited before it was ready: {text.strip()[-300:]!r}")
            if time.monotonic() > deadline:
                self.kill()
                raise ProviderUnavailable(f"the provider printed no address within {self.start_timeout:.0f} s")
            time.sleep(POLL_SECONDS)
        return {REATTACH_VARIABLE: self._reattach}

    def kill(self) -> None:
        """SIGKILL it and wait (bounded) until it is gone; it is never started again."""
        with self._lock:
            self._kill_now()

    def _kill_now(self) -> None:
        self._killed.set()
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        if self._output is not None:
            self._output.unlink(missing_ok=True)

    def _own(self, descriptor: int, started: threading.Event, failure: list[BaseException]) -> None:
        """Start the provider from this thread and stay until it ends: the kernel kills it if this thread dies."""
        try:
            with open(descriptor, "wb") as output:
                self._process = subprocess.Popen(
                    [str(self.binary), "-debug"],
                    cwd=self.directory,
                    env={k: v for k, v in self.env.items() if k not in UNSHARED_VARIABLES},
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # a Ctrl-C meant for local mode does not reach it
                    preexec_fn=ends_with_this_process(signal.SIGKILL),
                )
        except OSError as exc:
            failure.append(exc)
            return
        finally:
            started.set()
        process = self._process
        while process.poll() is None:
            if self.stop is not None and self.stop.is_set():
                self.kill()
            elif self._killed.wait(0.2):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
