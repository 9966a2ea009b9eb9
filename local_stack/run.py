"""`pipenv run local`: the whole stack on this machine, without an AWS account.

Starts the AWS emulator (moto), synthesizes the `local` stack and applies it with the real Terraform CLI and AWS
provider (every endpoint at the emulator), publishes web/ with the post-apply hook, and serves the site and the
API on two 127.0.0.1 ports (so the browser makes real cross-origin calls) until Ctrl-C or SIGTERM. Meanwhile it
watches web/, functions/, modules/ and contract/ and brings the running stack up to date with each edit.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from local_stack.emulator import PortInUse
from local_stack.stack import LocalOptions, LocalStack, LocalStackError
from local_stack.watch import Watcher


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pipenv run local", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--site-port", type=int, default=LocalOptions.site_port, help="default %(default)s")
    parser.add_argument("--api-port", type=int, default=LocalOptions.api_port, help="default %(default)s")
    parser.add_argument("--emulator-port", type=int, default=LocalOptions.emulator_port, help="default: any free port")
    parser.add_argument(
        "--same-origin",
        action="store_true",
        help="route /users through the site origin, as the same-origin option does on AWS",
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
        "--work-dir",
        type=Path,
        default=LocalOptions.work_dir,
        help="where synth output, state, outputs and logs go (default: .local/)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = LocalStack(
        LocalOptions(
            site_port=args.site_port,
            api_port=args.api_port,
            emulator_port=args.emulator_port,
            same_origin=args.same_origin,
            work_dir=args.work_dir,
            live_reload=not args.no_watch,
        )
    )
    watcher = Watcher(stack, lambda line: print(line, flush=True), stack.stopping)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stack.stopping.set()  # interrupts a Terraform phase cleanly, or ends serving

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        stack.start()
        print(f"site: {stack.site_url}")
        print(f"api: {stack.api_url}")
        print(f"emulator: {stack.emulator_url}")
        print(f"outputs: {stack.outputs_file}")
        if not args.no_watch:
            watcher.start()
            print("watching web/, functions/, modules/ and contract/ (--no-watch turns it off)")
        print("serving until Ctrl-C", flush=True)
        stack.stopping.wait()
    except KeyboardInterrupt:
        pass
    except (LocalStackError, PortInUse) as exc:
        if not stack.stopping.is_set():
            print(f"local: error: {exc}", file=sys.stderr)
            stack.stop()
            return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        stack.stopping.set()  # ends the watcher too
        watcher.join()
    if args.destroy_on_exit and stack.outputs is not None:
        try:
            stack.destroy()
            print("destroyed every resource in the emulator")
        except LocalStackError as exc:
            print(f"local: error: {exc}", file=sys.stderr)
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
