"""A runner that behaves like a Dataflow Flex Template launch, for tests: it submits the job
and returns at once, without waiting; the job runs on (here, in a thread) and must publish
its outputs itself. ``--runner=nowait_runner.NoWaitRunner``."""

from __future__ import annotations

import threading

from apache_beam.runners.direct.direct_runner import DirectRunner
from apache_beam.runners.runner import PipelineResult, PipelineRunner, PipelineState

JOBS: list[threading.Thread] = []


class Submitted(PipelineResult):
    def wait_until_finish(self, duration=None) -> str:
        return self.state  # a launcher that does not wait


class NoWaitRunner(PipelineRunner):
    def run_pipeline(self, pipeline, options) -> PipelineResult:
        job = threading.Thread(
            target=lambda: DirectRunner().run_pipeline(pipeline, options).wait_until_finish())
        job.start()
        JOBS.append(job)
        return Submitted(PipelineState.RUNNING)
