"""The default model: both musicnn taggers (Million Song Dataset and MagnaTagATune) over the same
patches, their 100 tag probabilities mapped to FMA's 16 top-level genres.

MSD alone has no 'classical' tag and over-uses 'rock'; MTT knows classical, strings, choir and
harpsichord. Both networks share the front-end, so running them side by side costs one decode.
The embedding is the concatenation of both penultimate layers (200 + 200).
"""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
import tensorflow as tf

from mgc_model import genres
from mgc_model.frontend import FrontendConfig
from mgc_model.musicnn import load_musicnn
from mgc_model.tagger import ModelInfo

MUSICNN_INFO = ModelInfo(
    name="musicnn",
    version=f"{version('musicnn')}+fma{genres.MAPPING_VERSION}",
    genres=tuple(genres.FMA_GENRES),
    embedding_dim=400,
    frontend=FrontendConfig(),
)


class MusicnnGenreTagger:
    """Runs MSD_musicnn and MTT_musicnn in one compiled TensorFlow call per batch."""

    def __init__(self, info: ModelInfo = MUSICNN_INFO) -> None:
        self.info = info
        self._msd = load_musicnn("MSD_musicnn")
        self._mtt = load_musicnn("MTT_musicnn")
        spec = tf.TensorSpec([None, info.frontend.patch_frames, info.frontend.n_mels], tf.float32)
        self._run = tf.function(self._forward, input_signature=[spec], reduce_retracing=True)

    def _forward(self, patches: tf.Tensor) -> tuple[tf.Tensor, ...]:
        msd = self._msd(patches, training=False)
        # One network after the other: run side by side they gain no speed on a busy CPU but
        # hold both sets of front-end activations (hundreds of MB per network at batch 64).
        with tf.control_dependencies([msd["tags"], msd["penultimate"]]):
            patches = tf.identity(patches)
        mtt = self._mtt(patches, training=False)
        embedding = tf.concat([msd["penultimate"], mtt["penultimate"]], axis=1)
        return msd["tags"], mtt["tags"], embedding

    def tags(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw MSD and MTT tag probabilities and the embedding, for inspection and checks."""
        msd, mtt, embedding = self._run(tf.convert_to_tensor(patches, tf.float32))
        return msd.numpy(), mtt.numpy(), embedding.numpy()

    def predict(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        msd, mtt, embedding = self.tags(patches)
        return genres.tags_to_genre_scores(msd, mtt), embedding
