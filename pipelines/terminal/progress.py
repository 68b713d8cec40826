"""Progress of a local run on the terminal, as a progress bar (rich).

Beam's metrics are only readable when a local run ends, so the pipeline's workers append one
byte per event to a small local file and the launcher redraws a bar from it. Only used for
runners whose workers share this machine (DirectRunner, portable LOOPBACK), on a terminal.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from typing import TextIO

import apache_beam as beam
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

CODES = {"seen": b"s", "done": b"d", "failed": b"f", "patches": b"p"}
NAMES = {code[0]: name for name, code in CODES.items()}


@dataclass(frozen=True)
class ProgressFile:
    path: str


class Report(beam.DoFn):
    """Append one event code per element (O_APPEND writes of one byte do not interleave)."""

    def __init__(self, progress: ProgressFile, event: str) -> None:
        self.progress = progress
        self.code = CODES[event]
        self._fd: int | None = None

    def setup(self) -> None:
        self._fd = os.open(self.progress.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def process(self, element) -> None:
        os.write(self._fd, self.code)

    def teardown(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_counts(progress: ProgressFile) -> Counter:
    try:
        with open(progress.path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return Counter()
    return Counter({NAMES[b]: n for b, n in Counter(data).items() if b in NAMES})


def format_status(counts: Counter, elapsed: float) -> str:
    """The status as one plain line (what the bar shows, for logs and tests)."""
    files = counts["done"] + counts["failed"]
    rate = files / elapsed if elapsed > 0 else 0.0
    return (
        f"files {files}/{counts['seen']}  {rate:.1f} files/s  "
        f"patches {counts['patches']}  failed {counts['failed']}  {elapsed:.0f}s"
    )


class RateColumn(ProgressColumn):
    """Files (or epochs) per second since the start: a pipeline finishes files in bursts, too
    few for rich's recent-speed estimate to settle on a small library."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time or task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:.1f} {self.unit}/s", style="progress.data.speed")


def _bar(console: Console, *columns: ProgressColumn) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                    *columns, TimeElapsedColumn(), TimeRemainingColumn(),
                    TextColumn("left"), console=console, transient=False,
                    refresh_per_second=4)


class ProgressDisplay:
    """A progress bar on a terminal while the pipeline runs: percentage, files done/total,
    rate, patches, failures, elapsed and remaining time (rich)."""

    def __init__(self, progress: ProgressFile, stream: TextIO | None = None,
                 interval: float = 0.5, label: str = "tagging") -> None:
        self.progress = progress
        self.interval = interval
        # stderr=True: whatever sys.stderr is when drawing (mgc moves it off the filter)
        self._console = Console(file=stream) if stream else Console(stderr=True)
        self._bar = _bar(self._console, TextColumn("files {task.completed}/{task.fields[seen]}"),
                         RateColumn("files"), TextColumn("patches {task.fields[patches]}"),
                         TextColumn("failed {task.fields[failed]}"))
        self._task = self._bar.add_task(label, total=None, seen=0, patches=0, failed=0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _draw(self) -> None:
        counts = read_counts(self.progress)
        seen = counts["seen"]
        self._bar.update(self._task, completed=counts["done"] + counts["failed"],
                         total=seen or None, seen=seen, patches=counts["patches"],
                         failed=counts["failed"])

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    def __enter__(self) -> ProgressDisplay:
        self._bar.start()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._draw()
        self._bar.stop()


class EpochBar:
    """``mgc train``'s log: on a terminal a bar over the epochs of each phase, the epoch lines
    printed above it; elsewhere the lines alone. Call it as ``Log``: (line, epoch=(done,
    total, phase))."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._bar = None
        self._tasks: dict[str, TaskID] = {}
        if self._stream.isatty():
            self._bar = _bar(Console(file=self._stream), RateColumn("epochs"))

    def __call__(self, line: str, epoch: tuple[int, int, str] | None = None) -> None:
        if self._bar is None:
            print(line, file=self._stream, flush=True)
            return
        self._bar.console.print(line, markup=False, highlight=False)
        if epoch is not None:
            done, total, phase = epoch
            if phase not in self._tasks:
                self._tasks[phase] = self._bar.add_task(f"{phase or 'training'} epochs",
                                                        total=total, completed=done - 1)
            self._bar.update(self._tasks[phase], completed=done, total=total)

    def __enter__(self) -> EpochBar:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
