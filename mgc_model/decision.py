"""The one place that decides what genres a track gets from the model's scores.

In the order a track meets them: its scores from the means over its windows
(``track_scores``), blended with its album's (``blend``), the genres its tag row lists
(``listed``), whether it counts as confident (``is_confident``), and the genres written into
its file (``to_write``). The tag graph, the pages, ``train --from-tags`` and write-back all
ask here, so a change of rule is made once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from mgc_model import mapping
from mgc_model.contract import ModelInfo

# The top score above which the default model is right at least 9 times in 10: on the
# real-music check corpus (scripts/check_real_music.py, leave-one-source-out) the tracks
# scored at least this were 22% of all and 90.9% of them right. The write-back default, and
# what run.json, the summary and the classify page count as confident.
CONFIDENT_SCORE = 0.85
TOP_K = 3  # genres listed per track in a tag row's ``genres``
THRESHOLD = 0.1  # least score of a listed genre (the best is always listed)
# Album blending off by measurement (``scripts/measure_album_weight.py``, docs/tagging.md
# "Albums"): on the real-music corpus, each source an album, W = 1 lifts the default model
# from 49.0% to 51.0% of 198 clips, but the gain is one soundtrack's (Wesnoth's, +5) and three
# albums lose; W chosen leave-one-source-out scores 48.0%, below W = 0.
ALBUM_WEIGHT = 0.0


def track_scores(info: ModelInfo, scores: np.ndarray, embedding: np.ndarray) -> np.ndarray:
    """A track's genre scores from the means over its windows of the scores and the
    embedding: a head bundle's head on the mean embedding, or the mean scores sharpened
    (the default model), or as they are."""
    if info.track_head is not None:
        return info.track_head.probabilities(embedding)
    if info.track_temperature is not None:
        return mapping.sharpen(scores, info.track_temperature)
    return scores


def check_album_weight(weight: float) -> None:
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"--album-weight must be between 0 (each track on its own) and 1 "
                         f"(each track takes its album's mean scores), not {weight:g}")


def blend(album_scores: np.ndarray, weight: float) -> np.ndarray:
    """(tracks, genres) scores of one album -> each ``(1 - W) * track + W * album mean``."""
    scores = np.asarray(album_scores, dtype=np.float64)
    return ((1.0 - weight) * scores + weight * scores.mean(axis=0, keepdims=True)).astype(
        np.float32)


def listed(scores: np.ndarray, genres: Sequence[str], top_k: int = TOP_K,
           threshold: float = THRESHOLD) -> dict:
    """A tag row's genre columns from its final scores: the best genre, its score, the
    listed genres (at most ``top_k``, scoring at least ``threshold``, the best always)."""
    order = np.argsort(-scores, kind="stable")
    best = int(order[0])
    shown = [{"name": genres[i], "score": float(scores[i])} for i in order[:top_k]
             if scores[i] >= threshold or i == best]
    return {"genre": genres[best], "genre_score": float(scores[best]), "genres": shown,
            "genre_scores": np.asarray(scores, dtype=np.float32).tolist()}


def is_confident(top_score: float, min_score: float = CONFIDENT_SCORE) -> bool:
    """Whether a track's top genre scored enough to be written (and counted confident)."""
    return top_score >= min_score


def title_case(name: str) -> str:
    """Capitalise each word's first letter and leave the rest alone ('hip-hop' -> 'Hip-Hop',
    'Soul-RnB' stays): ``str.title`` would make 'Soul-Rnb'."""
    return re.sub(r"(^|[\s\-/&(])(\w)", lambda m: m.group(1) + m.group(2).upper(), name)


def to_write(scores: Mapping[str, float], min_score: float = CONFIDENT_SCORE, count: int = 1,
             vocabulary: Sequence[str] | None = None,
             capitalise: bool = True) -> list[tuple[str, float]]:
    """The genres to write into a file, best first: in the vocabulary (spelt as it spells
    them), confident at ``min_score``, at most ``count``; ties keep the model's label order."""
    spelling = None if vocabulary is None else {name.casefold(): name for name in vocabulary}
    chosen: list[tuple[str, float]] = []
    for name, score in sorted(scores.items(), key=lambda item: -item[1]):
        if not is_confident(score, min_score) or len(chosen) == count:
            break
        if spelling is not None:
            if name.casefold() not in spelling:
                continue
            name = spelling[name.casefold()]
        if capitalise:
            name = title_case(name)
        chosen.append((name, float(score)))
    return chosen
