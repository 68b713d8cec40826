"""``mgc evaluate``: per-track predictions whose metrics a reader can recount, a report, and a
refusal when the bundle and the dataset disagree on front-end or labels."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from mgc_model.bundle import load_bundle
from mgc_model.frontend import FrontendConfig
from pipelines.cli import main
from schemas.tfrecord import decode_example

# Keras 3.15 converts TensorFlow tensors with np.array(x, copy=False) on every step.
pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    # the first test here trains the CNN fixture from scratch: ~220 s on a slow 2-core machine
    pytest.mark.timeout(1200),
]


@pytest.fixture(scope="module")
def report(cnn_bundle, fma_dataset, tmp_path_factory):
    """``mgc evaluate`` on the CNN bundle and the fixture's test split, through the CLI."""
    out = tmp_path_factory.mktemp("report")
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "evaluate", "--model", str(cnn_bundle),
         "--data", str(fma_dataset), "--output", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    return out, run


def test_metrics_match_a_recount_of_the_predictions(report, fma_fixture):
    out, run = report
    metrics = json.loads((out / "metrics.json").read_text())
    table = pq.read_table(out / "predictions.parquet")
    rows = table.to_pylist()
    labels = json.loads(table.schema.metadata[b"mgc.genres"])
    assert sorted(r["track_id"] for r in rows) == fma_fixture.ids("test")
    assert sum(r["n_patches"] for r in rows) == metrics["n_patches"]

    hits = [r["predicted"] in r["labels"] for r in rows]
    assert metrics["accuracy"] == pytest.approx(np.mean(hits))
    assert f"accuracy {np.mean(hits):.1%}" in run.stdout
    per_genre = [np.mean([h for h, r in zip(hits, rows, strict=True) if g in r["labels"]])
                 for g in labels]
    assert metrics["map"] == pytest.approx(np.mean(per_genre))  # seed 000's MAP
    matrix = np.zeros((len(labels), len(labels)), int)
    for r in rows:
        matrix[labels.index(r["labels"][0]), labels.index(r["predicted"])] += 1
    assert metrics["confusion_matrix"] == matrix.tolist()
    for g, name in enumerate(labels):
        predicted = matrix[:, g].sum()
        assert metrics["per_genre"][name]["recall"] == pytest.approx(matrix[g, g] / matrix[g].sum())
        assert metrics["per_genre"][name]["precision"] == pytest.approx(
            matrix[g, g] / predicted if predicted else 0.0)
    top3 = [r["label_ids"][0] in np.argsort(r["scores"])[::-1][:3] for r in rows]
    assert metrics["top3_accuracy"] == pytest.approx(np.mean(top3))


def test_track_scores_are_the_mean_of_its_patch_probabilities(report, cnn_bundle, fma_dataset):
    out, _ = report
    row = pq.read_table(out / "predictions.parquet").to_pylist()[0]
    cfg = FrontendConfig()
    patches = [e["patch"] for e in (
        decode_example(r.numpy(), cfg)
        for r in tf.data.TFRecordDataset(str(fma_dataset / "test-00000-of-00001.tfrecord"))
    ) if e["track_id"] == row["track_id"]]
    assert len(patches) == row["n_patches"] > 1
    model = load_bundle(str(cnn_bundle)).model
    expected = model(np.stack(patches), training=False)["genres"].numpy().mean(axis=0)
    np.testing.assert_allclose(row["scores"], expected, rtol=1e-4, atol=1e-6)


def test_the_report_has_its_figures_and_page(report):
    out, _ = report
    for name in ("confusion_matrix.png", "training_curves.png", "report.md"):
        assert (out / name).stat().st_size > 0, name
    page = (out / "report.md").read_text()
    assert "cnn" in page and "test" in page and "![confusion matrix]" in page


def _copy_dataset(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("tracks", "errors"))
    return dst


def test_a_bundle_for_another_frontend_or_labels_is_refused(transfer_bundle, fma_dataset,
                                                            tmp_path):
    bundle, _ = transfer_bundle
    other = _copy_dataset(fma_dataset, tmp_path / "other")
    frontend = json.loads((other / "frontend.json").read_text())
    (other / "frontend.json").write_text(json.dumps({**frontend, "n_mels": 128}))
    with pytest.raises(SystemExit) as refused:
        main(["evaluate", "--model", str(bundle), "--data", str(other),
              "--output", str(tmp_path / "r1")])
    assert "front-end differs" in str(refused.value) and "n_mels 96 (bundle) vs 128" in str(
        refused.value)

    (other / "frontend.json").write_text(json.dumps(frontend))
    labels = json.loads((other / "labels.json").read_text())
    (other / "labels.json").write_text(json.dumps({**labels,
                                                   "labels": labels["labels"][::-1]}))
    with pytest.raises(SystemExit, match="labels differ .*different order"):
        main(["evaluate", "--model", str(bundle), "--data", str(other),
              "--output", str(tmp_path / "r2")])
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_a_missing_split_names_the_ones_present(transfer_bundle, fma_dataset, tmp_path):
    data = _copy_dataset(fma_dataset, tmp_path / "data")
    for shard in data.glob("test-*.tfrecord"):
        shard.unlink()
    with pytest.raises(SystemExit, match="no 'test' shards.*present: training, validation"):
        main(["evaluate", "--model", str(transfer_bundle[0]), "--data", str(data),
              "--output", str(tmp_path / "r")])
