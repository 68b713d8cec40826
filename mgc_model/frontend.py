"""Log-mel front-end shared by extract, train and tag.

The musicnn checkpoints were trained on librosa's power mel spectrogram of 16 kHz mono audio
(n_fft 512, hop 256, 96 Slaney mel bands, centred frames), compressed with
``log10(10000 * x + 1)``. Everything here is float32: musicnn's own extractor casts the mel
spectrogram to float16 first, which overflows to inf on loud music.

``LogMelStream`` computes the same frames block by block so that decoding an hour-long file
never holds the whole signal; ``log_mel`` is the one-shot version used by tests and training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np


@dataclass(frozen=True)
class FrontendConfig:
    """What a model expects as input; travels with every model bundle."""

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 96
    log_scale: float = 10000.0
    patch_frames: int = 187

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FrontendConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown front-end settings: {sorted(unknown)}")
        return cls(**data)

    @property
    def patch_seconds(self) -> float:
        return self.patch_frames * self.hop_length / self.sample_rate

    def expected_frames(self, duration_s: float | None) -> int | None:
        """Frames the log-mel of ``duration_s`` of audio will have (centred frames), from a
        file's header; None when the header does not say."""
        if duration_s is None:
            return None
        return 1 + int(duration_s * self.sample_rate) // self.hop_length


@lru_cache(maxsize=8)
def _mel_basis(cfg: FrontendConfig) -> np.ndarray:
    basis = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels)
    return np.ascontiguousarray(basis.T, dtype=np.float32)  # (n_fft // 2 + 1, n_mels)


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    return librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32)


def _frames_to_log_mel(frames: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """(n, n_fft) windows of signal -> (n, n_mels) log-compressed mel frames."""
    spectrum = np.fft.rfft(frames * _window(cfg.n_fft), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel = power @ _mel_basis(cfg)
    return np.log10(np.float32(cfg.log_scale) * mel + np.float32(1.0))


class LogMelStream:
    """Incremental log-mel: feed 16 kHz mono blocks, get the frames librosa would give.

    Matches ``librosa.feature.melspectrogram(center=True, pad_mode="constant")``: the signal is
    zero-padded by n_fft // 2 on both sides and yields ``1 + n_samples // hop`` frames.
    """

    def __init__(self, cfg: FrontendConfig = FrontendConfig()) -> None:
        self.cfg = cfg
        self._buffer = np.zeros(cfg.n_fft // 2, dtype=np.float32)
        self._samples = 0
        self._frames = 0
        self._closed = False

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add samples; return the complete frames they finish, shape (n, n_mels)."""
        if self._closed:
            raise RuntimeError("push() after finish()")
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        self._samples += block.size
        self._buffer = np.concatenate([self._buffer, block])
        return self._drain(final=False)

    def finish(self) -> np.ndarray:
        """Flush the trailing frames (end padding), after which the stream is closed."""
        self._buffer = np.concatenate(
            [self._buffer, np.zeros(self.cfg.n_fft // 2, dtype=np.float32)]
        )
        frames = self._drain(final=True)
        self._closed = True
        return frames

    def _drain(self, final: bool) -> np.ndarray:
        cfg = self.cfg
        available = 0
        if self._buffer.size >= cfg.n_fft:
            available = 1 + (self._buffer.size - cfg.n_fft) // cfg.hop_length
        if final:  # exactly librosa's count, never more
            available = min(available, 1 + self._samples // cfg.hop_length - self._frames)
        if available <= 0:
            return np.zeros((0, cfg.n_mels), dtype=np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(self._buffer, cfg.n_fft)
        out = _frames_to_log_mel(windows[: available * cfg.hop_length : cfg.hop_length], cfg)
        self._buffer = self._buffer[available * cfg.hop_length :]
        self._frames += available
        return out


def log_mel(audio: np.ndarray, cfg: FrontendConfig = FrontendConfig()) -> np.ndarray:
    """Log-mel frames (n_frames, n_mels) of a whole mono signal at ``cfg.sample_rate``."""
    stream = LogMelStream(cfg)
    head = stream.push(audio)
    return np.concatenate([head, stream.finish()])


def patch_starts(n_frames: int, cfg: FrontendConfig, hop_frames: int | None = None,
                 max_patches: int | None = None) -> list[int]:
    """First frame of each patch of a track with ``n_frames`` frames.

    Patches follow each other every ``hop_frames`` (default: back to back, as musicnn's tagger
    does); with ``max_patches`` the kept ones are spread evenly over the whole track. A track
    shorter than one patch has one, repeat-padded (see ``pad_short``).
    """
    hop = hop_frames or cfg.patch_frames
    if hop <= 0:
        raise ValueError("hop_frames must be positive")
    if n_frames <= cfg.patch_frames:
        return [0]
    starts = list(range(0, n_frames - cfg.patch_frames + 1, hop))
    if max_patches is not None and len(starts) > max_patches:
        if max_patches <= 0:
            raise ValueError("max_patches must be positive")
        keep = np.unique(np.round(np.linspace(0, len(starts) - 1, max_patches)).astype(int))
        starts = [starts[i] for i in keep]
    return starts


def pad_short(logmel: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """Repeat a short spectrogram until it fills one patch, as musicnn was trained
    (its config says ``pad_short: repeat-pad``)."""
    if logmel.shape[0] == 0:
        raise ValueError("no audio frames to pad")
    reps = -(-cfg.patch_frames // logmel.shape[0])
    return np.tile(logmel, (reps, 1))[: cfg.patch_frames]


def patches(logmel: np.ndarray, cfg: FrontendConfig = FrontendConfig(),
            hop_frames: int | None = None, max_patches: int | None = None) -> np.ndarray:
    """Cut a whole spectrogram into model input patches (n, patch_frames, n_mels)."""
    if logmel.shape[0] < cfg.patch_frames:
        return pad_short(logmel, cfg)[None]
    starts = patch_starts(logmel.shape[0], cfg, hop_frames, max_patches)
    return np.stack([logmel[s : s + cfg.patch_frames] for s in starts])


class PatchCutter:
    """Streaming counterpart of ``patches``: feed log-mel frames, get patches as they complete.

    ``expected_frames`` (from the file header) decides which patches to keep when
    ``max_patches`` caps them; only the frames a future patch needs are held, so memory does not
    grow with track length.
    """

    def __init__(self, cfg: FrontendConfig, expected_frames: int | None = None,
                 hop_frames: int | None = None, max_patches: int | None = None) -> None:
        self.cfg = cfg
        self.hop = hop_frames or cfg.patch_frames
        if max_patches is not None and expected_frames is None:
            raise ValueError("max_patches needs the expected number of frames")
        self._wanted: set[int] | None = None
        if max_patches is not None:
            self._wanted = set(patch_starts(expected_frames, cfg, self.hop, max_patches))
        self._held = np.zeros((0, cfg.n_mels), dtype=np.float32)
        self._held_from = 0  # absolute index of self._held[0]
        self._next_start = 0
        self.n_frames = 0
        self.n_patches = 0

    def push(self, frames: np.ndarray) -> Iterator[np.ndarray]:
        self._held = np.concatenate([self._held, frames]) if self._held.size else frames
        self.n_frames += frames.shape[0]
        size = self.cfg.patch_frames
        while self._next_start + size <= self.n_frames:
            start = self._next_start
            self._next_start += self.hop
            if self._wanted is None or start in self._wanted:
                offset = start - self._held_from
                self.n_patches += 1
                yield self._held[offset : offset + size].copy()
        self._trim()

    def finish(self) -> Iterator[np.ndarray]:
        """Emit the padded patch of a short track; nothing more for a long one."""
        if self.n_patches == 0 and self.n_frames > 0:
            self.n_patches = 1
            yield pad_short(self._held[-min(self.n_frames, self.cfg.patch_frames):], self.cfg)

    def _trim(self) -> None:
        # keep the frames of the next patch, and for a short track the frames we have so far
        keep_from = min(self._next_start, max(0, self.n_frames - self.cfg.patch_frames))
        drop = keep_from - self._held_from
        if drop > 0:
            self._held = self._held[drop:]
            self._held_from = keep_from
