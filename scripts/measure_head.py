"""Measure the head ``mgc train --from-tags`` fits, on real music, against the alternatives.

Why: the head's kind and its regularisation must come from measurement. The corpus is the
labelled real-music folder (``scripts/build_real_music_corpus.sh``: LABELS.csv with path,
genre, source); its features are what ``--from-tags`` reads, the rows of a ``mgc tag`` run of
the default model over it (the 400-value track embedding):

    .venv/bin/mgc tag $(sed 1d LABELS.csv | cut -d, -f1 | tr -d '"' | sed 's|^|FOLDER/|') \\
        --output OUT
    .venv/bin/python scripts/measure_head.py --tags OUT [--labels FOLDER/LABELS.csv]

Every head is scored by grouped cross-validation, five folds of whole groups, as
``--from-tags`` splits by artist: no group is on both sides. Two groupings: each LABELS.csv
``source`` (one game's soundtrack, one speech voice, one MIDI groove: the nearest thing this
corpus has to an artist), and the stricter source families of ``check_real_music`` (every
MIDI render in one group, since they share a soundfont and a synthesiser: 108 of the 198
clips). A genre whose clips all sit in one group cannot be learnt under such a split, for any
head; the default model (zero-shot, its own genre) is scored on the same clips beside them.

Heads: scikit-learn's logistic regression at several C (balanced class weights, standardised
features: what ``mgc_model.head`` fits), scikit-learn's MLPClassifier, and mgc's own Keras MLP
head (``mgc_model.transfer.build_head``: 256 ReLU units, dropout 0.5, Adam 1e-3).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_real_music import source_family  # noqa: E402

FOLDS = 5


def load(tags: Path, labels: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list, list]:
    import pyarrow.dataset as ds

    root = labels.parent.resolve()
    with labels.open(newline="", encoding="utf-8") as f:
        truth = {str(root / row["path"]): (row["genre"], row["source"])
                 for row in csv.DictReader(f)}
    data = ds.dataset(tags / "tags", format="parquet")
    fma = json.loads(data.schema.metadata[b"mgc.genres"])
    table = data.to_table(columns=["path", "embedding", "genre"]).to_pydict()
    rows = [i for i, p in enumerate(table["path"]) if p in truth]
    genres = sorted({truth[table["path"][i]][0] for i in rows})
    x = np.array([table["embedding"][i] for i in rows], dtype=np.float32)
    y = np.array([genres.index(truth[table["path"][i]][0]) for i in rows])
    groups = np.array([truth[table["path"][i]][1] for i in rows])
    default = [table["genre"][i] for i in rows]
    assert set(genres) <= set(fma)
    return x, y, groups, genres, default


def logistic(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def fit_predict(x, y, test, groups):
        model = make_pipeline(StandardScaler(), LogisticRegression(
            C=c, class_weight="balanced", max_iter=5000))
        return model.fit(x, y).predict(test)
    return fit_predict


def chosen_c(x, y, test, groups):
    """What ``--from-tags`` fits: C chosen on the training folds by grouped log loss."""
    from mgc_model.head import choose_c, fit_head

    k = int(y.max()) + 1
    c, _ = choose_c(x, y, groups, k)
    CHOSEN.append(c)
    return fit_head(x, y, k, c).probabilities(test).argmax(axis=1)


CHOSEN: list[float] = []


def sklearn_mlp(x, y, test, groups):
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(256,), alpha=1e-2, max_iter=500, random_state=0))
    return model.fit(x, y).predict(test)


def keras_mlp(x, y, test, groups):
    import keras

    from mgc_model.transfer import build_head

    keras.utils.set_random_seed(0)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    k = int(y.max()) + 1
    head = build_head(x.shape[1], k)
    model = keras.Model(head.input, head.output["genres"])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    counts = np.bincount(y, minlength=k)
    weights = (len(y) / (k * np.maximum(counts, 1)))[y]
    model.fit((x - mean) / scale, keras.utils.to_categorical(y, k), sample_weight=weights,
              epochs=60, batch_size=32, verbose=0)
    return model.predict((test - mean) / scale, verbose=0).argmax(axis=1)


HEADS = {**{f"logistic regression C={c:g}": logistic(c)
            for c in (0.001, 0.01, 0.1, 1.0, 10.0)},
         "logistic regression, C by log loss (mgc)": chosen_c,
         "scikit-learn MLP (256)": sklearn_mlp, "Keras MLP head (mgc's, 256)": keras_mlp}


def scores(right: np.ndarray, y: np.ndarray) -> dict:
    return {"accuracy": float(right.mean()),
            "balanced_accuracy": float(np.mean([right[y == g].mean() for g in np.unique(y)]))}


def evaluate(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
             default_right: np.ndarray) -> dict:
    """Every head, and the default, by grouped five-fold cross-validation."""
    from sklearn.model_selection import GroupKFold

    print(f"\n{len(y)} clips in {len(set(groups))} groups; {FOLDS} folds of whole groups")
    folds = list(GroupKFold(n_splits=FOLDS).split(x, y, groups))
    learnable = np.zeros(len(y), dtype=bool)  # the clip's genre has a training clip
    for train, test in folds:
        learnable[test] = np.isin(y[test], y[train])
    figures: dict = {"groups": len(set(groups)), "learnable_clips": int(learnable.sum()),
                     "default model": {**scores(default_right, y),
                                       "on_learnable": scores(default_right[learnable],
                                                              y[learnable])}}
    print(f"{learnable.sum()} clips have a genre with training clips in their fold")
    rows = [("default model (zero-shot)", figures["default model"])]
    for name, fit_predict in HEADS.items():
        tic = time.monotonic()
        predicted = np.empty_like(y)
        for train, test in folds:
            predicted[test] = fit_predict(x[train], y[train], x[test], groups[train])
        right = predicted == y
        figures[name] = {**scores(right, y), "on_learnable": scores(right[learnable],
                                                                     y[learnable]),
                         "seconds": round(time.monotonic() - tic, 1)}
        rows.append((name, figures[name]))
        if fit_predict is chosen_c:
            figures[name]["C_per_fold"] = list(CHOSEN)
            CHOSEN.clear()
    for name, f in rows:
        print(f"{name:<40} accuracy {f['accuracy']:.1%}, balanced {f['balanced_accuracy']:.1%}"
              f"; on learnable clips {f['on_learnable']['accuracy']:.1%} (balanced "
              f"{f['on_learnable']['balanced_accuracy']:.1%})"
              + (f"; C per fold {f['C_per_fold']}" if "C_per_fold" in f else ""))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", required=True, type=Path, help="OUT of a `mgc tag` run")
    parser.add_argument("--labels", type=Path, default=Path("/work/realmusic/LABELS.csv"))
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)

    x, y, sources, genres, default = load(args.tags, args.labels)
    default_right = np.array([d == genres[t] for d, t in zip(default, y, strict=True)])
    figures: dict = {"clips": len(y), "genres": len(genres)}
    for grouping, groups in (("source", sources),
                             ("family", np.array([source_family(s) for s in sources]))):
        figures[grouping] = evaluate(x, y, groups, default_right)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
