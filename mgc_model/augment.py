"""Training-time augmentation of log-mel patches, as TensorFlow ops inside the tf.data pipeline.

Seeds 003 and 004 augment the waveform: time stretching, pitch shifting, added white noise
(and, in 004, volume changes). The training data here are log-mel patches written by
``mgc extract``, so each transform is its spectrogram-domain approximation:

- time stretch: the time axis resampled by a rate (linear interpolation between frames), then
  cropped or repeat-padded back to the patch length (repeat-padding is how short tracks are
  padded); exact for stationary sounds, it also stretches note onsets, which a phase vocoder
  would keep sharp;
- pitch shift: the mel axis warped so that every band reads the frequency a shifted signal
  would put there (``f / 2**(semitones / 12)``, through the front-end's mel centre
  frequencies); harmonics move, formants move with them, as with resampling-based shifters;
- added noise and volume: exact in the power domain, where the front-end's compression
  ``log10(scale * x + 1)`` is undone and redone. White noise has about equal power in every
  band of an area-normalised (Slaney) mel filterbank; its level is a random SNR against the
  patch's mean power, with gamma-distributed fluctuation per cell;
- masking (SpecAugment, Park et al. 2019): a few time and frequency stripes set to silence.

Each transform applies with its own probability; random numbers are stateless and drawn from
a per-element seed, so a run with the same ``--seed`` sees the same augmented patches.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import librosa
import numpy as np
import tensorflow as tf

from mgc_model.frontend import FrontendConfig


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the transforms. Seeds 003/004 give no values; these are librosa-style
    defaults (stretch 0.8-1.25, +-2 semitones) and SpecAugment's stripe counts scaled to
    187 x 96 patches."""

    probability: float = 0.5  # of each transform, independently
    stretch: tuple[float, float] = (0.8, 1.25)  # playback rate: > 1 is faster
    semitones: float = 2.0  # pitch shift within +-semitones
    semitone_step: float = 0.25
    noise_snr_db: tuple[float, float] = (10.0, 30.0)
    gain_db: float = 6.0  # volume change within +-gain_db
    time_masks: int = 2
    max_time_mask: int = 20  # frames
    freq_masks: int = 2
    max_freq_mask: int = 12  # mel bands

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("augmentation probability must be between 0 and 1")
        low, high = self.stretch
        if not 0.0 < low <= high:
            raise ValueError("stretch rates must be positive and ordered (low, high)")
        if self.semitones < 0 or self.semitone_step <= 0:
            raise ValueError("semitones must be >= 0 and semitone_step > 0")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _interpolate(x: tf.Tensor, positions: tf.Tensor, axis: int) -> tf.Tensor:
    """Values of ``x`` at fractional ``positions`` along ``axis`` (linear, edges clamped)."""
    size = tf.shape(x)[axis]
    positions = tf.clip_by_value(positions, 0.0, tf.cast(size - 1, tf.float32))
    low = tf.cast(tf.floor(positions), tf.int32)
    high = tf.minimum(low + 1, size - 1)
    weight = positions - tf.cast(low, tf.float32)
    shape = [1, 1]
    shape[axis] = -1
    weight = tf.reshape(weight, shape)
    return (tf.gather(x, low, axis=axis) * (1.0 - weight)
            + tf.gather(x, high, axis=axis) * weight)


def _pitch_table(frontend: FrontendConfig, cfg: AugmentConfig) -> np.ndarray:
    """Fractional source band of every mel band, one row per semitone shift on a grid."""
    centres = librosa.mel_frequencies(frontend.n_mels + 2, fmin=0.0,
                                      fmax=frontend.sample_rate / 2)
    bands = np.arange(frontend.n_mels + 2, dtype=np.float64) - 1.0  # centres[0] is band -1
    steps = np.arange(-cfg.semitones, cfg.semitones + cfg.semitone_step / 2, cfg.semitone_step)
    rows = [np.interp(centres[1:-1] / 2.0 ** (s / 12.0), centres, bands) for s in steps]
    return np.asarray(rows, dtype=np.float32)


class PatchAugmenter:
    """``augmenter(patch, seed)``: one augmented (frames, n_mels) log-mel patch; ``seed`` is a
    (2,) int64 tensor, e.g. from ``tf.data.Dataset.random``."""

    def __init__(self, frontend: FrontendConfig, cfg: AugmentConfig = AugmentConfig()) -> None:
        self.frontend = frontend
        self.cfg = cfg
        self._pitch_rows = tf.constant(_pitch_table(frontend, cfg))

    def __call__(self, patch: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=12)
        cfg = self.cfg
        x = tf.convert_to_tensor(patch, tf.float32)
        steps = ((self.time_stretch, cfg.stretch != (1.0, 1.0)),
                 (self.pitch_shift, cfg.semitones > 0),
                 (self.volume, cfg.gain_db > 0),
                 (self.add_noise, True),
                 (self.mask, cfg.time_masks + cfg.freq_masks > 0))
        for i, (transform, enabled) in enumerate(steps):
            if not enabled:
                continue
            apply = tf.random.stateless_uniform([], seeds[2 * i]) < cfg.probability
            x = tf.cond(apply, lambda t=transform, s=seeds[2 * i + 1], v=x: t(v, s),
                        lambda v=x: v)
        return tf.ensure_shape(x, [self.frontend.patch_frames, self.frontend.n_mels])

    def time_stretch(self, x: tf.Tensor, seed: tf.Tensor, rate: tf.Tensor | None = None
                     ) -> tf.Tensor:
        """Resample the time axis by ``rate`` (random in cfg.stretch unless given)."""
        frames = self.frontend.patch_frames
        rate_seed, crop_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        if rate is None:
            low, high = (float(np.log(r)) for r in self.cfg.stretch)
            rate = tf.exp(tf.random.stateless_uniform([], rate_seed, low, high))
        length = tf.maximum(1, tf.cast(tf.round(frames / rate), tf.int32))
        stretched = _interpolate(x, tf.range(length, dtype=tf.float32) * rate, axis=0)
        # slower: a random crop of the longer result; faster: repeat-padded like short tracks
        spare = tf.maximum(length - frames, 0)
        start = tf.random.stateless_uniform([], crop_seed, 0, spare + 1, dtype=tf.int32)
        reps = -(-frames // length)
        tiled = tf.tile(stretched, [reps, 1])
        return tf.slice(tiled, [start, 0], [frames, self.frontend.n_mels])

    def pitch_shift(self, x: tf.Tensor, seed: tf.Tensor, row: tf.Tensor | None = None
                    ) -> tf.Tensor:
        """Warp the mel axis by a whole number of ``semitone_step`` (random unless ``row``,
        the index of the shift on the grid, is given)."""
        n_rows = tf.shape(self._pitch_rows)[0]
        if row is None:
            row = tf.random.stateless_uniform([], seed, 0, n_rows, dtype=tf.int32)
        return _interpolate(x, self._pitch_rows[row], axis=1)

    def _to_power(self, x: tf.Tensor) -> tf.Tensor:
        return (tf.pow(10.0, x) - 1.0) / self.frontend.log_scale

    def _to_log(self, power: tf.Tensor) -> tf.Tensor:
        return tf.math.log(self.frontend.log_scale * tf.maximum(power, 0.0) + 1.0) / np.log(10.0)

    def volume(self, x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        gain_db = tf.random.stateless_uniform([], seed, -self.cfg.gain_db, self.cfg.gain_db)
        return self._to_log(self._to_power(x) * tf.pow(10.0, gain_db / 10.0))

    def add_noise(self, x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        snr_seed, cell_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        low, high = self.cfg.noise_snr_db
        snr_db = tf.random.stateless_uniform([], snr_seed, low, high)
        power = self._to_power(x)
        level = tf.reduce_mean(power) / tf.pow(10.0, snr_db / 10.0)
        cells = tf.random.stateless_gamma(tf.shape(x), cell_seed, alpha=4.0) / 4.0
        return self._to_log(power + level * cells)

    def mask(self, x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """SpecAugment stripes set to 0 (silence on the log10(scale * x + 1) scale)."""
        cfg = self.cfg
        frames, mels = self.frontend.patch_frames, self.frontend.n_mels
        seeds = tf.random.experimental.stateless_split(seed, 2 * (cfg.time_masks
                                                                  + cfg.freq_masks) + 1)
        keep = tf.ones_like(x, dtype=tf.bool)
        stripes = [(0, frames, cfg.max_time_mask)] * cfg.time_masks
        stripes += [(1, mels, cfg.max_freq_mask)] * cfg.freq_masks
        for i, (axis, size, widest) in enumerate(stripes):
            width = tf.random.stateless_uniform([], seeds[2 * i], 0, widest + 1, tf.int32)
            start = tf.random.stateless_uniform([], seeds[2 * i + 1], 0, size - width + 1,
                                                tf.int32)
            index = tf.range(size)
            inside = (index >= start) & (index < start + width)
            inside = inside[:, None] if axis == 0 else inside[None, :]
            keep &= ~inside
        return tf.where(keep, x, tf.zeros_like(x))
