"""What the library says besides a track's own audio: its album, and its artist's other albums.

The tracks of one album mostly share a genre, and so, mostly, do one artist's albums. Each
tag row's own scores (``track_genre_scores``, never changed) are blended with its album's
mean (``mgc tag --album-weight W``; never a compilation), then joined with the genres the
artist's *other* albums carry in their files (``--artist-weight V``): the decision is
``mgc_model.decision.with_library``'s, and each row records where its genre came from
(``genre_from``: 'audio', 'audio+album', 'audio+album+artist').

Two Beam GroupByKeys over the tag rows, new and carried alike: by album
(``pipelines.files.tags.evidence_album``: a file without an album tag stands alone), then
by the album's artist (``artist_key``; a compilation or an album naming no artist stands
alone). So an incremental run recomputes every album and artist from their tracks as they
are now: a carried row whose genres changed is written into its file again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from mgc_model import decision
from pipelines.files.tags import artist_key, evidence_album, is_compilation

TO_WRITE = "to_write"  # rows whose genres the write-back stage must (re)consider
Member = tuple[dict, bool]  # a tag row, and whether an incremental run carried it over


def by_artist(element: tuple[str, Iterable[Member]]) -> tuple[str, tuple[list[Member], bool]]:
    """(album, members) -> (its artist, or the album itself when none may speak for it,
    (members in path order, whether it is a compilation))."""
    album, members = element
    members = sorted(members, key=lambda member: member[0]["path"])
    rows = [row for row, _ in members]
    return artist_key(rows) or album, (members, is_compilation(rows))


class DecideArtist(beam.DoFn):
    """(artist, [(members, compilation)] per album) -> each row with its genre columns from
    its final scores; a new row, or a carried one whose scores changed, also on ``to_write``."""

    def __init__(self, album_weight: float, artist_weight: float, genres: tuple[str, ...],
                 top_k: int, threshold: float) -> None:
        self.album_weight = album_weight
        self.artist_weight = artist_weight
        self.genres = genres
        self.top_k = top_k
        self.threshold = threshold
        self.moved = Metrics.counter("mgc", "library_genre_changed")

    def process(self, element: tuple[str, Iterable[tuple[list[Member], bool]]]) -> Iterator:
        _, albums = element
        albums = sorted(albums, key=lambda album: album[0][0][0]["path"])
        decided = decision.with_library(
            [decision.Album(np.array([row["track_genre_scores"] for row, _ in members],
                                     dtype=np.float32),
                            [decision.labels_of(row.get("file_genres"), self.genres)
                             for row, _ in members], compilation)
             for members, compilation in albums],
            self.album_weight, self.artist_weight)
        for (members, _), (scores, source) in zip(albums, decided, strict=True):
            for (row, carried), final in zip(members, scores, strict=True):
                new = {**row, **decision.listed(final, self.genres, self.top_k, self.threshold),
                       "genre_from": source}
                if new["genre"] != self.genres[int(np.argmax(row["track_genre_scores"]))]:
                    self.moved.inc()
                yield new
                if not carried or not np.allclose(final, row["genre_scores"], atol=1e-6):
                    yield pvalue.TaggedOutput(TO_WRITE, new)


class LibraryEvidence(beam.PTransform):
    """(tag row, carried) pairs -> tag rows with their final genres (main output) and the
    rows the write-back stage must see (``to_write``)."""

    def __init__(self, album_weight: float, artist_weight: float, genres: tuple[str, ...],
                 top_k: int, threshold: float) -> None:
        super().__init__()
        decision.check_album_weight(album_weight)
        decision.check_artist_weight(artist_weight)
        self.decide = DecideArtist(album_weight, artist_weight, genres, top_k, threshold)

    def expand(self, pairs):
        if self.decide.album_weight == 0.0 and self.decide.artist_weight == 0.0:
            # each track on its own: nothing to gather
            artists = pairs | "OneTrackAlbums" >> beam.Map(
                lambda pair: (pair[0]["path"], [([pair], False)]))
        else:
            artists = (pairs
                       | "KeyByAlbum" >> beam.Map(lambda pair: (evidence_album(pair[0]), pair))
                       | "GroupByAlbum" >> beam.GroupByKey()
                       | "KeyByArtist" >> beam.Map(by_artist)
                       | "GroupByArtist" >> beam.GroupByKey())
        return artists | "Decide" >> beam.ParDo(self.decide).with_outputs(TO_WRITE, main="tags")
