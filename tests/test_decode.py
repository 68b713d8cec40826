"""Decoding: every format, odd but valid audio, every kind of broken file, bounded memory."""

import os
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from audio import ALL_FORMATS, chord_track, write_audio
from pipelines.audio.decode import AudioReader, DecodeError, mono_blocks


def decode(path) -> tuple:
    with AudioReader(str(path)) as reader:
        audio = np.concatenate(list(mono_blocks(reader, 16000)) or [np.zeros(0, np.float32)])
        return reader.info, audio


@pytest.mark.parametrize("ext", ALL_FORMATS)
def test_every_format_decodes_to_16k_mono(tmp_path, ext):
    sr = 48000 if ext == "opus" else 44100
    path = write_audio(tmp_path / f"x.{ext}", chord_track(3.0, sr), sr)
    info, audio = decode(path)
    assert info.channels == 2 and info.sample_rate == sr
    assert audio.dtype == np.float32
    assert abs(audio.size / 16000 - 3.0) < 0.1  # codecs add or trim a few ms
    assert 0.05 < np.abs(audio).max() < 1.0


@pytest.mark.parametrize(
    "name,data,sr,kwargs",
    [
        ("8k mono.wav", chord_track(2.0, 8000, channels=1), 8000, {}),
        ("hi-res.flac", chord_track(2.0, 96000), 96000, {"subtype": "PCM_24"}),
        ("surround.wav", chord_track(2.0, 48000, channels=6), 48000, {}),
        ("half second.ogg", chord_track(0.5, 44100), 44100, {}),
        ("ünïcødé ♫ 音楽.mp3", chord_track(2.0, 44100), 44100, {}),
        ("float.wav", chord_track(2.0, 44100), 44100, {"subtype": "FLOAT"}),
    ],
)
def test_odd_but_valid_audio(tmp_path, name, data, sr, kwargs):
    info, audio = decode(write_audio(tmp_path / name, data, sr, **kwargs))
    assert info.channels == data.shape[1] and info.sample_rate == sr
    assert abs(audio.size - data.shape[0] * 16000 / sr) < 0.05 * 16000
    assert np.isfinite(audio).all()


def test_silence_decodes_to_zeros(tmp_path):
    path = write_audio(tmp_path / "silence.flac", np.zeros((16000 * 600, 1), np.float32), 16000)
    info, audio = decode(path)
    assert audio.size == 16000 * 600 and not audio.any()


def test_nan_samples_are_refused(tmp_path):
    data = chord_track(2.0, 16000, channels=1)
    data[12345] = np.nan
    path = write_audio(tmp_path / "nan.wav", data, 16000, subtype="FLOAT")
    with pytest.raises(DecodeError, match="non-finite"):
        decode(path)


def broken_files(root):
    good = write_audio(root / "good.mp3", chord_track(6.0, 44100), 44100)
    blob = good.read_bytes()
    (root / "zero.mp3").write_bytes(b"")
    (root / "truncated.mp3").write_bytes(blob[: len(blob) // 2])
    flac = write_audio(root / "full.flac", chord_track(6.0, 44100), 44100).read_bytes()
    (root / "truncated.flac").write_bytes(flac[: len(flac) // 2])
    (root / "random.mp3").write_bytes(np.random.default_rng(0).bytes(50_000))
    (root / "notes.ogg").write_text("these are not the sounds you are looking for\n" * 50)
    (root / "header-only.wav").write_bytes(_wav_header_claiming(16000 * 5))
    os.symlink(root / "gone.mp3", root / "dangling.mp3")
    return {p: root / p for p in ("zero.mp3", "truncated.mp3", "truncated.flac", "random.mp3",
                                  "notes.ogg", "header-only.wav", "dangling.mp3")}


def _wav_header_claiming(frames: int) -> bytes:
    import struct

    data_bytes = frames * 2
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
            + b"data" + struct.pack("<I", data_bytes) + b"\x00" * 100)


def test_every_broken_file_is_a_decode_error(tmp_path):
    for name, path in broken_files(tmp_path).items():
        with pytest.raises(DecodeError) as caught:
            decode(path)
        assert str(caught.value), name


def test_error_messages_say_what_is_wrong(tmp_path):
    files = broken_files(tmp_path)
    with pytest.raises(DecodeError, match="empty file"):
        decode(files["zero.mp3"])
    with pytest.raises(DecodeError, match="truncated"):
        decode(files["truncated.mp3"])
    with pytest.raises(DecodeError, match="not readable as audio"):
        decode(files["notes.ogg"])


def test_memory_does_not_grow_with_track_length(tmp_path):
    """A one-hour file decodes holding a block at a time, not the hour (which is 230 MB as
    16 kHz float32, 1.2 GB as 44.1 kHz stereo float64)."""
    path = tmp_path / "hour.flac"
    sr = 22050
    with sf.SoundFile(str(path), "w", sr, 2, subtype="PCM_16") as f:
        minute = chord_track(60.0, sr)
        for _ in range(60):
            f.write(minute)
    tracemalloc.start()
    try:
        with AudioReader(str(path)) as reader:
            samples = sum(block.size for block in mono_blocks(reader, 16000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert samples == 16000 * 3600
    assert peak < 30e6, f"decoding peaked at {peak / 1e6:.0f} MB"


@pytest.mark.timeout(60)
def test_a_file_that_is_not_regular_is_refused_without_reading(tmp_path):
    os.mkfifo(tmp_path / "fifo.mp3")
    with pytest.raises(DecodeError, match=r"named pipe \(FIFO\), not a regular file"):
        decode(tmp_path / "fifo.mp3")


@pytest.mark.timeout(60)
def test_a_stalled_open_is_given_up(tmp_path, monkeypatch):
    """A FIFO past the regular-file check stands for a hung mount: opening it blocks."""
    import pipelines.audio.decode as decode_module

    monkeypatch.setattr(decode_module, "refusal", lambda path: None)
    fifo = tmp_path / "fifo.mp3"
    os.mkfifo(fifo)
    with pytest.raises(DecodeError, match="no progress opening the file for 0.5 s"):
        AudioReader(str(fifo), stall_seconds=0.5)
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # lets the stuck thread end


@pytest.mark.timeout(60)
def test_a_decode_that_stops_making_progress_is_given_up(tmp_path, monkeypatch):
    import threading

    release = threading.Event()

    def stalls(self):
        yield np.zeros((1000, 1), np.float32)
        release.wait(30)  # a decoder caught in a loop

    monkeypatch.setattr(AudioReader, "_read", stalls)
    path = write_audio(tmp_path / "a.wav", chord_track(1.0, 16000), 16000)
    with AudioReader(str(path), stall_seconds=0.5) as reader:
        blocks = reader.blocks()
        assert next(blocks).shape == (1000, 1)
        with pytest.raises(DecodeError, match="no progress decoding for 0.5 s"):
            next(blocks)
    release.set()


@pytest.mark.timeout(60)
def test_a_file_decoding_to_far_more_audio_than_its_size_is_refused(tmp_path, monkeypatch):
    from pipelines.audio.decode import MAX_FRAMES_PER_BYTE

    def endless(self):
        while True:  # a decoder bomb: ever more audio out of a few bytes
            yield np.zeros((160_000, 1), np.float32)

    monkeypatch.setattr(AudioReader, "_read", endless)
    path = write_audio(tmp_path / "a.wav", chord_track(0.1, 16000), 16000)
    with pytest.raises(DecodeError, match="far more audio than a file of"):
        decode(path)
    assert os.path.getsize(path) * MAX_FRAMES_PER_BYTE < 10**8  # the cap held it to that


@pytest.mark.parametrize("ext", ["flac", "ogg", "opus"])
def test_silence_the_best_compressed_audio_stays_far_under_the_cap(tmp_path, ext):
    from pipelines.audio.decode import MAX_FRAMES_PER_BYTE

    sr = 48000 if ext == "opus" else 44100
    path = tmp_path / f"silence.{ext}"
    subtype = {"flac": "PCM_16", "ogg": "VORBIS", "opus": "OPUS"}[ext]
    fmt = "FLAC" if ext == "flac" else "OGG"
    with sf.SoundFile(str(path), "w", sr, 1, format=fmt, subtype=subtype) as f:
        for _ in range(60):  # one second at a time: libvorbis crashes on a minute at once
            f.write(np.zeros(sr, np.float32))
    frames = sf.info(str(path)).frames
    assert frames / os.path.getsize(path) < MAX_FRAMES_PER_BYTE / 10
    assert decode(path)[1].size > 0
