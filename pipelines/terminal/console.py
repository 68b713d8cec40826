"""A calm terminal: the start-up lines native libraries print are kept off it.

TensorFlow, absl, oneDNN, CUDA and ONNX Runtime write to file descriptor 2 from C++, before
Python's logging exists and whatever ``TF_CPP_MIN_LOG_LEVEL`` says (TF 2.21 still prints its
absl and cuInit lines). ``quiet_native_stderr`` points descriptor 2 at a pipe for the whole
command and a thread copies each line to the real stderr, unless it is known start-up noise or
an informational line. Python's own ``sys.stderr`` (logging, warnings, the progress bar) is
moved to a copy of the real descriptor, so it is never filtered and stays a terminal.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import threading
from collections.abc import Iterator

# Lines that say nothing to a user: the start-up of TensorFlow (absl, cuda, cpu features,
# oneDNN) on a machine without a GPU, and ONNX Runtime's device discovery.
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|cuda_platform\.cc.*cuInit|cudart_stub\.cc|cpu_feature_guard\.cc|cuda_(dnn|fft|blas)\.cc"
    r"|oneDNN custom operations|rebuild TensorFlow with the appropriate compiler flags"
    r"|computation_placer\.cc|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|apitools not found|onnxruntime.*(device_discovery|GetGpuDevices|ReadFileContents)"
)
# glog-style informational lines (I0000 00:00:... file.cc:12] ...) and ONNX Runtime's
GLOG_INFO = re.compile(r"^I\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\]")
ORT_INFO = re.compile(r"\[[IV]:onnxruntime:")


def is_noise(line: str) -> bool:
    """Whether a line native code printed is start-up noise rather than a warning or an
    error a user should see."""
    return bool(NOISE.search(line) or GLOG_INFO.match(line) or ORT_INFO.search(line))


def quiet_native_logs() -> None:
    """Ask TensorFlow for less before it loads (it does not listen for all of it; the filter
    does the rest). ONNX Runtime has no such variable: its lines go through the filter."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ INFO and WARNING


@contextlib.contextmanager
def quiet_native_stderr(verbose: bool = False) -> Iterator[None]:
    """Within the block, native lines on descriptor 2 reach the real stderr only when they
    are not noise (all of them with ``verbose``). Subprocesses inherit the filter."""
    if verbose:
        yield
        return
    quiet_native_logs()
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    python_stderr = sys.stderr
    if _on_fd_2(python_stderr):  # else it writes elsewhere already (a test's capture)
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(real), "wb", buffering=0),
                                      encoding=python_stderr.encoding or "utf-8",
                                      errors="backslashreplace", line_buffering=True)
    forwarder = threading.Thread(target=_forward, args=(read_end, real), daemon=True,
                                 name="mgc-stderr")
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)  # the pipe's last writer here closes: the forwarder sees its end
        forwarder.join(timeout=2.0)  # a subprocess still holding the pipe keeps it open
        if sys.stderr is not python_stderr:
            sys.stderr.close()
            sys.stderr = python_stderr
        os.close(real)


def _on_fd_2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def _forward(read_end: int, real: int) -> None:
    with os.fdopen(read_end, "rb") as pipe:
        for raw in pipe:
            line = raw.decode("utf-8", "replace")
            if not is_noise(line):
                # through Python's stderr, so a live progress bar prints it above itself
                try:
                    sys.stderr.write(line)
                    sys.stderr.flush()
                except (ValueError, OSError):  # closed at exit: the real descriptor then
                    with contextlib.suppress(OSError):
                        os.write(real, raw)
