"""``mgc undo OUT``: put back the genres a ``--write-tags`` run wrote.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pipelines.commands.common import parse_exactly


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
    from pipelines.files.undo import ACTIONS

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


def run(argv: Sequence[str]) -> int:
    args = parse_exactly(undo_parser(), argv)
    from pipelines.files.undo import NothingToUndo, undo_run

    try:
        summary = undo_run(args.output, args.dry_run)
    except NothingToUndo as error:
        print(f"mgc undo: {error}", file=sys.stderr)
        return 1
    print_undo(summary, args.dry_run)
    return 1 if summary.counts.get("failed") else 0
