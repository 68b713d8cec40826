"""Agreement: how often mgc's top genre is the genre the user's own files already carry.

Accuracy on a library's own music, with the library's tags as the labels. Each file genre is
mapped to an FMA top-level genre by the alias table (``mgc_model.genre_aliases``); mgc's genre
is mapped the same way (a model with its own spelling compares fairly), or kept as it is.

- ``compared``: tracks with at least one genre the table knows; ``agreed``: those whose mgc
  genre is one of them.
- ``by_genre``: per library genre, its ``compared`` and ``agreed`` tracks and the genres mgc
  gave them (``mgc``: a row of the confusion table). A track with several known genres is
  counted under the one mgc gave when it agrees, else under its first.
- ``unknown_names``: each genre name the table does not know, as spelt, with the number of
  tracks carrying it; a track whose every name is unknown is also ``unmapped``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from mgc_model.calibration import Sample, Threshold, calibrate, fallback, kind_of
from mgc_model.contract import ModelInfo
from mgc_model.decision import labels_of
from mgc_model.genre_aliases import fma_genres, to_fma
from pipelines.files.tags import album_key


def agreement(rows: Iterable[tuple[Sequence[str] | None, str | None]]) -> dict:
    """The agreement of (file genres, mgc's top genre) pairs, one per track (run.json's
    ``agreement``); tracks without a file genre or an mgc genre are left out."""
    compared = agreed = unmapped = 0
    unknown: Counter[str] = Counter()
    by_genre: dict[str, dict] = {}
    for file_genres, genre in rows:
        if not file_genres or not genre:
            continue
        known, unknown_names = fma_genres(file_genres)
        unknown.update(dict.fromkeys(unknown_names, 1))
        if not known:
            unmapped += 1
            continue
        ours = to_fma(genre) or genre
        hit = ours in known
        library = ours if hit else known[0]
        entry = by_genre.setdefault(library, {"compared": 0, "agreed": 0, "mgc": {}})
        entry["compared"] += 1
        entry["agreed"] += hit
        entry["mgc"][ours] = entry["mgc"].get(ours, 0) + 1
        compared += 1
        agreed += hit
    return {
        "compared": compared,
        "agreed": agreed,
        "unmapped": unmapped,
        "unknown_names": dict(sorted(unknown.items(), key=lambda item: (-item[1], item[0]))),
        "by_genre": dict(sorted(by_genre.items())),
    }


def describe(result: dict, most: int = 5) -> list[str]:
    """Lines for a terminal: the agreement and the commonest unknown names (none when no
    file carries a genre)."""
    compared, agreed = result.get("compared", 0), result.get("agreed", 0)
    unknown = result.get("unknown_names", {})
    if not compared and not unknown:
        return []
    lines = []
    if compared:
        lines.append(f"Agreement with the files' own genres: {agreed} of {compared} tracks "
                     f"({100 * agreed / compared:.0f}%)")
        largest = sorted(result.get("by_genre", {}).items(),
                         key=lambda item: (-item[1]["compared"], item[0]))
        lines.append("  by genre: " + ", ".join(
            f"{g} {e['agreed']}/{e['compared']}" for g, e in largest[:8]))
    else:
        lines.append("Agreement: no genre in the files is known to the alias table")
    if unknown:
        names = ", ".join(f"{name!r} {n}" for name, n in list(unknown.items())[:most])
        more = f" and {len(unknown) - most} more" if len(unknown) > most else ""
        lines.append(f"  genre names not in the alias table (not compared): {names}{more}")
    return lines


def calibration_sample(row: Mapping, info: ModelInfo) -> Sample | None:
    """A tag row as a sample that ``mgc_model.calibration`` measures mgc against on this
    library, when its own genre tags name one of the model's genres; never a row of the
    albums the model was fitted on (``ModelInfo.fitted_on``)."""
    labels = labels_of(row.get("file_genres"), info.genres)
    scores, album = row.get("genre_scores"), album_key(row)
    if not labels or scores is None or album in info.fitted_on:
        return None
    best = int(np.argmax(scores))
    return Sample(float(scores[best]), best in labels, album, kind_of(row.get("genre_from")))


def calibrate_rows(rows: Iterable[Mapping], info: ModelInfo) -> dict[str, Threshold]:
    """The thresholds ``--min-score auto`` uses on these tag rows."""
    samples = [s for s in (calibration_sample(row, info) for row in rows) if s is not None]
    return calibrate(samples, fallback(info))
