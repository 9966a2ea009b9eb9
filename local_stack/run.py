"""`pipenv run local`: the whole stack on this machine, without an AWS account.

Starts the AWS emulator (moto), synthesizes the `local` stack and applies it with the real Terraform CLI and AWS
provider (every endpoint at the emulator), publishes the site (web/, or --source DIR) with the post-apply hook,
and serves the site and the API on two 127.0.0.1 ports (so the browser makes real cross-origin calls) until
Ctrl-C, SIGTERM or SIGHUP. Meanwhile it watches the site's folder, functions/, modules/ and contract/ and brings
the running stack up to date with each edit.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from local_stack.emulator import PortInUse
from local_stack.stack import LocalOptions, LocalStack, LocalStackError
from local_stack.watch import Watcher
from terraform_cli.runner import end_every_command

# Each stops local mode cleanly: Ctrl-C, `kill`, and a terminal or SSH session that closes.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# How often the main thread wakes while it serves. Python runs a signal's handler in the main thread only, and the
# kernel may deliver the signal to any other thread (the servers', the watcher's, the provider's); a main thread
# blocked in a wait with no timeout then never runs the handler, and local mode never stops.
SIGNAL_CHECK_SECONDS = 0.2
# The exit status when a second signal ended everything at once (a clean stop exits 0).
ENDED_AT_ONCE = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pipenv run local", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--site-port", type=int, default=LocalOptions.site_port, help="default %(default)s")
    parser.add_argument("--api-port", type=int, default=LocalOptions.api_port, help="default %(default)s")
    parser.add_argument(
        "--emulator-port",
        type=int,
        default=LocalOptions.emulator_port,
        help="default: the last run's, if free, else any free port",
    )
    parser.add_argument(
        "--same-origin",
        action="store_true",
        help="route /users through the site origin, as the same-origin option does on AWS",
    )
    parser.add_argument(
        "--single-page-app",
        action="store_true",
        help="serve /index.html for every path without a file extension (site.single_page_app)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        metavar="DIR",
        help="the site's folder to publish and watch instead of the local environment's site.source_dir (web/)",
    )
    parser.add_argument(
        "--destroy-on-exit",
        action="store_true",
        help="on Ctrl-C, run `terraform destroy` of the local stack before stopping the emulator",
    )
    parser.add_argument(
        "--no-watch",
        action="store_true",
        help="do not watch web/, functions/, modules/ and contract/ for edits (nor reload open pages)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start cold: apply with Terraform even if the last run in the work dir left a recording to replay",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=LocalOptions.work_dir,
        help="where synth output, state, outputs and logs go (default: .local/)",
    )
    return parser.parse_args(argv)


def say(line: str, *, error: bool = False) -> None:
    """Print one line now. A terminal that closed (SIGHUP) or a reader that left is no reason to fail, least of
    all while stopping."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr if error else sys.stdout, flush=True)


@dataclass
class StopOnSignals:
    """The first SIGINT, SIGTERM or SIGHUP stops local mode cleanly: it sets `stopping`, which interrupts a
    running Terraform command as Ctrl-C does (it releases the state lock; `GRACE_SECONDS`, then it is killed with
    its provider) or ends serving. A second one ends everything at once."""

    stopping: threading.Event
    received: list[str] = field(default_factory=list)
    _previous: dict[int, Any] = field(default_factory=dict)

    def install(self) -> None:
        for stop_signal in STOP_SIGNALS:
            self._previous[stop_signal] = signal.signal(stop_signal, self._on_signal)

    def uninstall(self) -> None:
        for stop_signal, handler in self._previous.items():
            signal.signal(stop_signal, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received:
            end_every_command()
            _write_now(f"local: {name} again: ended Terraform and its providers at once; the next start cleans up\n")
            os._exit(ENDED_AT_ONCE)  # the servers and the emulator are threads of this process: gone with it
        self.received.append(name)
        _write_now(f"local: {name}: stopping (a second Ctrl-C, SIGTERM or SIGHUP ends everything at once)\n")
        self.stopping.set()


def wait_for_signal(stopping: threading.Event) -> None:
    """Block the main thread until `stopping` is set, waking every SIGNAL_CHECK_SECONDS so that a stop signal the
    kernel handed to another thread gets its handler run."""
    while not stopping.wait(SIGNAL_CHECK_SECONDS):
        pass


def _write_now(text: str) -> None:
    """Write from a signal handler: unbuffered, since the handler may run while a print() holds stdout's buffer."""
    with contextlib.suppress(OSError):
        os.write(sys.stdout.fileno(), text.encode())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = LocalStack(
        LocalOptions(
            site_port=args.site_port,
            api_port=args.api_port,
            emulator_port=args.emulator_port,
            same_origin=args.same_origin,
            single_page_app=args.single_page_app,
            source=args.source.resolve() if args.source else None,
            work_dir=args.work_dir,
            live_reload=not args.no_watch,
            fresh=args.fresh,
        ),
        log=say,
    )
    signals = StopOnSignals(stack.stopping)
    signals.install()  # until the very end: a second signal while stopping still ends everything at once
    try:
        status = run_until_stopped(stack, args)
        if signals.received:
            say(f"local: stopped ({signals.received[0]}): no Terraform, server or emulator of it runs on")
        return status
    finally:
        signals.uninstall()


def watched_site(stack: LocalStack) -> str:
    """The site's folder as the watch line names it: relative to the project where it is inside it."""
    folder, project = stack.options.web_dir.resolve(), stack.options.project_dir.resolve()
    return f"{folder.relative_to(project)}/" if folder.is_relative_to(project) else f"{folder}/"


def run_until_stopped(stack: LocalStack, args: argparse.Namespace) -> int:
    """Start, serve until `stack.stopping` is set, then stop (destroying first with --destroy-on-exit); the exit
    status."""
    watcher = Watcher(stack, say, stack.stopping)
    status = 0
    try:
        try:
            stack.start()
            say(f"site: {stack.site_url}")
            say(f"api: {stack.api_url}")
            say(f"emulator: {stack.emulator_url}")
            say(f"outputs: {stack.outputs_file}")
            if not args.no_watch:
                watcher.start()
                say(f"watching {watched_site(stack)}, functions/, modules/ and contract/ (--no-watch turns it off)")
            say("serving until Ctrl-C")
            wait_for_signal(stack.stopping)
        except (LocalStackError, PortInUse) as exc:
            if not stack.stopping.is_set():  # when stopping, the error is the interrupted phase's: asked for
                say(f"local: error: {exc}", error=True)
                status = 1
        finally:
            stack.stopping.set()  # ends the watcher too
            watcher.join()
        if status == 0 and args.destroy_on_exit and stack.outputs is not None:
            try:
                stack.destroy()
                say("destroyed every resource in the emulator")
            except LocalStackError as exc:
                say(f"local: error: {exc}", error=True)
    finally:
        stack.stop()
    return status


if __name__ == "__main__":
    # `kill -USR1 <pid>` prints every thread's stack: what a local mode that does not stop is waiting on. (Only as
    # the command: it needs a real stderr, and a process that calls main() may have its own use for the signal.)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    sys.exit(main())
