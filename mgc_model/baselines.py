"""Seed 000's Table 1 baselines on handcrafted features, reported in the CNN's metrics.

Decision tree, logistic regression, random forest and SVM with an RBF kernel, each a
scikit-learn pipeline behind a ``StandardScaler``, fitted on the training split of the
per-track features ``mgc extract`` writes (``DIR/tracks/``) and scored on another split.
Seed 000 names the models but gives no hyperparameters; the ones here are scikit-learn's
defaults except where a default is unfit, as noted in ``MODELS``. Every random choice has a
fixed seed, so a rerun gives the same numbers.

Baselines are single-label classifiers: a dataset extracted with several labels per track is
refused rather than silently reduced to one label.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import fsspec
import numpy as np
import pyarrow.parquet as pq
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from mgc_model.metrics import classification_metrics, labels_to_indicator
from mgc_model.report import write_report
from schemas.parquet import FEATURES_METADATA_KEY, feature_names
from schemas.tfrecord import SPLITS

RANDOM_STATE = 0

# name -> (title, factory(n_jobs)); hyperparameters are reported with the results.
MODELS: dict[str, tuple[str, Callable[[int], object]]] = {
    # unpruned trees memorise the training set; five tracks per leaf is a mild prune
    "decision_tree": ("Decision tree", lambda n_jobs: DecisionTreeClassifier(
        min_samples_leaf=5, random_state=RANDOM_STATE)),
    # lbfgs's default 100 iterations stop short on 86 standardised features
    "logistic_regression": ("Logistic regression", lambda n_jobs: LogisticRegression(
        max_iter=5000)),
    # 500 trees instead of 100: steadier on small test splits, still fast
    "random_forest": ("Random forest", lambda n_jobs: RandomForestClassifier(
        n_estimators=500, random_state=RANDOM_STATE, n_jobs=n_jobs)),
    "svm_rbf": ("SVM, RBF kernel", lambda n_jobs: SVC(
        kernel="rbf", C=1.0, gamma="scale", random_state=RANDOM_STATE)),
}

# Published top-genre accuracies, for context only: other features, splits and datasets.
REFERENCES = (
    ("FMA medium, SVM-RBF on MFCC, contrast and centroid (Defferrard et al. 2017)", 0.634),
    ("FMA small, SVM on MFCC (Defferrard et al. 2017)", 0.464),
    ("seed 000 Table 1, decision tree (FMA full, split not given)", 0.4692),
    ("seed 000 Table 1, logistic regression", 0.5978),
    ("seed 000 Table 1, random forest", 0.6156),
    ("seed 000 Table 1, SVM-RBF", 0.6732),
)


class BaselineError(ValueError):
    """The dataset cannot be used for the baselines; the message says what to do."""


@dataclass(frozen=True)
class TrackFeatures:
    """Per-track handcrafted features of an extracted dataset."""

    track_ids: np.ndarray  # (n,) str
    splits: np.ndarray  # (n,) str
    labels: list[list[int]]
    features: np.ndarray  # (n, d) float64
    feature_names: list[str]
    label_names: list[str]
    multi_label: bool

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Features and label ids (first label) of one split."""
        rows = np.flatnonzero(self.splits == name)
        return self.features[rows], np.array([self.labels[r][0] for r in rows], dtype=np.int64)


def load_track_features(data_dir: str) -> TrackFeatures:
    """Read ``DIR/tracks/*.parquet`` and ``DIR/labels.json`` (local path or fsspec URL)."""
    fs, root = fsspec.core.url_to_fs(data_dir)
    root = root.rstrip("/")
    labels_path, tracks_path = f"{root}/labels.json", f"{root}/tracks"
    if not fs.exists(labels_path) or not fs.exists(tracks_path):
        raise BaselineError(f"{data_dir} is not an extracted dataset (no labels.json or "
                            "tracks/): run `mgc extract --output DIR` first")
    with fs.open(labels_path) as f:
        vocabulary = json.load(f)
    table = pq.read_table(tracks_path, filesystem=fs)
    metadata = table.schema.metadata or {}
    if FEATURES_METADATA_KEY not in metadata or "features" not in table.column_names:
        raise BaselineError(f"{tracks_path} has no handcrafted features (column `features`, "
                            "metadata `mgc.features`): re-extract with this version of mgc")
    names = feature_names(table.schema)
    rows = table.select(["track_id", "split", "labels", "features"]).to_pylist()
    features = np.array([r["features"] for r in rows], dtype=np.float64).reshape(len(rows), -1)
    if features.shape[1] != len(names):
        raise BaselineError(f"{features.shape[1]} feature values per track but "
                            f"{len(names)} feature names in the metadata")
    return TrackFeatures(
        track_ids=np.array([r["track_id"] for r in rows], dtype=str),
        splits=np.array([r["split"] for r in rows], dtype=str),
        labels=[list(r["labels"] or []) for r in rows],
        features=features,
        feature_names=names,
        label_names=list(vocabulary["labels"]),
        multi_label=bool(vocabulary.get("multi_label", False)),
    )


def check_dataset(data: TrackFeatures, split: str) -> None:
    """Refuse what would give meaningless numbers, with a message saying what to do."""
    if split not in SPLITS or split == "training":
        raise BaselineError(f"--split must be validation or test (the baselines are fitted on "
                            f"training); got {split!r}")
    if data.multi_label or any(len(ids) > 1 for ids in data.labels):
        raise BaselineError("the baselines are single-label classifiers and this dataset has "
                            "several labels per track: extract it with `--labels top`")
    unlabelled = [t for t, ids in zip(data.track_ids, data.labels, strict=True) if not ids]
    if unlabelled:
        raise BaselineError(f"{len(unlabelled)} tracks have no label (first: {unlabelled[0]})")
    for name in ("training", split):
        if not np.any(data.splits == name):
            raise BaselineError(f"no tracks in the {name} split of the dataset")
    _, y = data.split("training")
    if np.unique(y).size < 2:
        raise BaselineError("the training split has a single genre: nothing to classify")
    if not np.all(np.isfinite(data.features)):
        bad = data.track_ids[~np.isfinite(data.features).all(axis=1)]
        raise BaselineError(f"{bad.size} tracks have non-finite features (first: {bad[0]})")


def make_model(name: str, n_jobs: int = 1) -> Pipeline:
    """A fresh, unfitted baseline: StandardScaler then the classifier."""
    if name not in MODELS:
        raise BaselineError(f"unknown baseline {name!r}; choose from {', '.join(MODELS)}")
    return make_pipeline(StandardScaler(), MODELS[name][1](n_jobs))


def track_scores(model: Pipeline, features: np.ndarray, n_labels: int) -> np.ndarray:
    """(n, n_labels) scores in label-id order: class probabilities, or the SVM's one-vs-rest
    decision values (only their order per track is used). Genres absent from training get
    -inf, so they are never predicted."""
    if hasattr(model, "predict_proba"):
        raw = model.predict_proba(features)
    else:
        raw = model.decision_function(features)
        if raw.ndim == 1:  # two classes: one signed value
            raw = np.stack([-raw, raw], axis=1)
    scores = np.full((features.shape[0], n_labels), -np.inf)
    scores[:, model.classes_.astype(np.int64)] = raw
    return scores


def run_baselines(data_dir: str, report_dir: str | Path, split: str = "test",
                  models: Sequence[str] = tuple(MODELS), n_jobs: int = 1) -> dict[str, dict]:
    """Fit every baseline on the training split, score ``split``, write the reports; returns
    {model name: metrics} (also in ``REPORT/baselines.json``)."""
    if n_jobs == 0 or n_jobs < -1:
        raise BaselineError(f"--jobs must be a number of processes (1 or more), or -1 for all "
                            f"cores; got {n_jobs}")
    for name in models:
        make_model(name)  # unknown names fail before any work
    data = load_track_features(data_dir)
    check_dataset(data, split)
    x_train, y_train = data.split("training")
    x_eval, y_eval = data.split(split)
    k = len(data.label_names)
    y_true = labels_to_indicator([[label] for label in y_eval], k)
    report_dir = Path(report_dir)
    results: dict[str, dict] = {}
    for name in models:
        model = make_model(name, n_jobs)
        start = time.perf_counter()
        model.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - start
        metrics = classification_metrics(y_true, track_scores(model, x_eval, k),
                                         data.label_names, multi_label=False)
        classifier = model[-1]
        metrics.update(
            model=name, split=split, n_train=int(len(y_train)), fit_seconds=round(fit_seconds, 3),
            hyperparameters={key: value for key, value in classifier.get_params().items()
                             if isinstance(value, (int, float, str, bool, type(None)))},
            features=data.feature_names,
        )
        title = f"{MODELS[name][0]} on handcrafted features, {split} split"
        write_report(report_dir / name, metrics, title,
                     notes=f"Fitted on {len(y_train)} training tracks in {fit_seconds:.1f} s; "
                     f"{len(data.feature_names)} features standardised. Data: `{data_dir}`.")
        results[name] = metrics
    with open(report_dir / "baselines.json", "w") as f:
        json.dump(results, f, indent=2)
    (report_dir / "report.md").write_text(comparison_markdown(results, data_dir, split))
    return results


def comparison_markdown(results: dict[str, dict], data_dir: str, split: str) -> str:
    """One table for all baselines, then published numbers for context."""
    any_metrics = next(iter(results.values()))
    lines = [
        f"# Baselines on handcrafted features ({split} split)",
        "",
        f"Data: `{data_dir}`; {any_metrics['n_tracks']} {split} tracks, "
        f"{len(any_metrics['labels'])} genres; fitted on {any_metrics['n_train']} training "
        "tracks. MAP is seed 000's: the mean over genres of per-genre accuracy.",
        "",
        "| model | accuracy | MAP | top-3 | macro F1 | weighted F1 | fit (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, m in results.items():
        lines.append(
            f"| [{MODELS[name][0]}]({name}/report.md) | {100 * m['accuracy']:.1f}% "
            f"| {100 * m['map']:.1f}% | {100 * m['top3_accuracy']:.1f}% | {m['macro_f1']:.3f} "
            f"| {m['weighted_f1']:.3f} | {m['fit_seconds']:.1f} |"
        )
    lines += [
        "",
        "## Published numbers, for context",
        "",
        "Not comparable one to one: other feature sets, and seed 000 does not say how it split "
        "its data. FMA's own splits are artist-filtered, as `mgc extract` keeps them.",
        "",
        "| reference | top-genre accuracy |",
        "| --- | --- |",
        *(f"| {what} | {100 * accuracy:.1f}% |" for what, accuracy in REFERENCES),
        "",
    ]
    return "\n".join(lines)
