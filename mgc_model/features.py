"""Handcrafted track features for the classic baselines (seed 000, section 3.1 and Table 1).

Seed 000 lists short-time features (zero-crossing rate, short-time energy), frequency-domain
features (spectral centroid, spectral energy) and cepstral features (MFCC); chroma and spectral
contrast complete the usual set (FMA's own baseline uses MFCC, contrast and centroid). Each is a
frame feature, summarised per track by its mean and standard deviation.

``FeatureAccumulator`` computes them block by block, as decoded, and keeps only running
moments and the last frame's overlap, so an hour-long file costs no more memory than a clip.
Framing is ``center=False`` with the overlap carried between blocks, so any split into blocks
gives the same features as the whole signal at once.

Energies and MFCC inputs are in dB (10 log10, floor 1e-10): raw energies span ten orders of
magnitude across tracks, which linear and RBF classifiers handle badly.
"""

from __future__ import annotations

import librosa
import numpy as np

N_MFCC = 20
N_MELS = 40  # mel bands under the MFCC
CONTRAST_FMIN = 200.0
CONTRAST_BANDS = 6  # librosa's default: 7 values per frame; needs a sample rate above 12.8 kHz
MIN_SAMPLE_RATE = int(2 * CONTRAST_FMIN * 2 ** (CONTRAST_BANDS - 1)) + 1
FRAME_SECONDS = 0.064  # ~1024 samples at 16 kHz; hop is half a frame
AMIN = 1e-10
CHROMA = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

FRAME_FEATURES: tuple[str, ...] = (
    "zcr",
    "ste_db",
    "spectral_centroid",
    "spectral_energy_db",
    *(f"mfcc_{i:02d}" for i in range(1, N_MFCC + 1)),
    *(f"chroma_{c}" for c in CHROMA),
    *(f"contrast_{b}" for b in range(CONTRAST_BANDS + 1)),
)
FEATURE_NAMES: tuple[str, ...] = tuple(
    f"{name}_{stat}" for stat in ("mean", "std") for name in FRAME_FEATURES
)


def frame_length(sample_rate: int) -> int:
    """Power-of-two frame of about 64 ms (1024 samples at 16 and 22.05 kHz)."""
    return int(2 ** round(np.log2(sample_rate * FRAME_SECONDS)))


class FeatureAccumulator:
    """Streaming per-track features: ``push`` mono float32 blocks, then ``finish`` once.

    Keeps the frame count, mean and sum of squared deviations of every frame feature (merged
    per block with Chan's parallel update), never the frames themselves.
    """

    def __init__(self, sample_rate: int) -> None:
        if sample_rate < MIN_SAMPLE_RATE:
            raise ValueError(
                f"handcrafted features need a sample rate of at least {MIN_SAMPLE_RATE} Hz "
                f"(spectral contrast bands reach {MIN_SAMPLE_RATE // 2} Hz); got {sample_rate}: "
                "resample first"
            )
        self.sample_rate = int(sample_rate)
        self.n_fft = frame_length(self.sample_rate)
        self.hop = self.n_fft // 2
        self._window = librosa.filters.get_window("hann", self.n_fft, fftbins=True)
        self._mel = librosa.filters.mel(sr=self.sample_rate, n_fft=self.n_fft, n_mels=N_MELS)
        self._chroma = librosa.filters.chroma(sr=self.sample_rate, n_fft=self.n_fft, tuning=0.0)
        self._freqs = librosa.fft_frequencies(sr=self.sample_rate, n_fft=self.n_fft)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._count = 0
        self._mean = np.zeros(len(FRAME_FEATURES))
        self._m2 = np.zeros(len(FRAME_FEATURES))
        self._samples = 0
        self._closed = False

    def push(self, block: np.ndarray) -> None:
        """Add mono samples; frames they complete are summarised at once."""
        if self._closed:
            raise RuntimeError("push() after finish()")
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(block)):
            raise ValueError("audio block holds NaN or infinite samples")
        self._samples += block.size
        self._buffer = np.concatenate([self._buffer, block])
        if self._buffer.size < self.n_fft:
            return
        n_frames = 1 + (self._buffer.size - self.n_fft) // self.hop
        self._add(self._frame_features(self._buffer[: (n_frames - 1) * self.hop + self.n_fft]))
        self._buffer = self._buffer[n_frames * self.hop :]

    def finish(self) -> np.ndarray:
        """Means then standard deviations of the frame features, float32, in FEATURE_NAMES order.

        A track shorter than one frame is zero-padded to one frame.
        """
        if self._closed:
            raise RuntimeError("finish() called twice")
        self._closed = True
        if self._samples == 0:
            raise ValueError("no audio samples: cannot compute features of an empty track")
        if self._count == 0:
            padded = np.zeros(self.n_fft, dtype=np.float32)
            padded[: self._buffer.size] = self._buffer
            self._add(self._frame_features(padded))
        std = np.sqrt(self._m2 / self._count)
        return np.concatenate([self._mean, std]).astype(np.float32)

    def _add(self, values: np.ndarray) -> None:
        """Merge one block's (n_frames, n_features) values into the running moments."""
        n = values.shape[0]
        mean = values.mean(axis=0)
        m2 = ((values - mean) ** 2).sum(axis=0)
        total = self._count + n
        delta = mean - self._mean
        self._mean = self._mean + delta * (n / total)
        self._m2 = self._m2 + m2 + delta**2 * (self._count * n / total)
        self._count = total

    def _frame_features(self, signal: np.ndarray) -> np.ndarray:
        """Frame features of a signal whose length is a whole number of hops past one frame."""
        frames = librosa.util.frame(signal.astype(np.float64), frame_length=self.n_fft,
                                    hop_length=self.hop)  # (n_fft, n_frames)
        signs = np.signbit(frames)
        zcr = np.mean(signs[1:] != signs[:-1], axis=0)
        ste_db = 10 * np.log10(np.maximum(np.mean(frames**2, axis=0), AMIN))
        magnitude = np.abs(np.fft.rfft(frames * self._window[:, None], axis=0))
        power = magnitude**2
        spectral_energy_db = 10 * np.log10(np.maximum(power.mean(axis=0), AMIN))
        centroid = librosa.feature.spectral_centroid(S=magnitude, freq=self._freqs)[0]
        mel_db = librosa.power_to_db(self._mel @ power, ref=1.0, amin=AMIN, top_db=None)
        mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)
        chroma = librosa.util.normalize(self._chroma @ power, norm=np.inf, axis=0)
        contrast = librosa.feature.spectral_contrast(
            S=magnitude, sr=self.sample_rate, freq=self._freqs, fmin=CONTRAST_FMIN,
            n_bands=CONTRAST_BANDS,
        )
        return np.vstack(
            [zcr, ste_db, centroid, spectral_energy_db, mfcc, chroma, contrast]
        ).T


def handcrafted_features(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """One-shot version of ``FeatureAccumulator`` for a whole mono signal."""
    accumulator = FeatureAccumulator(sample_rate)
    accumulator.push(samples)
    return accumulator.finish()
