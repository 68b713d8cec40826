"""``mgc evaluate``: a model bundle on one split of an extracted dataset, scored per track.

Each track's score is the mean of its patches' probabilities (as ``mgc tag`` does), so the
numbers describe what a user of the tags would see. The bundle must have been trained with the
dataset's front-end and labels: a model reading different spectrograms, or scoring a different
label list, would give numbers that mean nothing, so both are checked before any prediction.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mgc_model.bundle import Bundle, load_bundle
from mgc_model.dataset import Dataset, TrackPredictions, open_dataset, predict_tracks
from schemas.parquet import predictions_schema

PREDICTIONS_FILE = "predictions.parquet"


class IncompatibleBundle(ValueError):
    """The bundle and the dataset disagree on the front-end or the labels."""


def check_compatible(bundle: Bundle, data: Dataset) -> None:
    if bundle.frontend != data.frontend:
        ours, theirs = bundle.frontend.to_dict(), data.frontend.to_dict()
        diff = ", ".join(f"{key} {ours[key]} (bundle) vs {theirs[key]} (dataset)"
                         for key in ours if ours[key] != theirs[key])
        raise IncompatibleBundle(
            f"the bundle's front-end differs from {data.path}/frontend.json: {diff}. "
            "Evaluate on data extracted with the bundle's front-end."
        )
    if tuple(bundle.labels) != tuple(data.labels):
        extra = sorted(set(bundle.labels) - set(data.labels))
        missing = sorted(set(data.labels) - set(bundle.labels))
        detail = (f"only in the bundle: {extra}; only in the dataset: {missing}"
                  if extra or missing else "same names in a different order")
        raise IncompatibleBundle(
            f"the bundle's labels differ from {data.path}/labels.json ({detail}). Evaluate a "
            "bundle trained on this dataset's labels."
        )


def predictions_table(predictions: TrackPredictions, labels: tuple[str, ...],
                      model: str) -> pa.Table:
    best = predictions.scores.argmax(axis=1)
    label_ids = [np.flatnonzero(row).astype(np.int32).tolist() for row in predictions.targets]
    rows = {
        "track_id": predictions.track_ids,
        "labels": [[labels[i] for i in ids] for ids in label_ids],
        "label_ids": label_ids,
        "predicted": [labels[i] for i in best],
        "predicted_score": predictions.scores[np.arange(len(best)), best].tolist(),
        "scores": [row.tolist() for row in predictions.scores],
        "n_patches": predictions.n_patches.astype(np.int32).tolist(),
    }
    return pa.Table.from_pydict(rows, schema=predictions_schema(labels, model))


def _notes(bundle: Bundle, data: Dataset, split: str) -> str:
    training = bundle.training
    lines = [
        f"- Model: `{bundle.info.ref}` ({training.get('arch')}"
        + (f", backbone {training['backbone']}" if training.get("backbone") else "")
        + f"), best epoch {training.get('best_epoch')} of {training.get('epochs_run')}.",
        f"- Data: `{data.path}`, split `{split}`; track scores are the mean of their "
        "patches' probabilities.",
    ]
    if Path(str(training.get("data_dir", ""))).resolve() != Path(data.path).resolve():
        lines.append(f"- Trained on another dataset (`{training.get('data_dir')}`): check that "
                     "its splits do not share tracks or artists with this one.")
    if split == "training":
        lines.append("- This is the split the model was trained on: the numbers show how well "
                     "it fits, not how well it generalises.")
    elif split == "validation":
        lines.append("- The validation split chose the early-stopping epoch, so these numbers "
                     "are optimistic; the test split is the honest estimate.")
    return "\n".join(lines)


def evaluate(bundle_path: str, data_dir: str, report_dir: str, split: str = "test",
             batch_size: int = 64) -> dict:
    """Score ``split`` of ``data_dir`` with a bundle; write REPORT/predictions.parquet,
    metrics.json, confusion_matrix.png, training_curves.png and report.md. Returns the metrics.
    """
    from mgc_model.metrics import classification_metrics
    from mgc_model.report import write_report

    if batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    data = open_dataset(data_dir)
    data.require(split)
    bundle = load_bundle(bundle_path)
    check_compatible(bundle, data)
    predictions = predict_tracks(bundle.model, data, split, batch_size)
    metrics = classification_metrics(predictions.targets, predictions.scores, data.labels,
                                      multi_label=data.multi_label)
    metrics.update(split=split, model=bundle.info.ref, data_dir=data.path,
                   n_patches=int(predictions.n_patches.sum()))
    os.makedirs(report_dir, exist_ok=True)
    pq.write_table(predictions_table(predictions, data.labels, bundle.info.ref),
                   os.path.join(report_dir, PREDICTIONS_FILE))
    title = f"{bundle.info.name} on the {split} split"
    write_report(report_dir, metrics, title, history=bundle.history,
                 notes=_notes(bundle, data, split))
    return metrics
