"""Seeking decode: a capped track decodes only the stretches its windows read, and those
windows equal a whole decode's; files that cannot be sought to the sample, or that hold less
than their header says, are decoded whole instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio import _write_pyav, chord_track, write_audio
from mgc_model.frontend import FrontendConfig, WindowCutter
from mgc_model.yamnet import FRONTEND as YAMNET
from pipelines.audio.decode import AudioReader, DecodeError, SeekFailed, mono_blocks
from pipelines.audio.windows import PatchStream

FRONTENDS = (FrontendConfig(), YAMNET)  # the default model's: musicnn's, then YAMNet's
SECONDS = 24.0
# Largest |log-mel difference| allowed between a seeking and a whole decode's windows, in each
# front-end's own units (log10(1 + 10000 mel) for musicnn, log(mel + 0.001) for YAMNet). The
# decoders deliver the very same samples after a seek; what differs is float rounding in the
# resampler's restart and in the FFT and mel matmul over differently sized blocks (measured
# up to 2.3e-5).
TOLERANCE = 1e-4


def write_long(path: Path, sr: int) -> Path:
    """``SECONDS`` of music-like stereo, written a second at a time (libvorbis crashes on a
    minute written at once)."""
    data = chord_track(SECONDS, sr, seed=3)
    if path.suffix == ".m4a":  # ALAC: lossless, so FFmpeg seeks it to the sample
        _write_pyav(path, data, sr, "ipod", "alac")
        return path
    kwargs = {"flac": {}, "wav": {}, "mp3": {"format": "MP3"},
              "ogg": {"format": "OGG", "subtype": "VORBIS"},
              "opus": {"format": "OGG", "subtype": "OPUS"}}[path.suffix[1:]]
    with sf.SoundFile(str(path), "w", sr, 2, **kwargs) as f:
        for start in range(0, len(data), sr):
            f.write(data[start:start + sr])
    return path


def windows(path: Path, max_patches: int | None, seek: bool) -> tuple[PatchStream, list]:
    stream = PatchStream(FRONTENDS, None, max_patches, seek=seek)
    return stream, list(stream.patches(str(path)))


def largest_difference(a: list, b: list) -> float:
    assert len(a) == len(b)
    return max(float(np.abs(x - y).max()) for wa, wb in zip(a, b, strict=True)
               for x, y in zip(wa, wb, strict=True))


@pytest.mark.parametrize("ext,sr", [("flac", 44100), ("ogg", 44100), ("mp3", 44100),
                                    ("opus", 48000), ("wav", 22050), ("m4a", 44100)])
def test_capped_windows_from_seeking_equal_a_whole_decode(tmp_path, ext, sr):
    path = write_long(tmp_path / f"track.{ext}", sr)
    seeking, fast = windows(path, 3, seek=True)
    whole, slow = windows(path, 3, seek=False)
    assert seeking.seeked and seeking.fallback is None and not whole.seeked
    assert len(fast) == len(slow) == 3
    assert largest_difference(fast, slow) <= TOLERANCE
    # only the stretches the three windows read were decoded, not the 24 s
    assert seeking.decoded_frames < 0.5 * whole.decoded_frames
    assert seeking.duration_s == pytest.approx(whole.duration_s, abs=0.01)


def test_regions_cover_every_window_and_skipping_the_rest_changes_none():
    """The front-end alone: audio outside ``regions`` replaced by ``skip`` gives the same
    windows, each front-end's, as the whole signal pushed through."""
    n = 16000 * 40 + 77
    y = (np.random.default_rng(1).standard_normal(n) * 0.1).astype(np.float32)
    whole = WindowCutter(FRONTENDS, n / 16000, None, 8)
    expected = [w for i in range(0, n, 7001) for w in whole.push(y[i:i + 7001])]
    expected += list(whole.finish())
    cutter = WindowCutter(FRONTENDS, n / 16000, None, 8)
    regions = cutter.regions()
    assert sum(b - a for a, b in regions) < 0.75 * n  # 8 windows of 3 s in 40 s, merged
    got, position = [], 0
    for a, b in regions:
        got += cutter.skip(a - position)
        got += cutter.push(y[a:b])
        position = min(b, n)
    got += cutter.finish()
    assert largest_difference(got, expected) <= 1e-5
    assert WindowCutter(FRONTENDS, 20.0, None, 8).regions() is None  # 6 windows: not capped


def strip_xing_frame(mp3: bytes) -> bytes:
    """The MP3 without its first frame, the Xing header that holds its frame count."""
    header = int.from_bytes(mp3[:4], "big")
    assert header >> 21 == 0x7FF and mp3.find(b"Xing") < 64
    bitrate = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)[
        (header >> 12) & 0xF] * 1000
    rate = (44100, 48000, 32000)[(header >> 10) & 3]
    return mp3[144 * bitrate // rate + ((header >> 9) & 1):]


def test_an_mp3_without_a_xing_header_is_decoded_whole_by_ffmpeg(tmp_path):
    """Without its frame count libsndfile guesses the length from the first frame and stops
    there; FFmpeg reads to the end. Such a file is not sought either: windows as uncapped."""
    good = write_long(tmp_path / "good.mp3", 44100)
    path = tmp_path / "no-xing.mp3"
    path.write_bytes(strip_xing_frame(good.read_bytes()))
    with AudioReader(str(path)) as reader:
        assert reader.info.decoder == "pyav" and not reader.info.seekable
        audio = np.concatenate(list(mono_blocks(reader, 16000)))
    assert audio.size / 16000 == pytest.approx(SECONDS, abs=0.2)  # all of it, not a guess
    capped, fast = windows(path, 3, seek=True)
    _, slow = windows(path, 3, seek=False)
    assert not capped.seeked and capped.fallback is None
    assert len(fast) == 3 and largest_difference(fast, slow) == 0.0


def test_a_file_shorter_than_its_header_falls_back_to_the_whole_decode(tmp_path):
    """A truncated FLAC announces 24 s: the seek past its end fails, and the whole decode
    reports the file as today, an error row with the same message."""
    whole = write_long(tmp_path / "whole.flac", 44100).read_bytes()
    path = tmp_path / "cut.flac"
    path.write_bytes(whole[: int(len(whole) * 0.7)])
    capped = PatchStream(FRONTENDS, None, 3)
    with pytest.raises(DecodeError) as seeking:
        list(capped.patches(str(path)))
    assert capped.fallback is not None and not capped.seeked
    with pytest.raises(DecodeError) as decoding:
        list(PatchStream(FRONTENDS, None, 3, seek=False).patches(str(path)))
    assert str(seeking.value) == str(decoding.value)


def test_a_seek_past_the_end_raises_seek_failed(tmp_path):
    path = write_audio(tmp_path / "short.flac", chord_track(2.0, 16000), 16000)
    with AudioReader(str(path)) as reader, pytest.raises(SeekFailed, match="ended at"):
        list(reader.span_blocks([(0, 1000), (16000, 16000 * 3)]))


@pytest.mark.timeout(60)
def test_a_seeking_decode_that_stalls_is_given_up(tmp_path, monkeypatch):
    """The watchdog covers the seeking reads as it covers the whole decode's."""
    import threading

    release = threading.Event()

    def stalls(self, start, stop, size):
        yield np.zeros((1000, 2), np.float32)
        release.wait(30)

    monkeypatch.setattr(AudioReader, "_sf_span", stalls)
    path = write_long(tmp_path / "a.flac", 44100)
    with AudioReader(str(path), stall_seconds=0.5) as reader:
        blocks = reader.span_blocks([(0, 44100), (441000, 441000 + 44100)])
        assert next(blocks)[1].shape == (1000, 2)
        with pytest.raises(DecodeError, match="no progress decoding for 0.5 s"):
            next(blocks)
    release.set()
