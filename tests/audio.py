"""Audio fixtures made by the tests: synthetic music-like signals written in every format mgc
reads (soundfile for WAV/AIFF/FLAC/Ogg/MP3, PyAV's FFmpeg for M4A and WMA)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf

SOUNDFILE_FORMATS = {
    "wav": {},
    "aiff": {"format": "AIFF"},
    "flac": {},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},
    "opus": {"format": "OGG", "subtype": "OPUS"},
    "mp3": {"format": "MP3"},
}
PYAV_FORMATS = {"m4a": ("mp4", "aac"), "wma": ("asf", "wmav2")}
# Formats of lossless and audiobook collections, and two mgc decodes but cannot tag (AC-3,
# Matroska): written by FFmpeg's own encoders and muxers.
COLLECTION_FORMATS = {"wv": ("wv", "wavpack"), "tta": ("tta", "tta"), "m4b": ("ipod", "aac"),
                      "3gp": ("3gp", "aac"), "ac3": ("ac3", "ac3"),
                      "mka": ("matroska", "aac")}


def chord_track(seconds: float, sr: int = 22050, channels: int = 2, seed: int = 0,
                amplitude: float = 0.3) -> np.ndarray:
    """A few seconds of chords with a pulse: (frames, channels) float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    roots = rng.choice([110.0, 146.8, 164.8, 196.0], size=max(1, int(seconds)))
    freq = roots[np.minimum((t).astype(int), len(roots) - 1)]
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 1.5, 2, 3))
    pulse = 0.5 + 0.5 * (np.sin(2 * np.pi * 2 * t) > 0)
    noise = rng.standard_normal(t.size) * 0.05 * pulse
    mono = tone / 2.5 * pulse + noise
    mono = amplitude * mono / max(1e-9, np.abs(mono).max())
    spread = np.stack([mono * (1 - 0.1 * c) for c in range(channels)], axis=1)
    return spread.astype(np.float32)


def write_audio(path: Path, data: np.ndarray, sr: int, **soundfile_kwargs) -> Path:
    """Write ``data`` (frames, channels) in the format the file extension names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix[1:].lower()
    if ext in PYAV_FORMATS or ext in COLLECTION_FORMATS:
        _write_pyav(path, data, sr, *{**PYAV_FORMATS, **COLLECTION_FORMATS}[ext])
    else:
        kwargs = {**SOUNDFILE_FORMATS.get(ext, {}), **soundfile_kwargs}
        if kwargs.get("subtype") == "OPUS" and sr not in (8000, 12000, 16000, 24000, 48000):
            raise ValueError("Opus needs 8, 12, 16, 24 or 48 kHz")
        sf.write(str(path), data, sr, **kwargs)
    return path


def _write_pyav(path: Path, data: np.ndarray, sr: int, container_format: str,
                codec: str) -> None:
    channels = data.shape[1]
    layout = {1: "mono", 2: "stereo"}[channels]
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=sr, layout=layout)
        stream.bit_rate = 128000  # wmav2 refuses to open without one
        stream.codec_context.open()
        planar = np.ascontiguousarray(data.T.astype(np.float32))
        step = stream.codec_context.frame_size or 1024
        # the sample format the encoder takes (FLAC, WavPack, TTA want integers)
        convert = av.AudioResampler(format=stream.codec_context.format, layout=layout, rate=sr)
        for start in range(0, planar.shape[1], step):
            frame = av.AudioFrame.from_ndarray(planar[:, start:start + step], format="fltp",
                                               layout=layout)
            frame.sample_rate = sr
            for converted in convert.resample(frame):
                for packet in stream.encode(converted):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


ALL_FORMATS = [*SOUNDFILE_FORMATS, *PYAV_FORMATS]


def library(root: Path, seconds: float = 4.0) -> dict[str, Path]:
    """One short track in every supported format, under nested folders."""
    files = {}
    for i, ext in enumerate(ALL_FORMATS):
        sr = 48000 if ext == "opus" else 22050
        files[ext] = write_audio(root / f"album{i % 2}" / f"track{i}.{ext}",
                                 chord_track(seconds, sr, seed=i), sr)
    return files
