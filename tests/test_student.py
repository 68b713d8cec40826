"""``--model fast``: the network distilled from the default model, as shipped.

``tests/data/fast_student_reference.npz`` holds the graph's outputs on the musicnn reference
windows, written by ``scripts/distill_student.py --stage export`` when the graph was made.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from audio import chord_track, write_audio
from mgc_model import registry, student
from mgc_model.genres import FMA_GENRES

DATA = pathlib.Path(__file__).parent / "data"
# Every 3 s window of the default model: MSD_musicnn and MTT_musicnn 2.82 GFLOP each, YAMNet's
# three 0.96 s patches 0.138 each (docs/performance.md).
TEACHER_GFLOP = 2 * 2.82 + 3 * 0.138


@pytest.fixture(scope="module")
def tagger() -> student.StudentTagger:
    return registry.load("fast")


def test_registry_entry_names_its_teacher() -> None:
    info, teacher = registry.describe("fast"), registry.describe(registry.DEFAULT_MODEL)
    assert info.name == "fast" and f"distilled-from-{teacher.name}-{teacher.version}" in info.ref
    assert info.genres == teacher.genres and info.embedding_dim == teacher.embedding_dim == 400
    assert info.frontends == (teacher.frontend,)  # musicnn's log-mel window only: no YAMNet
    assert set(info.descriptors) < set(teacher.descriptors)  # those musicnn's tags name


def test_at_least_twelve_times_fewer_flops_than_the_teacher() -> None:
    flops = student.graph_flops()
    assert flops <= 0.5e9
    assert TEACHER_GFLOP * 1e9 / flops >= 12


def test_graph_outputs_are_pinned(tagger) -> None:
    with np.load(DATA / "musicnn_reference.npz") as z:
        inputs = z["inputs"]
    with np.load(DATA / "fast_student_reference.npz") as z:
        expected = {k: z[k] for k in z.files}
    got = tagger.outputs(inputs)
    assert got["tags"].shape == (len(inputs), 101) and got["emb"].shape == (len(inputs), 400)
    for key in ("tags", "emb"):
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=1e-4)
    scores, embedding = tagger.predict((inputs,))
    assert scores.shape == (len(inputs), len(FMA_GENRES))
    np.testing.assert_allclose(scores.sum(axis=1), 1, atol=1e-4)
    assert embedding.shape == (len(inputs), 400)


def test_a_changed_graph_is_refused(tmp_path, monkeypatch) -> None:
    changed = bytearray(student.GRAPH.read_bytes())
    changed[len(changed) // 2] ^= 0xFF
    (tmp_path / "fast-student.onnx").write_bytes(bytes(changed))
    monkeypatch.setattr(student, "GRAPH", tmp_path / "fast-student.onnx")
    student.graph_bytes.cache_clear()
    try:
        with pytest.raises(student.BadWeights, match="reinstall mgc"):
            student.graph_bytes()
    finally:
        student.graph_bytes.cache_clear()


def test_mgc_tag_with_the_fast_model(tmp_path) -> None:
    from pipelines.commands.tag import demo_library

    lib = tmp_path / "lib"
    write_audio(lib / "a.flac", chord_track(8.0, 22050, seed=1), 22050)
    write_audio(lib / "b.ogg", chord_track(8.0, 22050, seed=2), 22050)
    shutil.copy(pathlib.Path(demo_library()) / "bluegrass_in_G.opus", lib)
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "tag", str(lib), "--output", str(tmp_path / "o"),
         "--model", "fast"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Tagged 3 of 3 files" in result.stdout
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["model"] == registry.describe("fast").ref
    tags = pd.read_parquet(tmp_path / "o" / "tags")
    assert len(tags) == 3 and set(tags.genre) <= set(FMA_GENRES)
    assert all(len(e) == 400 for e in tags.embedding)
    assert tags.moods.notna().all() and tags.instruments.notna().all()  # from the tags
