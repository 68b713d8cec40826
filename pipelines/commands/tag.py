"""``mgc tag``: tag audio files with genres, and optionally write them into the files.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from importlib.resources import files

from mgc_model import decision, registry
from pipelines.audio.matching import InputNotFound, check_inputs
from pipelines.commands.common import LOCAL_RUNNERS, check_beam_args, print_submitted, with_progress


def demo_library() -> str:
    """The small library of clips shipped inside the package (see pipelines/demo/SOURCES.md)."""
    return str(files("pipelines") / "demo")


def tag_parser() -> argparse.ArgumentParser:
    from pipelines.graph.inference import DEFAULT_BATCH_SIZE
    from pipelines.graph.tag import DEFAULT_MAX_PATCHES

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
    parser.add_argument("--model", default=registry.DEFAULT_MODEL,
                        help=f"model name: {', '.join(registry.MODELS)} (default: "
                        f"{registry.DEFAULT_MODEL}; fast: a small network distilled from it, for "
                        "CPUs), or the folder of a bundle written by `mgc train`")
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
    parser.add_argument("--top-k", type=int, default=decision.TOP_K,
                        help="most genres listed per track in `genres` (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=decision.THRESHOLD,
                        help="least score for a genre to be listed (default: %(default)s)")
    parser.add_argument("--album-weight", type=float, default=decision.ALBUM_WEIGHT, metavar="W",
                        help="blend each track's scores with its album's mean before its genre "
                        "is chosen: (1-W) * track + W * album, W from 0 to 1 (an album: album "
                        "artist or artist, and album tag; the folder when untagged; never a "
                        "compilation; default: %(default)s, measured in docs/tagging.md)")
    parser.add_argument("--artist-weight", type=float, default=decision.ARTIST_WEIGHT,
                        metavar="V",
                        help="join each track's scores with the genres its artist's other "
                        "albums carry in their files: (1-V) * scores + V * their genres, V from "
                        "0 to 1 (never for Various Artists; default: %(default)s, measured in "
                        "docs/tagging.md)")
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
    from pipelines.files.writeback import AUTO, POLICIES, WriteOptions

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
    write.add_argument("--min-score", type=_min_score, default=None, metavar="S",
                       help="least score for a genre to be written: a number from 0 to 1, or "
                       "auto, the least score at which mgc is right 9 times in 10 on this "
                       "library's own genres, measured per run (the threshold measured on "
                       f"mgc's check corpus when under 30 files carry one; default: {AUTO})")
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


def _min_score(text: str) -> float | str:
    from pipelines.files.writeback import AUTO

    if text.strip().lower() == AUTO:
        return AUTO
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a score from 0 to 1 nor {AUTO}") from None


def write_options(args: argparse.Namespace, beam_args: Sequence[str],
                  keeps_spelling: bool = False):
    """The --write-tags flags as ``WriteOptions`` (None without --write-tags); ValueError with
    what to do for a flag that cannot apply. ``keeps_spelling``: the model's genres are spelt
    as a library spells them, so they are written as they are unless --title-case."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from pipelines.files.writeback import AUTO, WriteOptions, read_vocabulary

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
              "min_score": AUTO if args.min_score is None else args.min_score,
              "title_case": title_case,
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
    from pipelines.files.writeback import ACTIONS
    from pipelines.graph.publish import read_writes

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


def print_summary(summary) -> None:
    from mgc_model.calibration import describe as describe_calibration
    from pipelines.learn.agreement import describe as describe_agreement

    wall = summary.run.get("wall_time_s", 0.0)
    skipped = f", {summary.skipped} unchanged and skipped" if summary.skipped else ""
    kept = (f"; resumed: {summary.kept} kept from the interrupted run" if summary.run.get(
        "resumed") else "")
    print(f"Tagged {summary.tagged} of {summary.seen} files in {wall:.1f} s "
          f"({summary.failed} failed{skipped}{kept}) -> {summary.out}")
    if summary.tagged or summary.skipped:
        min_score = summary.run.get("min_score")
        judged = "at least " + (f"{min_score:g}" if isinstance(min_score, float | int)
                                else "the threshold measured for its evidence, below")
        print(f"Confident: {summary.confident} of {summary.tagged + summary.skipped} tracks "
              f"(top genre scored {judged})")
        if not isinstance(min_score, float | int):
            for line in describe_calibration(summary.run.get("calibration", {})):
                print(line)
            if summary.run.get("fitted_on_albums"):
                print(f"  (not measured on the {summary.run['fitted_on_albums']} albums the "
                      "model learnt from: it was fitted to their genres)")
    if summary.top_genres:
        top = ", ".join(f"{g} {n}" for g, n in summary.top_genres[:5])
        print(f"Top genres: {top}")
    for line in describe_agreement(summary.run.get("agreement", {})):
        print(line)
    if summary.failed:
        stages = ", ".join(f"{s} {n}" for s, n in sorted(summary.failures_by_stage.items()))
        print(f"Failures by stage: {stages} (details in {summary.out}/errors/)")
    damaged = summary.run.get("damaged") or {}
    if damaged.get("files"):
        print(f"Damaged: {damaged['files']} file(s) tagged with {damaged['packets']} packet(s) "
              "that did not decode skipped (column damaged_packets); check they play as they "
              "should")
    passed_over = summary.run.get("passed_over") or {}
    if passed_over:
        named = {"(none)": "without extension", "._ (macOS metadata)": "macOS metadata (._*)"}
        files = ", ".join(f"{n} {named.get(ext, '.' + ext)}"
                          for ext, n in list(passed_over.items())[:6])
        more = ", ..." if len(passed_over) > 6 else ""
        n = sum(passed_over.values())
        print(f"Passed over {n} file{'s' if n != 1 else ''} that {'are' if n != 1 else 'is'} "
              f"not audio: {files}{more} (name an odd file on the command line to have it "
              "read)")


class StopOnInterrupt:
    """Ctrl-C (SIGINT) during a run stops it without a traceback: Beam wraps the
    KeyboardInterrupt raised inside a step into a RuntimeError and logs it, so the interrupt
    is noted here, the logs silenced, and whatever the run raises then is swallowed
    (``swallowed`` says so). What was committed stays for the next run
    (``pipelines.graph.checkpoint``)."""

    def __init__(self) -> None:
        self.stopped = False
        self.swallowed = False
        self._previous = None

    def _on_interrupt(self, signum, frame) -> None:
        self.stopped = True
        logging.disable(logging.CRITICAL)
        raise KeyboardInterrupt

    def __enter__(self) -> StopOnInterrupt:
        try:
            self._previous = signal.signal(signal.SIGINT, self._on_interrupt)
        except ValueError:  # not the main thread: Ctrl-C is not ours to handle
            self._previous = None
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        if self.stopped:
            logging.disable(logging.NOTSET)
        # the run ended by the interrupt, not one that finished as it came
        self.swallowed = self.stopped and kind is not None and issubclass(
            kind, Exception | KeyboardInterrupt)
        return self.swallowed


def print_stopped(out: str, model_ref: str, options) -> None:
    """What Ctrl-C leaves: how many files the run committed, and how to go on."""
    from pipelines.graph import checkpoint
    from pipelines.graph.incremental import state_key

    where = checkpoint.folder(out, state_key(model_ref, options))
    try:
        committed = checkpoint.committed_files(where)
    except Exception:  # noqa: BLE001  (an unreachable OUT: say what can be said)
        committed = 0
    if committed:
        print(f"Stopped. {committed} files committed in {where}; run the same command again "
              "to resume.", file=sys.stderr)
    else:
        print("Stopped before any file was committed; run the same command again to start "
              "over.", file=sys.stderr)


def run(argv: Sequence[str]) -> int:
    from pipelines.graph.tag import TagOptions, run_tag

    parser = tag_parser()
    args, beam_args = parser.parse_known_args(argv)
    check_beam_args(beam_args, "tag", parser)
    inputs = list(args.inputs) + ([demo_library()] if args.demo else [])
    if not inputs:
        raise SystemExit("mgc tag: give at least one INPUT (file, directory or glob), or --demo")
    try:
        info = registry.describe(args.model)
        options = TagOptions(
            model=args.model, hop_seconds=args.hop_seconds, max_patches=args.max_patches,
            batch_size=args.batch_size, top_k=args.top_k, threshold=args.threshold,
            write=write_options(args, beam_args, info.keeps_spelling),
            album_weight=args.album_weight, artist_weight=args.artist_weight,
        )
        options.validate(info.genres)
        inputs = check_inputs(inputs)
    except (InputNotFound, ValueError) as error:
        raise SystemExit(f"mgc tag: {error}") from None

    with StopOnInterrupt() as stop:
        summary = with_progress(
            lambda progress: run_tag(inputs, args.output, options, beam_args, progress,
                                     incremental=args.incremental),
            beam_args, args.no_progress)
    if stop.swallowed:
        print_stopped(args.output, info.ref, options)
        return 130
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
