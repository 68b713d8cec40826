"""``mgc train``: an extracted dataset in, a model bundle out.

- ``cnn``: seed 001's CNN from scratch, on tf.data batches (shuffled shards, augmentation,
  class weights as sample weights).
- ``transfer``: musicnn's features + an MLP head. With the backbone frozen and no input
  augmentation (the default), the features are computed once and the head trains on arrays;
  ``--fine-tune`` then unfreezes musicnn's top blocks and trains end to end at a tenth of the
  learning rate (Keras' transfer-learning recipe: head first, so that random head gradients
  never reach pretrained weights), and is kept only if it lowers the validation loss;
  ``--augment`` with a frozen backbone runs the backbone on every augmented patch instead.

Every phase uses Adam, early stopping on the validation loss (best weights restored), a
best-only checkpoint and a CSV history, all inside the bundle's staging folder. Single-label
datasets train softmax + categorical cross-entropy, multi-label ones sigmoid + binary
cross-entropy. ``keras.utils.set_random_seed`` and tf.data seeds make a run repeatable.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from mgc_model import bundle as bundles
from mgc_model.augment import AugmentConfig, PatchAugmenter
from mgc_model.dataset import (
    Dataset,
    aggregate_tracks,
    class_weights,
    count_split,
    eval_batches,
    open_dataset,
    predict_tracks,
    training_batches,
    validation_pairs,
)
from mgc_model.frontend import FrontendConfig
from mgc_model.musicnn import MODEL_NAMES

ARCHS = ("transfer", "cnn")
DEFAULT_LEARNING_RATE = {"cnn": 1e-4, "transfer": 1e-3}  # seed 001; seed 003
FINE_TUNE_FACTOR = 0.1

# A line of the training log; an epoch's line also carries (epochs done, total, phase), for a
# progress bar (pipelines.terminal.progress.EpochBar).
Log = Callable[..., None]  # log(line, epoch=(done, total, phase) or None)


def _stderr(line: str, epoch: tuple[int, int, str] | None = None) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class TrainConfig:
    """What ``mgc train`` lets a user choose."""

    arch: str = "transfer"
    epochs: int = 30  # seeds 001 and 003
    batch_size: int = 32  # seeds 001 and 003
    learning_rate: float | None = None  # default per architecture
    patience: int = 5
    fine_tune: bool = False
    augment: bool | None = None  # default: on, except a frozen transfer backbone
    seed: int = 0
    name: str | None = None
    backbone: str = "MSD_musicnn"
    hidden_units: int = 256
    dropout: float = 0.5
    shuffle_buffer: int = 2048

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"--arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        if self.epochs < 1:
            raise ValueError("--epochs must be at least 1")
        if self.batch_size < 1:
            raise ValueError("--batch-size must be at least 1")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError("--learning-rate must be positive")
        if self.patience < 0:
            raise ValueError("--patience must be 0 or more (0 stops at the first epoch "
                             "that does not improve the validation loss)")
        if self.fine_tune and self.arch != "transfer":
            raise ValueError("--fine-tune applies to --arch transfer; the CNN trains all its "
                             "layers")
        if self.backbone not in MODEL_NAMES:
            raise ValueError(f"--backbone must be one of {', '.join(MODEL_NAMES)}")
        if not 0 <= self.dropout < 1 or self.hidden_units < 1 or self.shuffle_buffer < 1:
            raise ValueError("dropout must be in [0, 1); hidden units and shuffle buffer >= 1")

    @property
    def lr(self) -> float:
        return self.learning_rate or DEFAULT_LEARNING_RATE[self.arch]

    @property
    def augments(self) -> bool:
        if self.augment is not None:
            return self.augment
        return self.arch == "cnn" or self.fine_tune

    @property
    def precomputes(self) -> bool:
        """Whether the transfer head trains on features computed once (frozen, unaugmented
        backbone); with --fine-tune this is the first phase."""
        return self.arch == "transfer" and (self.fine_tune or not self.augments)


@dataclass
class TrainResult:
    bundle: Path
    version: str
    metrics: dict
    training: dict


class EpochLine(keras.callbacks.Callback):
    """One line per epoch: losses, accuracy, time."""

    def __init__(self, total: int, log: Log, phase: str = "") -> None:
        super().__init__()
        self.total, self.log, self.phase = total, log, phase
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        shown = ", ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items()
                          if k != "learning_rate")
        phase = f"{self.phase} " if self.phase else ""
        self.log(f"{phase}epoch {epoch + 1}/{self.total}: {shown} "
                 f"({time.monotonic() - self._start:.1f} s)",
                 epoch=(epoch + 1, self.total, self.phase))


def _compile(model: keras.Model, lr: float, multi_label: bool, k: int) -> None:
    if multi_label:
        loss = "binary_crossentropy"
        metrics = [keras.metrics.AUC(multi_label=True, num_labels=k, name="auc")]
    else:
        loss = "categorical_crossentropy"
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    # Keras' jit_compile="auto" picks XLA, whose CPU convolutions trained seed 001's CNN 2.7x
    # slower than TensorFlow's oneDNN kernels on this machine (7.9 vs 21.7 patches/s).
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=metrics,
                  jit_compile=False)


def _callbacks(writer: bundles.BundleWriter, cfg: TrainConfig, total: int, log: Log,
               phase: str) -> tuple[list, keras.callbacks.EarlyStopping]:
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience,
                                         restore_best_weights=True)
    writer.file("checkpoints").mkdir(exist_ok=True)
    return [
        stop,
        keras.callbacks.ModelCheckpoint(str(writer.file(f"checkpoints/{phase}.weights.h5")),
                                        monitor="val_loss", save_best_only=True,
                                        save_weights_only=True),
        keras.callbacks.CSVLogger(str(writer.file(bundles.HISTORY_FILE)), append=True),
        EpochLine(total, log, phase if cfg.fine_tune else ""),
    ], stop


def _features(extractor: keras.Model, data: Dataset, split: str, batch_size: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backbone features of every patch of a split: (features, targets, track ids)."""
    import tensorflow as tf

    run = tf.function(lambda x: extractor(x, training=False), reduce_retracing=True)
    feats, targets, ids = [], [], []
    for batch in eval_batches(data, split, batch_size):
        feats.append(run(batch["patch"]).numpy())
        targets.append(batch["target"].numpy())
        ids.append(batch["track_id"].numpy())
    return np.concatenate(feats), np.concatenate(targets), np.concatenate(ids)


@dataclass
class Phase:
    name: str
    epochs_run: int
    best_epoch: int  # 1-based, counted over the whole run
    best_val_loss: float
    learning_rate: float
    augment: bool
    features_precomputed: bool

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _fit(model: keras.Model, train, validation, cfg: TrainConfig, writer, log: Log,
         phase: str, lr: float, first_epoch: int = 0, augment: bool = False,
         precomputed: bool = False, **fit_args) -> Phase:
    callbacks, stop = _callbacks(writer, cfg, first_epoch + cfg.epochs, log, phase)
    history = model.fit(train, validation_data=validation, epochs=first_epoch + cfg.epochs,
                        initial_epoch=first_epoch, callbacks=callbacks, verbose=0, **fit_args)
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    return Phase(phase, len(losses), first_epoch + best + 1, float(losses[best]), lr, augment,
                 precomputed)


def check_compatible(cfg: TrainConfig, data: Dataset) -> None:
    """Refuse, before any work, a dataset the chosen architecture cannot use."""
    if cfg.arch == "transfer" and data.frontend != FrontendConfig():
        raise ValueError("--arch transfer needs musicnn's front-end (16 kHz, 96 mel bands, "
                         f"187-frame patches) but {data.path}/frontend.json differs; use --arch "
                         "cnn, or extract again with the default front-end")


def train(data_dir: str, output: str, cfg: TrainConfig = TrainConfig(),
          log: Log = _stderr) -> TrainResult:
    """Train on ``data_dir``'s training split, stop early on its validation split, and write
    a bundle to ``output`` (replacing a bundle already there)."""
    cfg.validate()
    data = open_dataset(data_dir)
    data.require("training")
    data.require("validation")
    check_compatible(cfg, data)
    writer = bundles.BundleWriter(output)  # refuses a non-bundle output before any work
    started, clock = datetime.now(timezone.utc), time.monotonic()
    try:
        result = _train(data, writer, cfg, log)
        result.training["wall_time_s"] = round(time.monotonic() - clock, 1)
        result.training["created_at"] = started.isoformat()
        writer.write_json(bundles.TRAINING_FILE, result.training)
        result.bundle = writer.commit()
        return result
    except KeyboardInterrupt:
        kept = sorted(writer.file("checkpoints").glob("*.weights.h5"))
        if kept:
            log(f"interrupted: the best weights so far are in {kept[-1]} (no bundle written)")
        else:
            writer.discard()
        raise
    except BaseException:
        writer.discard()
        raise


def _train(data: Dataset, writer: bundles.BundleWriter, cfg: TrainConfig, log: Log
           ) -> TrainResult:
    keras.utils.set_random_seed(cfg.seed)
    k, frontend = len(data.labels), data.frontend
    counts = {split: count_split(data, split) for split in ("training", "validation")}
    weights = class_weights(counts["training"].patches_per_label)
    log(f"training on {counts['training'].tracks} tracks ({counts['training'].patches} "
        f"patches), validating on {counts['validation'].tracks} tracks; {k} labels"
        f"{' (multi-label)' if data.multi_label else ''}")
    augmenter = PatchAugmenter(frontend, AugmentConfig()) if cfg.augments else None
    phases: list[Phase] = []
    notes: list[str] = []
    val_predictions = None

    def fit_patches(model: keras.Model, phase: str, lr: float, first_epoch: int = 0) -> Phase:
        trainable = keras.Model(model.input, model.output["genres"])
        _compile(trainable, lr, data.multi_label, k)
        train_ds = training_batches(data, "training", cfg.batch_size, cfg.seed, weights,
                                    augmenter, cfg.shuffle_buffer, counts["training"].patches)
        val_ds = validation_pairs(data, "validation", cfg.batch_size,
                                  counts["validation"].patches)
        return _fit(trainable, train_ds, val_ds, cfg, writer, log, phase, lr, first_epoch,
                    augment=cfg.augments, shuffle=False)  # tf.data shuffles

    if cfg.arch == "cnn":
        from mgc_model.cnn import build_cnn

        model = build_cnn(k, frontend.patch_frames, frontend.n_mels, data.multi_label)
        embedding_dim = model.output["embedding"].shape[-1]
        phases.append(fit_patches(model, "train", cfg.lr))
    else:
        from mgc_model.transfer import build_transfer

        transfer = build_transfer(k, cfg.backbone, cfg.hidden_units, cfg.dropout,
                                  data.multi_label)
        model = transfer.model
        embedding_dim = cfg.hidden_units
        if cfg.precomputes:
            log(f"computing {cfg.backbone} features once (frozen backbone)")
            tic = time.monotonic()
            x, y, _ = _features(transfer.extractor, data, "training", 64)
            vx, vy, vids = _features(transfer.extractor, data, "validation", 64)
            log(f"features of {len(x) + len(vx)} patches in {time.monotonic() - tic:.1f} s")
            sample_weight = (y * weights).sum(axis=1) / np.maximum(y.sum(axis=1), 1)
            head = keras.Model(transfer.head.input, transfer.head.output["genres"])
            _compile(head, cfg.lr, data.multi_label, k)
            phases.append(_fit(head, x, (vx, vy), cfg, writer, log, "head", cfg.lr,
                               precomputed=True, y=y, sample_weight=sample_weight,
                               batch_size=cfg.batch_size, shuffle=True))
            scores = transfer.head(vx, training=False)["genres"].numpy()
            val_predictions = aggregate_tracks(vids, vy, scores)
        if cfg.fine_tune:
            kept = model.get_weights()
            transfer.set_fine_tune(True)
            phases.append(fit_patches(model, "fine_tune", cfg.lr * FINE_TUNE_FACTOR,
                                      first_epoch=phases[0].epochs_run))
            if phases[-1].best_val_loss >= phases[0].best_val_loss:
                model.set_weights(kept)
                notes.append("fine-tuning did not lower the validation loss: the bundle "
                             "keeps the head trained on frozen features")
            else:
                val_predictions = None
        elif not cfg.precomputes:
            phases.append(fit_patches(model, "train", cfg.lr))

    if val_predictions is None:
        val_predictions = predict_tracks(model, data, "validation", 64)
    from mgc_model.metrics import classification_metrics

    metrics = classification_metrics(val_predictions.targets, val_predictions.scores,
                                      data.labels, multi_label=data.multi_label)
    metrics["split"] = "validation"
    model_version = writer.save_model(model)
    history_frame = pd.read_csv(writer.file(bundles.HISTORY_FILE))
    _plot_curves(history_frame, writer.file(bundles.CURVES_FILE))
    writer.write_json(bundles.LABELS_FILE, data.labels_doc)
    writer.write_json(bundles.FRONTEND_FILE, frontend.to_dict())
    writer.write_json(bundles.METRICS_FILE, metrics)
    for checkpoint in writer.file("checkpoints").glob("*"):
        checkpoint.unlink()  # the best weights are model.keras now
    writer.file("checkpoints").rmdir()
    kept_phase = min(phases, key=lambda p: p.best_val_loss)
    training = {
        "name": cfg.name or writer.output.name,
        "version": model_version,
        "arch": cfg.arch,
        "backbone": cfg.backbone if cfg.arch == "transfer" else None,
        "embedding_dim": int(embedding_dim),
        "multi_label": data.multi_label,
        "loss": "binary_crossentropy" if data.multi_label else "categorical_crossentropy",
        "hyperparameters": {**dataclasses.asdict(cfg), "learning_rate": cfg.lr,
                            "augment": cfg.augments},
        "features_precomputed": cfg.precomputes,
        "augmentation": AugmentConfig().to_dict() if cfg.augments else None,
        "phases": [p.to_dict() for p in phases],
        "epochs_run": int(len(history_frame)),
        "best_epoch": kept_phase.best_epoch,
        "class_weights": {name: round(float(w), 4)
                          for name, w in zip(data.labels, weights, strict=True)},
        "data_dir": data.path if "://" in data.path else str(Path(data.path).absolute()),
        "counts": {split: c.to_dict(data.labels) for split, c in counts.items()},
        "validation": {key: metrics[key] for key in ("accuracy", "map", "macro_f1")},
        "notes": notes,
        "versions": {pkg: version(pkg) for pkg in ("mgc", "tensorflow", "keras")},
    }
    log(f"validation: track accuracy {metrics['accuracy']:.1%}, MAP {metrics['map']:.1%} "
        f"over {metrics['n_tracks']} tracks (best epoch {training['best_epoch']})")
    for note in notes:
        log(note)
    return TrainResult(bundle=writer.output, version=model_version, metrics=metrics,
                       training=training)


def _plot_curves(history: pd.DataFrame, path: Path) -> None:
    from mgc_model.report import plot_training_curves

    plot_training_curves(history, path)
