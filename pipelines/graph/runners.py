"""Runner names mgc adds to Beam's: ``--runner DaskRunner`` (Beam knows its class only by its
full path, and registers its ``--dask_*`` options only once that module is imported)."""

from __future__ import annotations

from collections.abc import Sequence

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineRunner

DASK_NAMES = {"daskrunner", "dask"}
DASK_MISSING = ("--runner DaskRunner needs dask and distributed: pip install 'mgc[dask]' "
                "(make install does)")


def is_dask(runner: str | None) -> bool:
    return runner is not None and runner.lower() in DASK_NAMES


def runner_for(options: PipelineOptions) -> PipelineRunner | None:
    """The runner to run with, where Beam could not make it from ``--runner`` (None: Beam's
    own choice)."""
    if is_dask(options.view_as(StandardOptions).runner):
        try:
            from pipelines.graph.dask_runner import DaskRunner
        except ImportError as error:
            raise ImportError(DASK_MISSING) from error
        return DaskRunner()
    return None


def register_options(args: Sequence[str]) -> None:
    """Let Beam's option parser know the Dask options when the command line uses them."""
    wants_dask = any(a.startswith("--dask_") for a in args) or is_dask(
        PipelineOptions(list(args)).view_as(StandardOptions).runner)
    if wants_dask:
        try:
            import apache_beam.runners.dask.dask_runner  # noqa: F401  (registers DaskOptions)
        except ImportError as error:
            raise ImportError(DASK_MISSING) from error
