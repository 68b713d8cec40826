"""The one place that decides what genres a track gets from the model's scores.

In the order a track meets them: its scores from the means over its windows
(``track_scores``), blended with its album's (``blend``) and joined by what the artist's other
albums say in their own genre tags (``with_library``), the genres its tag row lists
(``listed``), whether it counts as confident (``is_confident``; ``mgc_model.calibration``
measures the score that makes it so on a library), and the genres written into its file
(``to_write``). The tag graph, the pages, ``train --from-tags`` and write-back all ask here,
so a change of rule is made once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mgc_model import mapping
from mgc_model.contract import ModelInfo
from mgc_model.genre_aliases import name_key, to_fma

# The top score above which the default model is right at least 9 times in 10: on the
# real-music check corpus (scripts/check_real_music.py, leave-one-source-out) the tracks
# scored at least this were 22% of all and 90.9% of them right. The write-back default, and
# what run.json, the summary and the classify page count as confident.
CONFIDENT_SCORE = 0.85
TOP_K = 3  # genres listed per track in a tag row's ``genres``
THRESHOLD = 0.1  # least score of a listed genre (the best is always listed)
# Album and artist evidence, measured on the check corpus arranged as a library of albums
# (scripts/make_album_library.py, scripts/measure_library_evidence.py; docs/tagging.md,
# "Albums and artists"): on its 138 files without the owner's genre, top-genre accuracy is
# 42.0% at W = 0 and 44.2% at W = 0.75 (chosen for 25 of 26 held-out artists), then 50.0%
# with the artist's other albums at V = 0.5 (chosen for all 26; 0.75 and 1 tie). Its 85
# compilation tracks, never blended, hold most of what stays wrong.
ALBUM_WEIGHT = 0.75
ARTIST_WEIGHT = 0.5


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


def check_artist_weight(weight: float) -> None:
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"--artist-weight must be between 0 (the artist's other albums are "
                         f"not heard) and 1 (their genres decide), not {weight:g}")


def labels_of(file_genres: Sequence[str] | None, genres: Sequence[str]) -> list[int]:
    """The model's genres a file's own genre tags name, as indices: a name spelt as one of
    them ('hip hop' for a bundle's 'Hip-Hop'), else through the alias table ('Symphonic' for
    the default model's Classical); names neither knows are passed over."""
    by_key = {name_key(g): i for i, g in enumerate(genres)}
    found: list[int] = []
    for name in file_genres or ():
        index = by_key.get(name_key(name))
        if index is None:
            index = by_key.get(name_key(to_fma(name) or ""))
        if index is not None and index not in found:
            found.append(index)
    return found


def label_share(labels: Sequence[Sequence[int]], n_genres: int) -> np.ndarray | None:
    """The share of each genre among tracks' own labels (a track's labels share one vote),
    or None when no track has one."""
    votes = np.zeros(n_genres, dtype=np.float64)
    for found in labels:
        for index in found:
            votes[index] += 1.0 / len(found)
    return votes / votes.sum() if votes.sum() else None


@dataclass(frozen=True)
class Album:
    """One album's tracks as evidence sees them: their own scores (tracks, genres), each
    track's own labels (``labels_of``), and whether it is a compilation."""

    scores: np.ndarray
    labels: Sequence[Sequence[int]]
    compilation: bool = False


def with_library(albums: Sequence[Album], album_weight: float = ALBUM_WEIGHT,
                 artist_weight: float = ARTIST_WEIGHT) -> list[tuple[np.ndarray, str]]:
    """The albums of one artist -> per album, its tracks' scores and where they came from.

    Each album is blended with its own mean (``blend``; never a compilation), then joined with
    the genres its artist's *other* albums carry in their files (``label_share``):
    ``(1 - V) * blended + V * share``. Only other albums speak, so a file's own genre never
    judges its own prediction and the calibration (``mgc_model.calibration``) may compare the
    two. ``from``: 'audio', 'audio+album' or 'audio+album+artist' (or 'audio+artist').
    """
    out: list[tuple[np.ndarray, str]] = []
    for i, album in enumerate(albums):
        scores = np.asarray(album.scores, dtype=np.float32)
        sources = ["audio"]
        if not album.compilation and len(scores) > 1 and album_weight > 0:
            scores = blend(scores, album_weight)
            sources.append("album")
        share = None if album.compilation or artist_weight == 0 else label_share(
            [found for j, other in enumerate(albums) if j != i for found in other.labels],
            scores.shape[1])
        if share is not None:
            scores = ((1.0 - artist_weight) * scores + artist_weight * share).astype(np.float32)
            sources.append("artist")
        out.append((scores, "+".join(sources)))
    return out


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
