"""TFRecord layout written by ``mgc extract`` and read by ``mgc train`` and ``mgc evaluate``.

One ``tf.train.Example`` per patch. The patch is stored as raw little-endian float32 bytes
(``frames * n_mels`` values, frames first): a quarter of the parse cost of a float list, and
readable with ``numpy.frombuffer`` without TensorFlow. Its shape comes from the dataset's
``frontend.json``, so extract, train and tag can never disagree about the spectrogram.

Labels are a list of label ids (indices into ``labels.json``): one id for top-genre datasets,
several for ``--labels all``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mgc_model.frontend import FrontendConfig

SPLITS = ("training", "validation", "test")

TRACK_ID = "track_id"
SPLIT = "split"
LABELS = "labels"
PATCH_INDEX = "patch_index"
PATCH = "patch"


def shard_pattern(data_dir: str, split: str) -> str:
    """Glob of one split's shards: ``DIR/<split>-*.tfrecord``."""
    return f"{data_dir.rstrip('/')}/{split}-*.tfrecord"


def encode_example(track_id: str, split: str, labels: Sequence[int], patch_index: int,
                   patch: np.ndarray) -> bytes:
    """Serialise one patch; ``patch`` is (frames, n_mels)."""
    import tensorflow as tf

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    raw = np.ascontiguousarray(patch, dtype="<f4").tobytes()
    feature = {
        TRACK_ID: tf.train.Feature(bytes_list=tf.train.BytesList(value=[track_id.encode()])),
        SPLIT: tf.train.Feature(bytes_list=tf.train.BytesList(value=[split.encode()])),
        LABELS: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(i) for i in labels])),
        PATCH_INDEX: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(patch_index)])),
        PATCH: tf.train.Feature(bytes_list=tf.train.BytesList(value=[raw])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def feature_spec() -> dict:
    import tensorflow as tf

    return {
        TRACK_ID: tf.io.FixedLenFeature([], tf.string),
        SPLIT: tf.io.FixedLenFeature([], tf.string),
        LABELS: tf.io.VarLenFeature(tf.int64),
        PATCH_INDEX: tf.io.FixedLenFeature([], tf.int64),
        PATCH: tf.io.FixedLenFeature([], tf.string),
    }


def parse_example(serialized, frontend: FrontendConfig) -> dict:
    """tf.data map function: serialized Example -> dict of tensors; ``patch`` is
    (frames, n_mels) float32 and ``labels`` a dense int64 vector of label ids."""
    import tensorflow as tf

    parsed = tf.io.parse_single_example(serialized, feature_spec())
    patch = tf.io.decode_raw(parsed[PATCH], tf.float32, little_endian=True)
    parsed[PATCH] = tf.reshape(patch, [frontend.patch_frames, frontend.n_mels])
    parsed[LABELS] = tf.sparse.to_dense(parsed[LABELS])
    return parsed


def decode_example(serialized: bytes, frontend: FrontendConfig) -> dict:
    """The same without a TensorFlow graph, for tests and inspection."""
    import tensorflow as tf

    example = tf.train.Example.FromString(serialized)
    f = example.features.feature
    patch = np.frombuffer(f[PATCH].bytes_list.value[0], dtype="<f4")
    return {
        TRACK_ID: f[TRACK_ID].bytes_list.value[0].decode(),
        SPLIT: f[SPLIT].bytes_list.value[0].decode(),
        LABELS: list(f[LABELS].int64_list.value),
        PATCH_INDEX: int(f[PATCH_INDEX].int64_list.value[0]),
        PATCH: patch.reshape(frontend.patch_frames, frontend.n_mels),
    }
