"""Progress on long uploads: a tqdm bar (bytes, rate, files done) on a terminal, one line per phase in a log."""

from __future__ import annotations

import io
from dataclasses import dataclass

from hooks.storage import PROGRESS_LINE_MIN_FILES, Progress


@dataclass(frozen=True)
class Item:
    key: str
    size: int


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def items(count: int, size: int = 1024) -> list[Item]:
    return [Item(f"p/{n}.html", size) for n in range(count)]


def uploaded(progress: Progress, uploads: list[Item]) -> None:
    for item in uploads:
        progress.step(item)
    progress.finish()


def test_a_terminal_gets_a_bar_with_bytes_rate_and_files():
    terminal = Terminal()
    uploaded(Progress(items(3), "pages", terminal), items(3))
    bar = terminal.getvalue().rsplit("\r", 1)[-1]
    assert bar.startswith("uploading pages: 100%")
    assert "3.00k/3.00k [" in bar  # bytes done / bytes in all (KiB)
    assert "B/s" in bar
    assert "3/3 files" in bar


def test_a_log_gets_one_line_per_long_phase():
    log = io.StringIO()
    uploads = items(PROGRESS_LINE_MIN_FILES, size=2048)
    uploaded(Progress(uploads, "assets", log), uploads)
    (line,) = log.getvalue().splitlines()
    assert line.startswith(f"uploaded assets: {PROGRESS_LINE_MIN_FILES} files, 200kB in ")
    assert line.endswith("B/s)")


def test_a_short_phase_leaves_a_log_alone():
    log = io.StringIO()
    uploaded(Progress(items(PROGRESS_LINE_MIN_FILES - 1), "pages", log), items(PROGRESS_LINE_MIN_FILES - 1))
    assert log.getvalue() == ""
