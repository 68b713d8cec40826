"""How far to trust mgc on this library: the least score at which its top genre is right at
least 9 times in 10, measured against the genres the library's own files carry.

Why: a score means different things on different music. On the check corpus the default
model's top genre was right 9 times in 10 from 0.85 up, yet on unfamiliar music the same
scores sit lower while staying right (issue 21: 12 clips of 77 scored 0.5 or more, all
right), so a threshold fixed once writes almost nothing there. A library that carries
genres in enough files says itself where the line is.

Each labelled track (one whose own genre tags name a genre of the model's,
``decision.labels_of``) is a sample: its final top score, and whether that genre is one of
its labels. Its prediction never saw its own label: artist evidence comes from the artist's
other albums only (``decision.with_library``). Samples are kept apart by where their genre
came from (``KINDS``: the track's audio alone, as on a compilation; blended with its album;
joined by its artist's other albums), since each kind of evidence moves scores its own way
and a library's tagged albums say little about its compilations: each kind gets its own
threshold.

With at least ``MIN_LABELLED`` samples of a kind, its threshold is the least score from
which every threshold up keeps the samples' precision at least ``TARGET_PRECISION``, with at
least ``MIN_ABOVE`` samples there (``metrics.threshold_for_precision``, as the check corpus's
was chosen), and the precision it claims is estimated by
cross-validation over albums: the threshold chosen on the other folds' albums, scored on
the held-out fold's. With fewer, the kind falls back to the threshold measured on the
check corpus (``FALLBACK``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from mgc_model.contract import ModelInfo
from mgc_model.decision import CONFIDENT_SCORE
from mgc_model.metrics import threshold_for_precision

MIN_LABELLED = 30  # labelled tracks of a kind before the library's own measure is trusted
MIN_ABOVE = 10  # labelled tracks at or above a threshold before its precision counts
TARGET_PRECISION = 0.9
FOLDS = 5
NEVER = 1.01  # a threshold no score reaches: nothing of the kind is written
KINDS = ("audio", "album", "artist")
# The default model's thresholds where a library has too few labelled tracks of a kind.
# 'audio': the check corpus's loose clips (scripts/check_real_music.py: 90.9% right from
# 0.85). 'artist': the corpus arranged as albums (scripts/measure_library_evidence.py): the 33
# files its artist's other albums spoke for were right 9 in 10 from 0.44, and chosen on the
# other artists the threshold wrote 32 of them, 93.8% right (a head learnt from the same
# library's tags: 33 written at 0.45, 30 right). 'album': the 17 album-blended files there are
# too few to measure, so the loose clips' threshold stands.
ARTIST_FALLBACK = 0.45
FALLBACK = {"audio": CONFIDENT_SCORE, "album": CONFIDENT_SCORE, "artist": ARTIST_FALLBACK}


def fallback(info: ModelInfo) -> dict[str, float]:
    """A model's thresholds for a library with too few labelled tracks: the one measured on
    music it never learnt from (``ModelInfo.held_out_min_score``: the check corpus for the
    default model, the library's tags held out by artist for a head) where it has one; else
    nothing it says alone is trusted, and only the artist's other albums, the owner's own
    genres, may write."""
    audio = NEVER if info.held_out_min_score is None else info.held_out_min_score
    return {"audio": audio, "album": audio, "artist": ARTIST_FALLBACK}


def kind_of(source: str | None) -> str:
    """A row's ``genre_from`` -> its kind: 'artist' when the artist's other albums spoke,
    else 'album' when its album did, else 'audio'."""
    parts = (source or "audio").split("+")
    return next((kind for kind in reversed(KINDS) if kind in parts), "audio")


@dataclass(frozen=True)
class Sample:
    score: float  # the track's final top score
    right: bool  # its top genre is one of the file's own
    group: str  # its album: folds never split one
    kind: str  # one of KINDS


@dataclass(frozen=True)
class Threshold:
    """One kind's threshold and why."""

    min_score: float
    source: str  # 'library' (measured here) or 'model' (the model's own: too few here)
    labelled: int  # labelled tracks of this kind in the library
    precision: float | None  # cross-validated estimate on this library (None: not measured)
    share: float | None  # share of the labelled tracks at or above min_score
    reason: str


def _folds(groups: Sequence[str], folds: int) -> np.ndarray:
    """A fold per sample, whole albums to a fold, spread by size (largest first)."""
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    load = [0] * folds
    fold_of: dict[str, int] = {}
    for g in sorted(sizes, key=lambda g: (-sizes[g], g)):
        fold_of[g] = int(np.argmin(load))
        load[fold_of[g]] += sizes[g]
    return np.array([fold_of[g] for g in groups])


def _threshold(kind_samples: Sequence[Sample], fallback: float) -> Threshold:
    n = len(kind_samples)
    if n < MIN_LABELLED:
        return Threshold(fallback, "model", n, None, None,
                         f"{n} labelled tracks of this kind, fewer than {MIN_LABELLED}: the "
                         + ("threshold the model was measured at on music it never learnt "
                            "from" if fallback < NEVER else "model has no score right 9 times "
                            "in 10 on music it never learnt from, so nothing of this kind is "
                            "written"))
    scores = np.array([s.score for s in kind_samples])
    right = np.array([s.right for s in kind_samples])
    chosen = threshold_for_precision(scores, right, TARGET_PRECISION, MIN_ABOVE)
    fold = _folds([s.group for s in kind_samples], min(FOLDS, len({s.group
                                                                  for s in kind_samples})))
    hits = above = 0
    for k in np.unique(fold):
        held = fold == k
        t = threshold_for_precision(scores[~held], right[~held], TARGET_PRECISION,
                                    MIN_ABOVE)
        if t is not None:
            above += int((scores[held] >= t).sum())
            hits += int(right[held & (scores >= t)].sum())
    precision = hits / above if above else None
    if chosen is None:
        return Threshold(NEVER, "library", n, precision, 0.0,
                         f"on {n} labelled tracks no score is right {TARGET_PRECISION:.0%} of "
                         f"the time: nothing of this kind is written")
    return Threshold(chosen, "library", n, precision, float((scores >= chosen).mean()),
                     f"the least score right at least {TARGET_PRECISION:.0%} of the time on "
                     f"{n} labelled tracks of this library")


def calibrate(library: Sequence[Sample],
              fallbacks: Mapping[str, float] = FALLBACK) -> dict[str, Threshold]:
    """A threshold per kind (``KINDS``) from a library's labelled tracks; ``fallbacks``
    (``fallback(info)``) where it has too few of a kind."""
    return {kind: _threshold([s for s in library if s.kind == kind], fallbacks[kind])
            for kind in KINDS}


def as_json(thresholds: Mapping[str, Threshold]) -> dict:
    return {kind: asdict(t) for kind, t in thresholds.items()}


KIND_NAMES = {"audio": "from the audio alone", "album": "with the album",
              "artist": "with the artist's other albums"}


def describe(calibration: Mapping[str, Mapping]) -> list[str]:
    """Lines for a terminal: each kind's threshold, where it came from and what it claims."""
    lines = []
    for kind, t in calibration.items():
        score = ("none written" if t["min_score"] >= NEVER
                 else f"min score {t['min_score']:.2f}")
        if t["source"] == "library":
            claim = (f"estimated precision {t['precision']:.0%} (cross-validated by album)"
                     if t["precision"] is not None else "precision not estimable")
            where = f"measured on {t['labelled']} tracks with their own genre; {claim}"
        elif t["min_score"] >= NEVER:
            where = (f"{t['labelled']} tracks with their own genre here, fewer than "
                     f"{MIN_LABELLED}, and no score of the model's is right 9 times in 10 on "
                     "music it never learnt from")
        else:
            where = (f"the model's threshold on music it never learnt from: "
                     f"{t['labelled']} tracks with their own genre here, fewer than "
                     f"{MIN_LABELLED}")
        lines.append(f"  {KIND_NAMES[kind]}: {score} ({where})")
    return lines
