"""A library's own genres as training labels, and its artists as the unit of a fair split.

- Labels (``owner_labels``): each track's first genre, in the owner's spelling. Spellings
  that differ only in case, spacing or punctuation ('Hip Hop', 'hip-hop', 'HIP HOP') are one
  label (``genre_aliases.name_key``), spelt as most of its tracks spell it; no alias table
  is applied, so 'Rap' stays apart from 'Hip Hop': the owner's taxonomy is the target.
  Genres with fewer than ``min_tracks`` tracks are left out, and listed.
- Groups (``artist_groups``): tracks that share an artist, an album artist or an album
  (``albums.album_key``; the folder when untagged) are one group, so a split by group puts
  no artist and no album on both sides (a model that has heard an artist's other tracks
  would be flattered by them).
- The split (``held_out``): scikit-learn's StratifiedGroupKFold, one fold held out, so each
  genre is on both sides where its artists allow.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mgc_model.genre_aliases import name_key
from pipelines.files.tags import JOIN, album_key, folder_of

DEFAULT_MIN_TRACKS = 5
DEFAULT_HOLDOUT = 0.2


@dataclass(frozen=True)
class OwnerLabels:
    """The labels of a library's tracks."""

    labels: tuple[str, ...]  # kept genres, owner's spelling, most tracks first
    targets: tuple[int | None, ...]  # per track: index into labels, None if not a label
    spellings: dict[str, dict[str, int]]  # label -> {spelling found: tracks}
    left_out: dict[str, int]  # genre with too few tracks -> its tracks
    untagged: int  # tracks without a genre


def owner_labels(file_genres: Sequence[Sequence[str] | None],
                 min_tracks: int = DEFAULT_MIN_TRACKS) -> OwnerLabels:
    """Labels from each track's file genres (its first one counts)."""
    if min_tracks < 1:
        raise ValueError("--min-tracks must be at least 1")
    keys: list[str | None] = []
    spelt: dict[str, Counter[str]] = {}
    for genres in file_genres:
        first = next((g.strip() for g in genres or () if g and g.strip()), None)
        key = name_key(first) if first else None
        keys.append(key or None)
        if key:
            spelt.setdefault(key, Counter())[first] += 1
    # the commonest spelling; a tie goes to the first in sorted order, whatever the row order
    names = {key: min(c.items(), key=lambda item: (-item[1], item[0]))[0]
             for key, c in spelt.items()}
    sizes = {key: sum(c.values()) for key, c in spelt.items()}
    kept = sorted((k for k in sizes if sizes[k] >= min_tracks),
                  key=lambda k: (-sizes[k], names[k]))
    index = {key: i for i, key in enumerate(kept)}
    return OwnerLabels(
        labels=tuple(names[k] for k in kept),
        targets=tuple(index.get(k) if k else None for k in keys),
        spellings={names[k]: dict(sorted(spelt[k].items(), key=lambda item: (-item[1], item[0])))
                   for k in kept},
        left_out=dict(sorted(((names[k], n) for k, n in sizes.items() if n < min_tracks),
                             key=lambda item: (-item[1], item[0]))),
        untagged=sum(k is None for k in keys),
    )


def artist_names(row: Mapping) -> list[str]:
    """The artists a row names (album artist, each artist), as split-link keys."""
    names = [row.get("album_artist"), *(row.get("artist") or "").split(JOIN)]
    return [f"artist\0{n.strip().casefold()}" for n in names if n and n.strip()]


def artist_groups(rows: Sequence[Mapping]) -> np.ndarray:
    """A group id per track (rows with path, artist, album_artist, album): tracks linked by a
    shared artist, album artist or album are in one group; a track naming no artist is linked
    to the others in its folder."""
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, row in enumerate(rows):
        links = artist_names(row) or [f"folder\0{folder_of(row['path'])}"]
        if row.get("album"):
            links.append(album_key(row))
        for link in links:
            j = owner.setdefault(link, i)
            parent[root(i)] = root(j)
    roots = [root(i) for i in range(len(rows))]
    ids = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return np.array([ids[r] for r in roots], dtype=np.int64)


def held_out(targets: Sequence[int], groups: np.ndarray, fraction: float = DEFAULT_HOLDOUT,
             seed: int = 0) -> np.ndarray:
    """A boolean mask of the held-out tracks: about ``fraction`` of them, whole groups only,
    each genre spread over both sides as far as its groups allow."""
    from sklearn.model_selection import StratifiedGroupKFold

    if not 0 < fraction <= 0.5:
        raise ValueError("--holdout must be above 0 and at most 0.5")
    n_groups = len(np.unique(groups))
    folds = min(max(2, round(1 / fraction)), n_groups)
    if folds < 2:
        raise ValueError("every labelled track is by one artist (or in one album): a split "
                         "with no artist on both sides needs at least two")
    split = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    y = np.asarray(targets)
    with warnings.catch_warnings():  # a genre on fewer artists than folds: it is reported
        warnings.filterwarnings("ignore", message="The least populated class")
        _, test = next(split.split(np.zeros((len(y), 1)), y, groups))
    mask = np.zeros(len(y), dtype=bool)
    mask[test] = True
    return mask
