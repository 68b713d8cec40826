"""Publication of a run's outputs by the job's own last step (``pipelines/graph/publish.py``): what
lands in OUT, a failed job publishing nothing, and a publication cut short then retried, as a
runner retries a failed step."""

import functools
import json
import os
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

from mgc_model.contract import ModelInfo
from mgc_model.frontend import FrontendConfig
from pipelines.graph import publish
from pipelines.graph.extract import SUMMARY_FILE, publish_dataset
from schemas.parquet import ERRORS_SCHEMA, tags_schema

START = "2026-11-21T00:00:00+00:00"
GENRES = ("Rock", "Jazz")
# a tag run publishes with its model, which its rows are judged by
PUBLISH = functools.partial(publish.publish_tags, info=ModelInfo(
    "m", "1", GENRES, 2, FrontendConfig(), held_out_min_score=0.85))


def write_rows(folder, rows: dict, schema: pa.Schema | None = None) -> None:
    os.makedirs(folder, exist_ok=True)
    table = pa.table(rows)
    if schema is not None:  # the other columns of a real tag row, empty
        table = pa.Table.from_pylist(table.to_pylist(), schema)
    pq.write_table(table, os.path.join(folder, "part-00000-of-00001.parquet"))


def stage_tag_run(out, run_id: str, paths: list[str], failed: list[str]) -> str:
    staging = publish.staging_dir(str(out), run_id)
    scores = [0.9 - 0.5 * (i % 2) for i in range(len(paths))]  # 0.9, 0.4, 0.9, ...
    write_rows(os.path.join(staging, "tags"), {
        "path": paths, "track_id": paths, "genre": ["Rock"] * len(paths), "genre_score": scores,
        "genre_scores": [[s, 1 - s] for s in scores], "genre_from": ["audio"] * len(paths),
        "model": ["m@1"] * len(paths)}, tags_schema(GENRES, "m@1"))
    errors = {name: [name[0]] * len(failed) for name in ERRORS_SCHEMA.names}
    write_rows(os.path.join(staging, "errors"), {**errors, "path": failed,
                                                 "stage": ["decode"] * len(failed)})
    return staging


def snapshot(folder) -> dict[str, bytes]:
    """Every file under ``folder`` (run.json without its timings), by relative path."""
    files = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = Path(base, name)
            data = path.read_bytes()
            if name == "run.json":
                record = json.loads(data)
                record.pop("finished_at"), record.pop("wall_time_s")
                data = json.dumps(record, sort_keys=True).encode()
            files[os.path.relpath(path, folder)] = data
    return files


def test_publish_moves_the_outputs_and_writes_the_record_last(tmp_path):
    out = tmp_path / "out"
    old = stage_tag_run(out, "night1", ["a.mp3"], [])
    os.makedirs(os.path.join(old, "writes"))
    PUBLISH(old, str(out), {"run_id": "night1", "started_at": START},
                        optional=("writes",))
    assert sorted(os.listdir(out)) == ["errors", "run.json", "tags", "writes"]

    new = stage_tag_run(out, "night2", ["a.mp3", "b.mp3"], ["c.mp3"])
    PUBLISH(new, str(out), {"run_id": "night2", "started_at": START,
                                        "min_score": 0.85})
    # a run that did not write genres retires the previous run's write outcomes
    assert sorted(os.listdir(out)) == ["errors", "run.json", "tags"]
    record = publish.read_record(str(out), publish.RUN_FILE, "night2")
    assert {k: record[k] for k in ("seen", "tagged", "skipped", "failed")} == {
        "seen": 3, "tagged": 2, "skipped": 0, "failed": 1}
    assert record["confident"] == 1  # a.mp3 scored 0.9, b.mp3 0.4
    assert record["wall_time_s"] > 0
    summary = publish.tag_summary(str(out), record)
    assert summary.confident == 1
    assert summary.top_genres == [("Rock", 2)]
    with pytest.raises(RuntimeError, match="without publishing"):
        publish.read_record(str(out), publish.RUN_FILE, "night3")


def crash_on_move(monkeypatch, n: int) -> None:
    """The n-th move of this publication raises, as a worker dying there would stop it."""
    moves = []
    real = LocalFileSystem.mv

    def mv(self, *args, **kwargs):
        moves.append(args)
        if len(moves) == n:
            raise OSError("worker lost")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "mv", mv)


def previous_and_next(tmp_path, name: str):
    out = tmp_path / name
    first = stage_tag_run(out, "night1", ["a.mp3"], ["z.mp3"])
    os.makedirs(os.path.join(first, "writes"))
    write_rows(os.path.join(first, "writes"), {"path": ["a.mp3"], "action": ["written"]})
    PUBLISH(first, str(out), {"run_id": "night1", "started_at": START},
                        optional=("writes",))
    staging = stage_tag_run(out, "night2", ["a.mp3", "b.mp3"], ["c.mp3"])
    return out, staging


@pytest.mark.parametrize("crash_at", range(1, 7))  # every move, the record last
def test_a_publication_cut_short_and_retried_ends_as_one_that_was_not(tmp_path, monkeypatch,
                                                                      crash_at):
    run = {"run_id": "night2", "started_at": START}
    clean, staging = previous_and_next(tmp_path, "clean")
    PUBLISH(staging, str(clean), run)

    out, staging = previous_and_next(tmp_path, "retried")
    with monkeypatch.context() as m:
        crash_on_move(m, crash_at)
        with pytest.raises(OSError, match="worker lost"):
            PUBLISH(staging, str(out), run)
    assert json.loads((out / "run.json").read_text())["run_id"] == "night1"  # record last
    PUBLISH(staging, str(out), run)  # the runner's retry
    assert snapshot(out) == snapshot(clean)
    PUBLISH(staging, str(out), run)  # and once more: nothing left to do
    assert snapshot(out) == snapshot(clean)


def stage_dataset(out, run_id: str, shard: bytes) -> str:
    staging = Path(publish.staging_dir(str(out), run_id))
    staging.mkdir(parents=True)
    for name in ("labels.json", "frontend.json"):
        (staging / name).write_text(json.dumps({"run": run_id}))
    (staging / "training-00000-of-00001.tfrecord").write_bytes(shard)
    return str(staging)


@pytest.mark.parametrize("crash_at", range(1, 13))
def test_a_dataset_retried_keeps_new_shards_named_as_old_ones(tmp_path, monkeypatch, crash_at):
    out = tmp_path / "data"
    run = {"labels": ["Rock"], "started_at": START}
    publish_dataset(stage_dataset(out, "one", b"old"), str(out), {**run, "run_id": "one"})
    staging = stage_dataset(out, "two", b"new")
    with monkeypatch.context() as m:
        crash_on_move(m, crash_at)
        with pytest.raises(OSError, match="worker lost"):
            publish_dataset(staging, str(out), {**run, "run_id": "two"})
    publish_dataset(staging, str(out), {**run, "run_id": "two"})
    assert (out / "training-00000-of-00001.tfrecord").read_bytes() == b"new"
    assert json.loads((out / "labels.json").read_text()) == {"run": "two"}
    assert json.loads((out / SUMMARY_FILE).read_text())["run_id"] == "two"
    assert sorted(os.listdir(out)) == ["errors", "extract.json", "frontend.json", "labels.json",
                                       "tracks", "training-00000-of-00001.tfrecord"]


def write_paths(p: beam.Pipeline, staging: str, paths: list[str], fail: bool = False):
    def check(path: str) -> dict:
        if fail and path == "b.mp3":
            raise ValueError("a worker bug")
        return {"path": path, "genre": "Rock", "genre_score": 0.9}

    schema = pa.schema([("path", pa.string()), ("genre", pa.string()),
                        ("genre_score", pa.float64()), ("damaged_packets", pa.int32())])
    tags = (p | beam.Create(paths) | beam.Map(check)
            | "WriteTags" >> beam.io.WriteToParquet(publish.shard_prefix(staging, "tags"),
                                                    schema, file_name_suffix=".parquet"))
    return [tags]


def test_a_job_publishes_when_its_writes_are_done_even_with_no_rows(tmp_path):
    out = str(tmp_path / "out")
    record = publish.run_and_publish(out, [], publish.RUN_FILE, {"model": "m"},
                                    functools.partial(write_paths, paths=[]),
                                    PUBLISH)
    assert (record["seen"], record["runner"]) == (0, "DirectRunner")
    record = publish.run_and_publish(out, [], publish.RUN_FILE, {"model": "m"},
                                    functools.partial(write_paths, paths=["a.mp3", "b.mp3"]),
                                    PUBLISH)
    assert record["tagged"] == 2 and record["model"] == "m"
    assert sorted(os.listdir(out)) == ["errors", "run.json", "tags"]


def test_a_failed_job_publishes_nothing_and_leaves_no_staging(tmp_path):
    out = str(tmp_path / "out")
    first = publish.run_and_publish(out, [], publish.RUN_FILE, {},
                                   functools.partial(write_paths, paths=["a.mp3"]),
                                   PUBLISH)
    before = snapshot(out)
    with pytest.raises(Exception, match="a worker bug"):
        publish.run_and_publish(out, [], publish.RUN_FILE, {},
                               functools.partial(write_paths, paths=["a.mp3", "b.mp3"],
                                                 fail=True),
                               PUBLISH)
    assert snapshot(out) == before
    assert publish.read_record(out, publish.RUN_FILE)["run_id"] == first["run_id"]


def test_a_job_nobody_waits_for_publishes_itself(tmp_path, capsys):
    """As a Flex Template's launcher does, the runner returns as soon as the job is submitted
    and the command ends: the job's last step still publishes tags, errors and run.json."""
    import nowait_runner
    from audio import library
    from pipelines.cli import main

    tracks = library(tmp_path / "music", seconds=3.0)
    out = tmp_path / "out"
    code = main(["tag", str(tmp_path / "music"), "--output", str(out), "--max-patches", "1",
                 "--runner=nowait_runner.NoWaitRunner"])
    assert code == 0
    assert "Job submitted" in capsys.readouterr().out
    for job in nowait_runner.JOBS:
        job.join(timeout=300)
    record = json.loads((out / "run.json").read_text())
    assert (record["tagged"], record["failed"]) == (len(tracks), 0)
    assert record["runner"] == "nowait_runner.NoWaitRunner"
    assert sorted(os.listdir(out)) == ["errors", "run.json", "tags"]  # staging removed
