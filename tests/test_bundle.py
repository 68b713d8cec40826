"""Model bundles: what a trained bundle holds, how a wrong path or a replaced model is refused,
atomic writes, and ``mgc tag --model BUNDLE`` on new audio."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pyarrow.dataset as ds
import pytest
import soundfile as sf

from fma_fixture import SR, ArtistStyle, synth_track
from mgc_model import registry
from mgc_model.bundle import (
    REQUIRED_FILES,
    BundleWriter,
    NotABundle,
    content_version,
    describe_bundle,
    load_bundle,
)

# Keras 3.15 converts TensorFlow tensors with np.array(x, copy=False) on every step.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_a_bundle_carries_model_labels_frontend_and_provenance(transfer_bundle, fma_dataset):
    bundle, _ = transfer_bundle
    for name in (*REQUIRED_FILES, "metrics.json", "history.csv", "training_curves.png"):
        assert (bundle / name).is_file(), name
    training = json.loads((bundle / "training.json").read_text())
    assert training["version"] == content_version(bundle / "model.keras")
    assert training["name"] == "transfer"  # the folder's name, without --name
    dataset_labels = json.loads((fma_dataset / "labels.json").read_text())
    assert json.loads((bundle / "labels.json").read_text()) == dataset_labels
    assert (json.loads((bundle / "frontend.json").read_text())
            == json.loads((fma_dataset / "frontend.json").read_text()))

    info = registry.describe(str(bundle))
    assert info.ref == f"transfer@{training['version']}"
    assert info.genres == tuple(dataset_labels["labels"]) and info.embedding_dim == 256
    loaded = load_bundle(str(bundle))
    assert list(loaded.history.columns[:1]) == ["epoch"] and loaded.metrics["split"] == (
        "validation")
    scores, embedding = registry.load(str(bundle)).predict((np.zeros((2, 187, 96), np.float32),))
    assert scores.shape == (2, 4) and embedding.shape == (2, 256)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)


def test_a_path_that_is_not_a_bundle_says_what_is_missing(tmp_path, transfer_bundle):
    with pytest.raises(NotABundle, match="does not exist"):
        registry.describe(str(tmp_path / "nowhere"))
    (tmp_path / "half").mkdir()
    shutil.copy(transfer_bundle[0] / "model.keras", tmp_path / "half")
    with pytest.raises(NotABundle, match="has no labels.json, frontend.json, training.json"):
        registry.describe(str(tmp_path / "half"))
    with pytest.raises(registry.UnknownModel, match="or the folder of a model bundle"):
        registry.describe("musicnnn")


def test_a_replaced_model_file_is_refused(tmp_path, transfer_bundle):
    copy = tmp_path / "copy"
    shutil.copytree(transfer_bundle[0], copy)
    describe_bundle(str(copy))  # intact: fine
    with open(copy / "model.keras", "ab") as f:
        f.write(b"\0")
    with pytest.raises(NotABundle, match="replaced after training"):
        load_bundle(str(copy))


def test_bundles_are_written_beside_and_renamed_into_place(tmp_path):
    target = tmp_path / "model"
    first = BundleWriter(target)
    for name in REQUIRED_FILES:
        first.write_json(name, {"generation": 1})
    assert not target.exists()  # nothing visible until commit
    first.commit()
    second = BundleWriter(target)
    for name in REQUIRED_FILES:
        second.write_json(name, {"generation": 2})
    second.discard()  # a failed run leaves the previous bundle as it was
    assert json.loads((target / "training.json").read_text()) == {"generation": 1}
    third = BundleWriter(target)
    for name in REQUIRED_FILES[:2]:
        third.write_json(name, {"generation": 3})
    with pytest.raises(RuntimeError, match="incomplete"):
        third.commit()
    third.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_tag_with_a_bundle_writes_its_labels_and_embedding(tmp_path, transfer_bundle):
    bundle, _ = transfer_bundle
    rng = np.random.default_rng(123)  # artists the model never heard
    library = tmp_path / "library"
    library.mkdir()
    genres = json.loads((bundle / "labels.json").read_text())["labels"]
    for genre in genres:
        audio = synth_track(genre, ArtistStyle.draw(genre, rng), rng, seconds=6.0)
        sf.write(str(library / f"{genre}.flac"), audio, SR)
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "tag", str(library), "--model", str(bundle),
         "--output", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    table = ds.dataset(tmp_path / "out" / "tags").to_table()
    training = json.loads((bundle / "training.json").read_text())
    assert json.loads(table.schema.metadata[b"mgc.genres"]) == genres
    assert table.schema.metadata[b"mgc.model"].decode() == f"transfer@{training['version']}"
    rows = table.to_pylist()
    assert len(rows) == len(genres)
    assert {len(r["embedding"]) for r in rows} == {training["embedding_dim"]}
    assert {r["path"].rsplit("/", 1)[-1][:-5]: r["genre"] for r in rows} == {
        g: g for g in genres}
    run_json = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run_json["model"] == f"transfer@{training['version']}"
