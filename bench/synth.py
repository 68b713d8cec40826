"""A small seeded music synthesiser for the benchmark corpus.

Real recordings cannot be shipped or downloaded here, and sine tones would make the decoder and
the model's data-dependent costs (MP3 bit reservoir, denormals, max-pooling) unrealistically
cheap. So each clip gets its own tempo, key, chord progression, instrument timbre, bass line and
drum pattern (or none), drawn from a seeded generator: the corpus is varied and reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

# Chord progressions as scale degrees (semitones from the key root) of triads/sevenths.
PROGRESSIONS: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)),  # I IV V I
    ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17)),  # i VI III VII
    ((2, 5, 9, 12), (7, 11, 14, 17), (0, 4, 7, 11), (0, 4, 7, 11)),  # ii-V-I jazz
    ((0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14)),  # I vi IV V
    ((0, 3, 7), (5, 8, 12), (0, 3, 7), (7, 11, 14)),  # minor blues-ish
)
TIMBRES = ("organ", "saw", "pluck", "fm", "pad")
STYLES = ("rock", "electronic", "jazz", "ambient", "folk", "hiphop")


@dataclass(frozen=True)
class Song:
    """The random choices that make one clip; drawn once per seed."""

    seed: int
    bpm: float
    root_hz: float
    progression: tuple[tuple[int, ...], ...]
    timbre: str
    style: str
    gain: float


def song(seed: int) -> Song:
    rng = np.random.default_rng(seed)
    style = STYLES[seed % len(STYLES)]
    bpm = {"rock": (100, 150), "electronic": (118, 140), "jazz": (80, 180),
           "ambient": (60, 90), "folk": (80, 120), "hiphop": (80, 100)}[style]
    return Song(
        seed=seed,
        bpm=float(rng.uniform(*bpm)),
        root_hz=float(110.0 * 2 ** (rng.integers(0, 12) / 12)),
        progression=PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))],
        timbre=TIMBRES[int(rng.integers(len(TIMBRES)))],
        style=style,
        gain=float(rng.uniform(0.25, 0.8)),
    )


def _voice(freq: np.ndarray, sr: int, timbre: str, note_t: np.ndarray) -> np.ndarray:
    """One instrument voice at instantaneous frequency ``freq`` (Hz, one value per sample)."""
    phase = 2 * np.pi * np.cumsum(freq) / sr
    if timbre == "organ":
        return sum(np.sin(k * phase) / k for k in (1, 2, 3, 4, 6))
    if timbre == "saw":
        return sum(np.sin(k * phase) / k for k in range(1, 16)) * (1 - 0.5 * note_t.clip(0, 1))
    if timbre == "pluck":
        return sum(np.sin(k * phase) / k**1.5 for k in range(1, 9)) * np.exp(-4.0 * note_t)
    if timbre == "fm":
        return np.sin(phase + 2.0 * np.exp(-3 * note_t) * np.sin(2 * phase))
    return sum(np.sin(k * phase * (1 + 0.003 * k)) / k for k in (1, 2, 3))  # pad: detuned


def _lowpass(x: np.ndarray, alpha: float) -> np.ndarray:
    """Truncated one-pole low-pass: turns white noise into a soft wind-like bed."""
    kernel = alpha * (1 - alpha) ** np.arange(64)
    return np.convolve(x, kernel, mode="same")


def _drums(n: int, sr: int, s: Song, rng: np.random.Generator) -> np.ndarray:
    """Kick, snare and hi-hat on a 16th-note grid; patterns depend on the style."""
    out = np.zeros(n)
    step = 60.0 / s.bpm / 4
    n_steps = int(n / sr / step)
    kick_len, snare_len, hat_len = int(0.25 * sr), int(0.18 * sr), int(0.05 * sr)
    tk = np.arange(kick_len) / sr
    kick = np.sin(2 * np.pi * (50 * tk + 60 * (1 - np.exp(-30 * tk)) / 30)) * np.exp(-12 * tk)
    snare_noise = rng.standard_normal(snare_len) * np.exp(-20 * np.arange(snare_len) / sr)
    snare = 0.6 * snare_noise + 0.4 * np.sin(2 * np.pi * 190 * np.arange(snare_len) / sr) * (
        np.exp(-25 * np.arange(snare_len) / sr))
    hat = np.diff(rng.standard_normal(hat_len + 1)) * np.exp(-60 * np.arange(hat_len) / sr)
    kick_steps = {"rock": {0, 8}, "electronic": {0, 4, 8, 12}, "hiphop": {0, 7, 10},
                  "jazz": {0}, "folk": {0, 8}}.get(s.style, set())
    for i in range(n_steps):
        at = int(i * step * sr)
        pos = i % 16
        parts = []
        if pos in kick_steps:
            parts.append(kick)
        if pos in (4, 12) and s.style != "ambient":
            parts.append(snare)
        if s.style in ("rock", "electronic", "hiphop") and pos % 2 == 0:
            parts.append(0.3 * hat * rng.uniform(0.6, 1.0))
        if s.style == "jazz" and pos % 4 in (0, 3):
            parts.append(0.25 * hat)  # ride-ish swing
        for part in parts:
            end = min(n, at + part.size)
            out[at:end] += part[: end - at]
    return out


def render(s: Song, seconds: float, sr: int = 44100, offset_s: float = 0.0) -> np.ndarray:
    """``seconds`` of the song starting at ``offset_s``: (frames, 2) float32 in [-1, 1]."""
    rng = np.random.default_rng([s.seed, int(offset_s * 1000)])
    n = int(seconds * sr)
    t = offset_s + np.arange(n) / sr
    beat = 60.0 / s.bpm
    bar = 4 * beat
    chord_idx = (t // (2 * bar)).astype(int) % len(s.progression)
    note_t = (t % beat) / beat
    left = np.zeros(n)
    right = np.zeros(n)
    for voice in range(4):
        degrees = np.array([c[voice % len(c)] for c in s.progression])[chord_idx]
        freq = s.root_hz * 2 ** (degrees / 12) * (2 if voice == 3 else 1)
        tone = _voice(freq, sr, s.timbre, note_t)
        pan = 0.3 + 0.4 * voice / 3
        left += (1 - pan) * tone
        right += pan * tone
    bass_deg = np.array([c[0] for c in s.progression])[chord_idx]
    bass_freq = s.root_hz / 2 * 2 ** (bass_deg / 12)
    walk = (t // beat).astype(int) % 4
    if s.style in ("jazz", "folk"):
        bass_freq = bass_freq * 2 ** (np.array([0, 4, 7, 5])[walk] / 12)
    bass = np.sin(2 * np.pi * np.cumsum(bass_freq) / sr) * np.exp(-2.0 * note_t)
    drums = _drums(n, sr, s, rng) if s.style != "ambient" else np.zeros(n)
    if s.style == "ambient":
        drums = 0.05 * _lowpass(rng.standard_normal(n), 0.02)  # wind-like bed
    stereo = np.stack([0.15 * left + 0.4 * bass + 0.5 * drums,
                       0.15 * right + 0.4 * bass + 0.5 * drums], axis=1)
    stereo += 0.002 * rng.standard_normal(stereo.shape)  # tape hiss keeps the MP3 encoder busy
    peak = np.abs(stereo).max()
    return (s.gain * stereo / max(peak, 1e-9)).astype(np.float32)


def write_clip(path: Path, seed: int, seconds: float, sr: int = 44100) -> Path:
    """Write one clip as MP3 (written to a temporary name first so a crash leaves no stub)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.mp3")
    sf.write(str(tmp), render(song(seed), seconds, sr), sr, format="MP3")
    tmp.rename(path)
    return path


def _segments(seed: int, minutes: float, sr: int) -> Iterator[np.ndarray]:
    """A long 'DJ set': a new song every 3 minutes, rendered in 30-second pieces."""
    total = minutes * 60.0
    done = 0.0
    while done < total:
        piece = min(30.0, total - done)
        yield render(song(seed + int(done // 180)), piece, sr, offset_s=done % 180)
        done += piece


def write_long(path: Path, seed: int, minutes: float, sr: int = 44100) -> Path:
    """Write a long MP3 piece by piece, so generating it does not need the whole hour in RAM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.mp3")
    with sf.SoundFile(str(tmp), "w", sr, 2, format="MP3") as out:
        for block in _segments(seed, minutes, sr):
            out.write(block)
    tmp.rename(path)
    return path


def write_track(path: Path, seed: int, seconds: float, sr: int = 44100) -> Path:
    """Write one full-length song (the same tempo, key and timbre throughout) as MP3, rendered
    30 seconds at a time so that memory stays small."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.mp3")
    s = song(seed)
    with sf.SoundFile(str(tmp), "w", sr, 2, format="MP3") as out:
        done = 0.0
        while done < seconds:
            piece = min(30.0, seconds - done)
            out.write(render(s, piece, sr, offset_s=done))
            done += piece
    tmp.rename(path)
    return path
