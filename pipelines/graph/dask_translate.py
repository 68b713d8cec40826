"""A Beam pipeline's primitive transforms as a Dask task graph, one list of partitions (each a
``dask.delayed`` list of elements) per PCollection.

Beam 2.77's own translation (``apache_beam.runners.dask.transform_evaluator``) keeps one bag
per *transform*, so every consumer of any output of a multi-output ParDo receives all of its
outputs mixed together; it drops what ``finish_bundle`` emits (BatchElements' last batch, every
file sink's results); it reads nothing (``Read`` is an identity on no input); and only the last
transform's bag is computed. Here each output PCollection has its own partitions, bundle-end
outputs are kept, bounded sources are split and read, and ``sinks`` are the collections nobody
consumes, which the runner computes. Global windows only, as in Beam's Dask translation.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import apache_beam as beam
import dask
from apache_beam import DoFn, pvalue
from apache_beam.internal import pickler
from apache_beam.pipeline import AppliedPTransform, PipelineVisitor
from apache_beam.runners.common import (
    DoFnContext,
    DoFnInvoker,
    DoFnSignature,
    Receiver,
    _OutputHandler,
)
from apache_beam.runners.dask.overrides import (
    _Create,
    _Flatten,
    _GroupAlsoByWindow,
    _GroupByKeyOnly,
    _Read,
    _Reshuffle,
)
from apache_beam.transforms.sideinputs import SideInputMap
from apache_beam.transforms.window import GlobalWindow, GlobalWindows, WindowFn
from apache_beam.utils.windowed_value import WindowedValue
from dask.base import tokenize
from dask.delayed import Delayed

Partitions = list[Delayed]  # one PCollection: each Delayed computes to a list of elements
READ_BUNDLE_BYTES = 64 << 20


def _windowed(value: Any) -> WindowedValue:
    return WindowedValue(value, 0, (GlobalWindow(),))


class _ListReceiver(Receiver):
    """Collects one output's elements, unwrapped from their windows."""

    def __init__(self) -> None:
        self.values: list = []

    def receive(self, windowed_value: WindowedValue) -> None:
        self.values.append(windowed_value.value)


class _Receivers(dict):
    """Output tag (None: the main output) -> its receiver, made on first use."""

    def __missing__(self, tag):
        receiver = self[tag] = _ListReceiver()
        return receiver


def run_bundle(elements: Iterable, pickled_fn: bytes, side_values: Sequence[list]) -> dict:
    """Run a DoFn over one partition, as one bundle: {output tag: elements}, what
    ``finish_bundle`` emits included. The DoFn is unpickled for each bundle: an instance is
    never shared between threads, nor sent between workers once set up (an open file, a
    model)."""
    fn = pickler.loads(pickled_fn)
    receivers = _Receivers()
    handler = _OutputHandler(
        window_fn=fn["window_fn"], main_receivers=receivers[None], tagged_receivers=receivers,
        per_element_output_counter=None, output_batch_converter=None,
        process_yields_batches=False, process_batch_yields_elements=False)
    side_inputs = [SideInputMap(view, options, [_windowed(v) for v in values])
                   for (view, options), values in zip(fn["views"], side_values, strict=True)]
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(fn["fn"]), handler, context=DoFnContext(fn["label"]), side_inputs=side_inputs,
        input_args=fn["args"], input_kwargs=fn["kwargs"], user_state_context=None,
        bundle_finalizer_param=DoFn.BundleFinalizerParam())
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for element in elements:
        invoker.invoke_process(_windowed(element))
    invoker.invoke_finish_bundle()
    invoker.invoke_teardown()
    return {tag: receiver.values for tag, receiver in receivers.items()}


def output_of(outputs: dict, tag: str | None) -> list:
    return outputs.get(tag, [])


def concat(parts: Iterable[list]) -> list:
    return [element for part in parts for element in part]


def split_by_key(elements: list, n: int) -> tuple[list, ...]:
    """(key, value) pairs (values in their windows: GroupByKey's ReifyWindows) -> n lists of
    (token, key, value), by a hash of the key that is the same in every process (Python's own
    hash of str or None is not)."""
    buckets: tuple[list, ...] = tuple([] for _ in range(n))
    for key, value in elements:
        token = tokenize(key)
        if isinstance(value, WindowedValue):
            value = value.value
        buckets[int(token, 16) % n].append((token, key, value))
    return buckets


def group(parts: Iterable[list]) -> list:
    groups: dict[str, tuple[Any, list]] = {}
    for part in parts:
        for token, key, value in part:
            groups.setdefault(token, (key, []))[1].append(value)
    return list(groups.values())


def split_round_robin(elements: list, n: int, offset: int) -> tuple[list, ...]:
    buckets: tuple[list, ...] = tuple([] for _ in range(n))
    for i, element in enumerate(elements):
        buckets[(i + offset) % n].append(element)
    return buckets


def read_bundle(bundle) -> list:
    source = bundle.source
    return list(source.read(source.get_range_tracker(bundle.start_position,
                                                     bundle.stop_position)))


def _window_fn(pcoll: pvalue.PCollection) -> WindowFn:
    try:
        return pcoll.windowing.windowfn
    except AttributeError:  # Beam's _Read override declares no windowing
        return GlobalWindows()


def _literal(value: Any, prefix: str) -> Delayed:
    """A value in the graph as it is (a tuple in it is never read as a task)."""
    return dask.delayed(value, name=f"{prefix}-{uuid.uuid4().hex}", traverse=False)


def _shuffle(parts: Partitions, n: int, split: Callable,
             extra: Callable[[int], tuple]) -> list[list[Delayed]]:
    """Each input partition i cut into n pieces by ``split(part, n, *extra(i))``: piece j of
    every input, per output j."""
    pieces = [dask.delayed(split, nout=n, pure=True)(part, n, *extra(i))
              for i, part in enumerate(parts)]
    return [[piece[j] for piece in pieces] for j in range(n)]


class Translator(PipelineVisitor):
    """Visits the leaf transforms in order and gives each PCollection its partitions."""

    def __init__(self, npartitions: int) -> None:
        self.npartitions = max(1, npartitions)
        self.partitions: dict[pvalue.PCollection, Partitions] = {}
        self.consumed: set[pvalue.PCollection] = set()
        self._sides: dict[pvalue.PCollection, Delayed] = {}

    def sinks(self) -> dict[pvalue.PCollection, Partitions]:
        """The collections no transform reads: computing them runs the whole graph."""
        return {pcoll: parts for pcoll, parts in self.partitions.items()
                if pcoll not in self.consumed}

    def visit_transform(self, applied: AppliedPTransform) -> None:
        transform = applied.transform
        main = [i for i in applied.main_inputs.values() if isinstance(i, pvalue.PCollection)]
        self.consumed.update(main)
        self.consumed.update(si.pvalue for si in applied.side_inputs)
        inputs = [self.partitions[pcoll] for pcoll in main]
        outputs = {tag: out for tag, out in applied.outputs.items()
                   if isinstance(out, pvalue.PCollection)}
        if isinstance(transform, _Create):
            result = {None: self._create(list(transform.values))}
        elif isinstance(transform, beam.Impulse):
            result = {None: [_literal([b""], "impulse")]}
        elif isinstance(transform, _Read):
            result = {None: self._read(transform.source)}
        elif isinstance(transform, _Flatten):
            result = {None: [part for parts in inputs for part in parts]}
        elif isinstance(transform, _GroupByKeyOnly):
            result = {None: [dask.delayed(group, pure=True)(pieces)
                             for pieces in _shuffle(inputs[0], self.npartitions, split_by_key,
                                                    lambda i: ())]}
        elif isinstance(transform, _Reshuffle):
            result = {None: [dask.delayed(concat, pure=True)(pieces)
                             for pieces in _shuffle(inputs[0], self.npartitions,
                                                    split_round_robin, lambda i: (i,))]}
        elif isinstance(transform, _GroupAlsoByWindow):  # grouped already, in global windows
            result = {None: inputs[0]}
        elif isinstance(transform, beam.ParDo):
            result = self._par_do(applied, inputs[0], list(outputs))
        else:
            raise NotImplementedError(
                f"mgc's Dask translation has no rule for {type(transform).__name__} "
                f"({applied.full_label})")
        for tag, out in outputs.items():
            self.partitions[out] = result[tag]

    def _create(self, values: list) -> Partitions:
        n = max(1, min(len(values), self.npartitions))
        size = math.ceil(len(values) / n) if values else 0
        return [_literal(values[i * size:(i + 1) * size], "create") for i in range(n)]

    def _read(self, source) -> Partitions:
        bundles = list(source.split(desired_bundle_size=READ_BUNDLE_BYTES))
        return [dask.delayed(read_bundle, pure=True)(bundle) for bundle in bundles]

    def _side(self, pcoll: pvalue.PCollection) -> Delayed:
        if pcoll not in self._sides:
            self._sides[pcoll] = dask.delayed(concat, pure=True)(self.partitions[pcoll])
        return self._sides[pcoll]

    def _par_do(self, applied: AppliedPTransform, parts: Partitions,
                tags: list[str | None]) -> dict[str | None, Partitions]:
        transform = applied.transform
        args, kwargs = transform.raw_side_inputs
        main = next(iter(applied.main_inputs.values()))
        fn = {
            "fn": transform.fn,
            "window_fn": _window_fn(main),
            "label": transform.label,
            "args": list(args),
            "kwargs": kwargs,
            "views": [(type(si), si._view_options()) for si in applied.side_inputs],
        }
        fn = _literal(pickler.dumps(fn), "dofn")  # one copy in the graph, not one per task
        sides = [self._side(si.pvalue) for si in applied.side_inputs]
        bundles = [dask.delayed(run_bundle, pure=True)(part, fn, sides) for part in parts]
        return {tag: [dask.delayed(output_of, pure=True)(b, tag) for b in bundles]
                for tag in tags}
