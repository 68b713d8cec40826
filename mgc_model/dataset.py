"""An extracted dataset (``mgc extract --output DIR``) as tf.data pipelines for training and
evaluation, and the per-track aggregation of patch scores.

``DIR`` holds ``<split>-*.tfrecord`` shards (one Example per patch, ``schemas/tfrecord.py``),
``labels.json`` and ``frontend.json``. Training reads shuffled, interleaved shards; evaluation
reads them in a fixed order and groups patches by track id, so no track is ever split.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from mgc_model.frontend import FrontendConfig
from schemas import tfrecord

AUTOTUNE = tf.data.AUTOTUNE


class DatasetError(ValueError):
    """A folder that is not (or not entirely) a dataset written by ``mgc extract``."""


@dataclass(frozen=True)
class Dataset:
    path: str
    labels: tuple[str, ...]
    multi_label: bool
    frontend: FrontendConfig
    labels_doc: dict

    def files(self, split: str) -> list[str]:
        """The split's shards, sorted (so evaluation order is stable)."""
        return sorted(tf.io.gfile.glob(tfrecord.shard_pattern(self.path, split)))

    def require(self, split: str) -> list[str]:
        files = self.files(split)
        if not files:
            present = [s for s in tfrecord.SPLITS if self.files(s)]
            raise DatasetError(f"{self.path} has no {split!r} shards ({split}-*.tfrecord); "
                               f"splits present: {', '.join(present) or 'none'}")
        return files


def open_dataset(path: str) -> Dataset:
    """Read ``labels.json`` and ``frontend.json``; errors say which file is missing or wrong."""
    path = str(path).rstrip("/")
    docs = {}
    for name in ("labels.json", "frontend.json"):
        file = posixpath.join(path, name)
        if not tf.io.gfile.exists(file):
            what = "does not exist" if not tf.io.gfile.exists(path) else f"has no {name}"
            raise DatasetError(f"{path} {what}: give the folder written by "
                               "`mgc extract --output DIR`")
        with tf.io.gfile.GFile(file) as f:
            try:
                docs[name] = json.load(f)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{file} is not valid JSON: {error}") from None
    labels = docs["labels.json"].get("labels")
    if not labels or len(labels) < 2:
        raise DatasetError(f"{path}/labels.json must list at least two labels, got {labels!r}")
    return Dataset(path=path, labels=tuple(labels),
                   multi_label=bool(docs["labels.json"].get("multi_label", False)),
                   frontend=FrontendConfig.from_dict(docs["frontend.json"]),
                   labels_doc=docs["labels.json"])


def _records(files: list[str], shuffle_seed: int | None) -> tf.data.Dataset:
    names = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_seed is not None:
        names = names.shuffle(len(files), seed=shuffle_seed, reshuffle_each_iteration=True)
    return names.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)),
                            num_parallel_calls=AUTOTUNE, deterministic=True)


def _parser(data: Dataset):
    k = len(data.labels)

    def parse(serialized):
        example = tfrecord.parse_example(serialized, data.frontend)
        # k-hot target: one 1 for a top-genre dataset, several for a multi-label one
        target = tf.reduce_max(tf.one_hot(example[tfrecord.LABELS], k), axis=0)
        return {"patch": example[tfrecord.PATCH], "target": target,
                "track_id": example[tfrecord.TRACK_ID]}

    return parse


def training_batches(data: Dataset, split: str, batch_size: int, seed: int,
                     class_weights: np.ndarray | None = None, augmenter=None,
                     shuffle_buffer: int = 2048, n_patches: int | None = None
                     ) -> tf.data.Dataset:
    """Shuffled (patch, k-hot target, sample weight) batches, augmented when asked.

    A patch's sample weight is the mean class weight of its labels; ``augmenter(patch, seed)``
    gets a per-patch seed that changes every epoch but is fixed by ``seed``. ``n_patches``
    (from ``count_split``) tells Keras the number of steps per epoch.
    """
    k = len(data.labels)
    weights = tf.constant(np.ones(k) if class_weights is None else class_weights, tf.float32)
    ds = _records(data.require(split), shuffle_seed=seed)
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(_parser(data), num_parallel_calls=AUTOTUNE)
    if augmenter is not None:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda e, s: {**e, "patch": augmenter(e["patch"], s)}, num_parallel_calls=AUTOTUNE
        )

    def to_xyw(e):
        w = tf.reduce_sum(e["target"] * weights) / tf.maximum(tf.reduce_sum(e["target"]), 1.0)
        return e["patch"], e["target"], w

    ds = ds.map(to_xyw, num_parallel_calls=AUTOTUNE).batch(batch_size)
    if n_patches is not None:
        ds = ds.apply(tf.data.experimental.assert_cardinality(-(-n_patches // batch_size)))
    return ds.prefetch(AUTOTUNE)


def eval_batches(data: Dataset, split: str, batch_size: int) -> tf.data.Dataset:
    """Batches of {"patch", "target", "track_id"} in file order, for prediction."""
    ds = _records(data.require(split), shuffle_seed=None)
    return ds.map(_parser(data), num_parallel_calls=AUTOTUNE).batch(batch_size).prefetch(
        AUTOTUNE)


def validation_pairs(data: Dataset, split: str, batch_size: int, n_patches: int
                     ) -> tf.data.Dataset:
    """(patch, target) batches for Keras' ``validation_data``: unweighted, in file order."""
    ds = eval_batches(data, split, batch_size).map(lambda e: (e["patch"], e["target"]))
    return ds.apply(tf.data.experimental.assert_cardinality(-(-n_patches // batch_size)))


@dataclass(frozen=True)
class SplitCounts:
    patches: int
    tracks: int
    patches_per_label: np.ndarray  # (k,)
    tracks_per_label: np.ndarray  # (k,)

    def to_dict(self, labels: tuple[str, ...]) -> dict:
        return {
            "patches": self.patches,
            "tracks": self.tracks,
            "tracks_per_label": {name: int(n) for name, n in
                                 zip(labels, self.tracks_per_label, strict=True)},
        }


def count_split(data: Dataset, split: str) -> SplitCounts:
    """Patches and tracks per label, parsing only the ids and labels of each record."""
    spec = {key: value for key, value in tfrecord.feature_spec().items()
            if key in (tfrecord.TRACK_ID, tfrecord.LABELS)}
    k = len(data.labels)

    def parse(serialized):
        e = tf.io.parse_example(serialized, spec)
        return e[tfrecord.TRACK_ID], tf.reduce_max(
            tf.one_hot(tf.sparse.to_dense(e[tfrecord.LABELS], default_value=-1), k), axis=1)

    patches = np.zeros(k, dtype=np.int64)
    total = 0
    track_targets: dict[bytes, np.ndarray] = {}
    ds = _records(data.require(split), shuffle_seed=None).batch(1024).map(parse)
    for ids, targets in ds.as_numpy_iterator():
        total += ids.shape[0]
        patches += targets.astype(np.int64).sum(axis=0)
        for track, target in zip(ids, targets, strict=True):
            track_targets.setdefault(track, target)
    per_track = np.stack(list(track_targets.values())) if track_targets else np.zeros((0, k))
    return SplitCounts(patches=total, tracks=len(track_targets), patches_per_label=patches,
                       tracks_per_label=per_track.sum(axis=0).astype(np.int64))


def class_weights(patches_per_label: np.ndarray) -> np.ndarray:
    """scikit-learn's 'balanced' weights over the label occurrences of the training patches;
    labels absent from training get weight 1 (they never weigh a patch)."""
    counts = np.asarray(patches_per_label, dtype=np.int64)
    present = np.flatnonzero(counts)
    weights = np.ones(counts.size)
    if present.size:
        y = np.repeat(present, counts[present])
        weights[present] = compute_class_weight("balanced", classes=present, y=y)
    return weights


@dataclass
class TrackPredictions:
    """Per-track results: patch scores averaged over each track's patches."""

    track_ids: list[str]
    targets: np.ndarray  # (n, k) 0/1
    scores: np.ndarray  # (n, k)
    n_patches: np.ndarray  # (n,)


def aggregate_tracks(track_ids: np.ndarray, targets: np.ndarray, scores: np.ndarray
                     ) -> TrackPredictions:
    """Mean of the patch scores of each track, tracks sorted by id."""
    ids = np.asarray([t.decode() if isinstance(t, bytes) else str(t) for t in track_ids])
    if ids.size == 0:
        raise DatasetError("no patches to aggregate")
    keys, inverse = np.unique(ids, return_inverse=True)
    n, k = keys.size, scores.shape[1]
    sums = np.zeros((n, k))
    np.add.at(sums, inverse, scores)
    counts = np.bincount(inverse, minlength=n)
    low = np.full((n, k), np.inf)
    high = np.full((n, k), -np.inf)
    np.minimum.at(low, inverse, targets)
    np.maximum.at(high, inverse, targets)
    if (low != high).any():
        bad = keys[np.flatnonzero((low != high).any(axis=1))[0]]
        raise DatasetError(f"track {bad} has patches with different labels")
    return TrackPredictions(track_ids=keys.tolist(), targets=high.astype(np.int64),
                            scores=(sums / counts[:, None]).astype(np.float32),
                            n_patches=counts)


def predict_tracks(model, data: Dataset, split: str, batch_size: int = 64
                   ) -> TrackPredictions:
    """Run ``model`` (patch -> {"genres", ...}) over a split and average per track."""
    run = tf.function(lambda x: model(x, training=False)["genres"], reduce_retracing=True)
    ids, targets, scores = [], [], []
    for batch in eval_batches(data, split, batch_size):
        scores.append(run(batch["patch"]).numpy())
        targets.append(batch["target"].numpy())
        ids.append(batch["track_id"].numpy())
    return aggregate_tracks(np.concatenate(ids), np.concatenate(targets),
                            np.concatenate(scores))
