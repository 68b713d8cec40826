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
from collections.abc import Callable, Sequence
from importlib.resources import files

from mgc_model import tagger
from pipelines.console import quiet_native_stderr
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


def check_beam_args(args: Sequence[str], command: str = "tag",
                    own: argparse.ArgumentParser | None = None) -> None:
    """Refuse flags that are neither mgc's nor Beam's, rather than let Beam drop them."""
    from pipelines.runners import register_options

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
        own = own or tag_parser()
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


def _parse_exactly(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse, refusing unknown arguments with the closest valid flag."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        known = [s for action in parser._actions for s in action.option_strings]
        close = difflib.get_close_matches(unknown[0].split("=", 1)[0], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SystemExit(f"{parser.prog}: unknown argument {unknown[0]}{hint}. "
                         f"See `{parser.prog} --help`.")
    return args


def tag_parser() -> argparse.ArgumentParser:
    from pipelines.albums import DEFAULT_ALBUM_WEIGHT
    from pipelines.inference import DEFAULT_BATCH_SIZE
    from pipelines.tag import DEFAULT_MAX_PATCHES

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
                        help=f"model name (default: {tagger.DEFAULT_MODEL}) or the folder of a "
                        "bundle written by `mgc train`")
    parser.add_argument("--hop-seconds", type=float, default=None,
                        help="distance between patch starts (default: patch length, 3 s)")
    parser.add_argument("--max-patches", type=int, default=DEFAULT_MAX_PATCHES, metavar="N",
                        help="analyse at most N 3 s patches per track, the middles of N equal "
                        "parts of it, decoding only the audio they read (default: "
                        f"{DEFAULT_MAX_PATCHES}, which leaves a 30 s clip whole; on 117 "
                        "full-length recordings it named the top genre of every patch, or one "
                        "within 0.05 of it, on all of them; 0: every patch)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="patches per inference batch, across tracks (default: "
                        f"{DEFAULT_BATCH_SIZE}; larger batches need more memory, not faster)")
    parser.add_argument("--top-k", type=int, default=3,
                        help="most genres listed per track in `genres` (default: 3)")
    parser.add_argument("--threshold", type=float, default=0.1,
                        help="least score for a genre to be listed (default: 0.1)")
    parser.add_argument("--album-weight", type=float, default=DEFAULT_ALBUM_WEIGHT, metavar="W",
                        help="blend each track's scores with its album's mean before its genre "
                        "is chosen: (1-W) * track + W * album, W from 0 to 1 (an album: album "
                        "artist or artist, and album tag; the folder when untagged; default: "
                        "%(default)s, measured in the README)")
    parser.add_argument("--incremental", action="store_true",
                        help="the previous run in OUT is the state: files unchanged since it "
                        "(path, size, modification time, model and options) are skipped and "
                        "their rows kept; new, changed and previously failed files are "
                        "processed; files gone are dropped (for nightly runs)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress line, even on a terminal")
    _add_write_flags(parser)
    return parser


def _add_write_flags(parser: argparse.ArgumentParser) -> None:
    from pipelines.writeback import POLICIES, WriteOptions

    default = WriteOptions()
    write = parser.add_argument_group(
        "writing genres into the files",
        "Off unless --write-tags is given; run with --dry-run first. Only the genre and mgc's "
        "MGC_ provenance fields change; audio, pictures, lyrics and every other tag are kept. "
        "Local files only; OUT/writes/ records what was done to each file.")
    write.add_argument("--write-tags", choices=POLICIES, default=None, metavar="POLICY",
                       help="fill (recommended: only files without a genre; a file with one is "
                       "never touched), merge (add to the existing genres) or overwrite "
                       "(replace them)")
    write.add_argument("--dry-run", action="store_true",
                       help="print the change each file would get, and change no byte")
    write.add_argument("--genre-count", type=int, default=None, metavar="N",
                       help=f"at most N genres per file (default: {default.count})")
    write.add_argument("--min-score", type=float, default=None, metavar="S",
                       help=f"least score for a genre to be written (default: "
                       f"{default.min_score:g})")
    write.add_argument("--vocabulary", default=None, metavar="FILE",
                       help="only write genres named in FILE (one per line, # comments), "
                       "spelt as there (default: the model's genres)")
    write.add_argument("--title-case", action=argparse.BooleanOptionalAction, default=None,
                       help="capitalise each word of a genre (default: on)")
    write.add_argument("--separator", default=None, metavar="SEP",
                       help="joins several genres where a format holds one text, i.e. ID3v2.3 "
                       f"(default: {default.separator!r})")
    write.add_argument("--update-mtime", action="store_true",
                       help="give written files the current modification time (default: keep "
                       "it)")


def write_options(args: argparse.Namespace, beam_args: Sequence[str],
                  keeps_spelling: bool = False):
    """The --write-tags flags as ``WriteOptions`` (None without --write-tags); ValueError with
    what to do for a flag that cannot apply. ``keeps_spelling``: the model's genres are spelt
    as a library spells them, so they are written as they are unless --title-case."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from pipelines.writeback import WriteOptions, read_vocabulary

    given = {"--dry-run": args.dry_run, "--genre-count": args.genre_count is not None,
             "--min-score": args.min_score is not None, "--vocabulary": args.vocabulary,
             "--title-case": args.title_case is not None,
             "--separator": args.separator is not None, "--update-mtime": args.update_mtime}
    if args.write_tags is None:
        extra = [flag for flag, on in given.items() if on]
        if extra:
            raise ValueError(f"{extra[0]} only applies with --write-tags; for a preview of "
                             "what would be written: --write-tags fill --dry-run")
        return None
    if args.demo:
        raise ValueError("--write-tags would change the demo files shipped inside mgc; copy "
                         "them to a folder of yours and tag that folder")
    remote = [i for i in args.inputs if "://" in i]
    if remote:
        raise ValueError(f"--write-tags writes into local files only, and {remote[0]!r} is not "
                         "a local path; copy the files to a local disk, or drop --write-tags")
    runner = PipelineOptions(list(beam_args)).view_as(StandardOptions).runner
    if runner not in LOCAL_RUNNERS:
        raise ValueError(f"--write-tags needs a local runner (the files are on this machine), "
                         f"not {runner}")
    title_case = args.title_case if args.title_case is not None else (
        False if keeps_spelling else None)
    chosen = {"policy": args.write_tags, "count": args.genre_count,
              "min_score": args.min_score, "title_case": title_case,
              "separator": args.separator}
    return WriteOptions(
        **{name: value for name, value in chosen.items() if value is not None},
        vocabulary=read_vocabulary(args.vocabulary) if args.vocabulary else None,
        keep_mtime=not args.update_mtime,
        dry_run=args.dry_run,
    )


def print_writes(summary, dry_run: bool) -> None:
    """Per file, the genre change made (or, for a dry run, that would be made); then counts.
    Files left unchanged are only counted."""
    from pipelines.output import read_writes
    from pipelines.writeback import ACTIONS

    for row in read_writes(summary.out):
        before = "; ".join(row["genres_before"]) or "(no genre)"
        if row["action"] in ("written", "would-write"):
            change = f"{before} -> {'; '.join(row['genres_after'])}"
        elif row["action"] == "skipped":
            change = f"{before} ({row['message']})"
        elif row["action"] == "failed":
            change = row["message"]
        else:
            continue
        print(f"{row['action']:<11} {row['path']}: {change}")
    counts = ", ".join(f"{action} {summary.writes[action]}" for action in ACTIONS
                       if summary.writes.get(action))
    note = " (dry run: no file was changed)" if dry_run else ""
    print(f"Genre tags{note}: {counts or 'no tagged file'}")


def print_submitted(out: str, outputs: str) -> None:
    print(f"Job submitted; the runner returned before it ended. Its last step publishes "
          f"{outputs} into {out}.")


def print_summary(summary) -> None:
    from pipelines.agreement import describe as describe_agreement

    wall = summary.run.get("wall_time_s", 0.0)
    skipped = f", {summary.skipped} unchanged and skipped" if summary.skipped else ""
    print(f"Tagged {summary.tagged} of {summary.seen} files in {wall:.1f} s "
          f"({summary.failed} failed{skipped}) -> {summary.out}")
    if summary.tagged or summary.skipped:
        print(f"Confident: {summary.confident} of {summary.tagged + summary.skipped} tracks "
              f"(top genre scored at least {summary.run.get('confident_score', 0):g})")
    if summary.top_genres:
        top = ", ".join(f"{g} {n}" for g, n in summary.top_genres[:5])
        print(f"Top genres: {top}")
    for line in describe_agreement(summary.run.get("agreement", {})):
        print(line)
    if summary.failed:
        stages = ", ".join(f"{s} {n}" for s, n in sorted(summary.failures_by_stage.items()))
        print(f"Failures by stage: {stages} (details in {summary.out}/errors/)")


def with_progress(run: Callable, beam_args: Sequence[str], no_progress: bool,
                  label: str = "tagging"):
    """``run(progress)`` with a progress bar on a terminal (local runners only: remote
    workers cannot report to this machine), ``run(None)`` otherwise."""
    from apache_beam.options.pipeline_options import (
        PipelineOptions,
        PortableOptions,
        StandardOptions,
    )

    from pipelines.progress import ProgressDisplay, ProgressFile

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


def cmd_tag(argv: Sequence[str]) -> int:
    from pipelines.tag import TagOptions, run_tag

    args, beam_args = tag_parser().parse_known_args(argv)
    check_beam_args(beam_args)
    inputs = list(args.inputs) + ([demo_library()] if args.demo else [])
    if not inputs:
        raise SystemExit("mgc tag: give at least one INPUT (file, directory or glob), or --demo")
    try:
        info = tagger.describe(args.model)
        options = TagOptions(
            model=args.model, hop_seconds=args.hop_seconds, max_patches=args.max_patches,
            batch_size=args.batch_size, top_k=args.top_k, threshold=args.threshold,
            write=write_options(args, beam_args, info.keeps_spelling),
            album_weight=args.album_weight,
        )
        options.validate(info.genres)
        inputs = check_inputs(inputs)
    except (InputNotFound, ValueError) as error:
        raise SystemExit(f"mgc tag: {error}") from None

    summary = with_progress(
        lambda progress: run_tag(inputs, args.output, options, beam_args, progress,
                                 incremental=args.incremental),
        beam_args, args.no_progress)
    if summary is None:
        print_submitted(args.output, "tags/, errors/ and run.json")
        return 0
    print_summary(summary)
    if options.write is not None:
        print_writes(summary, options.write.dry_run)
    if summary.seen == 0:
        print("mgc tag: no audio files found in the inputs (extensions: mp3, flac, ogg, oga, "
              "opus, wav, aif, aiff, m4a, mp4, aac, wma)", file=sys.stderr)
        return 1
    if summary.tagged == 0 and summary.skipped == 0:
        print("mgc tag: no file could be read; see the error rows", file=sys.stderr)
        return 1
    return 0


def extract_parser() -> argparse.ArgumentParser:
    from pipelines.sources import LABEL_MODES, SUBSETS

    parser = argparse.ArgumentParser(
        prog="mgc extract",
        description="Turn labelled audio into a training dataset: TFRecord patches per split "
        "(DIR/<split>-*.tfrecord), DIR/tracks/ (handcrafted features), DIR/errors/, "
        "labels.json, frontend.json, extract.json. Any Beam pipeline option is passed through.",
        allow_abbrev=False,
    )
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--fma-metadata", metavar="META_DIR",
                       help="FMA's fma_metadata folder (tracks.csv, genres.csv); needs "
                       "--audio-dir; keeps FMA's artist-filtered split")
    given.add_argument("--folder", metavar="ROOT",
                       help="one folder per genre: ROOT/<genre>/<audio> (GTZAN style)")
    given.add_argument("--manifest", metavar="CSV",
                       help="CSV with columns path,genre[,split][,artist]; relative paths are "
                       "relative to the CSV")
    parser.add_argument("--audio-dir", metavar="AUDIO_DIR",
                        help="FMA audio folder (000/000002.mp3 ...), with --fma-metadata")
    parser.add_argument("--subset", choices=SUBSETS, default=None,
                        help="FMA subset; each includes the smaller ones (default: medium)")
    parser.add_argument("--labels", choices=LABEL_MODES, default=None,
                        help="FMA labels: top = one top-level genre per track (tracks without "
                        "one are skipped), all = every genre of genres_all (default: top)")
    parser.add_argument("--output", "-o", required=True, metavar="DIR",
                        help="dataset folder (local or fsspec URL); a previous dataset there "
                        "is replaced when the run succeeds")
    parser.add_argument("--hop-seconds", type=float, default=None,
                        help="distance between patch starts (default: patch length, 3 s)")
    parser.add_argument("--max-patches", type=int, default=None,
                        help="at most this many patches per track, the middles of as many "
                        "equal parts (default: every patch, as training wants)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress line, even on a terminal")
    return parser


def _extract_source(args, parser: argparse.ArgumentParser):
    from pipelines.sources import fma_source, folder_source, manifest_source

    if args.fma_metadata:
        if not args.audio_dir:
            parser.error("--fma-metadata needs --audio-dir (the folder of 000/, 001/ ...)")
        return fma_source(args.fma_metadata, args.audio_dir, args.subset or "medium",
                          args.labels or "top")
    for flag, value in (("--audio-dir", args.audio_dir), ("--subset", args.subset),
                        ("--labels", args.labels)):
        if value is not None:
            parser.error(f"{flag} only applies to --fma-metadata")
    return folder_source(args.folder) if args.folder else manifest_source(args.manifest)


def print_extract_summary(summary) -> None:
    wall = summary.run.get("wall_time_s", 0.0)
    print(f"Extracted {summary.extracted} of {summary.listed} tracks in {wall:.1f} s "
          f"({summary.failed} failed) -> {summary.out}")
    splits = "; ".join(f"{name} {s['tracks']} tracks, {s['patches']} patches"
                       for name, s in summary.splits.items())
    print(f"Splits: {splits}")
    labels = summary.run.get("labels", [])
    shown = ", ".join(labels[:16]) + (", ..." if len(labels) > 16 else "")
    print(f"Labels ({len(labels)}): {shown}")
    if summary.skipped:
        skipped = ", ".join(f"{k} {n}" for k, n in sorted(summary.skipped.items()))
        print(f"Skipped (not errors): {skipped}")
    if summary.failed:
        stages = ", ".join(f"{s} {n}" for s, n in sorted(summary.failures_by_stage.items()))
        print(f"Failures by stage: {stages} (details in {summary.out}/errors/)")
    for warning in summary.run.get("warnings", []):
        print(f"Warning: {warning}")


def cmd_extract(argv: Sequence[str]) -> int:
    from pipelines.extract import ExtractOptions, run_extract
    from pipelines.sources import SourceError

    parser = extract_parser()
    args, beam_args = parser.parse_known_args(argv)
    check_beam_args(beam_args, "extract", parser)
    options = ExtractOptions(hop_seconds=args.hop_seconds, max_patches=args.max_patches)
    try:
        options.validate()
        source = _extract_source(args, parser)
    except (SourceError, ValueError) as error:
        raise SystemExit(f"mgc extract: {error}") from None

    summary = with_progress(
        lambda progress: run_extract(source, args.output, options, beam_args, progress),
        beam_args, args.no_progress, "extracting")
    if summary is None:
        print_submitted(args.output, "the dataset and extract.json")
        return 0
    print_extract_summary(summary)
    if summary.extracted == 0:
        print("mgc extract: no track could be read; see the error rows", file=sys.stderr)
        return 1
    return 0


def baselines_parser() -> argparse.ArgumentParser:
    from mgc_model.baselines import MODELS

    parser = argparse.ArgumentParser(
        prog="mgc baselines",
        description="Seed 000's baselines (decision tree, logistic regression, random forest, "
        "SVM-RBF) on the handcrafted features of an extracted dataset; writes "
        "REPORT/baselines.json, REPORT/report.md and one report per model.",
        allow_abbrev=False,
    )
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="dataset written by `mgc extract --output DIR`")
    parser.add_argument("--output", "-o", required=True, metavar="REPORT",
                        help="report folder (created; files in it are replaced)")
    parser.add_argument("--split", default="test", choices=("validation", "test"),
                        help="split to report on (default: test); models fit on training")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                        metavar="MODEL",
                        help=f"baselines to run (default: all: {', '.join(MODELS)})")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes for the random forest (default: 1; -1: all cores)")
    return parser


def cmd_baselines(argv: Sequence[str]) -> int:
    from mgc_model.baselines import BaselineError, run_baselines

    args = _parse_exactly(baselines_parser(), argv)
    try:
        results = run_baselines(args.data, args.output, split=args.split, models=args.models,
                                n_jobs=args.jobs)
    except (BaselineError, FileNotFoundError) as error:
        raise SystemExit(f"mgc baselines: {error}") from None
    print(f"{'model':<20} {'accuracy':>9} {'MAP':>7} {'top-3':>7} {'macro F1':>9}")
    for name, m in results.items():
        print(f"{name:<20} {m['accuracy']:>9.1%} {m['map']:>7.1%} {m['top3_accuracy']:>7.1%} "
              f"{m['macro_f1']:>9.3f}")
    print(f"Report: {args.output}/report.md")
    return 0


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgc train",
        description="Train a genre model on a dataset written by `mgc extract`; writes a model "
        "bundle (model.keras, labels, front-end, training.json, metrics.json, history.csv, "
        "training_curves.png) that `mgc tag --model BUNDLE` and `mgc evaluate` use. "
        "`mgc train --from-tags LIBRARY` learns from the genres a library's files carry "
        "instead (`mgc train --from-tags --help`).",
        allow_abbrev=False,
    )
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="dataset written by `mgc extract --output DIR`")
    parser.add_argument("--output", "-o", required=True, metavar="BUNDLE",
                        help="bundle folder to write (local; a bundle already there is "
                        "replaced when training succeeds)")
    parser.add_argument("--arch", choices=("transfer", "cnn"), default="transfer",
                        help="transfer: pretrained musicnn features + MLP head (default); "
                        "cnn: seed 001's CNN from scratch")
    parser.add_argument("--epochs", type=int, default=30, help="most epochs (default: 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="patches per step "
                        "(default: 32)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="Adam's learning rate (default: 1e-3 transfer, 1e-4 cnn)")
    parser.add_argument("--patience", type=int, default=5,
                        help="epochs without a lower validation loss before stopping "
                        "(default: 5); the best epoch's weights are kept")
    parser.add_argument("--fine-tune", action="store_true",
                        help="transfer: after the head, also train musicnn's top blocks at a "
                        "tenth of the learning rate")
    augment = parser.add_mutually_exclusive_group()
    augment.add_argument("--augment", dest="augment", action="store_true", default=None,
                         help="augment patches (time stretch, pitch shift, noise, volume, "
                         "masking); default for cnn and --fine-tune; with a frozen transfer "
                         "backbone it runs the backbone on every patch of every epoch")
    augment.add_argument("--no-augment", dest="augment", action="store_false",
                         help="no augmentation")
    parser.add_argument("--backbone", default="MSD_musicnn",
                        choices=("MSD_musicnn", "MTT_musicnn"),
                        help="transfer: pretrained network (default: MSD_musicnn)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--name", default=None,
                        help="model name recorded in tags (default: the bundle folder's name)")
    return parser


def from_tags_parser() -> argparse.ArgumentParser:
    from pipelines.learn import LearnOptions

    default = LearnOptions()
    parser = argparse.ArgumentParser(
        prog="mgc train --from-tags",
        description="Learn the library owner's genres: the genres its files already carry are "
        "the labels (as the owner spells them), the default model's features of every file "
        "are computed once, and a head trained on them with a split by artist is written as a "
        "bundle for `mgc tag --model BUNDLE`. Its report compares it with the default model "
        "on the same held-out tracks. Beam pipeline options are passed to the feature pass.",
        allow_abbrev=False,
    )
    parser.add_argument("--from-tags", dest="library", nargs="+", required=True,
                        metavar="LIBRARY", help="audio files, directories or globs, as for "
                        "`mgc tag`")
    parser.add_argument("--output", "-o", required=True, metavar="BUNDLE",
                        help="bundle folder to write (a bundle already there is replaced)")
    parser.add_argument("--min-tracks", type=int, default=default.min_tracks, metavar="N",
                        help="a genre on fewer files is left out, and listed (default: "
                        "%(default)s)")
    parser.add_argument("--holdout", type=float, default=default.holdout, metavar="F",
                        help="share of the labelled files held out for the report, whole "
                        "artists at a time (default: %(default)s)")
    parser.add_argument("--features", default=None, metavar="DIR",
                        help="keep the feature pass (a tag run of the default model) in DIR; "
                        "a later --from-tags with the same DIR computes only new and changed "
                        "files (default: a temporary folder)")
    parser.add_argument("--max-patches", type=int, default=None, metavar="N",
                        help="at most N windows per file in the feature pass (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default: 0)")
    parser.add_argument("--name", default=None,
                        help="model name recorded in tags (default: the bundle folder's name)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress line, even on a terminal")
    return parser


def cmd_train_from_tags(argv: Sequence[str]) -> int:
    parser = from_tags_parser()
    if "-h" in argv or "--help" in argv:  # `--from-tags --help` names no LIBRARY yet
        parser.print_help()
        return 0
    args, beam_args = parser.parse_known_args(argv)
    check_beam_args(beam_args, "train --from-tags", parser)
    from pipelines.learn import LearnOptions, learn, summary_lines

    options = LearnOptions(min_tracks=args.min_tracks, holdout=args.holdout, seed=args.seed,
                           name=args.name, features=args.features,
                           max_patches=args.max_patches)
    try:
        options.validate()
        library = check_inputs(args.library)
        report = with_progress(
            lambda progress: learn(library, args.output, options, beam_args, progress),
            beam_args, args.no_progress, "features")
    except (InputNotFound, ValueError) as error:
        raise SystemExit(f"mgc train --from-tags: {error}") from None
    for line in summary_lines(report):
        print(line)
    return 0


def cmd_train(argv: Sequence[str]) -> int:
    if any(arg == "--from-tags" or arg.startswith("--from-tags=") for arg in argv):
        return cmd_train_from_tags(argv)
    args = _parse_exactly(train_parser(), argv)
    from mgc_model.training import TrainConfig, train  # TensorFlow: after --help and typos
    from pipelines.progress import EpochBar

    config = TrainConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, patience=args.patience,
                         fine_tune=args.fine_tune, augment=args.augment, seed=args.seed,
                         name=args.name, backbone=args.backbone)
    try:
        config.validate()
        with EpochBar() as log:
            result = train(args.data, args.output, config, log)
    except ValueError as error:
        raise SystemExit(f"mgc train: {error}") from None
    m = result.metrics
    print(f"Bundle {result.training['name']}@{result.version} -> {result.bundle}")
    print(f"Validation ({m['n_tracks']} tracks): accuracy {m['accuracy']:.1%}, MAP "
          f"{m['map']:.1%}, macro F1 {m['macro_f1']:.3f}; best epoch "
          f"{result.training['best_epoch']} of {result.training['epochs_run']}")
    return 0


def evaluate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgc evaluate",
        description="Score a model bundle on one split of an extracted dataset, per track; "
        "writes REPORT/metrics.json, predictions.parquet, confusion_matrix.png, "
        "training_curves.png and report.md.",
        allow_abbrev=False,
    )
    parser.add_argument("--model", required=True, metavar="BUNDLE",
                        help="bundle folder written by `mgc train`")
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="dataset written by `mgc extract --output DIR`")
    parser.add_argument("--split", default="test", choices=("training", "validation", "test"),
                        help="split to score (default: test)")
    parser.add_argument("--output", "-o", required=True, metavar="REPORT",
                        help="report folder (created; files in it are replaced)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="patches per prediction batch (default: 64)")
    return parser


def cmd_evaluate(argv: Sequence[str]) -> int:
    args = _parse_exactly(evaluate_parser(), argv)
    from mgc_model.evaluate import evaluate  # TensorFlow: after --help and typos

    try:
        m = evaluate(args.model, args.data, args.output, args.split, args.batch_size)
    except ValueError as error:
        raise SystemExit(f"mgc evaluate: {error}") from None
    print(f"{m['model']} on {args.split} ({m['n_tracks']} tracks): accuracy "
          f"{m['accuracy']:.1%}, MAP {m['map']:.1%}, top-3 {m['top3_accuracy']:.1%}, "
          f"macro F1 {m['macro_f1']:.3f}")
    print(f"Report: {args.output}/report.md")
    return 0


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgc serve",
        description="Pages over a tag run's output: classify an uploaded file (genre and a bar "
        "per genre score), browse the library (genre counts, filterable table, playback, "
        "nearest neighbours), and the JSON API behind them.",
        allow_abbrev=False,
    )
    parser.add_argument("--tags", required=True, metavar="OUT",
                        help="output folder of `mgc tag --output OUT`")
    parser.add_argument("--model", default=None, metavar="NAME|BUNDLE",
                        help="model for uploads (default: the one the tag run used)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only; "
                        "0.0.0.0 opens it to the network)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--max-upload-mb", type=float, default=100,
                        help="largest upload accepted, in MB (default: 100)")
    return parser


def cmd_serve(argv: Sequence[str]) -> int:
    args = _parse_exactly(serve_parser(), argv)
    from pipelines.serve import make_server, serve  # TensorFlow: after --help and typos

    try:
        server = make_server(args.tags, args.model, args.host, args.port,
                             int(args.max_upload_mb * 1024 * 1024))
    except (ValueError, OSError) as error:
        raise SystemExit(f"mgc serve: {error}") from None
    print(f"Serving {len(server.library.rows)} tracks of {args.tags} on {server.url}/ "
          f"(library: {server.url}/library); Ctrl-C stops", flush=True)
    serve(server)
    return 0


def similar_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgc similar",
        description="The tracks most similar to TRACK, by cosine similarity of the embeddings "
        "in a tag run's output.",
        allow_abbrev=False,
    )
    parser.add_argument("track", metavar="TRACK",
                        help="a track's path as the tags list it (a local path may be relative)")
    parser.add_argument("--tags", required=True, metavar="OUT",
                        help="output folder of `mgc tag --output OUT`")
    parser.add_argument("-k", type=int, default=10, help="neighbours to list (default: 10)")
    return parser


def cmd_similar(argv: Sequence[str]) -> int:
    args = _parse_exactly(similar_parser(), argv)
    from mgc_model.similarity import SimilarityIndex, UnknownTrack
    from pipelines.output import read_tags

    try:
        tags = read_tags(args.tags).to_table(columns=["path", "genre", "embedding"])
    except (FileNotFoundError, OSError):
        raise SystemExit(f"mgc similar: no tags in {args.tags!r}; run `mgc tag INPUT --output "
                         f"{args.tags}` first") from None
    try:
        index = SimilarityIndex.from_table(tags)
        track = args.track
        if track not in index and os.path.exists(track):
            track = os.path.abspath(track)  # tag rows hold local paths absolute
        found = index.neighbours(track, args.k)
    except (UnknownTrack, ValueError) as error:
        raise SystemExit(f"mgc similar: {error}") from None
    for n in found:
        print(f"{n.similarity:.4f}  {n.genre:<20} {n.path}")
    return 0


def undo_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgc undo",
        description="Undo the genre writes of the `mgc tag --write-tags` run in OUT: each file "
        "it wrote gets back the genres it had before and loses mgc's MGC_ fields, if it is "
        "still as that run left it (a file changed since is left alone and reported). Writes "
        "a record to OUT/undo/.",
        allow_abbrev=False,
    )
    parser.add_argument("output", metavar="OUT", help="output folder of `mgc tag --output OUT`")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be restored, and change no byte")
    return parser


def print_undo(summary, dry_run: bool) -> None:
    """Per file, what undo did (or would do); then counts and where the record is."""
    from pipelines.undo import ACTIONS

    for o in summary.outcomes:
        if o.action in ("restored", "would-restore"):
            change = f"{'; '.join(o.genres_found)} -> {'; '.join(o.genres) or '(no genre)'}"
        elif o.action == "unchanged":
            continue
        else:
            change = o.message
        print(f"{o.action:<13} {o.path}: {change}")
    counts = ", ".join(f"{a} {summary.counts[a]}" for a in ACTIONS if summary.counts.get(a))
    note = " (dry run: no file was changed)" if dry_run else ""
    where = f"; record in {summary.record}" if summary.record else ""
    print(f"Undid run {summary.run_id}{note}: {counts or 'no file it wrote'}{where}")


def cmd_undo(argv: Sequence[str]) -> int:
    args = _parse_exactly(undo_parser(), argv)
    from pipelines.undo import NothingToUndo, undo_run

    try:
        summary = undo_run(args.output, args.dry_run)
    except NothingToUndo as error:
        print(f"mgc undo: {error}", file=sys.stderr)
        return 1
    print_undo(summary, args.dry_run)
    return 1 if summary.counts.get("failed") else 0


COMMANDS = {"tag": cmd_tag, "extract": cmd_extract, "train": cmd_train,
            "evaluate": cmd_evaluate, "baselines": cmd_baselines, "serve": cmd_serve,
            "similar": cmd_similar, "undo": cmd_undo}


def version_line() -> str:
    """mgc's version and the default model's ``name@version``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        mine = version("mgc")
    except PackageNotFoundError:  # a checkout on PYTHONPATH, not installed
        mine = "(not installed)"
    return f"mgc {mine}, default model {tagger.describe(tagger.DEFAULT_MODEL).ref}"


USAGE = """usage: mgc [--version] COMMAND ... [--verbose]
commands: {known}
`mgc COMMAND --help` for details; --verbose (anywhere on the line) also shows what
TensorFlow and ONNX Runtime print as they start"""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # before anything loads TensorFlow: its start-up lines are printed from C++
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    with quiet_native_stderr(verbose):
        return _dispatch(argv)


def _dispatch(argv: list[str]) -> int:
    known = ", ".join(COMMANDS)
    if argv[:1] == ["--version"]:
        print(version_line())
        return 0
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        if argv and argv[0] not in {"-h", "--help"}:
            print(f"mgc: unknown command {argv[0]!r}; commands: {known}", file=sys.stderr)
            return 2
        print(USAGE.format(known=known))
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().addFilter(_quiet_beam_imports)
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
