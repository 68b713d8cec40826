"""Track-level classification metrics, the same for every model (CNN, transfer, baselines).

Inputs are per track: a 0/1 indicator of the true genres and a score per genre (probabilities,
or any scores whose order per track means something, such as an SVM's decision values).
A track counts as correct when its best-scored genre is one of its true genres: plain accuracy
for single-label data, "top genre hit" for multi-label data.

``map`` follows seed 000 (eq. 17): MAP = 1/K sum_i T_i / (T_i + F_i), K the genres present in
the test data, T_i and F_i the tracks of genre i classified correctly and wrongly. It is the
mean per-genre accuracy (balanced accuracy for single-label data), not the ranking "mean
average precision" of retrieval, and it is what the seed's Table 1 reports beside accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOP_K = 3
MULTI_LABEL_THRESHOLD = 0.5


def labels_to_indicator(label_ids: Sequence[Sequence[int]], n_labels: int) -> np.ndarray:
    """Lists of label ids per track -> (n, n_labels) 0/1 int matrix."""
    indicator = np.zeros((len(label_ids), n_labels), dtype=np.int64)
    for row, ids in enumerate(label_ids):
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= n_labels):
            raise ValueError(f"track {row}: label id out of range 0..{n_labels - 1}: {ids}")
        indicator[row, ids] = 1
    return indicator


def _check(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> None:
    if y_true.ndim != 2 or scores.shape != y_true.shape:
        raise ValueError(f"y_true and scores must both be (n_tracks, n_labels); got "
                         f"{y_true.shape} and {scores.shape}")
    if y_true.shape[1] != len(labels):
        raise ValueError(f"{len(labels)} label names for {y_true.shape[1]} score columns")
    if y_true.shape[0] == 0:
        raise ValueError("no tracks to evaluate")
    if not np.isin(y_true, (0, 1)).all():
        raise ValueError("y_true must be a 0/1 indicator matrix")
    empty = np.flatnonzero(y_true.sum(axis=1) == 0)
    if empty.size:
        raise ValueError(f"{empty.size} tracks have no true label (first: row {empty[0]})")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str],
                           multi_label: bool | None = None,
                           threshold: float = MULTI_LABEL_THRESHOLD) -> dict:
    """Accuracy, seed 000's MAP, top-3 accuracy, per-genre precision/recall/F1, macro and
    weighted F1, and (single-label) the confusion matrix, as JSON-ready Python values.

    ``multi_label`` defaults to whether any track has several true genres. For single-label
    data the predicted genre is the best-scored one; for multi-label data the predicted set is
    every genre scored at least ``threshold``, plus the best one, so that per-genre precision
    and recall compare sets.
    """
    # imported here: scikit-learn (and SciPy's stats) cost every `mgc tag` 1.8 s of start-up,
    # and tagging needs only this module's thresholds
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    y_true = np.asarray(y_true).astype(np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    labels = [str(label) for label in labels]
    _check(y_true, scores, labels)
    n, k = y_true.shape
    if multi_label is None:
        multi_label = bool((y_true.sum(axis=1) > 1).any())

    best = np.argmax(scores, axis=1)
    correct = y_true[np.arange(n), best] == 1
    top = np.argsort(-scores, axis=1, kind="stable")[:, : min(TOP_K, k)]
    top_hit = np.take_along_axis(y_true, top, axis=1).any(axis=1)
    support = y_true.sum(axis=0)
    genre_accuracy = [float(correct[y_true[:, i] == 1].mean()) if support[i] else None
                      for i in range(k)]

    if multi_label:
        truth = y_true
        predicted = (scores >= threshold).astype(np.int64)
        predicted[np.arange(n), best] = 1
        predicted_count = predicted.sum(axis=0)
    else:
        truth = np.argmax(y_true, axis=1)
        predicted = best
        predicted_count = np.bincount(best, minlength=k)
    everything = list(range(k))
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, predicted, labels=everything, zero_division=0
    )
    # averages over the genres that occur (truly or predicted), as scikit-learn does by default
    present = [i for i in everything if support[i] or predicted_count[i]]
    macro_f1 = f1_score(truth, predicted, labels=present, average="macro", zero_division=0)
    weighted_f1 = f1_score(truth, predicted, labels=present, average="weighted",
                           zero_division=0)

    per_genre = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
            "accuracy": genre_accuracy[i],
        }
        for i, name in enumerate(labels)
    }
    result = {
        "accuracy": float(correct.mean()),
        "map": float(np.mean([a for a in genre_accuracy if a is not None])),
        "top3_accuracy": float(top_hit.mean()),
        "macro_f1": float(macro_f1),
        "weighted_f1": float(weighted_f1),
        "per_genre": per_genre,
        "confusion_matrix": None,
        "n_tracks": int(n),
        "labels": labels,
        "multi_label": multi_label,
    }
    if multi_label:
        result["threshold"] = float(threshold)
    else:
        result["confusion_matrix"] = confusion_matrix(truth, best, labels=everything).tolist()
    return result


def reliability(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> dict:
    """Calibration of top-genre confidences: per equal-width bin of confidence, the tracks in
    it, their mean confidence and the fraction right, and the expected calibration error (the
    bins' |accuracy - confidence| weighted by their share of tracks)."""
    confidence = np.asarray(confidence, np.float64)
    correct = np.asarray(correct, bool)
    if confidence.shape != correct.shape or confidence.ndim != 1 or confidence.size == 0:
        raise ValueError("confidence and correct must be equal-length, non-empty vectors")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        mask = which == b
        n = int(mask.sum())
        row = {"low": float(edges[b]), "high": float(edges[b + 1]), "tracks": n,
               "confidence": float(confidence[mask].mean()) if n else None,
               "accuracy": float(correct[mask].mean()) if n else None}
        if n:
            ece += n / confidence.size * abs(row["accuracy"] - row["confidence"])
        bins.append(row)
    return {"ece": float(ece), "bins": bins, "tracks": int(confidence.size)}


def precision_at(confidence: np.ndarray, correct: np.ndarray, threshold: float
                 ) -> tuple[float | None, float]:
    """Of the tracks whose top score is at least ``threshold``: the fraction right (None if
    there are none) and the share of all tracks they are (what write-back would write)."""
    confidence = np.asarray(confidence, np.float64)
    kept = confidence >= threshold
    share = float(kept.mean()) if confidence.size else 0.0
    return (float(np.asarray(correct, bool)[kept].mean()) if kept.any() else None), share


def threshold_for_precision(confidence: np.ndarray, correct: np.ndarray, target: float,
                            min_tracks: int = 10) -> float | None:
    """The lowest score threshold at which at least ``min_tracks`` tracks remain and every
    threshold from it upwards keeps precision >= ``target``; None if none does."""
    candidates = np.unique(np.round(np.asarray(confidence, np.float64), 2))
    best = None
    for threshold in sorted(candidates, reverse=True):
        precision, share = precision_at(confidence, correct, threshold)
        if precision is None or share * len(confidence) < min_tracks:
            continue
        if precision < target:
            break
        best = float(threshold)
    return best
