"""``mgc playlists OUT --into DIR``: one M3U playlist per genre, style or mood of a tag run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pipelines.commands.common import parse_exactly

KINDS = ("genre", "style", "mood")  # pipelines.files.playlists.KINDS, without importing it


def _score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a score is from 0 to 1, not {text}")
    return value


def playlists_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgc playlists",
        description="Write one UTF-8 extended M3U playlist (DIR/<value>.m3u8) per genre, "
        "style or mood of the `mgc tag` run in OUT, for players and servers (Navidrome, "
        "Jellyfin, mpd, VLC). Entries are ordered by album artist, album, track number and "
        "path; paths are relative to DIR where they can be. A later run replaces the "
        "playlists it wrote and removes those of values no longer present, never a file it "
        "did not write (DIR/.mgc-playlists.json lists them).",
        allow_abbrev=False,
    )
    parser.add_argument("output", metavar="OUT", help="output folder of `mgc tag --output OUT`")
    parser.add_argument("--into", required=True, metavar="DIR",
                        help="folder to write the playlists into (made if missing)")
    parser.add_argument("--by", choices=KINDS, default="genre",
                        help="one playlist per genre (default), style or mood")
    parser.add_argument("--min-score", type=_score, default=None, metavar="S",
                        help="put a track into the playlist of every value it lists scoring "
                        "at least S (0 to 1); without it, into its best value's only")
    return parser


def run(argv: Sequence[str]) -> int:
    args = parse_exactly(playlists_parser(), argv)
    from pipelines.files.playlists import MissingColumn, NoRun, read_rows, write_playlists

    try:
        rows = read_rows(args.output, args.by)
    except (NoRun, MissingColumn) as error:
        print(f"mgc playlists: {error}", file=sys.stderr)
        return 1
    try:
        result = write_playlists(rows, args.into, args.by, args.min_score)
    except OSError as error:
        print(f"mgc playlists: cannot write into {args.into!r}: {error}", file=sys.stderr)
        return 1
    for path in result.skipped:
        print(f"mgc playlists: left out {path!r}: a playlist line cannot hold its name",
              file=sys.stderr)
    for name in result.kept:
        print(f"mgc playlists: kept {name}: changed since mgc wrote it, so it is yours now",
              file=sys.stderr)
    n = len(result.written)
    line = (f"Wrote {n} playlist{'' if n == 1 else 's'} by {args.by} ({result.entries} "
            f"entr{'y' if result.entries == 1 else 'ies'}) into {args.into}")
    if result.removed:
        line += f"; removed {len(result.removed)} of an earlier run: {', '.join(result.removed)}"
    print(line)
    if not rows:
        print("The run has no tagged tracks.")
    return 0
