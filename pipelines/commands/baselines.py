"""``mgc baselines``: seed 000's classic baselines on an extracted dataset's features.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pipelines.commands.common import parse_exactly


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


def run(argv: Sequence[str]) -> int:
    from mgc_model.baselines import BaselineError, run_baselines

    args = parse_exactly(baselines_parser(), argv)
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
