"""A head on a pretrained model's track features: what ``mgc train --from-tags`` fits and a
bundle of kind ``head`` carries.

The features are the pretrained model's per-track embedding (the default model's: the mean
over windows of both musicnn penultimate layers, 400 values), the very column ``mgc tag``
writes, so a library's features are computed once by the tag pipeline and the head then fits
in seconds. The head is scikit-learn's multinomial logistic regression on standardised
features (``scripts/measure_head.py`` measured it against two MLPs on real music); it is
applied here in numpy from its coefficients, so a bundle holds numbers in JSON, never a
pickle. Its regularisation depends on the library's size, so ``choose_c`` picks C by
cross-validation over whole artists on the training side, by log loss: the probabilities
are what ``--min-score`` reads.

At tag time the head scores each window's embedding (the rows of ``predict``) and, as it was
trained, the track's mean embedding (``decision.track_scores``, after the mean over windows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mgc_model.contract import GenreTagger, ModelInfo

# Inverse regularisation strengths tried on standardised features: on the real-music corpus
# (scripts/measure_head.py) accuracy rose as C fell from 10 to 0.001.
CS = (0.001, 0.01, 0.1, 1.0)
DEFAULT_C = 0.01  # when the training side has too few artists to cross-validate


@dataclass(frozen=True, eq=False)
class LinearHead:
    """Softmax of a linear map of standardised features: ``(x - mean) / scale @ coef.T +
    intercept``; coef is (genres, features)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.coef.shape[1])

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(n, features) or (features,) -> (n, genres) or (genres,) float32 probabilities."""
        x = np.asarray(features, dtype=np.float64)
        logits = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        logits = logits - logits.max(axis=-1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=-1, keepdims=True)).astype(np.float32)

    def to_dict(self) -> dict:
        return {name: getattr(self, name).tolist()
                for name in ("mean", "scale", "coef", "intercept")}

    @classmethod
    def from_dict(cls, doc: dict) -> LinearHead:
        head = cls(*(np.asarray(doc[name], dtype=np.float64)
                     for name in ("mean", "scale", "coef", "intercept")))
        k, d = head.coef.shape
        if head.mean.shape != (d,) or head.scale.shape != (d,) or head.intercept.shape != (k,):
            raise ValueError("the head's mean, scale, coef and intercept disagree in shape")
        return head


def fit_head(features: np.ndarray, targets: Sequence[int], n_genres: int,
             c: float = DEFAULT_C) -> LinearHead:
    """Fit the head on (tracks, features) and genre ids in [0, n_genres); classes weighted
    inversely to their counts, so a library's big genre does not swallow its small ones."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(targets)
    present = np.unique(y)
    if len(present) < 2:
        raise ValueError("a head needs tracks of at least two genres to learn from")
    scaler = StandardScaler().fit(features)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    model.fit(scaler.transform(features), y)
    coef, intercept = model.coef_, model.intercept_
    if len(present) == 2:  # scikit-learn keeps one row for two classes: as a softmax pair
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    full_coef = np.zeros((n_genres, coef.shape[1]))
    # a genre with no training track can never win: a very low intercept
    full_intercept = np.full(n_genres, -1e4)
    full_coef[present], full_intercept[present] = coef, intercept
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    return LinearHead(scaler.mean_.astype(np.float64), scale, full_coef, full_intercept)


def _group_folds(targets: np.ndarray, groups: np.ndarray, folds: int, seed: int
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds of whole groups (artists), each genre spread over them; none for one group."""
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    n = min(folds, len(np.unique(groups)))
    if n < 2:
        return []
    with warnings.catch_warnings():  # a genre on fewer artists than folds: expected here
        warnings.filterwarnings("ignore", message="The least populated class")
        return list(StratifiedGroupKFold(n_splits=n, shuffle=True, random_state=seed)
                    .split(np.zeros(len(targets)), targets, groups))


def out_of_fold(features: np.ndarray, targets: np.ndarray, groups: np.ndarray, n_genres: int,
                c: float, folds: int = 4, seed: int = 0) -> np.ndarray | None:
    """Every track's probabilities from a head fitted without its group (artist): what the
    head says of music it never learnt from. None with a single group."""
    x, y = np.asarray(features), np.asarray(targets)
    splits = _group_folds(y, groups, folds, seed)
    if not splits:
        return None
    p = np.zeros((len(y), n_genres))
    for train, test in splits:
        if len(np.unique(y[train])) < 2:
            p[test] = 1.0 / n_genres  # nothing to learn from: no score is trusted
            continue
        p[test] = fit_head(x[train], y[train], n_genres, c).probabilities(x[test])
    return p


def choose_c(features: np.ndarray, targets: np.ndarray, groups: np.ndarray, n_genres: int,
             cs: Sequence[float] = CS, folds: int = 4, seed: int = 0
             ) -> tuple[float, dict[float, float]]:
    """The C of ``cs`` whose heads, fitted on folds of whole groups (artists), give the held-out
    folds the lowest mean log loss; and each C's loss. Too few groups: ``DEFAULT_C``."""
    x, y = np.asarray(features), np.asarray(targets)
    splits = _group_folds(y, groups, folds, seed)
    if not splits:
        return DEFAULT_C, {}
    losses: dict[float, float] = {}
    for c in cs:
        total, counted = 0.0, 0
        for train, test in splits:
            if len(np.unique(y[train])) < 2:
                continue
            p = fit_head(x[train], y[train], n_genres, c).probabilities(x[test])
            total -= float(np.log(np.maximum(p[np.arange(len(test)), y[test]], 1e-6)).sum())
            counted += len(test)
        if counted:
            losses[float(c)] = total / counted
    if not losses:
        return DEFAULT_C, {}
    return min(losses, key=lambda c: (losses[c], c)), losses


class HeadTagger:
    """The ``GenreTagger`` of a head bundle: the base model's embeddings, scored by the head."""

    def __init__(self, info: ModelInfo, base: GenreTagger) -> None:
        if info.track_head is None:
            raise ValueError(f"{info.ref} has no head")
        self.info = info
        self._base = base

    def predict(self, inputs: tuple[np.ndarray, ...], descriptors: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
        """The head's genre scores (then, with ``descriptors``, the base model's styles,
        moods, voice and instruments) and the base's embedding, per window."""
        if not descriptors:
            _, embedding = self._base.predict(inputs)
            return self.info.track_head.probabilities(embedding), embedding
        scores, embedding = self._base.predict(inputs, descriptors=True)
        heard = scores[:, scores.shape[1] - len(self.info.descriptors):]
        return np.concatenate([self.info.track_head.probabilities(embedding), heard], axis=1), \
            embedding
