"""The extract pipeline: labelled audio in, a training dataset out.

Labelled tracks (``pipelines/sources.py``: FMA's metadata, a folder per genre, a manifest) ->
each file decoded once -> the model front-end's patches and the handcrafted features ->
``DIR/<split>-SSSSS-of-NNNNN.tfrecord`` (``schemas/tfrecord.py``), ``DIR/tracks/`` and
``DIR/errors/`` (Parquet), ``labels.json``, ``frontend.json`` and ``extract.json``. Outputs are
staged and published only when the pipeline succeeded, as for ``mgc tag``.
"""

from __future__ import annotations

import json
import os
import posixpath
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from fsspec.core import url_to_fs

from mgc_model.features import FEATURE_NAMES, FeatureAccumulator
from mgc_model.frontend import FrontendConfig, LogMelStream, PatchCutter
from pipelines import output
from pipelines.decode import AudioReader, DecodeError, mono_blocks
from pipelines.matching import normalise
from pipelines.progress import ProgressFile, Report
from pipelines.sources import LabelledTrack, Source
from pipelines.transforms import ERRORS, TRACKS, ErrorRow
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
    max_patches: int | None = None  # cap per track, spread evenly over it
    frontend: FrontendConfig = FrontendConfig()

    def validate(self) -> None:
        if self.hop_seconds is not None and self.hop_seconds <= 0:
            raise ValueError("--hop-seconds must be positive")
        if self.max_patches is not None and self.max_patches <= 0:
            raise ValueError("--max-patches must be a positive whole number")
        FeatureAccumulator(self.frontend.sample_rate)  # refuses rates too low for the features

    def hop_frames(self) -> int | None:
        if self.hop_seconds is None:
            return None
        cfg = self.frontend
        return max(1, round(self.hop_seconds * cfg.sample_rate / cfg.hop_length))


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
        cfg = self.frontend
        stage = "decode"
        n_samples = 0
        held: list[np.ndarray] = []
        try:
            with AudioReader(track.path) as reader:
                expected = None
                if reader.info.duration_s is not None:
                    expected = 1 + int(reader.info.duration_s * cfg.sample_rate) // cfg.hop_length
                mel = LogMelStream(cfg)
                cutter = PatchCutter(cfg, expected, self.hop_frames,
                                     self.max_patches if expected else None)
                features = FeatureAccumulator(cfg.sample_rate)
                for block in mono_blocks(reader, cfg.sample_rate):
                    n_samples += block.size
                    stage = "features"
                    features.push(block)
                    stage = "frontend"
                    held.extend(cutter.push(mel.push(block)))
                    stage = "decode"
                if n_samples == 0:
                    raise DecodeError("no audio samples in the file")
                stage = "frontend"
                held.extend(cutter.push(mel.finish()))
                held.extend(cutter.finish())
                stage = "features"
                summary = features.finish()
        except Exception as error:
            self.failed.inc()
            yield pvalue.TaggedOutput(ERRORS, ErrorRow.of(track.path, stage, error))
            return
        for index, patch in enumerate(held):
            yield PatchRecord(track.track_id, track.split, track.labels, index, patch)
        duration = n_samples / cfg.sample_rate
        self.extracted.inc()
        self.patches.inc(len(held))
        self.seconds.update(int(duration))
        yield pvalue.TaggedOutput(TRACKS, {
            "track_id": track.track_id,
            "path": track.path,
            "split": track.split,
            "labels": list(track.labels),
            "artist": track.artist,
            "duration_s": duration,
            "n_patches": len(held),
            "features": summary.tolist(),
        })


def encode(record: PatchRecord) -> bytes:
    return tfrecord.encode_example(record.track_id, record.split, record.labels,
                                   record.patch_index, record.patch)


def write_listing(source: Source, staging: str) -> str:
    """The labelled tracks as JSON lines in the staging folder: read by the workers, so that
    FMA large's 100,000 tracks do not travel inside the pipeline graph (Dataflow caps it)."""
    path = posixpath.join(staging, LISTING_FILE)
    fs, p = url_to_fs(path)
    fs.makedirs(posixpath.dirname(p), exist_ok=True)
    with fs.open(p, "w") as f:
        for track in source.tracks:
            f.write(json.dumps(track._asdict()) + "\n")
    return path


def read_track(line: str) -> LabelledTrack:
    fields = json.loads(line)
    return LabelledTrack(**{**fields, "labels": tuple(fields["labels"])})


def build_extract_pipeline(p: beam.Pipeline, listing: str, staging: str,
                           options: ExtractOptions,
                           progress: ProgressFile | None = None) -> None:
    """Wire labelled tracks (``listing``, from ``write_listing``) -> decode -> patches and
    features -> TFRecords and Parquet in ``staging``."""
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
    for split, records in zip(tfrecord.SPLITS, by_split, strict=True):
        name = split.capitalize()
        records | f"Encode{name}" >> beam.Map(encode) | f"Write{name}" >> (
            beam.io.WriteToTFRecord(posixpath.join(staging, split),
                                    file_name_suffix=".tfrecord")
        )
    extracted.tracks | "WriteTracks" >> beam.io.WriteToParquet(
        output.shard_prefix(staging, "tracks"), tracks_schema(FEATURE_NAMES),
        file_name_suffix=".parquet",
    )
    extracted.errors | "ErrorDicts" >> beam.Map(ErrorRow._asdict) | "WriteErrors" >> (
        beam.io.WriteToParquet(output.shard_prefix(staging, "errors"), ERRORS_SCHEMA,
                               file_name_suffix=".parquet")
    )


@dataclass
class ExtractSummary:
    out: str
    listed: int
    extracted: int
    failed: int
    skipped: dict[str, int] = field(default_factory=dict)
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    failures_by_stage: dict[str, int] = field(default_factory=dict)
    run: dict = field(default_factory=dict)


def _read(fs, folder: str, columns: list[str]) -> pa.Table | None:
    files = sorted(fs.glob(posixpath.join(folder, "*.parquet")))
    tables = [pq.read_table(f, columns=columns, filesystem=fs) for f in files]
    return pa.concat_tables(tables) if tables else None


def summarise_dataset(fs, root: str, source: Source) -> ExtractSummary:
    """Counts from what was written: tracks and patches per split, labels per split, errors."""
    tracks = _read(fs, posixpath.join(root, "tracks"), ["split", "labels", "n_patches"])
    errors = _read(fs, posixpath.join(root, "errors"), ["path", "stage"])
    splits = {s: {"tracks": 0, "patches": 0} for s in tfrecord.SPLITS}
    label_counts = {s: Counter() for s in tfrecord.SPLITS}
    if tracks is not None:
        for split, labels, n in zip(tracks["split"].to_pylist(), tracks["labels"].to_pylist(),
                                    tracks["n_patches"].to_pylist(), strict=True):
            splits[split]["tracks"] += 1
            splits[split]["patches"] += n
            label_counts[split].update(source.labels[i] for i in labels)
    failed: dict[str, str] = {}
    if errors is not None:
        for path, stage in zip(errors["path"].to_pylist(), errors["stage"].to_pylist(),
                               strict=True):
            failed.setdefault(path, stage)
    extracted = sum(s["tracks"] for s in splits.values())
    summary = ExtractSummary(
        out=root, listed=len(source.tracks), extracted=extracted, failed=len(failed),
        skipped=dict(source.skipped), splits=splits,
        failures_by_stage=dict(Counter(failed.values())),
    )
    summary.run = {
        "listed": summary.listed, "extracted": extracted, "failed": summary.failed,
        "skipped": summary.skipped, "failures_by_stage": summary.failures_by_stage,
        "splits": splits,
        "label_counts": {s: dict(sorted(c.items())) for s, c in label_counts.items()},
    }
    return summary


def publish_dataset(staging: str, out: str, source: Source, options: ExtractOptions,
                    run: dict) -> ExtractSummary:
    """Write labels.json and frontend.json, move the staged dataset into place (replacing a
    previous one's shards) and write extract.json last."""
    fs, root = url_to_fs(normalise(out))
    _, staged = url_to_fs(staging)
    for name, content in ((LABELS_FILE, source.labels_json()),
                          (FRONTEND_FILE, options.frontend.to_dict())):
        with fs.open(posixpath.join(staged, name), "w") as f:
            json.dump(content, f, indent=2)
    summary = summarise_dataset(fs, staged, source)
    for name in ("tracks", "errors"):
        fs.makedirs(posixpath.join(staged, name), exist_ok=True)
    shards = [posixpath.basename(f) for f in fs.glob(posixpath.join(staged, "*.tfrecord"))]
    old = [posixpath.basename(f)
           for split in tfrecord.SPLITS
           for f in fs.glob(tfrecord.shard_pattern(root, split))]
    output.move_into_place(fs, staged, root,
                           [*sorted(shards), "tracks", "errors", LABELS_FILE, FRONTEND_FILE],
                           retire=[SUMMARY_FILE, *old])
    summary.out = out
    summary.run = {**summary.run, **run}
    tmp = posixpath.join(staged, SUMMARY_FILE)
    with fs.open(tmp, "w") as f:
        json.dump(summary.run, f, indent=2, default=str)
    fs.mv(tmp, posixpath.join(root, SUMMARY_FILE))
    return summary


def run_extract(source: Source, out: str, options: ExtractOptions = ExtractOptions(),
                pipeline_args: Sequence[str] = (), progress: ProgressFile | None = None
                ) -> ExtractSummary:
    """Run a whole extract job and publish the dataset into ``out``.

    The outputs are written to a staging folder first and moved into place only when the
    pipeline succeeded, so a failed run leaves a previous dataset in ``out`` as it was.
    """
    options.validate()
    beam_options = PipelineOptions(list(pipeline_args))
    runner = beam_options.view_as(StandardOptions).runner or "DirectRunner"
    staging = output.staging_dir(out, uuid.uuid4().hex[:12])
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    try:
        listing = write_listing(source, staging)
        with beam.Pipeline(options=beam_options) as p:
            build_extract_pipeline(p, listing, staging, options, progress)
        summary = publish_dataset(staging, out, source, options, run={
            "source": source.kind,
            **{k: v for k, v in source.details.items() if k != "genre_ids"},
            "labels": list(source.labels),
            "warnings": list(source.warnings),
            "frontend": options.frontend.to_dict(),
            "options": {"hop_seconds": options.hop_seconds, "max_patches": options.max_patches},
            "runner": runner,
            "started_at": started.isoformat(),
            "wall_time_s": round(time.monotonic() - clock, 3),
        })
    finally:
        output.discard(staging)
    return summary
