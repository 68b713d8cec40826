"""``mgc train``: train a model bundle on an extracted dataset; ``--from-tags`` is
``pipelines.commands.learn``'s.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pipelines.commands import learn
from pipelines.commands.common import parse_exactly


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


def run(argv: Sequence[str]) -> int:
    # two ways to train, each with its own flags: --from-tags LIBRARY names the other one
    if any(arg == "--from-tags" or arg.startswith("--from-tags=") for arg in argv):
        return learn.run(argv)
    args = parse_exactly(train_parser(), argv)
    from mgc_model.training import TrainConfig, train  # TensorFlow: after --help and typos
    from pipelines.terminal.progress import EpochBar

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
