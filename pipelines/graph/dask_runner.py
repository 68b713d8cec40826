"""``--runner DaskRunner``: a pipeline on a Dask cluster, a scheduler and worker processes on
one machine or many (``dask scheduler`` / ``dask worker``, dask-jobqueue on HPC).

Beam's ``DaskRunner`` with its graph translation replaced by ``pipelines.graph.dask_translate`` (see
there for what Beam 2.77's gets wrong); its options (``--dask_client_address``,
``--dask_scheduler_file``, ``--dask_npartitions`` ...) are Beam's.
"""

from __future__ import annotations

import time

import dask
import dask.distributed as ddist
from apache_beam.runners.dask import dask_runner as beam_dask
from apache_beam.runners.dask.overrides import dask_overrides
from apache_beam.runners.runner import PipelineResult, PipelineState

from pipelines.graph.dask_translate import Translator


def default_partitions(client: ddist.Client) -> int:
    """Two partitions per worker thread, so a slow one does not hold the rest up."""
    return 2 * max(1, sum(client.nthreads().values()))


class DaskRunner(beam_dask.DaskRunner):
    """Computes every sink of the pipeline on the cluster ``--dask_client_address`` names (a
    local cluster of this machine's cores without one)."""

    def run_pipeline(self, pipeline, options) -> DaskResult:
        dask_options = options.view_as(beam_dask.DaskOptions).get_all_options(
            drop_default=True, current_only=True)
        npartitions = beam_dask.DaskOptions._extract_bag_kwargs(dask_options).get("npartitions")
        client = ddist.Client(set_as_default=False, **dask_options)
        try:
            pipeline.replace_all(dask_overrides())
            translator = Translator(npartitions or default_partitions(client))
            pipeline.visit(translator)
            counts = [dask.delayed(sum)([dask.delayed(len)(part) for part in parts])
                      for parts in translator.sinks().values()]
            futures = client.compute(counts)
        except BaseException:
            client.close()
            raise
        return DaskResult(client, futures)


class DaskResult(PipelineResult):
    """A job on the cluster: its sinks' element counts, as futures. Beam metrics are not
    collected (as with Beam's own DaskRunner)."""

    def __init__(self, client: ddist.Client, futures: list[ddist.Future]) -> None:
        super().__init__(PipelineState.RUNNING)
        self.client = client
        self.futures = futures

    def wait_until_finish(self, duration: int | None = None) -> str:
        if PipelineState.is_terminal(self._state):
            return self._state
        deadline = time.monotonic() + duration / 1000 if duration is not None else None
        try:
            for future in self.futures:  # a task's exception is raised here
                future.result(timeout=None if deadline is None
                              else max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            if duration is not None:
                return self._state
            raise
        except BaseException:
            self._state = PipelineState.FAILED
            self.client.close()
            raise
        self._state = PipelineState.DONE
        self.client.close()
        return self._state

    def cancel(self) -> str:
        self.client.cancel(self.futures)
        self.client.close()
        self._state = PipelineState.CANCELLED
        return self._state

    def metrics(self):
        raise NotImplementedError("the Dask runner collects no Beam metrics")
