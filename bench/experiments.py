"""In-process variants of the tag pipeline, to find where end-to-end time goes.

Nothing here edits the project: the pipeline runs through ``pipelines.graph.tag.run_tag`` with a
few class attributes swapped for timed or alternative versions, then restored. Beam's DirectRunner
(in-memory mode) runs DoFns in this process, so plain Python counters see every call.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from apache_beam import pvalue
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

import pipelines.graph.tag
from pipelines.graph.inference import GenreModelHandler
from pipelines.graph.steps import DecodeToPatches


@dataclass
class Timings:
    """Seconds spent in each part of one in-process run (decode excludes downstream work)."""

    load_s: float = 0.0
    decode_s: float = 0.0
    inference_s: float = 0.0
    first_batch_s: float = 0.0  # includes tracing the tf.function and oneDNN set-up
    first_batch_size: int = 0
    batches: Counter = field(default_factory=Counter)
    patches: int = 0


_timings = Timings()


def _timed_process(original):
    """Time only the generator's own steps: a ``yield`` hands the patch to BatchElements and
    RunInference synchronously, and that downstream time must not count as decoding."""

    def process(self, path: str) -> Iterator:
        gen = original(self, path)
        while True:
            clock = time.perf_counter()
            try:
                item = next(gen)
            except StopIteration:
                _timings.decode_s += time.perf_counter() - clock
                return
            _timings.decode_s += time.perf_counter() - clock
            yield item

    return process


def _timed_inference(original):
    def run_inference(self, batch, model, inference_args=None):
        clock = time.perf_counter()
        out = original(self, batch, model, inference_args)
        spent = time.perf_counter() - clock
        if not _timings.batches:
            _timings.first_batch_s, _timings.first_batch_size = spent, len(batch)
        _timings.inference_s += spent
        _timings.batches[len(batch)] += 1
        _timings.patches += len(batch)
        return out

    return run_inference


def _timed_load(original):
    def load_model(self):
        clock = time.perf_counter()
        model = original(self)
        _timings.load_s += time.perf_counter() - clock
        return model

    return load_model


_END = object()  # end of one file's outputs on the prefetch queue


class PrefetchDecodeToPatches(DecodeToPatches):
    """DecodeToPatches that decodes ahead in a background thread.

    The stock DoFn is a generator: while a yielded patch completes a batch and the model runs,
    decoding stands still, and while decoding runs the model waits. Here a thread decodes the
    files handed to ``process`` in order into a bounded queue (``LOOKAHEAD`` items, ~18 MB of
    patches, so memory still does not grow with track length); ``process(path_i)`` emits the
    outputs of the files before it, ``finish_bundle`` the rest. Beam metric increments made in
    the thread are dropped (they need the bundle's thread-local state); outputs are unchanged.
    """

    LOOKAHEAD = 256

    def start_bundle(self) -> None:
        self._paths: queue.Queue = queue.Queue()
        self._items: queue.Queue = queue.Queue(maxsize=self.LOOKAHEAD)
        self._submitted = 0
        self._finished = 0
        self._worker = threading.Thread(target=self._decode_loop, daemon=True)
        self._worker.start()

    def _decode_loop(self) -> None:
        while (path := self._paths.get()) is not None:
            try:
                for item in DecodeToPatches.process(self, path):
                    self._items.put(item)
            except BaseException as error:  # a bug, not a bad file: re-raised by the consumer
                self._items.put(error)
            self._items.put(_END)

    def _drain(self, until: int) -> Iterator:
        while self._finished < until:
            item = self._items.get()
            if item is _END:
                self._finished += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item

    def process(self, path: str) -> Iterator:
        self._paths.put(path)
        self._submitted += 1
        yield from self._drain(self._submitted - 1)

    def finish_bundle(self) -> Iterator:
        self._paths.put(None)
        for item in self._drain(self._submitted):
            if isinstance(item, pvalue.TaggedOutput):
                yield pvalue.TaggedOutput(
                    item.tag, WindowedValue(item.value, MIN_TIMESTAMP, [GlobalWindow()])
                )
            else:
                yield WindowedValue(item, MIN_TIMESTAMP, [GlobalWindow()])
        self._worker.join()


@dataclass(frozen=True)
class Variant:
    """A candidate change to the pipeline, tried without editing it."""

    prefetch: bool = False  # PrefetchDecodeToPatches instead of DecodeToPatches
    env: dict = field(default_factory=dict)  # set by the parent before the process starts


# The downmix and BLAS-thread variants measured earlier are now the pipeline's own code.
VARIANTS = {"stock": Variant(), "prefetch": Variant(prefetch=True)}


def _swap(owner: object, name: str, value: object, saved: list) -> None:
    """Set ``owner.name`` and remember its value; an attribute that is not there (code moved
    since this was written) is an error, not a silent no-op."""
    if not hasattr(owner, name):
        raise AttributeError(f"{owner!r} has no {name!r} to swap: the pipeline's code moved; "
                             "update bench/experiments.py")
    saved.append((owner, name, getattr(owner, name)))
    setattr(owner, name, value)


@contextlib.contextmanager
def instrumented(variant: str = "stock") -> Iterator[Timings]:
    """Swap in timed methods, and the variant's changes, for one in-process run."""
    global _timings
    _timings = Timings()
    prefetch = VARIANTS[variant].prefetch
    saved: list = []
    try:
        _swap(GenreModelHandler, "run_inference",
              _timed_inference(GenreModelHandler.run_inference), saved)
        _swap(GenreModelHandler, "load_model", _timed_load(GenreModelHandler.load_model), saved)
        if prefetch:
            _swap(pipelines.graph.tag, "DecodeToPatches", PrefetchDecodeToPatches, saved)
        else:  # with prefetch, decoding overlaps: its time is no longer a share of wall
            _swap(DecodeToPatches, "process", _timed_process(DecodeToPatches.process), saved)
        yield _timings
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)
