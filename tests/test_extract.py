"""``mgc extract`` as a researcher meets it: FMA's broken tracks become error rows, the
TFRecords hold exactly the front-end of the decoded audio, splits never share a track or an
artist, other layouts work, and bad input is refused with a message."""

import json
from collections import defaultdict

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import soxr

from audio import chord_track, write_audio
from fma_fixture import DATASET_HOP_SECONDS, make_labelled_folder
from mgc_model.features import FEATURE_NAMES
from mgc_model.frontend import FrontendConfig, log_mel, patches
from pipelines.audio.decode import AudioReader
from pipelines.graph.extract import ExtractOptions, ExtractTrack, PatchRecord, run_extract
from pipelines.graph.sources import LabelledTrack, folder_source
from schemas import tfrecord
from schemas.parquet import feature_names

CFG = FrontendConfig()


def read_records(data_dir) -> list[dict]:
    """Every Example of every split, through tf.data and the schema's parse function."""
    import tensorflow as tf

    records = []
    for split in tfrecord.SPLITS:
        files = tf.io.gfile.glob(tfrecord.shard_pattern(str(data_dir), split))
        assert files, f"no {split} shard"
        dataset = tf.data.TFRecordDataset(files).map(lambda x: tfrecord.parse_example(x, CFG))
        for example in dataset.as_numpy_iterator():
            records.append({**example, "file_split": split,
                            "track_id": example["track_id"].decode(),
                            "split": example["split"].decode()})
    return records


def tracks_table(data_dir):
    return ds.dataset(str(data_dir / "tracks"), format="parquet").to_table()


def test_broken_fma_tracks_are_error_rows_and_the_rest_is_extracted(fma_fixture, fma_dataset):
    errors = pq.read_table(fma_dataset / "errors").to_pylist()
    by_path = {row["path"]: row for row in errors}
    missing = str(fma_fixture.audio_path(fma_fixture.missing_ids[0]))
    empty = str(fma_fixture.audio_path(fma_fixture.empty_ids[0]))
    assert set(by_path) == {missing, empty}
    assert by_path[missing]["stage"] == "match" and "does not exist" in by_path[missing]["message"]
    assert by_path[empty]["stage"] == "decode" and "empty file" in by_path[empty]["message"]

    run = json.loads((fma_dataset / "extract.json").read_text())
    assert (run["listed"], run["extracted"], run["failed"]) == (
        len(fma_fixture.ids()) + 2, len(fma_fixture.ids()), 2)
    assert run["skipped"] == {"no_genre_top": 1}
    assert run["failures_by_stage"] == {"match": 1, "decode": 1}
    for split in tfrecord.SPLITS:
        assert run["splits"][split]["tracks"] == len(fma_fixture.ids(split))
        assert run["label_counts"][split] == {g: len(fma_fixture.ids(split)) // 4
                                              for g in fma_fixture.genres}
    assert not list(fma_dataset.glob(".staging-*"))


def test_labels_frontend_and_tracks_table(fma_fixture, fma_dataset):
    labels = json.loads((fma_dataset / "labels.json").read_text())
    assert labels["labels"] == list(fma_fixture.genres)
    assert (labels["multi_label"], labels["source"], labels["subset"]) == (False, "fma", "medium")
    assert json.loads((fma_dataset / "frontend.json").read_text()) == CFG.to_dict()

    table = tracks_table(fma_dataset)
    assert feature_names(table.schema) == list(FEATURE_NAMES)
    rows = {r["track_id"]: r for r in table.to_pylist()}
    assert sorted(rows) == fma_fixture.ids()
    for tid, row in rows.items():
        truth = fma_fixture.tracks[tid]
        assert row["split"] == truth.split and row["artist"] == str(truth.artist_id)
        assert [labels["labels"][i] for i in row["labels"]] == [truth.genre_top]
        assert abs(row["duration_s"] - 8.0) < 0.2
        assert row["n_patches"] == 6  # 8 s clips, 3 s patches every second
        assert len(row["features"]) == len(FEATURE_NAMES)
        assert np.isfinite(row["features"]).all()


def test_tfrecords_hold_the_front_end_of_the_decoded_audio(fma_fixture, fma_dataset):
    records = read_records(fma_dataset)
    rows = {r["track_id"]: r for r in tracks_table(fma_dataset).to_pylist()}
    per_track = defaultdict(dict)
    for record in records:
        assert record["split"] == record["file_split"] == rows[record["track_id"]]["split"]
        assert list(record["labels"]) == rows[record["track_id"]]["labels"]
        per_track[record["track_id"]][int(record["patch_index"])] = record["patch"]
    assert {t: len(p) for t, p in per_track.items()} == {
        t: r["n_patches"] for t, r in rows.items()}

    # an independent decode: whole file, one-shot resampling, one-shot log-mel
    hop = round(DATASET_HOP_SECONDS * CFG.sample_rate / CFG.hop_length)
    for tid in (fma_fixture.ids("test")[0], fma_fixture.ids("training")[-1]):
        audio, sr = sf.read(str(fma_fixture.audio_path(tid)), dtype="float32", always_2d=True)
        mono = soxr.resample(audio.mean(axis=1), sr, CFG.sample_rate, quality="HQ")
        expected = patches(log_mel(mono, CFG), CFG, hop_frames=hop)
        got = np.stack([per_track[tid][i] for i in range(len(per_track[tid]))])
        assert got.shape == expected.shape == (6, CFG.patch_frames, CFG.n_mels)
        np.testing.assert_allclose(got, expected, atol=2e-3)


def test_no_track_and_no_artist_is_in_two_splits(fma_dataset):
    splits_of_track, splits_of_artist = defaultdict(set), defaultdict(set)
    for record in read_records(fma_dataset):
        splits_of_track[record["track_id"]].add(record["split"])
    for row in tracks_table(fma_dataset).to_pylist():
        splits_of_artist[row["artist"]].add(row["split"])
        splits_of_track[row["track_id"]].add(row["split"])
    assert all(len(s) == 1 for s in splits_of_track.values())
    assert all(len(s) == 1 for s in splits_of_artist.values())
    assert len(splits_of_artist) >= 3 * 4  # several artists per genre


def test_a_file_that_fails_half_way_leaves_no_patches(tmp_path):
    """A FLAC cut after 20 of its 30 s: its first 10 s block (three patches) decodes before
    the damage shows, and none of it reaches the TFRecords."""
    flac = write_audio(tmp_path / "full.flac", chord_track(30.0, 22050), 22050).read_bytes()
    (tmp_path / "cut.flac").write_bytes(flac[: 2 * len(flac) // 3])
    with AudioReader(str(tmp_path / "cut.flac")) as reader:
        assert len(next(reader.blocks())) == 10 * 22050
    track = LabelledTrack("cut", str(tmp_path / "cut.flac"), "training", (0,), None)
    out = list(ExtractTrack(CFG).process(track))
    assert len(out) == 1 and out[0].tag == "errors"
    assert out[0].value.stage == "decode" and out[0].value.error == "DecodeError"

    whole = LabelledTrack("whole", str(tmp_path / "full.flac"), "test", (1,), "a")
    out = list(ExtractTrack(CFG, max_patches=4).process(whole))
    records = [o for o in out if isinstance(o, PatchRecord)]
    assert [r.patch_index for r in records] == [0, 1, 2, 3]
    assert out[-1].tag == "tracks" and out[-1].value["n_patches"] == 4


def test_folder_layout_end_to_end_and_rerun_replaces_the_dataset(tmp_path):
    written = make_labelled_folder(tmp_path / "lib", genres=("Rock", "Folk", "Classical"),
                                   per_genre=4, seconds=3.5)
    out = tmp_path / "data"
    (out).mkdir()
    (out / "training-00003-of-00009.tfrecord").write_bytes(b"stale shard of an old run")
    source = folder_source(str(tmp_path / "lib"))
    summary = run_extract(source, str(out), ExtractOptions(max_patches=1))
    assert summary.extracted == len(written) and summary.failed == 0
    assert not (out / "training-00003-of-00009.tfrecord").exists()
    rows = tracks_table(out).to_pylist()
    labels = json.loads((out / "labels.json").read_text())
    assert labels["source"] == "folder" and labels["split"] == "by track"
    per_genre = defaultdict(set)
    for row in rows:
        per_genre[labels["labels"][row["labels"][0]]].add(row["split"])
    assert per_genre == {g: set(tfrecord.SPLITS) for g in ("classical", "folk", "rock")}
    assert len(read_records(out)) == len(written)  # one patch each


def test_cli_extracts_a_manifest_and_summarises(tmp_path, capsys):
    from pipelines.cli import main

    make_labelled_folder(tmp_path / "audio", genres=("Rock", "Electronic"), per_genre=3,
                         seconds=3.2)
    lines = ["path,genre,artist"]
    lines += [f"audio/{g}/{g}.{i:05d}.wav,{g},{g}-band-{i}" for g in ("rock", "electronic")
              for i in range(3)]
    lines += ["audio/missing.wav,rock,nobody"]
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    code = main(["extract", "--manifest", str(tmp_path / "manifest.csv"),
                 "--output", str(tmp_path / "data")])
    printed = capsys.readouterr().out
    assert code == 0
    assert "Extracted 6 of 7 tracks" in printed
    assert "Labels (2): electronic, rock" in printed
    assert "Failures by stage: match 1" in printed
    run = json.loads((tmp_path / "data" / "extract.json").read_text())
    assert run["split"] == "by artist" and run["source"] == "manifest"


@pytest.mark.parametrize("args,message", [
    (["--folder", "LIB", "--labels", "all"], "--labels only applies to --fma-metadata"),
    (["--fma-metadata", "LIB"], "--fma-metadata needs --audio-dir"),
    (["--fma-metadata", "LIB", "--audio-dir", "LIB", "--subset", "huge"], "invalid choice"),
    (["--fma-metadata", "LIB", "--audio-dir", "LIB"], "tracks.csv not found"),
    (["--folder", "LIB", "--max-patchs", "2"], "did you mean --max-patches"),
    (["--folder", "LIB", "--hop-seconds", "0"], "--hop-seconds must be positive"),
    (["--output", "OUT"], "one of the arguments --fma-metadata --folder --manifest is required"),
])
def test_cli_refuses_bad_arguments_before_any_work(tmp_path, capsys, args, message):
    from pipelines.cli import main

    args = [a.replace("LIB", str(tmp_path)).replace("OUT", str(tmp_path / "o")) for a in args]
    if "--output" not in args:
        args += ["--output", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exit_info:
        main(["extract", *args])
    assert exit_info.value.code != 0
    assert message in str(exit_info.value.code) + capsys.readouterr().err
    assert not (tmp_path / "o").exists()
