"""The extract pipeline: labelled audio in, a training dataset out.

Labelled tracks (``pipelines/graph/sources.py``: FMA's metadata, a folder per genre, a manifest) ->
each file decoded once -> the model front-end's patches and the handcrafted features ->
``DIR/<split>-SSSSS-of-NNNNN.tfrecord`` (``schemas/tfrecord.py``), ``DIR/tracks/`` and
``DIR/errors/`` (Parquet), ``labels.json``, ``frontend.json`` and ``extract.json``. Outputs are
staged and published only when the pipeline succeeded, as for ``mgc tag``.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from fsspec.core import url_to_fs

from mgc_model.features import FEATURE_NAMES, FeatureAccumulator
from mgc_model.frontend import FrontendConfig
from pipelines.audio.windows import PatchStream
from pipelines.graph import publish
from pipelines.graph.sources import LabelledTrack, Source
from pipelines.graph.steps import ERRORS, TRACKS, ErrorRow
from pipelines.terminal.progress import ProgressFile, Report
from schemas import tfrecord
from schemas.parquet import ERRORS_SCHEMA, tracks_schema

LABELS_FILE = "labels.json"
FRONTEND_FILE = "frontend.json"
SUMMARY_FILE = "extract.json"
LISTING_FILE = "listed.jsonl"


@dataclass(frozen=True)
class ExtractOptions:
    """What a user may tune about extraction (the CLI flags of ``mgc extract``)."""

    hop_seconds: float | None = None  # default: patches back to back
    max_patches: int | None = None  # cap per track: the middles of that many equal parts
    frontend: FrontendConfig = FrontendConfig()

    def validate(self) -> None:
        if self.hop_seconds is not None and self.hop_seconds <= 0:
            raise ValueError("--hop-seconds must be positive")
        if self.max_patches is not None and self.max_patches <= 0:
            raise ValueError("--max-patches must be a positive whole number")
        FeatureAccumulator(self.frontend.sample_rate)  # refuses rates too low for the features

    def hop_frames(self) -> int | None:
        return self.frontend.hop_frames(self.hop_seconds)


class PatchRecord(NamedTuple):
    """One patch of one track, as it goes into the TFRecords."""

    track_id: str
    split: str
    labels: tuple[int, ...]
    patch_index: int
    patch: np.ndarray


def _file_exists(path: str) -> bool:
    if "://" not in path or path.startswith("file://"):
        return os.path.exists(path.removeprefix("file://"))
    fs, p = url_to_fs(path)
    return fs.exists(p)


class ExtractTrack(beam.DoFn):
    """LabelledTrack -> its ``PatchRecord``s, then its row on ``tracks``; a file that is missing
    or cannot be read becomes an error row on ``errors``.

    The file is decoded once, in blocks, for both the patches and the handcrafted features. A
    track's patches are held until the whole file has decoded, so that a file truncated half
    way leaves none of its patches in the TFRecords (``--max-patches`` bounds what is held).
    """

    def __init__(self, frontend: FrontendConfig, hop_frames: int | None = None,
                 max_patches: int | None = None) -> None:
        self.frontend = frontend
        self.hop_frames = hop_frames
        self.max_patches = max_patches
        self.extracted = Metrics.counter("mgc", "tracks_extracted")
        self.missing = Metrics.counter("mgc", "files_missing")
        self.failed = Metrics.counter("mgc", "tracks_failed")
        self.patches = Metrics.counter("mgc", "patches")
        self.seconds = Metrics.distribution("mgc", "track_seconds")

    def process(self, track: LabelledTrack) -> Iterator:
        try:
            found = _file_exists(track.path)
        except Exception as error:  # a listing that fails (permissions, bucket) is one row
            self.failed.inc()
            yield pvalue.TaggedOutput(ERRORS, ErrorRow.of(track.path, "match", error))
            return
        if not found:
            self.missing.inc()
            yield pvalue.TaggedOutput(ERRORS, ErrorRow(
                track.path, "match", "FileNotFoundError",
                f"track {track.track_id} is listed but its file does not exist"))
            return
        stream = PatchStream((self.frontend,), self.hop_frames, self.max_patches)
        features = FeatureAccumulator(self.frontend.sample_rate)
        stage = None  # after the stream: its own stage says where a failure happened
        try:
            held = [window[0] for window in stream.patches(track.path, on_block=features.push)]
            stage = "features"
            summary = features.finish()
        except Exception as error:
            self.failed.inc()
            yield pvalue.TaggedOutput(ERRORS, ErrorRow.of(track.path, stage or stream.stage,
                                                          error))
            return
        for index, patch in enumerate(held):
            yield PatchRecord(track.track_id, track.split, track.labels, index, patch)
        self.extracted.inc()
        self.patches.inc(len(held))
        self.seconds.update(int(stream.duration_s))
        yield pvalue.TaggedOutput(TRACKS, {
            "track_id": track.track_id,
            "path": track.path,
            "split": track.split,
            "labels": list(track.labels),
            "artist": track.artist,
            "duration_s": stream.duration_s,
            "n_patches": len(held),
            "features": summary.tolist(),
        })


def encode(record: PatchRecord) -> bytes:
    return tfrecord.encode_example(record.track_id, record.split, record.labels,
                                   record.patch_index, record.patch)


def read_track(line: str) -> LabelledTrack:
    fields = json.loads(line)
    return LabelledTrack(**{**fields, "labels": tuple(fields["labels"])})


def build_extract_pipeline(p: beam.Pipeline, listing: str, staging: str,
                           options: ExtractOptions,
                           progress: ProgressFile | None = None) -> list[beam.PCollection]:
    """Wire labelled tracks (``listing``, from ``stage_dataset_files``) -> decode -> patches and
    features -> TFRecords and Parquet in ``staging``. Returns the results of the writes."""
    tracks = (
        p
        | "Listing" >> beam.io.ReadFromText(listing)
        | "Tracks" >> beam.Map(read_track)
        | "Spread" >> beam.Reshuffle()  # one file per element: spread them over workers
    )
    extracted = tracks | "ExtractTrack" >> beam.ParDo(
        ExtractTrack(options.frontend, options.hop_frames(), options.max_patches)
    ).with_outputs(ERRORS, TRACKS, main="patches")
    if progress:
        tracks | "ProgressSeen" >> beam.ParDo(Report(progress, "seen"))
        extracted.tracks | "ProgressDone" >> beam.ParDo(Report(progress, "done"))
        extracted.errors | "ProgressFailed" >> beam.ParDo(Report(progress, "failed"))
        extracted.patches | "ProgressPatches" >> beam.ParDo(Report(progress, "patches"))

    by_split = extracted.patches | "BySplit" >> beam.Partition(
        lambda record, _: tfrecord.SPLITS.index(record.split), len(tfrecord.SPLITS))
    written = [
        records | f"Encode{split.capitalize()}" >> beam.Map(encode)
        | f"Write{split.capitalize()}" >> beam.io.WriteToTFRecord(
            posixpath.join(staging, split), file_name_suffix=".tfrecord")
        for split, records in zip(tfrecord.SPLITS, by_split, strict=True)
    ]
    written.append(extracted.tracks | "WriteTracks" >> beam.io.WriteToParquet(
        publish.shard_prefix(staging, "tracks"), tracks_schema(FEATURE_NAMES),
        file_name_suffix=".parquet",
    ))
    written.append(extracted.errors | "ErrorDicts" >> beam.Map(ErrorRow._asdict)
                   | "WriteErrors" >> beam.io.WriteToParquet(
                       publish.shard_prefix(staging, "errors"), ERRORS_SCHEMA,
                       file_name_suffix=".parquet"))
    return written


@dataclass
class ExtractSummary:
    """A published dataset, read back from its extract.json."""

    out: str
    listed: int
    extracted: int
    failed: int
    skipped: dict[str, int] = field(default_factory=dict)
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    failures_by_stage: dict[str, int] = field(default_factory=dict)
    run: dict = field(default_factory=dict)

    @classmethod
    def of(cls, out: str, record: dict) -> ExtractSummary:
        return cls(out=out, listed=record["listed"], extracted=record["extracted"],
                   failed=record["failed"], skipped=record["skipped"], splits=record["splits"],
                   failures_by_stage=record["failures_by_stage"], run=record)


def count_dataset(fs, root: str, labels: Sequence[str]) -> dict:
    """extract.json's counts, from what was written: tracks and patches per split, labels per
    split, failures."""
    tracks = publish.read_shards(fs, posixpath.join(root, "tracks"),
                                ["split", "labels", "n_patches"])
    splits = {s: {"tracks": 0, "patches": 0} for s in tfrecord.SPLITS}
    label_counts = {s: Counter() for s in tfrecord.SPLITS}
    if tracks is not None:
        for split, ids, n in zip(tracks["split"].to_pylist(), tracks["labels"].to_pylist(),
                                 tracks["n_patches"].to_pylist(), strict=True):
            splits[split]["tracks"] += 1
            splits[split]["patches"] += n
            label_counts[split].update(labels[i] for i in ids)
    failed = publish.failed_paths(fs, root)
    return {
        "extracted": sum(s["tracks"] for s in splits.values()),
        "failed": len(failed),
        "failures_by_stage": dict(Counter(failed.values())),
        "splits": splits,
        "label_counts": {s: dict(sorted(c.items())) for s, c in label_counts.items()},
    }


def publish_dataset(staging: str, out: str, run: dict) -> None:
    """The dataset's publication: the new shards, ``tracks``, ``errors``, labels.json and
    frontend.json replace a previous dataset's (whose shards are retired), then extract.json.
    """

    def plan(fs, staged: str, root: str):
        for name in ("tracks", "errors"):
            fs.makedirs(posixpath.join(staged, name), exist_ok=True)
        shards = sorted(posixpath.basename(f)
                        for f in fs.glob(posixpath.join(staged, "*.tfrecord")))
        old = [posixpath.basename(f)
               for split in tfrecord.SPLITS
               for f in fs.glob(tfrecord.shard_pattern(root, split))]
        return (count_dataset(fs, staged, run["labels"]),
                [*shards, "tracks", "errors", LABELS_FILE, FRONTEND_FILE],
                [SUMMARY_FILE, *old])

    publish.publish(staging, out, SUMMARY_FILE, run, plan)


def stage_dataset_files(source: Source, options: ExtractOptions, staging: str) -> str:
    """What the launcher knows before the job, in the staging folder: labels.json,
    frontend.json and the labelled tracks as JSON lines, which the workers read so that FMA
    large's 100,000 tracks do not travel inside the pipeline graph (Dataflow caps it).
    Returns the listing's path."""
    fs, staged = url_to_fs(staging)
    fs.makedirs(staged, exist_ok=True)
    for name, content in ((LABELS_FILE, source.labels_json()),
                          (FRONTEND_FILE, options.frontend.to_dict())):
        with fs.open(posixpath.join(staged, name), "w") as f:
            json.dump(content, f, indent=2)
    with fs.open(posixpath.join(staged, LISTING_FILE), "w") as f:
        for track in source.tracks:
            f.write(json.dumps(track._asdict()) + "\n")
    return posixpath.join(staging, LISTING_FILE)


def run_extract(source: Source, out: str, options: ExtractOptions = ExtractOptions(),
                pipeline_args: Sequence[str] = (), progress: ProgressFile | None = None
                ) -> ExtractSummary | None:
    """Run a whole extract job, which publishes the dataset into ``out`` as its last step
    (None: the runner returned before the job ended).

    The outputs are written to a staging folder first and moved into place only when every
    write succeeded, so a failed run leaves a previous dataset in ``out`` as it was.
    """
    options.validate()
    run = {
        "source": source.kind,
        **{k: v for k, v in source.details.items() if k != "genre_ids"},
        "labels": list(source.labels),
        "listed": len(source.tracks),
        "skipped": dict(source.skipped),
        "warnings": list(source.warnings),
        "frontend": options.frontend.to_dict(),
        "options": {"hop_seconds": options.hop_seconds, "max_patches": options.max_patches},
    }

    def build(p: beam.Pipeline, staging: str) -> list[beam.PCollection]:
        listing = stage_dataset_files(source, options, staging)
        return build_extract_pipeline(p, listing, staging, options, progress)

    record = publish.run_and_publish(out, pipeline_args, SUMMARY_FILE, run, build,
                                    publish_dataset)
    return ExtractSummary.of(out, record) if record is not None else None
