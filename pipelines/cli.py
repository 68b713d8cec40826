"""``mgc``: the command line, a thin layer over ``pipelines.tag.run_tag``.

Flags mgc does not know are handed to Beam as pipeline options (``--runner``,
``--direct_num_workers``, Dataflow's ``--project`` ...); a flag neither knows is an error that
names the closest valid one.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from importlib.resources import files

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from mgc_model import tagger
from pipelines.matching import InputNotFound, check_inputs

LOCAL_RUNNERS = {None, "DirectRunner", "direct", "PortableRunner"}


def demo_library() -> str:
    """The small library of clips shipped inside the package (see pipelines/demo/SOURCES.md)."""
    return str(files("pipelines") / "demo")


# Harmless warnings Beam logs on the root logger while importing: not the user's concern.
QUIET = ("apitools not found", "Resource module is not available")


def _quiet_beam_imports(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(QUIET)


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


def check_beam_args(args: Sequence[str]) -> None:
    """Refuse flags that are neither mgc's nor Beam's, rather than let Beam drop them."""
    parser = _beam_option_parser()
    _, unknown = parser.parse_known_args(list(args))
    flags = [a.split("=", 1)[0] for a in unknown if a.startswith("-")]
    stray = [a for a in unknown if not a.startswith("-")]
    if flags:
        known = [s for action in parser._actions for s in action.option_strings]
        known += [s for action in tag_parser()._actions for s in action.option_strings]
        hints = []
        for flag in flags:
            close = difflib.get_close_matches(flag, known, n=1)
            hints.append(f"{flag} (did you mean {close[0]}?)" if close else flag)
        raise SystemExit(
            f"mgc tag: unknown option {', '.join(hints)}. See `mgc tag --help`; Beam pipeline "
            "options such as --runner or --direct_num_workers are passed through."
        )
    if stray:
        raise SystemExit(f"mgc tag: unexpected argument {stray[0]!r} after the options")


def tag_parser() -> argparse.ArgumentParser:
    from pipelines.inference import DEFAULT_BATCH_SIZE

    parser = argparse.ArgumentParser(
        prog="mgc tag",
        description="Tag audio files with genres; writes OUT/tags/, OUT/errors/ (Parquet) and "
        "OUT/run.json. Any Beam pipeline option (--runner, --direct_num_workers, Dataflow "
        "options) is passed through.",
        allow_abbrev=False,
    )
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="audio files, directories (recursive) or globs; local or fsspec "
                        "URLs (gs://, s3://, memory://)")
    parser.add_argument("--demo", action="store_true",
                        help="tag the small demo library shipped with mgc")
    parser.add_argument("--output", "-o", required=True, metavar="OUT",
                        help="output folder (local or fsspec URL)")
    parser.add_argument("--model", default=tagger.DEFAULT_MODEL,
                        help=f"model name (default: {tagger.DEFAULT_MODEL})")
    parser.add_argument("--hop-seconds", type=float, default=None,
                        help="distance between patch starts (default: patch length, 3 s)")
    parser.add_argument("--max-patches", type=int, default=None,
                        help="at most this many patches per track, spread evenly over it")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="patches per inference batch, across tracks (default: "
                        f"{DEFAULT_BATCH_SIZE}; larger batches need more memory, not faster)")
    parser.add_argument("--top-k", type=int, default=3,
                        help="most genres listed per track in `genres` (default: 3)")
    parser.add_argument("--threshold", type=float, default=0.1,
                        help="least score for a genre to be listed (default: 0.1)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress line, even on a terminal")
    return parser


def print_summary(summary, stream=sys.stdout) -> None:
    wall = summary.run.get("wall_time_s", 0.0)
    print(f"Tagged {summary.tagged} of {summary.seen} files in {wall:.1f} s "
          f"({summary.failed} failed) -> {summary.out}", file=stream)
    if summary.top_genres:
        top = ", ".join(f"{g} {n}" for g, n in summary.top_genres[:5])
        print(f"Top genres: {top}", file=stream)
    if summary.failed:
        stages = ", ".join(f"{s} {n}" for s, n in sorted(summary.failures_by_stage.items()))
        print(f"Failures by stage: {stages} (details in {summary.out}/errors/)", file=stream)


def cmd_tag(argv: Sequence[str]) -> int:
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from pipelines.progress import ProgressDisplay, ProgressFile
    from pipelines.tag import TagOptions, run_tag

    args, beam_args = tag_parser().parse_known_args(argv)
    check_beam_args(beam_args)
    inputs = list(args.inputs) + ([demo_library()] if args.demo else [])
    if not inputs:
        raise SystemExit("mgc tag: give at least one INPUT (file, directory or glob), or --demo")
    options = TagOptions(
        model=args.model, hop_seconds=args.hop_seconds, max_patches=args.max_patches,
        batch_size=args.batch_size, top_k=args.top_k, threshold=args.threshold,
    )
    try:
        options.validate()
        tagger.describe(options.model)
        inputs = check_inputs(inputs)
    except (InputNotFound, ValueError) as error:
        raise SystemExit(f"mgc tag: {error}") from None

    runner = PipelineOptions(list(beam_args)).view_as(StandardOptions).runner
    show = sys.stderr.isatty() and not args.no_progress and runner in LOCAL_RUNNERS
    with tempfile.TemporaryDirectory(prefix="mgc-progress-") as tmp:
        progress = ProgressFile(os.path.join(tmp, "events")) if show else None
        if progress:
            with ProgressDisplay(progress):
                summary = run_tag(inputs, args.output, options, beam_args, progress)
        else:
            summary = run_tag(inputs, args.output, options, beam_args)
    print_summary(summary)
    if summary.seen == 0:
        print("mgc tag: no audio files found in the inputs (extensions: mp3, flac, ogg, oga, "
              "opus, wav, aif, aiff, m4a, mp4, aac, wma)", file=sys.stderr)
        return 1
    if summary.tagged == 0:
        print("mgc tag: no file could be read; see the error rows", file=sys.stderr)
        return 1
    return 0


COMMANDS = {"tag": cmd_tag}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        known = ", ".join(COMMANDS)
        if argv and argv[0] not in {"-h", "--help"}:
            print(f"mgc: unknown command {argv[0]!r}; commands: {known}", file=sys.stderr)
            return 2
        print(f"usage: mgc COMMAND ...\ncommands: {known}\n`mgc COMMAND --help` for details")
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().addFilter(_quiet_beam_imports)
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
