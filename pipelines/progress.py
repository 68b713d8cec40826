"""Progress of a local run on the terminal.

Beam's metrics are only readable when a local run ends, so the pipeline's workers append one
byte per event to a small local file and the launcher redraws a status line from it. Only used
for runners whose workers share this machine (DirectRunner, portable LOOPBACK).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TextIO

import apache_beam as beam

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
    files = counts["done"] + counts["failed"]
    rate = files / elapsed if elapsed > 0 else 0.0
    return (
        f"files {files}/{counts['seen']}  {rate:.1f} files/s  "
        f"patches {counts['patches']}  failed {counts['failed']}  {elapsed:.0f}s"
    )


class ProgressDisplay:
    """Redraws one status line on a terminal while the pipeline runs."""

    def __init__(self, progress: ProgressFile, stream: TextIO = sys.stderr,
                 interval: float = 0.5) -> None:
        self.progress = progress
        self.stream = stream
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = time.monotonic()

    def _draw(self) -> None:
        line = format_status(read_counts(self.progress), time.monotonic() - self._start)
        self.stream.write("\r\033[K" + line)
        self.stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    def __enter__(self) -> ProgressDisplay:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._draw()
        self.stream.write("\n")
        self.stream.flush()
