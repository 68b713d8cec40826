"""``mgc baselines``: seed 000's classic models on the per-track features of a dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mgc_model.baselines import (
    MODELS,
    BaselineError,
    load_track_features,
    make_model,
    run_baselines,
)
from pipelines.cli import main
from schemas.parquet import tracks_schema

GENRES = ["Classical", "Electronic", "Folk", "Rock"]
N_FEATURES = 12
SPLIT_SIZES = {"training": 40, "validation": 8, "test": 15}  # tracks per genre


def write_feature_dataset(root: Path, features: np.ndarray, labels: list[list[int]],
                          splits: list[str], multi_label: bool = False) -> Path:
    """The parts of an extracted dataset the baselines read: tracks/ and labels.json."""
    names = [f"f{i}" for i in range(features.shape[1])]
    (root / "tracks").mkdir(parents=True)
    table = pa.Table.from_pydict({
        "track_id": [f"{i:06d}" for i in range(len(labels))],
        "path": [f"/audio/{i:06d}.mp3" for i in range(len(labels))],
        "split": splits,
        "labels": labels,
        "artist": [None] * len(labels),
        "duration_s": [30.0] * len(labels),
        "n_patches": [10] * len(labels),
        "features": features.astype(np.float32).tolist(),
    }, schema=tracks_schema(names))
    pq.write_table(table, root / "tracks" / "part-0.parquet")
    (root / "labels.json").write_text(json.dumps(
        {"labels": GENRES, "multi_label": multi_label, "source": "manifest"}))
    return root


def synthetic(root: Path, separation: float, seed: int = 0) -> Path:
    """Gaussian clusters, one per genre, ``separation`` standard deviations apart."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(GENRES), N_FEATURES))
    centres *= separation / np.linalg.norm(centres, axis=1, keepdims=True)
    features, labels, splits = [], [], []
    for split, n in SPLIT_SIZES.items():
        for genre in range(len(GENRES)):
            features.append(centres[genre] + rng.standard_normal((n, N_FEATURES)))
            labels += [[genre]] * n
            splits += [split] * n
    # features on wildly different scales, as real ones are (Hz, dB, rates)
    scales = 10.0 ** rng.uniform(-3, 3, N_FEATURES)
    return write_feature_dataset(root, np.vstack(features) * scales, labels, splits)


@pytest.fixture(scope="module")
def separable(tmp_path_factory) -> tuple[Path, Path, dict]:
    data = synthetic(tmp_path_factory.mktemp("separable"), separation=6.0)
    report = tmp_path_factory.mktemp("report")
    return data, report, run_baselines(str(data), report)


def test_every_baseline_learns_separable_genres(separable):
    _, _, results = separable
    assert list(results) == list(MODELS)
    for name, m in results.items():
        assert m["accuracy"] >= 0.9, name
        assert m["n_tracks"] == SPLIT_SIZES["test"] * len(GENRES)
        assert m["n_train"] == SPLIT_SIZES["training"] * len(GENRES)
        assert m["labels"] == GENRES


def test_reported_metrics_match_the_models_own_predictions(separable):
    data_dir, _, results = separable
    data = load_track_features(str(data_dir))
    x_train, y_train = data.split("training")
    x_test, y_test = data.split("test")
    for name in ("svm_rbf", "random_forest"):
        predicted = make_model(name).fit(x_train, y_train).predict(x_test)
        assert results[name]["accuracy"] == pytest.approx(np.mean(predicted == y_test))
        matrix = np.array(results[name]["confusion_matrix"])
        assert matrix.sum() == len(y_test)
        assert np.trace(matrix) == np.sum(predicted == y_test)


def test_report_files(separable):
    _, report, results = separable
    saved = json.loads((report / "baselines.json").read_text())
    assert saved.keys() == results.keys()
    assert saved["svm_rbf"]["accuracy"] == pytest.approx(results["svm_rbf"]["accuracy"])
    assert saved["random_forest"]["hyperparameters"]["n_estimators"] == 500
    for name in MODELS:
        for file in ("metrics.json", "report.md", "confusion_matrix.png"):
            assert (report / name / file).is_file(), (name, file)
    md = (report / "report.md").read_text()
    assert "| [SVM, RBF kernel](svm_rbf/report.md) |" in md
    assert f"{100 * results['svm_rbf']['accuracy']:.1f}%" in md
    assert "63.4%" in md and "46.4%" in md  # FMA's published baselines, for context


def test_features_without_signal_give_chance_accuracy(tmp_path):
    """No genre information in the features: no baseline may look good (no leakage)."""
    data = synthetic(tmp_path / "data", separation=0.0, seed=3)
    results = run_baselines(str(data), tmp_path / "report", models=["svm_rbf", "random_forest"])
    for name, m in results.items():
        assert m["accuracy"] < 0.5, name  # chance is 0.25 with four balanced genres


def test_unusable_datasets_are_refused_with_what_to_do(tmp_path):
    with pytest.raises(BaselineError, match="mgc extract"):
        run_baselines(str(tmp_path / "nowhere"), tmp_path / "r")
    multi = write_feature_dataset(tmp_path / "multi", np.zeros((2, 3)), [[0, 1], [2]],
                                  ["training", "test"], multi_label=True)
    with pytest.raises(BaselineError, match="--labels top"):
        run_baselines(str(multi), tmp_path / "r")
    no_test = write_feature_dataset(tmp_path / "no-test", np.eye(3), [[0], [1], [0]],
                                    ["training"] * 3)
    with pytest.raises(BaselineError, match="no tracks in the test split"):
        run_baselines(str(no_test), tmp_path / "r")
    with pytest.raises(BaselineError, match="unknown baseline 'knn'"):
        run_baselines(str(no_test), tmp_path / "r", models=["knn"])
    with pytest.raises(BaselineError, match="--jobs must be"):
        run_baselines(str(no_test), tmp_path / "r", n_jobs=0)
    with pytest.raises(BaselineError, match="--split must be"):
        run_baselines(str(no_test), tmp_path / "r", split="training")


def test_cli(tmp_path, capsys):
    data = synthetic(tmp_path / "data", separation=6.0)
    assert main(["baselines", "--data", str(data), "--output", str(tmp_path / "r"),
                 "--models", "logistic_regression", "decision_tree"]) == 0
    out = capsys.readouterr().out
    assert "logistic_regression" in out and "decision_tree" in out and "svm_rbf" not in out
    assert (tmp_path / "r" / "report.md").is_file()
    with pytest.raises(SystemExit, match="did you mean --split"):
        main(["baselines", "--data", str(data), "--output", str(tmp_path / "r"), "--splt", "x"])
    with pytest.raises(SystemExit, match="run `mgc extract"):
        main(["baselines", "--data", str(tmp_path / "none"), "--output", str(tmp_path / "r")])


def test_baselines_on_the_extracted_fma_fixture(fma_dataset, fma_fixture, tmp_path):
    """The real path: features written by `mgc extract` on the FMA-layout fixture."""
    from mgc_model.features import FEATURE_NAMES

    data = load_track_features(str(fma_dataset))
    assert data.feature_names == list(FEATURE_NAMES)
    results = run_baselines(str(fma_dataset), tmp_path / "report")
    test_ids = fma_fixture.ids("test")
    for name, m in results.items():
        assert m["n_tracks"] == len(test_ids), name
        assert m["labels"] == list(fma_fixture.genres)
        assert m["accuracy"] >= 0.5, name  # four genres: chance is 0.25
    assert max(m["accuracy"] for m in results.values()) >= 0.75
