"""``mgc tag --incremental`` as a nightly job uses it: a small library changes between nights
(a file touched, one re-encoded, one added, one deleted, a broken one fixed), a run is killed
mid-way, the model changes, and genres are written into the files."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from audio import chord_track, write_audio
from mgc_model import registry
from mgc_model.bundle import BundleWriter
from mgc_model.pretrained import MUSICNN_INFO
from pipelines.cli import main
from pipelines.files.writeback import WriteOptions
from pipelines.graph import steps
from pipelines.graph.incremental import previous_run, state_key
from pipelines.graph.tag import TagOptions, run_tag
from tagged_files import make_tagged, mediafile_genres

OPTIONS = TagOptions(max_patches=2)
SR = 16000


def track(path, seed: int, seconds: float = 3.5):
    return write_audio(path, chord_track(seconds, SR, channels=1, seed=seed), SR)


def snapshot(out) -> dict:
    tags = pd.read_parquet(out / "tags").sort_values("path").set_index("path")
    errors = pd.read_parquet(out / "errors")
    return {"tags": tags, "errors": set(errors.path),
            "run": json.loads((out / "run.json").read_text())}


def tiny_bundle(path) -> str:
    """A model bundle of a few thousand weights: another model than musicnn, cheap to run."""
    import keras

    cfg = MUSICNN_INFO.frontend
    inputs = keras.Input((cfg.patch_frames, cfg.n_mels))
    embedding = keras.layers.Dense(4, name="embedding")(
        keras.layers.GlobalAveragePooling1D()(inputs))
    genres = keras.layers.Dense(3, activation="softmax", name="genres")(embedding)
    writer = BundleWriter(path)
    version = writer.save_model(keras.Model(inputs, {"genres": genres, "embedding": embedding}))
    writer.write_json("labels.json", {"labels": ["Rock", "Jazz", "Folk"]})
    writer.write_json("frontend.json", cfg.to_dict())
    writer.write_json("training.json", {"name": "tiny", "version": version,
                                        "embedding_dim": 4})
    return str(writer.commit())


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Five nights over one library, with the changes a catalog sees in between."""
    root = tmp_path_factory.mktemp("incremental")
    lib, out = root / "lib", root / "out"
    files = {name: track(lib / f"{name}.{ext}", seed)
             for seed, (name, ext) in enumerate(
                 [("a", "wav"), ("b", "flac"), ("c", "mp3"), ("f", "ogg")])}
    files["e"] = lib / "e.mp3"
    files["e"].write_bytes(b"ID3 and then nothing")
    seen = {}

    seen[1] = run_tag([str(lib)], str(out), OPTIONS, incremental=True)
    seen["night1"] = snapshot(out)

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        seen["cli_code"] = main(["tag", str(lib), "--output", str(out), "--incremental",
                                 "--max-patches", "2", "--no-progress"])
    seen["cli_printed"] = printed.getvalue()
    seen["night2"] = snapshot(out)

    st = files["b"].stat()  # touched: same bytes, a new modification time
    os.utime(files["b"], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    track(files["c"], seed=42, seconds=5.0)  # re-encoded: other audio
    files["d"] = track(lib / "d.wav", seed=7)  # new
    files["a"].unlink()  # deleted
    track(files["e"], seed=9)  # the broken file, fixed
    seen[3] = run_tag([str(lib)], str(out), OPTIONS, incremental=True)
    seen["night3"] = snapshot(out)

    os.utime(files["f"])  # a file to process, and the run dies while tagging it
    with pytest.MonkeyPatch.context() as mp:
        def die(*args, **kwargs):
            raise RuntimeError("worker killed")

        mp.setattr(steps, "tag_row", die)
        with pytest.raises(Exception, match="worker killed"):
            run_tag([str(lib)], str(out), OPTIONS, incremental=True)
    seen["killed"] = snapshot(out)
    seen["leftovers"] = sorted(p.name for p in out.iterdir())

    model = tiny_bundle(root / "tiny")
    seen[5] = run_tag([str(lib)], str(out), TagOptions(model=model, max_patches=2),
                      incremental=True)
    seen["night5"] = snapshot(out)
    seen["after_night5"] = sorted(p.name for p in out.iterdir())
    return files, seen


def test_an_unchanged_library_is_carried_over_byte_for_byte(nights):
    files, seen = nights
    first, second = seen["night1"], seen["night2"]
    assert seen[1].tagged == 4 and seen[1].skipped == 0 and first["errors"] == {str(files["e"])}
    assert seen["cli_code"] == 0
    assert "Tagged 0 of 5 files" in seen["cli_printed"]
    assert "1 failed, 4 unchanged and skipped" in seen["cli_printed"]
    run = second["run"]
    assert (run["tagged"], run["skipped"], run["failed"], run["seen"]) == (0, 4, 1, 5)
    assert run["incremental"] is True and run["state"] == "previous run used"
    pd.testing.assert_frame_equal(first["tags"], second["tags"])  # scores, tagged_at and all
    assert second["errors"] == {str(files["e"])}  # retried, failed again


def test_changed_new_deleted_and_fixed_files(nights):
    files, seen = nights
    before, after = seen["night2"]["tags"], seen["night3"]["tags"]
    assert set(after.index) == {str(files[n]) for n in "bcdef"}  # a was deleted
    assert seen["night3"]["errors"] == set()
    run = seen["night3"]["run"]
    assert (run["tagged"], run["skipped"], run["failed"]) == (4, 1, 0)  # b, c, d, e; f kept
    f, b, c = (str(files[n]) for n in "fbc")
    pd.testing.assert_series_equal(after.loc[f], before.loc[f])
    assert after.loc[b, "tagged_at"] > before.loc[b, "tagged_at"]  # touched: tagged again
    assert after.loc[b, "mtime_ns"] == files["b"].stat().st_mtime_ns
    assert after.loc[c, "duration_s"] == pytest.approx(5.0, abs=0.1)  # the new audio
    assert after.loc[c, "size"] == files["c"].stat().st_size


def test_a_killed_run_leaves_last_nights_output(nights):
    _, seen = nights
    pd.testing.assert_frame_equal(seen["killed"]["tags"], seen["night3"]["tags"])
    assert seen["killed"]["run"] == seen["night3"]["run"]
    # no staging folder left; what it had decoded is committed, for the next run to resume
    key = state_key(registry.describe(OPTIONS.model).ref, OPTIONS)
    assert seen["leftovers"] == [f".checkpoint-{key}", "errors", "run.json", "tags"]
    assert seen["after_night5"] == ["errors", "run.json", "tags"]  # published: discarded


def test_another_model_processes_every_file(nights):
    files, seen = nights
    run, tags = seen["night5"]["run"], seen["night5"]["tags"]
    assert (run["tagged"], run["skipped"], run["failed"]) == (5, 0, 0)
    assert "another model or other options" in run["state"]
    assert set(tags.model) == {run["model"]} and run["model"].startswith("tiny@")
    assert set(tags.genre) <= {"Rock", "Jazz", "Folk"}


def test_other_options_process_every_file(tmp_path):
    lib, out = tmp_path / "lib", tmp_path / "out"
    track(lib / "x.wav", seed=1)
    run_tag([str(lib)], str(out), OPTIONS)  # a plain run is a valid state too
    again = run_tag([str(lib)], str(out), OPTIONS, incremental=True)
    assert (again.tagged, again.skipped) == (0, 1)
    other = run_tag([str(lib)], str(out), TagOptions(max_patches=1), incremental=True)
    assert (other.tagged, other.skipped) == (1, 0)
    assert pd.read_parquet(out / "tags").n_patches.tolist() == [1]


def test_with_write_tags_a_written_file_is_not_written_again(tmp_path):
    lib, out = tmp_path / "lib", tmp_path / "out"
    files = {"a": make_tagged(lib / "a.mp3", "mp3-v23", seconds=3.0),
             "b": make_tagged(lib / "b.flac", "flac", seconds=3.0),
             "locked": make_tagged(lib / "locked.ogg", "ogg", seconds=3.0)}
    files["locked"].chmod(0o444)
    options = TagOptions(max_patches=1, write=WriteOptions(min_score=0.0))

    first = run_tag([str(lib)], str(out), options, incremental=True)
    assert first.writes == {"written": 2, "failed": 1}
    written = {n: (p.read_bytes(), p.stat().st_mtime_ns) for n, p in files.items()}

    second = run_tag([str(lib)], str(out), options, incremental=True)
    # a and b: as the write left them, so skipped; the failed write is retried
    assert (second.tagged, second.skipped, second.failed) == (1, 2, 1)
    assert second.writes == {"failed": 1}
    assert {n: (p.read_bytes(), p.stat().st_mtime_ns) for n, p in files.items()} == written

    files["locked"].chmod(0o644)
    third = run_tag([str(lib)], str(out), options, incremental=True)
    assert (third.tagged, third.skipped, third.failed) == (1, 2, 0)
    assert third.writes == {"written": 1}
    best = pd.read_parquet(out / "tags").set_index("path")["genre"]
    assert mediafile_genres(files["locked"]) == [best[str(files["locked"])]]
    assert len(best) == 3


def test_a_store_without_a_previous_run_is_a_full_run(tmp_path):
    lib = tmp_path / "lib"
    track(lib / "x.wav", seed=3)
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
    summary = run_tag([str(lib)], str(tmp_path / "out"), OPTIONS, incremental=True)
    assert (summary.tagged, summary.skipped) == (1, 0)
    assert np.isfinite(pd.read_parquet(tmp_path / "out" / "tags").genre_score).all()


def test_an_unreadable_or_foreign_state_means_a_full_run(tmp_path):
    key = state_key("musicnn@1", OPTIONS)
    assert previous_run(str(tmp_path), key)[0] is None  # no run.json
    (tmp_path / "run.json").write_text('{"state_key": "')
    previous, why = previous_run(str(tmp_path), key)
    assert previous is None and "unreadable" in why
    (tmp_path / "run.json").write_text(json.dumps({"state_key": key}))
    assert previous_run(str(tmp_path), key)[0] is not None
    assert previous_run(str(tmp_path), state_key("musicnn@2", OPTIONS))[0] is None
    assert key == state_key("musicnn@1", TagOptions(max_patches=2, batch_size=64))
    assert key != state_key("musicnn@1", TagOptions(max_patches=2, top_k=5))


def test_a_nightly_run_after_an_undo_does_not_write_the_files_again(tmp_path):
    """``mgc undo`` covers the last run's writes (OUT/writes lists only that night's); the
    next night knows each restored file by the undo's record and leaves it alone."""
    from pipelines.files.undo import undo_run

    lib, out = tmp_path / "lib", tmp_path / "out"
    files = [make_tagged(lib / "a.mp3", "mp3-v23", seconds=3.0),
             make_tagged(lib / "b.flac", "flac", seconds=3.0)]
    before = [p.read_bytes() for p in files]
    # --update-mtime: a written file's time changes, so only the undo record can vouch for it
    options = TagOptions(max_patches=1, write=WriteOptions(min_score=0.0, keep_mtime=False))
    assert run_tag([str(lib)], str(out), options, incremental=True).writes == {"written": 2}
    assert undo_run(str(out)).counts == {"restored": 2}
    assert [p.read_bytes() for p in files] == before

    night = run_tag([str(lib)], str(out), options, incremental=True)
    assert (night.tagged, night.skipped, night.writes) == (0, 2, {})
    assert [p.read_bytes() for p in files] == before
    assert not (out / "undo").exists()  # retired with the writes it undid
