"""Log-mel front-ends shared by extract, train and tag.

The musicnn checkpoints were trained on librosa's power mel spectrogram of 16 kHz mono audio
(n_fft 512, hop 256, 96 Slaney mel bands, centred frames), compressed with
``log10(10000 * x + 1)``: ``FrontendConfig()``'s defaults. YAMNet was trained on TensorFlow's
(``tf.signal``): 25 ms periodic-Hann windows zero-padded to 512, 10 ms hop, no centring, the
*magnitude* spectrum through 64 HTK mel bands of 125-7500 Hz, ``log(mel + 0.001)``
(``mgc_model.yamnet.FRONTEND``). Everything here is float32: musicnn's own extractor casts the
mel spectrogram to float16 first, which overflows to inf on loud music.

``LogMelStream`` computes the same frames block by block so that decoding an hour-long file
never holds the whole signal; ``log_mel`` is the one-shot version used by tests and training.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from collections.abc import Iterator, Sequence
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
    log_scale: float = 10000.0  # log10(log_scale * mel + 1), when log_offset is None
    patch_frames: int = 187
    win_length: int | None = None  # window inside each n_fft frame; None: n_fft
    center: bool = True  # frames centred on hop multiples (librosa) or starting there (tf)
    magnitude: bool = False  # |X| instead of |X|^2 before the mel filters
    mel_scale: str = "slaney"  # librosa's Slaney filters, or "htk-tf": tf.signal's HTK ones
    f_min: float = 0.0
    f_max: float | None = None  # None: Nyquist
    log_offset: float | None = None  # log(mel + log_offset) instead of the log10 compression

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

    @property
    def window(self) -> int:
        return self.win_length or self.n_fft

    @property
    def patch_samples(self) -> int:
        """Samples one patch spans, hop to hop: what the analysis window of a model is."""
        return self.patch_frames * self.hop_length

    def hop_frames(self, hop_seconds: float | None) -> int | None:
        """``--hop-seconds`` as frames between patch starts (None: patches back to back)."""
        if hop_seconds is None:
            return None
        return max(1, round(hop_seconds * self.sample_rate / self.hop_length))

    def n_frames(self, n_samples: int) -> int:
        """Frames of ``n_samples`` of audio: librosa's count when centred, tf's when not."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return 0 if n_samples < self.window else 1 + (n_samples - self.window) // self.hop_length

    def expected_frames(self, duration_s: float | None) -> int | None:
        """Frames the log-mel of ``duration_s`` of audio will have, from a file's header; None
        when the header does not say."""
        if duration_s is None:
            return None
        return self.n_frames(int(duration_s * self.sample_rate))


def _tf_htk_mel(cfg: FrontendConfig) -> np.ndarray:
    """``tf.signal.linear_to_mel_weight_matrix``: triangles on the HTK mel scale evaluated at
    the FFT bins' frequencies, unnormalised, the DC bin left out (YAMNet's filters)."""
    def mel(hz):
        return 1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0)

    n_bins = cfg.n_fft // 2 + 1
    bins = mel(np.linspace(0.0, cfg.sample_rate / 2, n_bins))[1:, None]
    edges = np.linspace(mel(cfg.f_min), mel(cfg.f_max or cfg.sample_rate / 2), cfg.n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0.0, np.minimum((bins - lower) / (center - lower),
                                         (upper - bins) / (upper - center)))
    return np.vstack([np.zeros((1, cfg.n_mels)), weights])


@lru_cache(maxsize=8)
def _mel_basis(cfg: FrontendConfig) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) float32 filter bank."""
    if cfg.mel_scale == "htk-tf":
        basis = _tf_htk_mel(cfg)
    elif cfg.mel_scale == "slaney":
        basis = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels,
                                    fmin=cfg.f_min, fmax=cfg.f_max).T
    else:
        raise ValueError(f"unknown mel_scale {cfg.mel_scale!r}: 'slaney' or 'htk-tf'")
    return np.ascontiguousarray(basis, dtype=np.float32)


@lru_cache(maxsize=8)
def _window(length: int) -> np.ndarray:
    return librosa.filters.get_window("hann", length, fftbins=True).astype(np.float32)


def _frames_to_log_mel(frames: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """(n, window) stretches of signal -> (n, n_mels) log-compressed mel frames."""
    spectrum = np.fft.rfft(frames * _window(cfg.window), n=cfg.n_fft, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel = (np.sqrt(power) if cfg.magnitude else power) @ _mel_basis(cfg)
    if cfg.log_offset is not None:
        return np.log(mel + np.float32(cfg.log_offset))
    return np.log10(np.float32(cfg.log_scale) * mel + np.float32(1.0))


class LogMelStream:
    """Incremental log-mel: feed 16 kHz mono blocks, get the frames a one-shot analysis gives.

    Centred, it matches ``librosa.feature.melspectrogram(center=True, pad_mode="constant")``:
    the signal is zero-padded by n_fft // 2 on both sides and yields ``1 + n_samples // hop``
    frames. Uncentred, it matches ``tf.signal.stft``: frames start at 0, none is padded.
    """

    def __init__(self, cfg: FrontendConfig = FrontendConfig()) -> None:
        if cfg.center and cfg.window != cfg.n_fft:
            raise ValueError("a centred front-end needs win_length == n_fft")
        self.cfg = cfg
        self._buffer = np.zeros(cfg.n_fft // 2 if cfg.center else 0, dtype=np.float32)
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

    def skip(self, n_samples: int) -> np.ndarray:
        """Go past ``n_samples`` samples that were not decoded (a seeking decode's gap): the
        frames they complete come out as zeros, without an FFT. Those frames, and the next
        few that still read the gap, are only placeholders that keep the frame count: every
        window a caller wants lies inside decoded audio (``WindowCutter.regions``)."""
        if self._closed:
            raise RuntimeError("skip() after finish()")
        cfg = self.cfg
        self._samples += n_samples
        total = self._buffer.size + n_samples
        available = 0 if total < cfg.window else 1 + (total - cfg.window) // cfg.hop_length
        kept = self._buffer[available * cfg.hop_length:]
        self._buffer = np.concatenate(
            [kept, np.zeros(total - available * cfg.hop_length - kept.size, np.float32)])
        self._frames += available
        return np.zeros((available, cfg.n_mels), dtype=np.float32)

    def finish(self) -> np.ndarray:
        """Flush the trailing frames (end padding), after which the stream is closed."""
        pad = self.cfg.n_fft // 2 if self.cfg.center else 0
        self._buffer = np.concatenate([self._buffer, np.zeros(pad, dtype=np.float32)])
        frames = self._drain(final=True)
        self._closed = True
        return frames

    def _drain(self, final: bool) -> np.ndarray:
        cfg = self.cfg
        available = 0
        if self._buffer.size >= cfg.window:
            available = 1 + (self._buffer.size - cfg.window) // cfg.hop_length
        if final:  # exactly the one-shot count, never more
            available = min(available, cfg.n_frames(self._samples) - self._frames)
        if available <= 0:
            return np.zeros((0, cfg.n_mels), dtype=np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(self._buffer, cfg.window)
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
    does). With ``max_patches`` the track is cut into that many equal parts and the middle
    patch of each is kept: neither the first nor the last patch (an intro, a fade-out) is always
    among them, which agrees more with analysing every patch (``bench/patch_budget.py``). A
    track shorter than one patch has one, repeat-padded (see ``pad_short``).
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
        n = len(starts)
        starts = [starts[(2 * k + 1) * n // (2 * max_patches)] for k in range(max_patches)]
    return starts


def budget_windows(n_windows: int, header_s: float, max_patches: int | None,
                   cfg: FrontendConfig) -> list[int]:
    """Which of a track's ``n_windows`` back-to-back windows (every window analysed, its header
    saying ``header_s``) ``--max-patches`` keeps: ``PatchCutter``'s own choice, for measuring
    a budget on outputs computed once for every window. None or NaN: all of them."""
    if max_patches is None or np.isnan(header_s):
        return list(range(n_windows))
    starts = patch_starts(cfg.expected_frames(header_s), cfg, None, max_patches)
    # a start past the decoded end is never cut (a header a little long): as PatchCutter
    return [s // cfg.patch_frames for s in starts if s // cfg.patch_frames < n_windows]


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
        self.last_start = 0  # first frame of the patch yielded last

    @property
    def next_start(self) -> int:
        """First frame of the next patch: frames before it are no longer needed."""
        return self._next_start

    @property
    def wanted(self) -> list[int] | None:
        """First frames of the patches a capped track keeps, in order; None: every patch."""
        return None if self._wanted is None else sorted(self._wanted)

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
                self.last_start = start
                yield self._held[offset : offset + size].copy()
        self._trim()

    def finish(self) -> Iterator[np.ndarray]:
        """Emit the padded patch of a short track; nothing more for a long one."""
        if self.n_patches == 0 and self.n_frames > 0:
            self.n_patches = 1
            self.last_start = 0
            yield pad_short(self._held[-min(self.n_frames, self.cfg.patch_frames):], self.cfg)

    def _trim(self) -> None:
        # keep the frames of the next patch, and for a short track the frames we have so far
        keep_from = min(self._next_start, max(0, self.n_frames - self.cfg.patch_frames))
        drop = keep_from - self._held_from
        if drop > 0:
            self._held = self._held[drop:]
            self._held_from = keep_from


def _frames_span(cfg: FrontendConfig, first: int, count: int) -> tuple[int, int]:
    """Samples ``[start, stop)`` that frames ``first .. first + count - 1`` read (a centred
    frame reaches half an FFT before its hop multiple); clipped at 0, where the stream pads."""
    pad = cfg.n_fft // 2 if cfg.center else 0
    start = first * cfg.hop_length - pad
    return max(0, start), (first + count - 1) * cfg.hop_length - pad + cfg.window


class AlignedPatches:
    """A second front-end's patches over the audio of each patch of the first: for a patch of
    the first that starts at sample ``a``, ``per_window`` back-to-back patches of this one from
    the frame nearest ``a`` (at most half a hop, 5 ms for YAMNet, away)."""

    def __init__(self, cfg: FrontendConfig, primary: FrontendConfig) -> None:
        if cfg.sample_rate != primary.sample_rate:
            raise ValueError("front-ends of one model must share the sample rate")
        self.cfg = cfg
        self.primary = primary
        self.per_window = max(1, primary.patch_samples // cfg.patch_samples)
        self.span = self.per_window * cfg.patch_frames
        self._held = np.zeros((0, cfg.n_mels), dtype=np.float32)
        self._held_from = 0
        self.n_frames = 0
        self._pending: deque[int] = deque()  # first frames of the windows asked for

    def first_frame(self, primary_start: int) -> int:
        return round(primary_start * self.primary.hop_length / self.cfg.hop_length)

    def want(self, primary_start: int) -> None:
        self._pending.append(self.first_frame(primary_start))

    def push(self, frames: np.ndarray, keep_from_primary: int) -> Iterator[np.ndarray]:
        """Add frames; yield (per_window, frames, mels) for each asked-for window now
        complete. Frames before ``keep_from_primary`` (the first's next start) are dropped."""
        self._held = np.concatenate([self._held, frames]) if self._held.size else frames
        self.n_frames += frames.shape[0]
        while self._pending and self._pending[0] + self.span <= self.n_frames:
            yield self._cut(self._pending.popleft())
        keep = self.first_frame(keep_from_primary)
        if self._pending:
            keep = min(keep, self._pending[0])
        drop = min(keep, self.n_frames) - self._held_from
        if drop > 0:
            self._held = self._held[drop:]
            self._held_from += drop

    def finish(self) -> Iterator[np.ndarray]:
        """The windows still waiting at the end of the track, repeat-padded like a short one."""
        while self._pending:
            yield self._cut(self._pending.popleft())

    def _cut(self, first: int) -> np.ndarray:
        offset = first - self._held_from
        frames = self._held[offset:offset + self.span]
        if frames.shape[0] < self.span:
            if frames.shape[0] == 0:  # shorter than one analysis frame: silence
                frames = log_mel(np.zeros(self.cfg.window, np.float32), self.cfg)
            frames = np.tile(frames, (-(-self.span // frames.shape[0]), 1))[:self.span]
        return frames.reshape(self.per_window, self.cfg.patch_frames, self.cfg.n_mels).copy()


class WindowCutter:
    """Mono blocks in, analysis windows out: one tuple per patch of the first front-end, with
    each further front-end's patches over the same audio (``AlignedPatches``). Every
    front-end a model declares comes from the same decoded audio in one pass."""

    def __init__(self, frontends: Sequence[FrontendConfig], duration_s: float | None = None,
                 hop_frames: int | None = None, max_patches: int | None = None) -> None:
        if not frontends:
            raise ValueError("a model needs at least one front-end")
        primary = frontends[0]
        self.frontends = tuple(frontends)
        self.mels = [LogMelStream(cfg) for cfg in frontends]
        expected = primary.expected_frames(duration_s)
        self.expected = expected
        self.cutter = PatchCutter(primary, expected, hop_frames,
                                  max_patches if expected else None)
        self.aligned = [AlignedPatches(cfg, primary) for cfg in frontends[1:]]
        self._waiting: deque[np.ndarray] = deque()  # first front-end patches, in order
        self._ready: list[deque[np.ndarray]] = [deque() for _ in self.aligned]

    @property
    def n_patches(self) -> int:
        return self.cutter.n_patches

    def regions(self, merge_gap: int = 0) -> list[tuple[int, int]] | None:
        """The stretches of samples ``[start, stop)`` the kept windows read, every front-end
        and its STFT frames included, sorted and merged where less than ``merge_gap`` apart;
        None when every window is kept (a track that is not capped: decode it all).

        Audio outside them may be skipped (``skip``): the windows come out the same."""
        starts = self.cutter.wanted
        if starts is None or len(starts) == len(patch_starts(self.expected, self.frontends[0],
                                                             self.cutter.hop)):
            return None  # every window kept: the whole track is read anyway
        spans = []
        for start in starts:
            spans.append(_frames_span(self.frontends[0], start, self.frontends[0].patch_frames))
            for aligned in self.aligned:
                spans.append(_frames_span(aligned.cfg, aligned.first_frame(start), aligned.span))
        merged: list[tuple[int, int]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1] + merge_gap:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def push(self, block: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
        frames = [mel.push(block) for mel in self.mels]
        yield from self._windows(frames, final=False)

    def skip(self, n_samples: int) -> Iterator[tuple[np.ndarray, ...]]:
        """Go past ``n_samples`` samples left undecoded, in bounded steps (placeholder frames
        are held only until the patch cutting has passed them)."""
        step = 10 * self.frontends[0].sample_rate
        for done in range(0, n_samples, step):
            frames = [mel.skip(min(step, n_samples - done)) for mel in self.mels]
            yield from self._windows(frames, final=False)

    def finish(self) -> Iterator[tuple[np.ndarray, ...]]:
        frames = [mel.finish() for mel in self.mels]
        yield from self._windows(frames, final=True)

    def _windows(self, frames: list[np.ndarray], final: bool) -> Iterator[tuple]:
        firsts = self.cutter.push(frames[0])
        if final:
            firsts = itertools.chain(firsts, self.cutter.finish())
        for patch in firsts:  # a generator: last_start is this patch's
            self._waiting.append(patch)
            for aligned in self.aligned:
                aligned.want(self.cutter.last_start)
        for aligned, ready, more in zip(self.aligned, self._ready, frames[1:], strict=True):
            ready.extend(aligned.push(more, self.cutter.next_start))
            if final:
                ready.extend(aligned.finish())
        while self._waiting and all(self._ready):
            yield (self._waiting.popleft(), *(ready.popleft() for ready in self._ready))
