"""Evaluation reports a person reads: metrics.json, the confusion matrix and training curves as
PNG, and a short Markdown page linking them.

Figures are drawn on ``matplotlib.figure.Figure`` objects (Agg by file type), never through
pyplot, so no global backend or figure state is touched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

CONFUSION_PNG = "confusion_matrix.png"
CURVES_PNG = "training_curves.png"
ANNOTATE_MAX_LABELS = 30  # beyond this, cell counts are unreadable


def plot_confusion_matrix(matrix: list[list[int]], labels: list[str], path: str | Path,
                          title: str = "") -> None:
    """Rows (true genres) normalised to 1, colour by share, each cell annotated with its count."""
    counts = np.asarray(matrix, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    k = len(labels)
    side = min(4 + 0.55 * k, 40)
    fig = Figure(figsize=(side + 1.5, side), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="share of the true genre's tracks")
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    rows = [f"{name} ({int(n)})" for name, n in zip(labels, totals[:, 0], strict=True)]
    ax.set_yticks(range(k), rows)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre (tracks)")
    ax.set_title(title or "Confusion matrix (rows normalised)")
    if k <= ANNOTATE_MAX_LABELS:
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if shares[i, j] > 0.5 else "black")
    fig.savefig(path, dpi=100)


def _curve_columns(history: pd.DataFrame, word: str) -> list[str]:
    return [c for c in history.columns if word in c.lower()]


def plot_training_curves(history: pd.DataFrame, path: str | Path) -> None:
    """Loss and accuracy per epoch, training against validation (Keras history columns)."""
    panels = [(word, _curve_columns(history, word)) for word in ("loss", "acc")]
    panels = [(word, cols) for word, cols in panels if cols]
    if not panels:
        raise ValueError(f"history has no loss or accuracy columns: {list(history.columns)}")
    epochs = np.arange(1, len(history) + 1)
    if "epoch" in history and history["epoch"].is_monotonic_increasing:
        epochs = history["epoch"] + 1  # else several phases restart at 0: number the rows
    fig = Figure(figsize=(5.5 * len(panels), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (word, columns) in zip(axes, panels, strict=True):
        for column in columns:
            style = "--" if column.startswith("val_") else "-"
            ax.plot(epochs, history[column], style, marker="o", markersize=3, label=column)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("loss" if word == "loss" else "accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Training curves (dashed: validation)")
    fig.savefig(path, dpi=100)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def markdown(metrics: dict, title: str, figures: list[str], notes: str = "") -> str:
    """The report page: headline numbers, per-genre table, figures, notes."""
    lines = [f"# {title}", ""]
    kind = "multi-label" if metrics.get("multi_label") else "single-label"
    lines += [f"{metrics['n_tracks']} tracks, {len(metrics['labels'])} genres ({kind}); "
              "scores are per track.", ""]
    lines += ["| metric | value |", "| --- | --- |"]
    lines += [
        f"| accuracy | {_pct(metrics['accuracy'])} |",
        f"| MAP (mean per-genre accuracy, seed 000) | {_pct(metrics['map'])} |",
        f"| top-3 accuracy | {_pct(metrics['top3_accuracy'])} |",
        f"| macro F1 | {metrics['macro_f1']:.3f} |",
        f"| weighted F1 | {metrics['weighted_f1']:.3f} |",
        "",
        "| genre | precision | recall | F1 | tracks |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, g in metrics["per_genre"].items():
        lines.append(f"| {name} | {g['precision']:.3f} | {g['recall']:.3f} | {g['f1']:.3f} "
                     f"| {g['support']} |")
    lines.append("")
    for figure in figures:
        lines += [f"![{Path(figure).stem.replace('_', ' ')}]({figure})", ""]
    if notes:
        lines += ["## Notes", "", notes.strip(), ""]
    return "\n".join(lines)


def write_report(report_dir: str | Path, metrics: dict, title: str,
                 history: pd.DataFrame | None = None, notes: str = "") -> None:
    """Write metrics.json, confusion_matrix.png (single-label), training_curves.png (when a
    Keras history is given) and report.md into ``report_dir``."""
    report_dir = Path(report_dir)
    os.makedirs(report_dir, exist_ok=True)
    figures = []
    if metrics.get("confusion_matrix") is not None:
        plot_confusion_matrix(metrics["confusion_matrix"], metrics["labels"],
                              report_dir / CONFUSION_PNG, title=f"{title}: confusion matrix")
        figures.append(CONFUSION_PNG)
    if history is not None:
        plot_training_curves(history, report_dir / CURVES_PNG)
        figures.append(CURVES_PNG)
    with open(report_dir / "metrics.json", "w") as f:
        json.dump(metrics, f, indent=2)
    (report_dir / "report.md").write_text(markdown(metrics, title, figures, notes))


def plot_reliability(curves: dict[str, dict], path: str | Path) -> None:
    """Reliability diagram: fraction right against mean confidence per bin, one line per
    model (``metrics.reliability`` outputs), the diagonal for perfect calibration."""
    fig = Figure(figsize=(5.5, 5.5), dpi=120)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="perfectly calibrated")
    for name, curve in curves.items():
        points = [(b["confidence"], b["accuracy"], b["tracks"]) for b in curve["bins"]
                  if b["tracks"]]
        x, y, n = (np.array(v, dtype=float) for v in zip(*points, strict=True))
        ax.plot(x, y, marker="o", label=f"{name} (ECE {curve['ece']:.3f})")
        ax.scatter(x, y, s=10 + 3 * n, alpha=0.25)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("top-genre score (mean in bin)")
    ax.set_ylabel("fraction of tracks right")
    ax.set_title("Reliability of the top genre's score")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
