"""Album blending (``mgc tag --album-weight W``): the tracks of one album mostly share a genre,
so each track's scores are blended with its album's mean before its genre is chosen:
``(1 - W) * track + W * album mean``.

An album is its album artist (else its artist) and album title, as the file's tags give them;
a track without an album tag belongs to its folder. The step is one Beam GroupByKey by album
over the tag rows, new and carried alike, and it blends each row's ``track_genre_scores``
(the track's own, never blended) so that an incremental run recomputes every album from its
tracks as they are now: an album that gained or changed a track is blended again, carried
rows included, and a carried row whose genres changed is written into its file again.

The blend and its default weight (0, by measurement) are ``mgc_model.decision``'s; which
tracks form an album is ``pipelines.files.tags.album_key``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from mgc_model import decision
from pipelines.files.tags import album_key

TO_WRITE = "to_write"  # rows whose genres the write-back stage must (re)consider


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
        for (row, carried), scores in zip(members, decision.blend(own, self.weight), strict=True):
            new = {**row, **decision.listed(scores, self.genres, self.top_k, self.threshold)}
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
        decision.check_album_weight(weight)
        self.blend = BlendAlbum(weight, genres, top_k, threshold)

    def expand(self, pairs):
        if self.blend.weight == 0.0:  # each track on its own: no album to gather
            albums = pairs | "OneTrackAlbums" >> beam.Map(lambda pair: (pair[0]["path"], [pair]))
        else:
            albums = (pairs
                      | "KeyByAlbum" >> beam.Map(lambda pair: (album_key(pair[0]), pair))
                      | "GroupByAlbum" >> beam.GroupByKey())
        return albums | "Blend" >> beam.ParDo(self.blend).with_outputs(TO_WRITE, main="tags")
