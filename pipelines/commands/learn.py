"""``mgc train --from-tags LIBRARY``: learn the owner's genres from the tags a library's files
carry.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pipelines.audio.matching import InputNotFound, check_inputs
from pipelines.commands.common import check_beam_args, with_progress


def from_tags_parser() -> argparse.ArgumentParser:
    from pipelines.learn.from_tags import LearnOptions

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


def run(argv: Sequence[str]) -> int:
    parser = from_tags_parser()
    if "-h" in argv or "--help" in argv:  # `--from-tags --help` names no LIBRARY yet
        parser.print_help()
        return 0
    args, beam_args = parser.parse_known_args(argv)
    check_beam_args(beam_args, "train --from-tags", parser)
    from pipelines.learn.from_tags import LearnOptions, learn, summary_lines

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
