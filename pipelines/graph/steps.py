"""The tag pipeline's steps, one job each: match, decode to patches, aggregate, join.

Elements are typed; a failure never raises out of a DoFn: it leaves on the ``errors`` output as
an ``ErrorRow`` and the run goes on.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from threadpoolctl import threadpool_limits

from mgc_model import decision, descriptors
from mgc_model.calibration import Threshold, kind_of
from mgc_model.contract import ModelInfo
from mgc_model.frontend import FrontendConfig
from pipelines.audio.matching import expand_input, refusal
from pipelines.audio.windows import PatchStream
from pipelines.files.atomic import FileStat, file_stat
from pipelines.files.tags import NO_TAGS, FileTags, read_file_tags
from pipelines.files.writeback import WriteOptions, failed, write_genres
from pipelines.graph.incremental import Signature, signature_or_none

ERRORS = "errors"
TRACKS = "tracks"
PASSED_OVER = "passed_over"


class ErrorRow(NamedTuple):
    path: str
    stage: str
    error: str
    message: str

    @classmethod
    def of(cls, path: str, stage: str, error: BaseException) -> ErrorRow:
        return cls(path, stage, type(error).__name__, str(error))


class Track(NamedTuple):
    """What decoding learnt about a file; emitted only when decoding completed."""

    path: str
    duration_s: float
    sample_rate: int
    channels: int
    n_patches: int
    stat: FileStat | None = None  # the file as it was read, so a later write can tell a change
    signature: Signature | None = None  # size and mtime, local or remote: for incremental runs
    file_tags: FileTags = NO_TAGS  # the file's own title, artist, album, genres ...
    damaged_packets: int = 0  # packets that did not decode, skipped (``AudioReader``)


class TrackScores(NamedTuple):
    """Per-track mean over patches of the model's outputs."""

    genre_scores: np.ndarray
    embedding: np.ndarray
    n_patches: int
    descriptors: np.ndarray | None = None  # the model's ``info.descriptors``, when it has any


def track_id(path: str) -> str:
    """Stable id of a track: the same path gives the same id on every run and machine."""
    return hashlib.sha1(path.encode("utf-8")).hexdigest()[:16]


class MatchAudioFiles(beam.DoFn):
    """INPUT argument -> the audio files it names; a broken link, or a path that is not a
    regular file (FIFO, socket, device, a link to a folder), is an error row instead. The
    files it passes over (not audio) leave on ``passed_over`` as (extension, count)."""

    def __init__(self) -> None:
        self.matched = Metrics.counter("mgc", "files_matched")

    def process(self, pattern: str) -> Iterator:
        passed_over: Counter = Counter()
        try:
            for path in expand_input(pattern, passed_over):
                self.matched.inc()
                refused = refusal(path)  # only regular files are read: a FIFO would block
                if refused is not None:
                    yield pvalue.TaggedOutput(ERRORS, ErrorRow(path, "match", *refused))
                else:
                    yield path
        except Exception as error:  # a listing that fails (permissions, bucket) is one row
            yield pvalue.TaggedOutput(ERRORS, ErrorRow.of(pattern, "match", error))
        for counted in passed_over.items():
            yield pvalue.TaggedOutput(PASSED_OVER, counted)


class DecodeToPatches(beam.DoFn):
    """Path -> (path, window) for each analysis window (a tuple: one patch of the model's
    first front-end, then each further front-end's patches over the same audio), then the
    ``Track`` on ``tracks``, with the tags the file carries (``pipelines.files.tags``: a broken
    tag gives nulls, never an error row).

    Decoding, resampling, the log-mels and the patch cutting all stream: a one-hour file holds
    one block of audio and one window of spectrogram at a time.
    """

    def __init__(self, frontends: tuple[FrontendConfig, ...], hop_frames: int | None = None,
                 max_patches: int | None = None) -> None:
        self.frontends = frontends
        self.hop_frames = hop_frames
        self.max_patches = max_patches
        self.decoded = Metrics.counter("mgc", "files_decoded")
        self.failed = Metrics.counter("mgc", "decode_failed")
        self.patches = Metrics.counter("mgc", "patches")
        self.seconds = Metrics.distribution("mgc", "track_seconds")

    def setup(self) -> None:
        # The front-end's small matmuls gain nothing from BLAS threads, which would only fight
        # TensorFlow's inference threads for the cores (measured in bench/: +5% end to end).
        threadpool_limits(limits=1, user_api="blas")

    def process(self, path: str) -> Iterator:
        stream = PatchStream(self.frontends, self.hop_frames, self.max_patches)
        try:
            stat = file_stat(path)  # before reading: a write-back checks nothing changed since
            signature = (Signature(stat.size, stat.mtime_ns) if stat is not None
                         else signature_or_none(path))
            for patch in stream.patches(path):
                yield path, patch
        except Exception as error:
            self.failed.inc()
            yield pvalue.TaggedOutput(ERRORS, ErrorRow.of(path, stream.stage, error))
            return
        self.decoded.inc()
        self.patches.inc(stream.n_patches)
        self.seconds.update(int(stream.duration_s))
        yield pvalue.TaggedOutput(TRACKS, (path, decoded_track(path, stream, stat, signature)))


def decoded_track(path: str, stream: PatchStream, stat: FileStat | None = None,
                  signature: Signature | None = None) -> Track:
    """The ``Track`` of a file whose windows ``stream`` has cut, with the file's own tags."""
    return Track(path, stream.duration_s, stream.info.sample_rate, stream.info.channels,
                 stream.n_patches, stat, signature, read_file_tags(path),
                 stream.skipped_packets)


class MeanScores(beam.CombineFn):
    """Mean genre scores and embedding over a track's windows, then the model's own track
    step (``decision.track_scores``: the default model sharpens, a head bundle scores the
    mean embedding)."""

    def __init__(self, info: ModelInfo | None = None) -> None:
        self.info = info

    def create_accumulator(self) -> tuple[np.ndarray | None, np.ndarray | None, int]:
        return None, None, 0

    def add_input(self, acc, output: tuple[np.ndarray, np.ndarray]):
        scores, embedding, n = acc
        s, e = (np.asarray(x, dtype=np.float64) for x in output)
        if n == 0:
            return s, e, 1
        return scores + s, embedding + e, n + 1

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for scores, embedding, n in accumulators:
            if n == 0:
                continue
            if merged[2] == 0:
                merged = (scores, embedding, n)
            else:
                merged = (merged[0] + scores, merged[1] + embedding, merged[2] + n)
        return merged

    def extract_output(self, acc) -> TrackScores | None:
        scores, embedding, n = acc
        if n == 0:
            return None
        scores, embedding = (scores / n).astype(np.float32), (embedding / n).astype(np.float32)
        descriptors = None
        if self.info is not None:
            if self.info.descriptors:  # the windows' scores run on past the genres
                n_genres = len(self.info.genres)
                scores, descriptors = scores[:n_genres], scores[n_genres:]
            scores = decision.track_scores(self.info, scores, embedding)
        return TrackScores(scores, embedding, n, descriptors)


class BuildTagRow(beam.DoFn):
    """Join a track's decode facts, its mean scores and any inference failure into one row:
    a tag row when everything succeeded, otherwise an error row."""

    def __init__(self, genres: tuple[str, ...], model_ref: str, top_k: int,
                 threshold: float, tagged_at: datetime,
                 descriptor_names: tuple[str, ...] = ()) -> None:
        self.genres = genres
        self.descriptor_names = descriptor_names
        self.tagged_at = tagged_at
        self.model_ref = model_ref
        self.top_k = top_k
        self.threshold = threshold
        self.tagged = Metrics.counter("mgc", "files_tagged")

    def process(self, element) -> Iterator:
        path, joined = element
        tracks, scores, failures = joined["track"], joined["scores"], joined["failed"]
        if not tracks:
            pass  # decoding failed: its error row is already out
        elif failures:
            yield pvalue.TaggedOutput(ERRORS, failures[0])
        elif not scores or scores[0] is None:
            yield pvalue.TaggedOutput(
                ERRORS, ErrorRow(path, "inference", "NoPredictions", "no patch was scored")
            )
        else:
            self.tagged.inc()
            yield tag_row(tracks[0], scores[0], self.genres, self.model_ref, self.top_k,
                          self.threshold, self.tagged_at, self.descriptor_names)


def tag_row(track: Track, result: TrackScores, genres: tuple[str, ...], model_ref: str,
            top_k: int, threshold: float, tagged_at: datetime,
            descriptor_names: tuple[str, ...] = ()) -> dict:
    """The Parquet row of one tagged track (schema: ``schemas.parquet.tags_schema``); its
    ``track_genre_scores`` stay the track's own when its album and artist change the others
    (``pipelines.graph.evidence``)."""
    return {
        "path": track.path,
        "track_id": track_id(track.path),
        "duration_s": track.duration_s,
        "sample_rate": track.sample_rate,
        "channels": track.channels,
        **decision.listed(result.genre_scores, genres, top_k, threshold),
        "track_genre_scores": result.genre_scores.tolist(),
        "genre_from": "audio",
        "embedding": result.embedding.tolist(),
        "n_patches": result.n_patches,
        "damaged_packets": track.damaged_packets,
        **descriptors.listed(descriptor_names, result.descriptors),
        "model": model_ref,
        "tagged_at": tagged_at,
        "size": track.signature.size if track.signature else None,
        "mtime_ns": track.signature.mtime_ns if track.signature else None,
        **track.file_tags.as_columns(),
    }


class WriteGenreTags(beam.DoFn):
    """(path, {"tags": [tag row], "track": [Track]}) -> the file's ``OUT/writes/`` row, after
    writing its genres into the file (``pipelines.files.writeback``).

    The last stage of a run, and safe to retry: a retried bundle re-plans from the file as it
    now is, finds it already written, and leaves it alone. A file that cannot be written is an
    error row (stage ``write``) and a ``failed`` row; the run goes on. A file that a killed
    run of the same command wrote, still as it left it (``joined["done"]``: its committed row,
    ``pipelines.graph.checkpoint``), is not written again: that row is given again.
    """

    def __init__(self, options: WriteOptions, genres: tuple[str, ...], model_ref: str) -> None:
        self.options = options
        self.genres = genres
        self.model_ref = model_ref
        self.counters = {action: Metrics.counter("mgc", f"genre_tags_{action}")
                         for action in ("written", "unchanged", "would-write", "skipped",
                                        "failed")}

    def process(self, element, thresholds: Mapping[str, Threshold] | None = None) -> Iterator:
        """``thresholds``: with ``--min-score auto``, the least score per kind of evidence
        measured on this library (``mgc_model.calibration``), a side input."""
        path, joined = element
        for row in joined["tags"][:1]:  # none when not tagged: its error row is already out
            done = joined.get("done")
            if done:
                self.counters[done[0]["action"]].inc()
                yield done[0]
                continue
            tracks = joined["track"]
            scores = dict(zip(self.genres, row["genre_scores"], strict=True))
            options = self.options
            if thresholds is not None:
                options = replace(options,
                                  min_score=thresholds[kind_of(row.get("genre_from"))].min_score)
            try:
                outcome = write_genres(path, scores, self.model_ref, options,
                                       tracks[0].stat if tracks else None)
            except Exception as error:
                yield pvalue.TaggedOutput(ERRORS, ErrorRow.of(path, "write", error))
                outcome = failed(path, options, self.model_ref, error)
            self.counters[outcome.action].inc()
            after = signature_or_none(path) if outcome.action != "failed" else None
            yield {**outcome.as_row(), "size": after.size if after else None,
                   "mtime_ns": after.mtime_ns if after else None}
