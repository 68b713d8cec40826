"""Measure ``mgc tag --album-weight W`` on the labelled real-music corpus, each source an album.

Why: the default W must come from measurement. The corpus's clips come in sources (LABELS.csv
``source``: one game's soundtrack, one speech synthesiser's voice, one MIDI groove), which is
how an album-organised library groups tracks, so each source is treated as an album: each
clip's default-model scores are blended with its source's mean, ``(1 - W) * clip + W *
source mean``, and the top genre is scored against the clip's own label. 16 sources hold two
clips or more (88 clips); four of them mix genres (SuperTuxKart's tracks are Electronic,
International and Instrumental); the other clips are alone in their source, where W changes
nothing.

The clips' scores are the default model's (``check_real_music.gated_scores``), each source's
with a temperature fitted without it, from the per-window outputs cached in
``.evidence_cache/`` (no network runs when the cache is warm). The default W is chosen
leave-one-source-out: each source is scored with the W (of ``WEIGHTS``) that is best on the
other sources, the smallest of those within ``TOLERANCE`` of the best when several tie.

Honest limits: most sources carry one genre for all their clips, and the labels were given per
source more than per clip, so blending is flattered here: the figures are an upper bound on
what it gains in a library whose albums mix genres.

    .venv/bin/python scripts/measure_album_weight.py [FOLDER] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_real_music import (  # noqa: E402
    cached_outputs,
    leave_one_source_out_default,
    load_clips,
)

from mgc_model import genres  # noqa: E402
from pipelines.graph.albums import blend  # noqa: E402

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
TOLERANCE = 0.005  # accuracy: a larger W must beat a smaller one by more than this


def blended(scores: np.ndarray, albums: list[str], weight: float) -> np.ndarray:
    out = np.empty_like(scores)
    for album in set(albums):
        rows = [i for i, a in enumerate(albums) if a == album]
        out[rows] = blend(scores[rows], weight)
    return out


def accuracy(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    right = scores.argmax(axis=1) == truth
    recalls = [right[truth == g].mean() for g in np.unique(truth)]
    return float(right.mean()), float(np.mean(recalls))


def choose(accuracies: dict[float, float]) -> float:
    """The smallest W within TOLERANCE of the best accuracy."""
    best = max(accuracies.values())
    return min(w for w, a in accuracies.items() if a >= best - TOLERANCE)


def album_of(root: Path, clips: list) -> list[str]:
    """Each clip's source as LABELS.csv names it (``Clip.source`` is its cross-validation
    family, which puts every MIDI render in one): the album it is blended with."""
    labels = root / "LABELS.csv"
    if not labels.exists():
        return [c.source for c in clips]
    with labels.open(newline="", encoding="utf-8") as f:
        source = {root / row["path"]: row["source"] or row["genre"] for row in csv.DictReader(f)}
    return [source[c.path] for c in clips]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="/work/realmusic", type=Path)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)

    root = args.folder.resolve()
    clips = load_clips(root)
    outs = cached_outputs(clips, root)
    scores, _ = leave_one_source_out_default(clips, outs)
    truth = np.array([genres.FMA_GENRES.index(c.genre) for c in clips])
    albums = album_of(root, clips)
    sizes = Counter(albums)
    print(f"{len(clips)} clips in {len(sizes)} albums (sources); "
          f"{sum(n for n in sizes.values() if n > 1)} clips in albums of two or more; "
          f"largest {max(sizes.values())}")

    figures: dict = {"clips": len(clips), "albums": len(sizes), "by_weight": {}}
    per_album: dict[float, dict[str, int]] = defaultdict(dict)
    grouped = np.array([sizes[a] > 1 for a in albums])
    for w in WEIGHTS:
        s = blended(scores, albums, w)
        acc, bal = accuracy(s, truth)
        in_albums = accuracy(s[grouped], truth[grouped])[0]
        figures["by_weight"][w] = {"accuracy": acc, "balanced_accuracy": bal,
                                   "accuracy_in_albums_of_two_or_more": in_albums}
        right = s.argmax(axis=1) == truth
        for album in sizes:
            per_album[w][album] = int(right[[a == album for a in albums]].sum())
        print(f"W = {w:<4}: accuracy {acc:.1%}, balanced accuracy {bal:.1%}; on the "
              f"{grouped.sum()} clips in albums of two or more {in_albums:.1%}")

    changed = {a: [per_album[w][a] for w in WEIGHTS] for a in sizes
               if len({per_album[w][a] for w in WEIGHTS}) > 1}
    figures["albums_changed"] = {a: {"clips": sizes[a], "right_by_weight": r}
                                 for a, r in changed.items()}
    for album, right in sorted(changed.items()):
        print(f"  {album} ({sizes[album]} clips): right at W = "
              + ", ".join(f"{w}: {n}" for w, n in zip(WEIGHTS, right, strict=True)))
    chosen, loso = {}, np.zeros(len(clips), dtype=bool)
    for held in sorted(sizes):
        others = [a != held for a in albums]
        train_right = {w: sum(n for a, n in per_album[w].items() if a != held)
                       / sum(others) for w in WEIGHTS}
        w = choose(train_right)
        chosen[held] = w
        rows = np.array([a == held for a in albums])
        loso[rows] = blended(scores, albums, w)[rows].argmax(axis=1) == truth[rows]
    picks = Counter(chosen.values())
    recalls = [loso[truth == g].mean() for g in np.unique(truth)]
    figures["leave_one_source_out"] = {
        "accuracy": float(loso.mean()), "balanced_accuracy": float(np.mean(recalls)),
        "weights_chosen": {str(w): n for w, n in sorted(picks.items())}}
    whole = choose({w: f["accuracy"] for w, f in figures["by_weight"].items()})
    figures["chosen_on_all_sources"] = whole
    print(f"leave-one-source-out: accuracy {loso.mean():.1%}, balanced "
          f"{np.mean(recalls):.1%}; W chosen per held-out source: "
          + ", ".join(f"{w} x{n}" for w, n in sorted(picks.items())))
    print(f"on all sources the rule picks W = {whole}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
