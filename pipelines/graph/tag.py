"""The tag pipeline: audio files in, Parquet genre tags and error rows out.

``build_tag_pipeline`` wires the graph onto any Beam pipeline (tests use TestPipeline);
``run_tag`` runs it with the user's pipeline options, its last step publishing the outputs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import apache_beam as beam
import pyarrow as pa
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from mgc_model import decision, registry
from mgc_model.calibration import calibrate, fallback
from mgc_model.contract import ModelInfo
from pipelines.files.writeback import AUTO, WriteOptions
from pipelines.graph import checkpoint, publish
from pipelines.graph.evidence import LibraryEvidence
from pipelines.graph.incremental import PreviousRun, SplitByState, previous_run, state_key
from pipelines.graph.inference import DEFAULT_BATCH_SIZE, GenreModelHandler
from pipelines.graph.steps import (
    ERRORS,
    PASSED_OVER,
    TRACKS,
    BuildTagRow,
    DecodeToPatches,
    ErrorRow,
    MatchAudioFiles,
    MeanScores,
    WriteGenreTags,
)
from pipelines.learn.agreement import calibration_sample
from pipelines.terminal.progress import ProgressFile, Report
from schemas.parquet import ERRORS_SCHEMA, WRITES_SCHEMA, tags_schema

log = logging.getLogger(__name__)
# Windows analysed per track unless --max-patches says otherwise (0: every one), the middles
# of that many equal parts of it. Chosen by bench/patch_budget.py: on 117 full-length real
# recordings the smallest budget whose top genre is the full analysis's, or one it scores
# within 0.05 of it, on at least 97% of them, there and at every larger budget, is 6 (97.4%);
# and no fewer than a 30 s clip's 10 windows, so the clips the model was measured on (FMA's,
# the check corpus's) are analysed whole and its figures hold (100% at 10); docs/performance.md
# and docs/figures/patch_budget.png.
DEFAULT_MAX_PATCHES = 10
CARRIED_SCHEMA = pa.schema([pa.field("path", pa.string(), nullable=False)])
PASSED_OVER_SCHEMA = pa.schema([pa.field("extension", pa.string(), nullable=False),
                                pa.field("files", pa.int64(), nullable=False)])


@dataclass(frozen=True)
class TagOptions:
    """What a user may tune about tagging (the CLI flags of ``mgc tag``)."""

    model: str = registry.DEFAULT_MODEL
    hop_seconds: float | None = None  # default: patches back to back
    # cap per track (the middles of that many equal parts); 0 (or None, as callers of mgc 0.1
    # wrote it): none
    max_patches: int | None = DEFAULT_MAX_PATCHES
    batch_size: int = DEFAULT_BATCH_SIZE
    top_k: int = decision.TOP_K
    threshold: float = decision.THRESHOLD
    write: WriteOptions | None = None  # write genres into the files (--write-tags)
    album_weight: float = decision.ALBUM_WEIGHT  # blend with the album's mean
    artist_weight: float = decision.ARTIST_WEIGHT  # the artist's other albums' genres

    def validate(self, genres: Sequence[str] | None = None) -> None:
        if self.hop_seconds is not None and self.hop_seconds <= 0:
            raise ValueError("--hop-seconds must be positive")
        if self.max_patches is not None and (not isinstance(self.max_patches, int)
                                             or self.max_patches < 0):
            raise ValueError("--max-patches must be a whole number, 0 for every patch")
        if self.batch_size <= 0:
            raise ValueError("--batch-size must be positive")
        if self.top_k <= 0:
            raise ValueError("--top-k must be positive")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("--threshold must be between 0 and 1")
        decision.check_album_weight(self.album_weight)
        decision.check_artist_weight(self.artist_weight)
        if self.write is not None:
            self.write.validate(genres)


def _inference_errors(failure) -> list[tuple[str, ErrorRow]]:
    batch, error = failure  # keyed by (path, window index)
    return [(path, ErrorRow.of(path, "inference", error)) for (path, _), _ in batch]


def _outputs(key: tuple[str, int], result) -> tuple[tuple[str, int], tuple]:
    return key, result.inference


def build_tag_pipeline(p: beam.Pipeline, inputs: Sequence[str], staging: str,
                       options: TagOptions, info: ModelInfo,
                       progress: ProgressFile | None = None,
                       previous: PreviousRun | None = None,
                       commit_to: str | None = None,
                       resume: checkpoint.Checkpoint | None = None) -> list[beam.PCollection]:
    """Wire match -> decode -> patches -> RunInference -> per-track mean -> album and artist
    evidence -> Parquet, and last, when ``options.write`` asks for it, genres into the files.
    With ``previous`` (an incremental run), files unchanged since that run skip all of it:
    their rows are carried, and decided again with their albums and artists. With
    ``commit_to``, the work is committed there as it is done; with ``resume`` (a checkpoint
    found at launch), the files it holds whole skip decoding and inference
    (``pipelines.graph.checkpoint``). Returns the results of the writes into ``staging``."""
    hop_frames = info.frontend.hop_frames(options.hop_seconds)

    matched = (
        p
        | "Inputs" >> beam.Create(list(inputs))
        | "Match" >> beam.ParDo(MatchAudioFiles()).with_outputs(ERRORS, PASSED_OVER,
                                                                main="paths")
    )
    carried = None
    if previous is not None:  # its join by path also drops a file named twice
        split = matched.paths | "SplitByState" >> SplitByState(previous, info.ref)
        paths, carried = split.paths, split.carried
    else:
        # Distinct drops a file named twice, and its shuffle spreads the files over workers.
        paths = matched.paths | "Distinct" >> beam.Distinct()
    if progress:
        paths | "ProgressSeen" >> beam.ParDo(Report(progress, "seen"))
    kept = None
    if resume is not None:
        kept = paths | "SplitByCheckpoint" >> checkpoint.SplitByCheckpoint(resume)
        paths = kept.paths
    # windows keyed by (path, index): the checkpoint counts a window committed twice once
    decoded = paths | "DecodeToPatches" >> beam.ParDo(checkpoint.NumberPatches(
        DecodeToPatches(info.frontends, hop_frames, options.max_patches or None))
    ).with_outputs(ERRORS, TRACKS, main="patches")

    handler = KeyedModelHandler(GenreModelHandler(options.model, options.batch_size))
    inferred, dead_letters = (
        decoded.patches | "RunInference" >> RunInference(handler).with_exception_handling()
    )
    outputs = inferred | "Outputs" >> beam.MapTuple(_outputs)
    tracks = decoded.tracks
    written = []  # the results of every write, which the publication waits for
    if commit_to is not None:
        written += [
            outputs | "CommitPatches" >> beam.ParDo(
                checkpoint.Commit(commit_to, checkpoint.PATCHES)),
            tracks | "CommitTracks" >> beam.ParDo(
                checkpoint.Commit(commit_to, checkpoint.TRACKS))]
    if kept is not None:
        outputs = (outputs, kept.patches) | "WithKeptPatches" >> beam.Flatten()
        tracks = (tracks, kept.tracks) | "WithKeptTracks" >> beam.Flatten()
    scores = (
        outputs
        | "PerTrack" >> beam.MapTuple(lambda key, output: (key[0], output))
        | "MeanPerTrack" >> beam.CombinePerKey(MeanScores(info))
    )
    failed = dead_letters.failed_inferences | "InferenceErrors" >> beam.FlatMap(
        _inference_errors
    )
    rows = (
        {"track": tracks, "scores": scores, "failed": failed}
        | "JoinPerTrack" >> beam.CoGroupByKey()
        | "TagRows" >> beam.ParDo(
            BuildTagRow(info.genres, info.ref, options.top_k, options.threshold,
                        datetime.now(timezone.utc), info.descriptors)
        ).with_outputs(ERRORS, main="tags")
    )
    pairs = rows.tags | "NewRows" >> beam.Map(lambda row: (row, False))
    if carried is not None:
        pairs = (pairs, carried | "CarriedRows" >> beam.Map(lambda row: (row, True))) | (
            "WithCarried" >> beam.Flatten())
    blended = pairs | "Library" >> LibraryEvidence(options.album_weight, options.artist_weight,
                                                   info.genres, options.top_k, options.threshold)
    errors = [matched.errors, decoded.errors, rows.errors]
    if options.write is not None:
        thresholds = None
        if options.write.min_score == AUTO:
            fallbacks = fallback(info)
            thresholds = beam.pvalue.AsSingleton(
                blended.tags
                | "Labelled" >> beam.FlatMap(
                    lambda row: [s] if (s := calibration_sample(row, info)) else [])
                | "AllLabelled" >> beam.combiners.ToList()
                | "Calibrate" >> beam.Map(calibrate, fallbacks))
        write_errors, writes = _write_genres(
            blended.to_write, tracks, staging, options.write, info, thresholds,
            done=kept.writes if kept is not None else None, commit_to=commit_to)
        errors.append(write_errors)
        written += writes
    errors = tuple(errors) | "AllErrors" >> beam.Flatten()
    if progress:
        tracks | "ProgressDecoded" >> beam.ParDo(Report(progress, "done"))
        decoded.errors | "ProgressFailed" >> beam.ParDo(Report(progress, "failed"))
        inferred | "ProgressPatches" >> beam.ParDo(Report(progress, "patches"))

    tags = blended.tags
    if kept is not None:
        written.append(kept.kept | "WriteKept" >> beam.io.WriteToParquet(
            publish.shard_prefix(staging, publish.RESTORED), CARRIED_SCHEMA,
            file_name_suffix=".parquet"))
    if carried is not None:
        written.append(
            carried | "CarriedPaths" >> beam.Map(lambda row: {"path": row["path"]}) | (
                "WriteCarried" >> beam.io.WriteToParquet(
                    publish.shard_prefix(staging, publish.CARRIED), CARRIED_SCHEMA,
                    file_name_suffix=".parquet")))
    written.append(
        matched.passed_over
        | "PassedOverByExtension" >> beam.CombinePerKey(sum)
        | "PassedOverRows" >> beam.MapTuple(lambda ext, n: {"extension": ext, "files": n})
        | "WritePassedOver" >> beam.io.WriteToParquet(
            publish.shard_prefix(staging, publish.PASSED_OVER), PASSED_OVER_SCHEMA,
            file_name_suffix=".parquet"))
    written.append(tags | "WriteTags" >> beam.io.WriteToParquet(
        publish.shard_prefix(staging, "tags"), tags_schema(info.genres, info.ref),
        file_name_suffix=".parquet",
    ))
    written.append(errors | "ErrorDicts" >> beam.Map(ErrorRow._asdict) | "WriteErrors" >> (
        beam.io.WriteToParquet(publish.shard_prefix(staging, "errors"), ERRORS_SCHEMA,
                               file_name_suffix=".parquet")
    ))
    return written


def _write_genres(tags, tracks, staging: str, write: WriteOptions, info: ModelInfo,
                  thresholds=None, done=None, commit_to: str | None = None):
    """The last stage: genres into the files, one outcome row per file in ``writes/`` (new
    rows, and carried rows whose album blending changed them). ``done``: (path, write row)
    of files a killed run of this command wrote, given again instead of writing them twice;
    ``commit_to``: the checkpoint each outcome is committed to. Returns the error rows and
    the results of writing ``writes/`` (and committing them)."""
    joined = {"tags": tags | "KeyTagRows" >> beam.WithKeys(lambda row: row["path"]),
              "track": tracks}
    if done is not None:
        joined["done"] = done
    written = (
        joined
        | "JoinForWrite" >> beam.CoGroupByKey()
        | "WriteGenreTags" >> beam.ParDo(WriteGenreTags(write, info.genres, info.ref),
                                         thresholds=thresholds)
        .with_outputs(ERRORS, main="writes")
    )
    results = [written.writes | "WriteWrites" >> beam.io.WriteToParquet(
        publish.shard_prefix(staging, "writes"), WRITES_SCHEMA, file_name_suffix=".parquet")]
    if commit_to is not None:
        results.append(written.writes | "CommitWrites" >> beam.ParDo(
            checkpoint.Commit(commit_to, checkpoint.WRITES)))
    return written.errors, results


def run_tag(inputs: Sequence[str], out: str, options: TagOptions = TagOptions(),
            pipeline_args: Sequence[str] = (), progress: ProgressFile | None = None,
            incremental: bool = False) -> publish.RunSummary | None:
    """Run a whole tag job, which publishes ``out/tags``, ``out/errors`` and ``out/run.json``
    as its last step, and summarise it (None: the runner returned before the job ended).

    The outputs are written to a staging folder first and moved into place only when every
    write succeeded, so a failed run leaves the previous outputs as they were.
    ``incremental``: the previous run in ``out`` is the state; unchanged files are skipped
    and their rows carried over (``pipelines.graph.incremental``).
    """
    info = registry.describe(options.model)
    options.validate(info.genres)
    key = state_key(info.ref, options)
    previous, state_note = None, "full run"
    if incremental:
        previous, state_note = previous_run(out, key)
        log.info("incremental: %s", state_note)
    # auto: each track is judged by the threshold measured on this library for its kind of
    # evidence (run.json's ``calibration``), also when nothing is written
    min_score = options.write.min_score if options.write is not None else AUTO
    # the work is committed as it is done; a checkpoint of a killed run with the same key
    # is resumed from (pipelines.graph.checkpoint)
    commit_to = checkpoint.folder(out, key)
    resume = checkpoint.find(out, key)
    if resume is not None:
        log.info("resuming from %s", commit_to)
    run = {"model": info.ref, "inputs": list(inputs), "options": asdict(options),
           "min_score": min_score, "fitted_on_albums": len(info.fitted_on),
           "incremental": incremental, "state": state_note, "state_key": key,
           "checkpoint": commit_to.rsplit("/", 1)[-1] if resume is not None else None}
    record = publish.run_and_publish(
        out, pipeline_args, publish.RUN_FILE, run,
        build=lambda p, staging: build_tag_pipeline(p, inputs, staging, options, info,
                                                    progress, previous, commit_to, resume),
        publish=functools.partial(
            publish.publish_tags, optional=("writes",) if options.write is not None else (),
            info=info),
    )
    return publish.tag_summary(out, record) if record is not None else None
