"""Metrics against a hand count on a small known example, and the report files a user opens."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from sklearn.metrics import accuracy_score, balanced_accuracy_score, top_k_accuracy_score

from mgc_model.metrics import classification_metrics, labels_to_indicator
from mgc_model.report import write_report

LABELS = ["Rock", "Jazz", "Folk", "Spoken"]
# seven tracks; "Spoken" is never true nor predicted
TRUE = [0, 0, 0, 1, 1, 2, 2]
SCORES = np.array([
    [0.70, 0.10, 0.10, 0.10],  # Rock  -> Rock
    [0.30, 0.50, 0.10, 0.10],  # Rock  -> Jazz, Rock second
    [0.05, 0.25, 0.40, 0.30],  # Rock  -> Folk, Rock fourth: top-3 miss
    [0.10, 0.80, 0.05, 0.05],  # Jazz  -> Jazz
    [0.20, 0.60, 0.10, 0.10],  # Jazz  -> Jazz
    [0.50, 0.10, 0.30, 0.10],  # Folk  -> Rock, Folk second
    [0.10, 0.10, 0.70, 0.10],  # Folk  -> Folk
])


@pytest.fixture(scope="module")
def known() -> dict:
    return classification_metrics(labels_to_indicator([[t] for t in TRUE], 4), SCORES, LABELS)


def test_headline_numbers_match_a_recount(known):
    assert known["n_tracks"] == 7
    assert known["multi_label"] is False
    assert known["accuracy"] == pytest.approx(4 / 7)
    # seed 000, eq. 17: mean over the 3 genres present of T_i / (T_i + F_i)
    assert known["map"] == pytest.approx((1 / 3 + 2 / 2 + 1 / 2) / 3)
    assert known["top3_accuracy"] == pytest.approx(6 / 7)


def test_per_genre_and_averages_match_a_recount(known):
    g = known["per_genre"]
    assert (g["Rock"]["precision"], g["Rock"]["recall"]) == pytest.approx((1 / 2, 1 / 3))
    assert (g["Jazz"]["precision"], g["Jazz"]["recall"]) == pytest.approx((2 / 3, 1.0))
    assert (g["Folk"]["precision"], g["Folk"]["recall"]) == pytest.approx((1 / 2, 1 / 2))
    assert [g[n]["f1"] for n in LABELS] == pytest.approx([0.4, 0.8, 0.5, 0.0])
    assert [g[n]["support"] for n in LABELS] == [3, 2, 2, 0]
    assert g["Spoken"]["accuracy"] is None
    # the absent genre does not drag the macro average down
    assert known["macro_f1"] == pytest.approx((0.4 + 0.8 + 0.5) / 3)
    assert known["weighted_f1"] == pytest.approx((3 * 0.4 + 2 * 0.8 + 2 * 0.5) / 7)
    assert known["confusion_matrix"] == [[1, 1, 1, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    json.dumps(known)  # JSON-ready


def test_agrees_with_scikit_learn_on_random_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, size=500)
    scores = rng.random((500, 6)) + 0.3 * np.eye(6)[y]
    m = classification_metrics(np.eye(6, dtype=int)[y], scores, list("abcdef"))
    pred = scores.argmax(axis=1)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["map"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["top3_accuracy"] == pytest.approx(top_k_accuracy_score(y, scores, k=3))
    assert np.trace(m["confusion_matrix"]) == round(m["accuracy"] * 500)


def test_multi_label_counts_a_hit_when_the_best_genre_is_true():
    y = labels_to_indicator([[0, 1], [1], [2, 0]], 3)
    scores = np.array([[0.9, 0.6, 0.1], [0.7, 0.2, 0.1], [0.2, 0.3, 0.4]])
    m = classification_metrics(y, scores, ["a", "b", "c"])
    assert m["multi_label"] is True and m["confusion_matrix"] is None
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["map"] == pytest.approx((1 + 0.5 + 1) / 3)
    # predicted sets: {a, b}, {a}, {c} (scores >= 0.5, plus the best)
    g = m["per_genre"]
    assert (g["a"]["precision"], g["a"]["recall"]) == pytest.approx((0.5, 0.5))
    assert (g["b"]["precision"], g["b"]["recall"]) == pytest.approx((1.0, 0.5))
    assert (g["c"]["precision"], g["c"]["recall"]) == pytest.approx((1.0, 1.0))


def test_bad_input_is_refused():
    y = labels_to_indicator([[0], [1]], 2)
    with pytest.raises(ValueError, match="n_tracks, n_labels"):
        classification_metrics(y, np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="label names"):
        classification_metrics(y, np.zeros((2, 2)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="no true label"):
        classification_metrics(np.array([[1, 0], [0, 0]]), np.zeros((2, 2)), ["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        classification_metrics(y, np.full((2, 2), np.nan), ["a", "b"])
    with pytest.raises(ValueError, match="out of range"):
        labels_to_indicator([[2]], 2)


def test_report_files(tmp_path, known):
    history = pd.DataFrame({
        "epoch": [0, 1, 2], "loss": [1.2, 0.8, 0.5], "val_loss": [1.3, 0.9, 0.7],
        "genres_accuracy": [0.4, 0.6, 0.8], "val_genres_accuracy": [0.35, 0.55, 0.7],
    })
    write_report(tmp_path / "r", known, "Known example", history=history, notes="hand-made")
    out = tmp_path / "r"
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == pytest.approx(4 / 7)
    for png in ("confusion_matrix.png", "training_curves.png"):
        image = imread(out / png)
        assert image.shape[0] > 200 and image.shape[1] > 200
        assert image[..., :3].std() > 0.05  # something is drawn
    md = (out / "report.md").read_text()
    assert md.startswith("# Known example")
    assert "57.1%" in md  # accuracy
    assert "| Jazz | 0.667 | 1.000 | 0.800 | 2 |" in md
    assert "](confusion_matrix.png)" in md and "](training_curves.png)" in md
    assert "hand-made" in md


def test_report_without_history_or_confusion(tmp_path):
    y = labels_to_indicator([[0, 1], [1]], 2)
    m = classification_metrics(y, np.array([[0.9, 0.6], [0.2, 0.7]]), ["a", "b"])
    write_report(tmp_path, m, "Multi-label")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "report.md"]
    assert "confusion_matrix.png" not in (tmp_path / "report.md").read_text()
    with pytest.raises(ValueError, match="loss"):
        write_report(tmp_path, m, "x", history=pd.DataFrame({"epoch": [0], "lr": [0.1]}))
