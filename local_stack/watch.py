"""Watch mode: edits reach the running local stack in about a second, one line per action.

- web/ (the site's folder): published through the post-apply hook (only what changed is uploaded, the
  invalidation is made), and open pages reload themselves. When an edit changes the site's inline code, whose
  hashes the content security policy lists, the stack is synthesized and applied first (as for modules/);
- functions/<name>/: the function's code is updated in the emulator and the next request runs it;
- modules/ and contract/ (the constructs and the settings): the stack is synthesized again in a process of its
  own and applied incrementally (only what changed), then the site is republished if an output the page uses
  changed. A synth or Terraform error is printed as Python or Terraform wrote it, and the stack keeps serving
  what it served.

watchfiles (Rust's notify) reports a burst of saves — an editor writing several files — as one set of changes,
which is one action per kind of edit.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import watchfiles
from botocore.exceptions import BotoCoreError, ClientError

from contract.routing import ROUTER_SOURCE
from hooks.release import SourceError
from hooks.results import PublishError
from local_stack.stack import LocalStack, LocalStackError

# How long a burst of saves may take to settle into one action (watchfiles' `step`), and its upper bound.
QUIET_MS = 150
MAX_GROUPING_MS = 1000
# How often the watch comes back from watchfiles with nothing: the first time tells `start` the watches are set.
IDLE_MS = 200


@dataclass(frozen=True)
class Edits:
    """What one burst of saves changed, by what it takes to bring the stack up to date."""

    web: bool = False
    functions: frozenset[str] = frozenset()  # folders under functions/
    infrastructure: bool = False

    def __bool__(self) -> bool:
        return self.web or bool(self.functions) or self.infrastructure


@dataclass(frozen=True)
class WatchedFolders:
    web: Path
    functions: Path
    infrastructure: tuple[Path, ...]  # what the stack is synthesized from: modules/ and contract/

    @classmethod
    def of(cls, stack: LocalStack) -> WatchedFolders:
        project = stack.options.project_dir.resolve()
        return cls(stack.options.web_dir.resolve(), project / "functions", (project / "modules", project / "contract"))

    def existing(self) -> list[Path]:
        return [folder for folder in (self.web, self.functions, *self.infrastructure) if folder.is_dir()]

    def classify(self, paths: Iterable[str]) -> Edits:
        web, infrastructure, functions = False, False, set()
        for path in map(Path, paths):
            if path.is_relative_to(self.web):
                web = True
            elif any(path.is_relative_to(folder) for folder in self.infrastructure):
                infrastructure = True
            elif path.is_relative_to(self.functions) and len(path.relative_to(self.functions).parts) > 1:
                folder = path.relative_to(self.functions).parts[0]
                # CloudFront's routing function: local mode routes with contract/routing.py, nothing to deploy.
                functions |= set() if folder == ROUTER_SOURCE.parent.name else {folder}
        return Edits(web, frozenset(functions), infrastructure)


class Watcher:
    """Brings `stack` up to date with each burst of edits until `stop` is set; `log` gets one line per action."""

    def __init__(self, stack: LocalStack, log: Callable[[str], None], stop: threading.Event) -> None:
        self.stack = stack
        self.log = log
        self.stop = stop
        self.folders = WatchedFolders.of(stack)
        self._thread: threading.Thread | None = None
        self._watching = threading.Event()

    def start(self) -> None:
        """Start watching in a thread of its own; returns once the watches are in place, so that an edit saved
        after it is seen (watchfiles sets them up in the thread, and sees nothing saved before)."""
        self._thread = threading.Thread(target=self.run, name="watch", daemon=True)
        self._thread.start()
        while not self._watching.wait(0.05) and self._thread.is_alive():
            pass

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def run(self) -> None:
        for changes in watchfiles.watch(
            *self.folders.existing(),
            stop_event=self.stop,
            step=QUIET_MS,
            debounce=MAX_GROUPING_MS,
            rust_timeout=IDLE_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            self._watching.set()
            if changes:
                self.handle(self.folders.classify(path for _, path in changes))

    def handle(self, edits: Edits) -> None:
        """One action per kind of edit: the infrastructure first (it may change what the others use)."""
        applied = False
        if edits.web and not edits.infrastructure and self.stack.policy_is_stale():
            # The CSP lists the hashes of the pages' inline code: new ones need the stack, not only a publish.
            self.log("web: the pages' inline code changed: synthesizing and applying the stack for its CSP")
            edits = Edits(edits.web, edits.functions, infrastructure=True)
        if edits.infrastructure:
            applied = self._action("infra", self.stack.reapply)
        if edits.functions and not applied:  # an apply has deployed the functions' code already
            for folder in sorted(edits.functions):
                self._action("functions", functools.partial(self._update_function, folder))
        if edits.web:
            self._action("web", self._publish)

    def _action(self, kind: str, action: Callable[[], str]) -> bool:
        started = time.perf_counter()
        try:
            done = action()
        except (LocalStackError, PublishError, SourceError, ClientError, BotoCoreError, OSError) as exc:
            self.log(f"{kind}: error: {exc}\n{kind}: the stack keeps serving what it served")
            return False
        self.log(f"{kind}: {done} ({time.perf_counter() - started:.1f} s)")
        return True

    def _publish(self) -> str:
        result = self.stack.publish()
        if not result.uploaded and not result.deleted:
            return "no change to publish"
        invalidated = " ".join(result.invalidation.paths) if result.invalidation else "nothing"
        deleted = f", deleted {len(result.deleted)}" if result.deleted else ""
        return f"published {len(result.uploaded)} file(s){deleted}, invalidated {invalidated}"

    def _update_function(self, folder: str) -> str:
        name = self.stack.update_function(folder)
        return f"{folder}/ deployed to {name}; the next request runs it"
