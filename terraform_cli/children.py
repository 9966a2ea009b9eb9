"""Child processes that end when the process that started them dies, however it dies.

A process killed with SIGKILL (the OOM killer, a CI job's hard timeout) cleans nothing up: a Terraform command it
was running would go on, with its provider (about 540 MB), against an emulator that is gone. On Linux the
kernel can send a child a signal when its parent dies (`prctl(PR_SET_PDEATHSIG)`); `ends_with_this_process` sets
that up between fork and exec. Elsewhere there is no such signal, and a child outlives a killed parent until it
ends by itself (docs/local-mode.md says so).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@functools.cache
def _prctl() -> Callable[..., int]:
    """libc's prctl, looked up once in the parent: the child only calls it between fork and exec."""
    return ctypes.CDLL(None, use_errno=True).prctl


def parent_death_signal_supported() -> bool:
    """Whether the kernel can signal a child when its parent dies (Linux only)."""
    return sys.platform.startswith("linux")


def ends_with_this_process(sig: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` that has the kernel send the child `sig` once this process dies; None where that does not
    exist (then the child is started as usual).

    The kernel sends it when the *thread* that started the child ends, not the process: start such children
    from a thread that waits for them (as `subprocess.run` and the Terraform runner do). When the whole process
    dies, the child is handed to another of its threads first and gets `sig` again when that one ends, so it may
    get one or several, as the threads happen to die: Terraform exits at once on a second interrupt and stops
    gracefully on a single one, which is why local mode's provider gives up on a gone emulator after two tries
    (`emulator.max_retries`).
    """
    if not parent_death_signal_supported():
        return None
    prctl = _prctl()
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != parent:  # the parent died before prctl took effect: no signal would ever come
            os._exit(1)

    return set_parent_death_signal
