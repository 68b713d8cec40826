"""``mgc similar``: the nearest tracks to one track by embedding.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from pipelines.commands.common import parse_exactly


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


def run(argv: Sequence[str]) -> int:
    args = parse_exactly(similar_parser(), argv)
    from mgc_model.similarity import SimilarityIndex, UnknownTrack
    from pipelines.graph.publish import read_tags

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
