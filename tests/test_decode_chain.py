"""Decoders in a chain (issue 22): a file libsndfile loses sync in is decoded on by FFmpeg from
where libsndfile stopped; FFmpeg skips and counts a few packets it cannot decode, as the
``ffmpeg`` command does; a file that both refuse is an error row naming both failures.

The damaged files are made here: a track written by the project's generators, with a few
bytes in the middle of it overwritten by noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import pipelines.audio.decode as decode_module
from audio import chord_track, write_audio
from mgc_model.frontend import FrontendConfig
from pipelines.audio.decode import AudioReader, DecodeError, SeekFailed, mono_blocks, mono_spans
from pipelines.audio.windows import PatchStream

pytestmark = pytest.mark.timeout(60)

SECONDS = 6.0
SR = 44100


def damaged(tmp_path: Path, ext: str, at: list[float], n: int, seconds: float = SECONDS
            ) -> tuple[Path, Path]:
    """A good track and a copy with ``n`` bytes of noise written at each fraction ``at`` of
    its length."""
    good = write_audio(tmp_path / f"good.{ext}", chord_track(seconds, SR), SR)
    blob = bytearray(good.read_bytes())
    for i, fraction in enumerate(at):
        offset = int(len(blob) * fraction)
        blob[offset:offset + n] = np.random.default_rng(i).bytes(n)
    path = tmp_path / f"damaged.{ext}"
    path.write_bytes(bytes(blob))
    return good, path


def decoded_seconds(path: Path) -> tuple[AudioReader, float]:
    with AudioReader(str(path)) as reader:
        samples = sum(block.size for block in mono_blocks(reader, 16000))
    return reader, samples / 16000


def test_a_flac_libsndfile_loses_sync_in_is_decoded_on_by_ffmpeg_nothing_repeated(
        tmp_path, monkeypatch):
    """libsndfile hands over two 1 s blocks, then fails in the third; FFmpeg decodes the file
    from its start and hands over only what follows. FLAC is lossless: the output is the
    original sample for sample, less the one damaged frame FFmpeg drops."""
    monkeypatch.setattr(decode_module, "BLOCK_SECONDS", 1.0)
    good, path = damaged(tmp_path, "flac", [0.5], 64)
    reference = sf.read(str(good), dtype="float32", always_2d=True)[0]
    with sf.SoundFile(str(path)) as broken, pytest.raises(sf.LibsndfileError):
        broken.read(dtype="float32")  # libsndfile alone gives up on it
    with AudioReader(str(path)) as reader:
        blocks = list(reader.blocks())
    audio = np.concatenate(blocks)
    assert reader.fallback.startswith("libsndfile stopped at 2.0 s (")
    assert reader.skipped_packets == 0
    assert audio.shape[1] == 2
    lost = len(reference) - len(audio)
    assert 0 <= lost <= 4608  # one FLAC frame at most (libsndfile writes 4096-frame ones)
    head = int(2.0 * SR)  # what libsndfile delivered, then FFmpeg's up to the damage
    assert np.array_equal(audio[:head], reference[:head])
    tail = len(reference) // 3  # after the damaged frame, the very same samples
    assert np.array_equal(audio[-tail:], reference[-tail:])


def test_an_mp3_libsndfile_gives_up_on_decodes_whole_with_the_bad_packet_skipped(tmp_path):
    _, path = damaged(tmp_path, "mp3", [0.5], 2000)
    reader, seconds = decoded_seconds(path)
    assert reader.info.decoder == "soundfile"
    assert reader.fallback.startswith("libsndfile stopped at 0.0 s (")
    assert 1 <= reader.skipped_packets <= 3
    assert seconds == pytest.approx(SECONDS, abs=0.3)


def test_an_mp3_libsndfile_stops_short_in_quietly_is_decoded_on_by_ffmpeg(tmp_path):
    """libsndfile's MP3 decoder ends without an error where it loses sync (here at 2.9 s of
    6): short of its own header's length, the decode goes on with FFmpeg."""
    _, path = damaged(tmp_path, "mp3", [0.5], 64)
    with sf.SoundFile(str(path)) as alone:
        assert len(alone.read(dtype="float32")) < alone.frames * 0.6
    reader, seconds = decoded_seconds(path)
    assert reader.fallback.endswith("of the 6.0 s its header announces")
    assert seconds == pytest.approx(SECONDS, abs=0.3)
    assert 1 <= reader.skipped_packets <= 3


def test_a_few_bad_packets_are_skipped_and_counted(tmp_path):
    """An AAC that only FFmpeg reads, with three packets damaged: decoded whole, as by the
    ``ffmpeg`` command, and the skipped packets counted."""
    _, path = damaged(tmp_path, "m4a", [0.3, 0.5, 0.7], 32)
    reader, seconds = decoded_seconds(path)
    assert reader.info.decoder == "pyav" and reader.fallback is None
    assert 1 <= reader.skipped_packets <= 3
    assert seconds == pytest.approx(SECONDS, abs=0.2)


def test_a_file_of_many_bad_packets_is_an_error_row_saying_how_many(tmp_path):
    _, path = damaged(tmp_path, "m4a", [0.2 + 0.6 * i / 30 for i in range(30)], 32)
    with pytest.raises(DecodeError, match=r"^\d+ of the first \d+ packets do not decode "
                                          r"\(the first: Invalid data found when processing "
                                          r"input\), by \d+\.\d s: the file is damaged"):
        decoded_seconds(path)


def test_when_both_decoders_fail_the_message_names_both(tmp_path, monkeypatch):
    monkeypatch.setattr(decode_module, "MAX_BAD_PACKETS", 0)  # FFmpeg may skip none
    monkeypatch.setattr(decode_module, "MAX_BAD_FRACTION", 0.0)
    _, path = damaged(tmp_path, "mp3", [0.5], 2000)
    with pytest.raises(DecodeError) as caught:
        decoded_seconds(path)
    message = str(caught.value)
    assert message.startswith("libsndfile stopped at 0.0 s (")
    assert "; FFmpeg: 1 of the first " in message and "packets do not decode" in message


@pytest.mark.parametrize("content", [b"these are not the sounds you are looking for\n" * 50,
                                     np.random.default_rng(0).bytes(50_000)])
def test_a_file_neither_decoder_opens_names_both(tmp_path, content):
    path = tmp_path / "x.ogg"
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=r"^not readable as audio by libsndfile \(.+\) nor "
                                          r"FFmpeg \(.+\): the file is damaged or not audio; "
                                          r"check that it plays$"):
        decoded_seconds(path)


def test_a_truncated_file_is_still_an_error_row_after_both_decoders_tried(tmp_path):
    """Cut in half, a FLAC makes libsndfile lose sync, and FFmpeg decodes the half there is:
    the row says truncated, as before the chain."""
    good = write_audio(tmp_path / "good.flac", chord_track(SECONDS, SR), SR)
    path = tmp_path / "cut.flac"
    path.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(DecodeError,
                       match=r"^truncated: the header says 6\.0 s, only [23]\.\d s decode, "
                             r"by FFmpeg after libsndfile stopped at 0\.0 s \(.+\)$"):
        decoded_seconds(path)


def test_a_seek_into_the_damage_falls_back_to_the_whole_chained_decode(tmp_path):
    """A seeking decode does not chain: across the damage it raises ``SeekFailed``, and a
    capped track is then decoded whole, libsndfile then FFmpeg."""
    _, path = damaged(tmp_path, "flac", [0.5], 64, seconds=24.0)
    with AudioReader(str(path)) as reader, pytest.raises(SeekFailed):
        list(mono_spans(reader, 16000, [(16000 * 11, 16000 * 13)]))
    stream = PatchStream((FrontendConfig(),), None, 3)
    assert len(list(stream.patches(str(path)))) == 3
    assert not stream.seeked and stream.fallback is not None
    assert stream.decoder_fallback.startswith("libsndfile stopped at 10.0 s (")
    assert stream.duration_s == pytest.approx(24.0, abs=0.2)


def test_the_tag_row_of_a_file_with_skipped_packets_counts_them(tmp_path):
    """What a user sees: the track is tagged and its row says how many packets were skipped
    (run.json's ``damaged`` sums them, the summary names them)."""
    from mgc_model import registry
    from pipelines.graph.steps import TRACKS, DecodeToPatches

    _, path = damaged(tmp_path, "m4a", [0.3, 0.5, 0.7], 32)
    info = registry.describe(registry.DEFAULT_MODEL)
    out = list(DecodeToPatches(info.frontends, max_patches=2).process(str(path)))
    tracks = [o.value[1] for o in out if getattr(o, "tag", None) == TRACKS]
    assert len(tracks) == 1 and 1 <= tracks[0].damaged_packets <= 3
