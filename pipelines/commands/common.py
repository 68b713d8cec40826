"""What every command shares: flags refused with the closest valid one, Beam pipeline options
passed through, a progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence

LOCAL_RUNNERS = {None, "DirectRunner", "direct", "PortableRunner"}


def _beam_option_parser() -> argparse.ArgumentParser:
    from apache_beam.options.pipeline_options import PipelineOptions

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    seen: set[type] = set()
    stack = list(PipelineOptions.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        with contextlib.suppress(argparse.ArgumentError):  # declared by two classes
            cls._add_argparse_args(parser)
    return parser


def check_beam_args(args: Sequence[str], command: str = "tag",
                    own: argparse.ArgumentParser | None = None) -> None:
    """Refuse flags that are neither mgc's nor Beam's, rather than let Beam drop them."""
    from pipelines.graph.runners import register_options

    try:
        register_options(args)
    except ImportError as error:
        raise SystemExit(f"mgc {command}: {error}") from None
    parser = _beam_option_parser()
    _, unknown = parser.parse_known_args(list(args))
    flags = [a.split("=", 1)[0] for a in unknown if a.startswith("-")]
    stray = [a for a in unknown if not a.startswith("-")]
    if flags:
        known = [s for action in parser._actions for s in action.option_strings]
        if own is not None:
            known += [s for action in own._actions for s in action.option_strings]
        hints = []
        for flag in flags:
            close = difflib.get_close_matches(flag, known, n=1)
            hints.append(f"{flag} (did you mean {close[0]}?)" if close else flag)
        raise SystemExit(
            f"mgc {command}: unknown option {', '.join(hints)}. See `mgc {command} --help`; "
            "Beam pipeline options such as --runner or --direct_num_workers are passed through."
        )
    if stray:
        raise SystemExit(f"mgc {command}: unexpected argument {stray[0]!r} after the options")


def parse_exactly(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse, refusing unknown arguments with the closest valid flag."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        known = [s for action in parser._actions for s in action.option_strings]
        close = difflib.get_close_matches(unknown[0].split("=", 1)[0], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SystemExit(f"{parser.prog}: unknown argument {unknown[0]}{hint}. "
                         f"See `{parser.prog} --help`.")
    return args


def with_progress(run: Callable, beam_args: Sequence[str], no_progress: bool,
                  label: str = "tagging"):
    """``run(progress)`` with a progress bar on a terminal (local runners only: remote
    workers cannot report to this machine), ``run(None)`` otherwise."""
    from apache_beam.options.pipeline_options import (
        PipelineOptions,
        PortableOptions,
        StandardOptions,
    )

    from pipelines.terminal.progress import ProgressDisplay, ProgressFile

    options = PipelineOptions(list(beam_args))
    runner = options.view_as(StandardOptions).runner
    # A job service's EXTERNAL or DOCKER workers (Flink) cannot see this machine's progress file
    here = runner != "PortableRunner" or options.view_as(PortableOptions).environment_type in (
        "LOOPBACK", "loopback")
    if not sys.stderr.isatty() or no_progress or runner not in LOCAL_RUNNERS or not here:
        return run(None)
    with tempfile.TemporaryDirectory(prefix="mgc-progress-") as tmp:
        progress = ProgressFile(os.path.join(tmp, "events"))
        with ProgressDisplay(progress, label=label):
            return run(progress)


def print_submitted(out: str, outputs: str) -> None:
    print(f"Job submitted; the runner returned before it ended. Its last step publishes "
          f"{outputs} into {out}.")
