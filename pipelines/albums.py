"""Album blending (``mgc tag --album-weight W``): the tracks of one album mostly share a genre,
so each track's scores are blended with its album's mean before its genre is chosen:
``(1 - W) * track + W * album mean``.

An album is its album artist (else its artist) and album title, as the file's tags give them;
a track without an album tag belongs to its folder. The step is one Beam GroupByKey by album
over the tag rows, new and carried alike, and it blends each row's ``track_genre_scores``
(the track's own, never blended) so that an incremental run recomputes every album from its
tracks as they are now: an album that gained or changed a track is blended again, carried
rows included, and a carried row whose genres changed is written into its file again.

``DEFAULT_ALBUM_WEIGHT`` is 0 (off) by measurement (``scripts/measure_album_weight.py``,
README "Albums"): on the real-music corpus, each source an album, W = 1 lifts the default
model from 49.0% to 51.0% of 198 clips, but the gain is one soundtrack's (Wesnoth's, +5) and
three albums lose; W chosen leave-one-source-out scores 48.0%, below W = 0. Blending pays
where an album's tracks truly share a genre; it is the user's to ask for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from pipelines.transforms import genre_columns

DEFAULT_ALBUM_WEIGHT = 0.0  # measured: no gain that survives leave-one-source-out
TO_WRITE = "to_write"  # rows whose genres the write-back stage must (re)consider
_SPACES = re.compile(r"\s+")


def _name(text: str | None) -> str:
    return _SPACES.sub(" ", text or "").strip().casefold()


def folder_of(path: str) -> str:
    """The folder holding a local path or a URL."""
    return path.replace("\\", "/").rsplit("/", 1)[0] if "/" in path.replace("\\", "/") else ""


def album_key(row: Mapping) -> str:
    """The album of a tag row (or any mapping with path, artist, album_artist, album): album
    artist (else artist) and album, case and spacing ignored; the folder when the file has no
    album tag, or names no artist."""
    album, who = _name(row.get("album")), _name(row.get("album_artist") or row.get("artist"))
    if album and who:
        return f"album\0{who}\0{album}"
    if album:
        return f"album\0{folder_of(row['path'])}\0{album}"
    return f"folder\0{folder_of(row['path'])}"


def blend(track_scores: np.ndarray, weight: float) -> np.ndarray:
    """(tracks, genres) scores of one album -> each blended with the album's mean."""
    scores = np.asarray(track_scores, dtype=np.float64)
    return ((1.0 - weight) * scores + weight * scores.mean(axis=0, keepdims=True)).astype(
        np.float32)


def check_weight(weight: float) -> None:
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"--album-weight must be between 0 (each track on its own) and 1 "
                         f"(each track takes its album's mean scores), not {weight:g}")


class BlendAlbum(beam.DoFn):
    """(album, [(row, carried)]) -> each row with its genre columns from its blended scores;
    a new row, or a carried one whose scores changed, also on ``to_write``."""

    def __init__(self, weight: float, genres: tuple[str, ...], top_k: int,
                 threshold: float) -> None:
        self.weight = weight
        self.genres = genres
        self.top_k = top_k
        self.threshold = threshold
        self.albums = Metrics.counter("mgc", "albums")
        self.moved = Metrics.counter("mgc", "album_genre_changed")

    def process(self, element: tuple[str, Iterable[tuple[dict, bool]]]) -> Iterator:
        _, members = element
        members = sorted(members, key=lambda member: member[0]["path"])
        self.albums.inc()
        own = np.array([row["track_genre_scores"] for row, _ in members], dtype=np.float32)
        for (row, carried), scores in zip(members, blend(own, self.weight), strict=True):
            new = {**row, **genre_columns(scores, self.genres, self.top_k, self.threshold)}
            if new["genre"] != self.genres[int(np.argmax(row["track_genre_scores"]))]:
                self.moved.inc()
            yield new
            if not carried or not np.allclose(scores, row["genre_scores"], atol=1e-6):
                yield pvalue.TaggedOutput(TO_WRITE, new)


class BlendAlbums(beam.PTransform):
    """(tag row, carried) pairs -> tag rows with album-blended genres (main output) and the
    rows the write-back stage must see (``to_write``)."""

    def __init__(self, weight: float, genres: tuple[str, ...], top_k: int,
                 threshold: float) -> None:
        super().__init__()
        check_weight(weight)
        self.blend = BlendAlbum(weight, genres, top_k, threshold)

    def expand(self, pairs):
        if self.blend.weight == 0.0:  # each track on its own: no album to gather
            albums = pairs | "OneTrackAlbums" >> beam.Map(lambda pair: (pair[0]["path"], [pair]))
        else:
            albums = (pairs
                      | "KeyByAlbum" >> beam.Map(lambda pair: (album_key(pair[0]), pair))
                      | "GroupByAlbum" >> beam.GroupByKey())
        return albums | "Blend" >> beam.ParDo(self.blend).with_outputs(TO_WRITE, main="tags")
