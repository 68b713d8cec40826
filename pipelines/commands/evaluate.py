"""``mgc evaluate``: score a bundle on one split of an extracted dataset.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pipelines.commands.common import parse_exactly


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


def run(argv: Sequence[str]) -> int:
    args = parse_exactly(evaluate_parser(), argv)
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
