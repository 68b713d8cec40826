"""``mgc extract``: labelled audio (FMA, a folder per genre, a manifest) -> a training dataset.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pipelines.commands.common import check_beam_args, print_submitted, with_progress


def extract_parser() -> argparse.ArgumentParser:
    from pipelines.graph.sources import LABEL_MODES, SUBSETS

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
    from pipelines.graph.sources import fma_source, folder_source, manifest_source

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


def run(argv: Sequence[str]) -> int:
    from pipelines.graph.extract import ExtractOptions, run_extract
    from pipelines.graph.sources import SourceError

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
