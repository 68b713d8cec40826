"""``mgc tag`` end to end on a generated library: good files in every format, odd but valid
audio, and every kind of broken file. One run, many checks a user would make."""

import functools
import hashlib
import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline

from audio import chord_track, library, write_audio
from mgc_model import registry
from mgc_model.genres import FMA_GENRES
from pipelines.graph import publish
from pipelines.graph.publish import read_tags
from pipelines.graph.tag import TagOptions, build_tag_pipeline, run_tag
from schemas.parquet import ERRORS_SCHEMA, genre_labels
from test_decode import broken_files
from test_matching import special_files

# A FIFO in the library once made a run wait forever: a regression must fail, not hang CI.
pytestmark = pytest.mark.timeout(420)

BAD_STAGES = {
    "zero.mp3": "decode", "truncated.mp3": "decode", "truncated.flac": "decode",
    "random.mp3": "decode", "notes.ogg": "decode", "header-only.wav": "decode",
    "dangling.mp3": "match", "nan.wav": "decode", "fifo.mp3": "match", "socket.ogg": "match",
    "zero-device.wav": "match", "urandom.wav": "match", "folder-link.flac": "match",
}


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    root = tmp_path_factory.mktemp("collection")
    good = {str(p) for p in library(root / "formats", seconds=4.0).values()}
    odd = {
        "8k.wav": (chord_track(2.0, 8000, channels=1), 8000, {}),
        "hires.flac": (chord_track(2.0, 96000), 96000, {"subtype": "PCM_24"}),
        "surround.wav": (chord_track(4.0, 48000, channels=6), 48000, {}),
        "clip.ogg": (chord_track(0.5, 44100), 44100, {}),
        "silence.flac": (np.zeros((16000 * 600, 1), np.float32), 16000, {}),
        "Ünïcødé ♫ 音楽.mp3": (chord_track(4.0, 44100), 44100, {}),
        "long.flac": (chord_track(60.0, 16000, channels=1), 16000, {}),
    }
    for name, (data, sr, kwargs) in odd.items():
        good.add(str(write_audio(root / "odd" / name, data, sr, **kwargs)))
    bad_dir = root / "bad"
    bad_dir.mkdir()
    bad = {str(p) for p in broken_files(bad_dir).values()}
    bad |= {str(bad_dir / name) for name in special_files(bad_dir)}
    for helper in ("good.mp3", "full.flac"):  # broken_files' sources are valid tracks
        good.add(str(bad_dir / helper))
    nan = chord_track(2.0, 16000, channels=1)
    nan[100] = np.nan
    bad.add(str(write_audio(bad_dir / "nan.wav", nan, 16000, subtype="FLOAT")))
    (root / "odd" / "cover.jpg").write_bytes(b"\xff\xd8 not audio, not listed")
    return root, good, bad


@pytest.fixture(scope="module")
def tagged(collection, tmp_path_factory):
    root, good, bad = collection
    out = tmp_path_factory.mktemp("out")
    summary = run_tag([str(root)], str(out), TagOptions(max_patches=12))
    return out, summary


def tags_frame(out) -> pd.DataFrame:
    return pd.read_parquet(out / "tags")


def test_every_good_file_is_tagged_and_every_bad_one_is_an_error_row(collection, tagged):
    _, good, bad = collection
    out, _ = tagged
    tags = tags_frame(out)
    errors = pd.read_parquet(out / "errors")
    assert set(tags.path) == good
    assert set(errors.path) == bad
    stages = {os.path.basename(p): s for p, s in zip(errors.path, errors.stage, strict=True)}
    assert stages == BAD_STAGES
    assert (errors.message.str.len() > 0).all() and (errors.error.str.len() > 0).all()


def test_run_json_counts_what_was_written(collection, tagged):
    _, good, bad = collection
    out, summary = tagged
    run = json.loads((out / "run.json").read_text())
    assert {k: run[k] for k in ("seen", "tagged", "skipped", "failed")} == {
        "seen": len(good) + len(bad), "tagged": len(good), "skipped": 0, "failed": len(bad)}
    assert run["model"] == registry.describe(registry.DEFAULT_MODEL).ref
    assert run["runner"] == "DirectRunner" and run["wall_time_s"] > 0
    assert not [p for p in os.listdir(out) if p.startswith(".staging")]


def test_tags_schema_and_values(tagged):
    out, _ = tagged
    dataset = read_tags(str(out))
    schema = dataset.schema
    assert genre_labels(schema) == FMA_GENRES
    assert schema.field("embedding").type == pa.list_(pa.float32())
    assert schema.field("genres").type.value_type == pa.struct(
        [("name", pa.string()), ("score", pa.float32())])
    tags = dataset.to_table().to_pandas()
    for row in tags.itertuples():
        scores = np.asarray(row.genre_scores)
        assert scores.shape == (16,) and np.isfinite(scores).all()
        assert abs(scores.sum() - 1) < 1e-4
        assert row.genre == FMA_GENRES[int(np.argmax(scores))]
        assert row.genre_score == pytest.approx(scores.max())
        listed = list(row.genres)
        assert 1 <= len(listed) <= 3 and listed[0]["name"] == row.genre
        assert [g["score"] for g in listed] == sorted((g["score"] for g in listed), reverse=True)
        assert all(g["score"] >= 0.1 for g in listed[1:])
        embedding = np.asarray(row.embedding)
        assert embedding.shape == (400,) and np.isfinite(embedding).all()
        assert row.track_id == hashlib.sha1(row.path.encode()).hexdigest()[:16]
        assert row.model.startswith(f"{registry.DEFAULT_MODEL}@")


def test_durations_channels_and_patches(tagged):
    out, _ = tagged
    tags = tags_frame(out).set_index(tags_frame(out).path.map(os.path.basename))
    assert tags.loc["8k.wav", ["sample_rate", "channels"]].tolist() == [8000, 1]
    assert tags.loc["hires.flac", "sample_rate"] == 96000
    assert tags.loc["surround.wav", "channels"] == 6
    assert tags.loc["clip.ogg", "n_patches"] == 1  # repeat-padded to one patch
    assert tags.loc["clip.ogg", "duration_s"] == pytest.approx(0.5, abs=0.02)
    assert tags.loc["silence.flac", "duration_s"] == pytest.approx(600)
    assert tags.loc["silence.flac", "n_patches"] == 12  # --max-patches caps it
    assert tags.loc["long.flac", "n_patches"] == 12
    assert tags.loc["Ünïcødé ♫ 音楽.mp3", "duration_s"] == pytest.approx(4.0, abs=0.05)


def test_batching_across_tracks_does_not_change_a_track_s_scores(collection, tmp_path):
    root, _, _ = collection
    files = [str(root / "odd" / "long.flac"), str(root / "formats")]
    one = run_tag(files, str(tmp_path / "b1"), TagOptions(batch_size=1, max_patches=12))
    big = run_tag(files, str(tmp_path / "b64"), TagOptions(batch_size=64, max_patches=12))
    a = tags_frame(tmp_path / "b1").set_index("path").sort_index()
    b = tags_frame(tmp_path / "b64").set_index("path").sort_index()
    assert one.tagged == big.tagged == len(a) > 1
    np.testing.assert_allclose(np.stack(a.genre_scores), np.stack(b.genre_scores), atol=1e-5)
    np.testing.assert_allclose(np.stack(a.embedding), np.stack(b.embedding), atol=1e-4)


def test_rerun_replaces_previous_output(collection, tmp_path):
    root, _, _ = collection
    target = str(root / "formats")
    run_tag([target], str(tmp_path), TagOptions())
    first = tags_frame(tmp_path)
    run_tag([target, target], str(tmp_path), TagOptions())  # named twice: tagged once
    second = tags_frame(tmp_path)
    assert len(second) == len(first) == len(set(second.path))
    np.testing.assert_allclose(np.stack(first.sort_values("path").genre_scores),
                               np.stack(second.sort_values("path").genre_scores), atol=1e-6)


def test_fsspec_input(tmp_path):
    import fsspec

    fs = fsspec.filesystem("memory")
    local = write_audio(tmp_path / "song.flac", chord_track(4.0, 22050), 22050)
    fs.pipe("/bucket/music/song.flac", local.read_bytes())
    fs.pipe("/bucket/music/broken.mp3", b"ID3 nothing else")
    summary = run_tag(["memory://bucket/music"], str(tmp_path / "out"), TagOptions())
    assert (summary.tagged, summary.failed) == (1, 1)
    table = read_tags(str(tmp_path / "out")).to_table()
    assert table["path"].to_pylist()[0].startswith("memory://")


def test_graph_publishes_itself_on_beams_test_pipeline(collection, tmp_path):
    """The job's own last step publishes: nothing runs after the pipeline here."""
    root, _, _ = collection
    info = registry.describe(registry.DEFAULT_MODEL)
    out = str(tmp_path / "out")
    staging = publish.staging_dir(out, "test")
    run = {"run_id": "test", "started_at": "2026-11-21T00:00:00+00:00"}
    with BeamTestPipeline() as p:
        written = build_tag_pipeline(p, [str(root / "formats")], staging, TagOptions(), info)
        tuple(written) | publish.PublishWhenWritten(
            functools.partial(publish.publish_tags, staging, out, run, info))
    record = publish.read_record(out, publish.RUN_FILE, "test")
    assert record["tagged"] == 8 and record["failed"] == 0
    errors = ds.dataset(tmp_path / "out" / "errors").to_table()
    assert errors.num_rows == 0 and errors.schema.equals(ERRORS_SCHEMA)
    assert sorted(os.listdir(out)) == ["errors", "run.json", "tags"]  # staging removed
