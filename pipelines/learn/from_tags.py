"""``mgc train --from-tags LIBRARY``: learn the owner's taxonomy from the genres the files
already carry, and write a bundle that ``mgc tag --model BUNDLE`` uses.

1. Features, once: the tag pipeline with the default model over the library (``run_tag``,
   incremental, into ``--features DIR`` or a temporary folder), whose rows carry each track's
   embedding, the default model's own scores and the file's tags. A second run over the
   same DIR only computes new and changed files.
2. Labels: each track's first file genre, spellings merged, small genres left out
   (``pipelines.learn.owner_labels``).
3. A split by artist (and album): one fold held out, no artist on both sides.
4. The head (``mgc_model.head``) fitted on the training side in seconds.
5. The report: on the held-out tracks, the bundle's accuracy beside the default model's. The
   default scores FMA's 16 genres, so a held-out label counts as its FMA genre through the
   alias table (``genre_aliases.to_fma``): the default is right when its top genre is that
   genre. That is generous to it where two of the owner's genres share one FMA genre
   ('Techno' and 'House' are both Electronic); a label the table does not know can never be
   right for it, and the report counts those tracks apart.
6. How far to trust the head on its own (``held_out_min_score``): every labelled track
   scored by a head fitted without its artist, and the least score right 9 times in 10,
   where ``tag --min-score auto`` falls back on a library with too few other tracks with
   genres. The albums the head was fitted on (``fitted_on_albums``) never judge it there.

The bundle (kind ``head``, ``mgc_model.bundle``) holds the head, the labels as the owner
spells them and ``report.json``; it is trained on the training side only, so its report
describes exactly the model that tags.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np

from mgc_model import bundle as bundles
from mgc_model import calibration, registry
from mgc_model.contract import ModelInfo
from mgc_model.genre_aliases import to_fma
from mgc_model.head import LinearHead, choose_c, fit_head, out_of_fold
from mgc_model.metrics import precision_at, threshold_for_precision
from pipelines.files.tags import album_key
from pipelines.learn.owner_labels import (
    DEFAULT_HOLDOUT,
    DEFAULT_MIN_TRACKS,
    artist_groups,
    artist_names,
    held_out,
    owner_labels,
)
from pipelines.terminal.progress import ProgressFile

REPORT_FILE = "report.json"
COLUMNS = ["path", "artist", "album_artist", "album", "file_genres", "embedding",
           "track_genre_scores"]


@dataclass(frozen=True)
class LearnOptions:
    """What ``mgc train --from-tags`` lets a user choose."""

    min_tracks: int = DEFAULT_MIN_TRACKS  # fewer tracks: the genre is left out, and listed
    holdout: float = DEFAULT_HOLDOUT  # share of the labelled tracks held out, whole artists
    seed: int = 0
    name: str | None = None  # model name recorded in tags (default: the bundle folder's)
    features: str | None = None  # keep the feature pass here, to reuse it next time
    max_patches: int | None = None  # windows per track in the feature pass
    base: str = registry.DEFAULT_MODEL

    def validate(self) -> None:
        if self.min_tracks < 2:
            raise ValueError("--min-tracks must be at least 2")
        if not 0 < self.holdout <= 0.5:
            raise ValueError("--holdout must be above 0 and at most 0.5")
        if self.max_patches is not None and self.max_patches <= 0:
            raise ValueError("--max-patches must be a positive whole number")
        if self.features and os.path.isdir(os.path.join(self.features, "writes")):
            raise ValueError(f"--features {self.features!r} holds a `mgc tag --write-tags` "
                             "run, whose records `mgc undo` needs; give a folder of its own")


def _features(library: Sequence[str], folder: str, options: LearnOptions,
              pipeline_args: Sequence[str], progress: ProgressFile | None) -> dict:
    """The feature pass: the tag pipeline into ``folder``; its rows as columns."""
    from pipelines.graph.publish import read_tags
    from pipelines.graph.tag import TagOptions, run_tag

    tag_options = TagOptions(model=options.base, max_patches=options.max_patches,
                             album_weight=0.0)
    summary = run_tag(library, folder, tag_options, pipeline_args, progress, incremental=True)
    if summary is None:
        raise ValueError("the runner returned before the feature pass ended; --from-tags "
                         "needs a runner that waits for the job (e.g. the DirectRunner)")
    table = read_tags(folder).to_table(columns=COLUMNS).to_pydict()
    order = np.argsort(table["path"], kind="stable")  # a stable order, whatever the shards
    columns = {name: [table[name][i] for i in order] for name in COLUMNS}
    columns["genres"] = json.loads(read_tags(folder).schema.metadata[b"mgc.genres"])
    columns["summary"] = {"seen": summary.seen, "tagged": summary.tagged,
                          "skipped": summary.skipped, "failed": summary.failed}
    return columns


def _accuracy(right: np.ndarray, targets: np.ndarray, labels: Sequence[str]) -> dict:
    per_genre = {labels[g]: {"tracks": int((targets == g).sum()),
                             "right": int(right[targets == g].sum())}
                 for g in sorted(set(targets.tolist()))}
    return {"accuracy": float(right.mean()) if right.size else None,
            "balanced_accuracy": float(np.mean([r["right"] / r["tracks"]
                                                for r in per_genre.values()]))
            if per_genre else None,
            "right": int(right.sum()), "per_genre": per_genre}


def _compare(features: dict, rows: np.ndarray, targets: np.ndarray, labels: tuple[str, ...],
             head: LinearHead) -> dict:
    """The bundle and the default model on the same held-out tracks."""

    x = np.array([features["embedding"][i] for i in rows], dtype=np.float32)
    scores = head.probabilities(x)
    ours = scores.argmax(axis=1)
    fma = features["genres"]
    default_scores = np.array([features["track_genre_scores"][i] for i in rows])
    label_fma = [to_fma(name) for name in labels]
    mapped = np.array([label_fma[t] is not None for t in targets])
    default_top = [fma[i] for i in default_scores.argmax(axis=1)]
    # told the library's genres: the best of the FMA genres its labels map to
    allowed = [i for i, g in enumerate(fma) if g in set(label_fma)]
    default_within = [fma[allowed[i]] for i in default_scores[:, allowed].argmax(axis=1)] if (
        allowed) else [None] * len(rows)
    def right(answers: list[str | None]) -> np.ndarray:
        return np.array([label_fma[t] is not None and label_fma[t] == g
                         for t, g in zip(targets, answers, strict=True)], dtype=bool)

    default_right, within_right = right(default_top), right(default_within)
    bundle_right = ours == targets
    return {
        "tracks": int(len(rows)),
        "labels_with_an_fma_genre": int(mapped.sum()),
        "bundle": _accuracy(bundle_right, targets, labels),
        "default": _accuracy(default_right, targets, labels),
        "default_within_library_genres": _accuracy(within_right, targets, labels),
        "bundle_on_labels_with_an_fma_genre": _accuracy(bundle_right[mapped],
                                                        targets[mapped], labels),
        "default_on_labels_with_an_fma_genre": _accuracy(default_right[mapped],
                                                         targets[mapped], labels),
        "tracks_held_out": [
            {"path": features["path"][i], "label": labels[t], "bundle": labels[o],
             "bundle_score": float(s.max()), "default": d, "default_fma_of_label": label_fma[t]}
            for i, t, o, s, d in zip(rows, targets, ours, scores, default_top, strict=True)],
    }


def _sides(picked: list[dict], mask: np.ndarray) -> dict:
    """How many artists and albums the two sides share (none, by construction: checked)."""
    from pipelines.files.tags import album_key

    def names(side: np.ndarray) -> tuple[set[str], set[str]]:
        chosen = [row for row, on in zip(picked, side, strict=True) if on]
        return ({a for row in chosen for a in artist_names(row)},
                {album_key(row) for row in chosen if row["album"]})

    (train_artists, train_albums), (held_artists, held_albums) = names(~mask), names(mask)
    return {"artists": [len(train_artists), len(held_artists)],
            "albums": [len(train_albums), len(held_albums)],
            "artists_on_both_sides": len(train_artists & held_artists),
            "albums_on_both_sides": len(train_albums & held_albums)}


def learn(library: Sequence[str], output: str, options: LearnOptions = LearnOptions(),
          pipeline_args: Sequence[str] = (), progress: ProgressFile | None = None) -> dict:
    """Run the whole of ``mgc train --from-tags`` and return its report (also the bundle's
    ``report.json``); ValueError, before the bundle is written, when the library cannot
    teach a head (fewer than two genres with enough tracks, one artist only)."""
    options.validate()
    base = registry.describe(options.base)
    if base.base is not None:
        raise ValueError("--from-tags learns on a pretrained model's features, not a bundle's")
    writer = bundles.BundleWriter(output)  # refuses a non-bundle output before any work
    started, clock = datetime.now(timezone.utc), time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            folder = options.features or stack.enter_context(
                tempfile.TemporaryDirectory(prefix="mgc-features-"))
            features = _features(library, folder, options, pipeline_args, progress)
        feature_s = time.monotonic() - clock
        report = _fit_and_report(features, writer, options, base)
        report["timing_s"] = {"features": round(feature_s, 1),
                              "head_and_report": round(time.monotonic() - clock - feature_s, 2)}
        report["created_at"] = started.isoformat()
        writer.write_json(REPORT_FILE, report)
        report["bundle"] = str(writer.commit(bundles.HEAD_REQUIRED_FILES))
        return report
    except BaseException:
        writer.discard()
        raise


def _trusted_from(features: np.ndarray, targets: np.ndarray, groups: np.ndarray,
                  n_genres: int, c: float, seed: int) -> dict:
    """The least top score at which the head is right 9 times in 10 on artists it never
    learnt from (every labelled track scored out of fold, ``head.out_of_fold``): where
    ``tag --min-score auto`` falls back on a library with too few tracks to measure it.
    None: no score is (nothing the head says alone is written)."""
    p = out_of_fold(features, targets, groups, n_genres, c, seed=seed)
    if p is None:
        return {"min_score": None, "tracks": 0, "precision": None, "share": 0.0}
    confidence, right = p.max(axis=1), p.argmax(axis=1) == targets
    least = threshold_for_precision(confidence, right, calibration.TARGET_PRECISION,
                                    calibration.MIN_ABOVE)
    precision, share = precision_at(confidence, right, least) if least is not None else (
        None, 0.0)
    return {"min_score": least, "tracks": int(len(targets)), "precision": precision,
            "share": share}


def _fit_and_report(features: dict, writer: bundles.BundleWriter, options: LearnOptions,
                    base: ModelInfo) -> dict:
    labelled = owner_labels(features["file_genres"], options.min_tracks)
    if len(labelled.labels) < 2:
        kept = ", ".join(labelled.labels) or "none"
        raise ValueError(f"the library's files name fewer than two genres with at least "
                         f"{options.min_tracks} tracks each (kept: {kept}; left out: "
                         f"{labelled.left_out or 'none'}); tag more files, or lower "
                         "--min-tracks")
    rows = np.array([i for i, t in enumerate(labelled.targets) if t is not None])
    targets = np.array([labelled.targets[i] for i in rows])
    picked = [{k: features[k][i] for k in ("path", "artist", "album_artist", "album")}
              for i in rows]
    groups = artist_groups(picked)
    mask = held_out(targets, groups, options.holdout, options.seed)
    embeddings = np.array([features["embedding"][i] for i in rows], dtype=np.float32)
    x = embeddings[~mask]
    c, losses = choose_c(x, targets[~mask], groups[~mask], len(labelled.labels),
                         seed=options.seed)
    head = fit_head(x, targets[~mask], len(labelled.labels), c)
    trust = _trusted_from(embeddings, targets, groups, len(labelled.labels), c, options.seed)
    model_version = bundles.write_head(writer, head, base)
    name = options.name or writer.output.name
    missing = sorted(set(targets[mask].tolist()) - set(targets[~mask].tolist()))
    report = {
        "model": f"{name}@{model_version}",
        "base_model": base.ref,
        "library": features["summary"],
        "labels": {"kept": {label: int((targets == i).sum())
                            for i, label in enumerate(labelled.labels)},
                   "spellings": labelled.spellings, "left_out": labelled.left_out,
                   "min_tracks": options.min_tracks, "untagged_tracks": labelled.untagged},
        "split": {"by": "artist, album artist and album (folder when untagged)",
                  "train_tracks": int((~mask).sum()), "held_out_tracks": int(mask.sum()),
                  **_sides(picked, mask),
                  "genres_only_held_out": [labelled.labels[g] for g in missing]},
        "head": {"C": c, "chosen_by": "log loss over folds of whole artists of the training "
                 "side" if losses else "too few artists to choose: the default"},
        "held_out": _compare(features, rows[mask], targets[mask], labelled.labels, head),
        "held_out_min_score": trust,
    }
    writer.write_json(bundles.LABELS_FILE, {"labels": list(labelled.labels),
                                            "multi_label": False,
                                            "source": "the library's own genre tags",
                                            "spellings": labelled.spellings})
    writer.write_json(bundles.FRONTEND_FILE, base.frontend.to_dict())
    writer.write_json(bundles.TRAINING_FILE, {
        "name": name, "version": model_version, "arch": bundles.HEAD_ARCH,
        "base_model": base.ref, "features": "the base model's track embedding",
        "embedding_dim": base.embedding_dim,
        "head": {"kind": "logistic regression (scikit-learn)", "C": c,
                 "class_weight": "balanced",
                 "log_loss_by_C": {str(k): round(v, 4) for k, v in losses.items()}},
        "options": asdict(options),
        "counts": {"train_tracks": int((~mask).sum()), "held_out_tracks": int(mask.sum())},
        # what `tag --min-score auto` must not measure the head against, and where it falls
        # back when the library has too few other tracks with genres to measure it on
        "fitted_on_albums": sorted({album_key(picked[i]) for i in np.flatnonzero(~mask)}),
        "held_out_min_score": trust,
        "held_out": {key: report["held_out"][key]["accuracy"] for key in ("bundle", "default")},
        "versions": {pkg: version(pkg) for pkg in ("mgc", "scikit-learn")},
    })
    return report


def summary_lines(report: dict) -> list[str]:
    """What ``mgc train --from-tags`` prints."""
    labels, split, held = report["labels"], report["split"], report["held_out"]
    kept = ", ".join(
        f"{name} {n}" + (f" ({' / '.join(labels['spellings'][name])})"
                         if len(labels["spellings"][name]) > 1 else "")
        for name, n in labels["kept"].items())
    lines = [f"Labels from the files' own genres: {kept}"]
    if labels["left_out"]:
        lines.append(f"Left out (fewer than {labels['min_tracks']} tracks): " + ", ".join(
            f"{name} {n}" for name, n in labels["left_out"].items()))
    lines.append(f"Files without a genre: {labels['untagged_tracks']}")
    lines.append(
        f"Split by artist and album: {split['train_tracks']} tracks to train "
        f"({split['artists'][0]} artists), {split['held_out_tracks']} held out "
        f"({split['artists'][1]} artists); artists on both sides: "
        f"{split['artists_on_both_sides']}, albums: {split['albums_on_both_sides']}")
    if split["genres_only_held_out"]:
        lines.append("  held out with no training track (the bundle cannot name them): "
                     + ", ".join(split["genres_only_held_out"]))

    def pct(result: dict) -> str:
        return (f"{result['accuracy']:.0%} (balanced {result['balanced_accuracy']:.0%})"
                if result["accuracy"] is not None else "-")

    lines.append(f"Held-out accuracy on {held['tracks']} tracks: bundle {pct(held['bundle'])}, "
                 f"default model {pct(held['default'])}; told the library's genres "
                 f"{pct(held['default_within_library_genres'])}")
    lines.append(f"  (the default's genre against each label's FMA genre by the alias table; "
                 f"{held['labels_with_an_fma_genre']} of {held['tracks']} labels have one)")
    trust = report["held_out_min_score"]
    if trust["min_score"] is None:
        lines.append(f"  on its own, the head is right 9 times in 10 at no score (each of "
                     f"{trust['tracks']} tracks scored by a head that never heard its artist): "
                     "`tag --min-score auto` writes only what the artist's other albums back")
    else:
        lines.append(f"  on its own, the head is right {trust['precision']:.0%} of the time from "
                     f"a score of {trust['min_score']:g} ({trust['share']:.0%} of "
                     f"{trust['tracks']} tracks, each scored by a head that never heard its "
                     "artist): `tag --min-score auto` uses it where too few other files carry "
                     "genres")
    worst = Counter(f"{t['label']} -> {t['bundle']}" for t in held["tracks_held_out"]
                    if t["label"] != t["bundle"]).most_common(3)
    if worst:
        lines.append("  commonest mistakes: " + ", ".join(f"{c} {n}" for c, n in worst))
    lines.append(f"Head: logistic regression, C = {report['head']['C']:g} "
                 f"({report['head']['chosen_by']})")
    lines.append(f"Bundle {report['model']} (a head on {report['base_model']}) -> "
                 f"{report['bundle']}; report in {Path(report['bundle']) / REPORT_FILE}")
    return lines
