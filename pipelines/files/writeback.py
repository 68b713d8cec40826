"""Write the model's genres into the audio files themselves, safely enough for someone's only
copy of their library.

``plan`` reads a file's genres and its ``MGC_`` provenance (``pipelines.files.formats``) and
decides what to do; ``apply`` does it through the atomic replace (``pipelines.files.atomic``):
a crash at any moment leaves the old file or the new one, never a mix. Which genres are written
is ``mgc_model.decision.to_write``'s to say.

A pure library (mutagen and the standard library): no Beam or TensorFlow import, so it runs
in a light process and is easy to call from a script.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from mgc_model import decision
from pipelines.files.atomic import (
    FileStat,
    Vanished,
    check_writable,
    replace_atomically,
)
from pipelines.files.formats import (
    MODEL_KEY,
    POLICY_KEY,
    SCORES_KEY,
    SEPARATOR,
    UnsupportedFormat,
    WriteError,
    has_tag,
    open_tags,
    read_genres,
    set_fields,
)
from pipelines.files.verify import checked

POLICIES = ("fill", "merge", "overwrite")
ACTIONS = ("written", "unchanged", "would-write", "skipped", "failed")
AUTO = "auto"  # --min-score measured on the library being tagged
SCORE_DECIMALS = 2  # scores are rounded so a rerun writes the same bytes


@dataclass(frozen=True)
class WriteOptions:
    """How genres are written (the ``--write-tags`` family of flags of ``mgc tag``).

    ``fill`` (recommended) writes only into files without a genre and never touches a file
    that has one, whoever wrote it; ``merge`` adds the model's genres after the existing ones;
    ``overwrite`` replaces them. ``vocabulary`` limits the names written (spelt as it spells
    them; default: the model's genres); ``separator`` joins several genres only where a format
    holds a single text (ID3v2.3).
    """

    policy: str = "fill"
    count: int = 1
    # the check corpus's threshold; 'auto' (``mgc tag``'s default): measured on the library
    # being tagged, over the whole run (``mgc_model.calibration``)
    min_score: float | str = decision.CONFIDENT_SCORE
    vocabulary: tuple[str, ...] | None = None
    title_case: bool = True
    separator: str = SEPARATOR
    keep_mtime: bool = True
    dry_run: bool = False

    def validate(self, model_genres: Sequence[str] | None = None) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"--write-tags must be one of {', '.join(POLICIES)} (fill is the "
                             f"safe choice), not {self.policy!r}")
        if self.count < 1:
            raise ValueError("--genre-count must be at least 1")
        if self.min_score != AUTO and not (isinstance(self.min_score, float | int)
                                           and 0.0 <= self.min_score <= 1.0):
            raise ValueError(f"--min-score must be {AUTO} (measured on this library) or a "
                             f"score between 0 and 1, not {self.min_score!r}")
        if not self.separator.strip():
            raise ValueError("--separator must contain a visible character, e.g. '; '")
        if self.vocabulary is not None and not self.vocabulary:
            raise ValueError("--vocabulary names no genre")
        names = list(self.vocabulary or model_genres or ())
        for name in names:
            if self.separator.strip() in name:
                raise ValueError(f"--separator {self.separator!r} occurs in the genre {name!r};"
                                 " choose another separator")
        if self.vocabulary and model_genres is not None:
            known = {g.casefold() for g in model_genres}
            if not any(v.casefold() in known for v in self.vocabulary):
                raise ValueError("--vocabulary has none of the model's genres, so nothing could "
                                 f"be written; the model's genres: {', '.join(model_genres)}")


class Plan(NamedTuple):
    """What ``apply`` will do to one file: ``write``, or nothing (``unchanged``, ``skipped``)."""

    path: str  # as given
    target: str  # the real file (symbolic links resolved)
    action: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    provenance: dict[str, str]
    reason: str
    stat: FileStat  # the file as the plan read it
    creates_tag: bool = False  # the file has no tag of its format yet: the write adds one
    provenance_before: dict[str, str] = {}  # the MGC_ fields the file held (an earlier run's)
    kind: type | None = None  # the mutagen class that read the file


class Outcome(NamedTuple):
    """One file's write-back result: a row of ``OUT/writes/``."""

    path: str
    action: str
    policy: str
    genres_before: tuple[str, ...]
    genres_after: tuple[str, ...]
    model: str
    message: str = ""
    # what ``mgc undo`` needs to put the file back as it was: its size before the write (the
    # padding to restore), whether the write created the file's tag (undo removes it) and the
    # MGC_ fields it held before (JSON; an earlier run's, put back)
    size_before: int | None = None
    tag_created: bool = False
    provenance_before: str = "{}"

    def as_row(self) -> dict:
        row = self._asdict()
        row["genres_before"] = list(self.genres_before)
        row["genres_after"] = list(self.genres_after)
        return row


def failed(path: str, options: WriteOptions, model: str, error: BaseException) -> Outcome:
    """A ``failed`` row: mgc's own refusals are sentences; anything else keeps its name."""
    words = str(error) if isinstance(error, WriteError) else f"{type(error).__name__}: {error}"
    return Outcome(path, "failed", options.policy, (), (), model, words)


def read_vocabulary(path: str) -> tuple[str, ...]:
    """A vocabulary file: one genre per line; blank lines and ``#`` comments are ignored."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.split("#", 1)[0].strip() for line in f]
    except OSError as error:
        raise ValueError(f"--vocabulary: cannot read {path!r}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"--vocabulary: {path!r} is not UTF-8 text") from None
    names = tuple(dict.fromkeys(line for line in lines if line))
    if not names:
        raise ValueError(f"--vocabulary: {path!r} names no genre (one genre per line)")
    return names


def choose_genres(scores: Mapping[str, float], options: WriteOptions) -> list[tuple[str, float]]:
    """The model's genres to write under ``options`` (``decision.to_write``)."""
    if options.min_score == AUTO:
        raise ValueError("--min-score auto is measured over a whole tag run; outside one, "
                         "give a score")
    return decision.to_write(scores, options.min_score, options.count, options.vocabulary,
                             options.title_case)


def provenance_of(chosen: Sequence[tuple[str, float]], model: str,
                  options: WriteOptions) -> dict[str, str]:
    scores = {name: round(score, SCORE_DECIMALS) for name, score in chosen}
    return {
        MODEL_KEY: model,
        POLICY_KEY: options.policy,
        SCORES_KEY: json.dumps(scores, ensure_ascii=False),
    }


# --- deciding --------------------------------------------------------------------------------


def plan(path: str, scores: Mapping[str, float], model: str,
         options: WriteOptions) -> Plan:
    """Decide what to write into one file, from what it holds now and the model's scores.

    Unchanged when the file already holds what this model and policy would write (a rerun, or
    a retried Beam bundle): scores are not compared, so the last digit of a recomputed score
    never causes a rewrite. ``fill`` on a file that has a genre touches nothing.
    """
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        raise Vanished("the file vanished since it was read; file not written") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsupportedFormat("not a regular file")
    audio = open_tags(target)
    before, current = read_genres(audio, target, options.separator)
    chosen = choose_genres(scores, options)
    provenance = provenance_of(chosen, model, options)
    ours = current.get(MODEL_KEY) == model and current.get(POLICY_KEY) == options.policy

    def decided(action: str, after: Sequence[str], reason: str = "") -> Plan:
        return Plan(path, target, action, before, tuple(after), provenance, reason,
                    FileStat.of(st), not has_tag(audio), current, type(audio))

    if not chosen:
        where = " in the vocabulary" if options.vocabulary else ""
        return decided("skipped", before,
                       f"no genre{where} scored at least {options.min_score:g}")
    names = [name for name, _ in chosen]
    if options.policy == "fill" and before:
        if ours:
            return decided("unchanged", before, f"already filled by {model}")
        by = f" (written by {current[MODEL_KEY]})" if MODEL_KEY in current else ""
        return decided("skipped", before, f"has a genre{by}; fill keeps it")
    if options.policy == "merge":
        known = {g.casefold() for g in before}
        after = [*before, *(n for n in names if n.casefold() not in known)]
    else:
        after = names
    if tuple(after) == before and ours:
        return decided("unchanged", before, f"already tagged by {model} ({options.policy})")
    return decided("write", after)


# --- writing ---------------------------------------------------------------------------------


def _undo_facts(plan: Plan) -> dict:
    return {"size_before": plan.stat.size, "tag_created": plan.creates_tag,
            "provenance_before": json.dumps(plan.provenance_before, ensure_ascii=False,
                                            sort_keys=True)}


def apply(plan: Plan, options: WriteOptions, expected: FileStat | None = None) -> Outcome:
    """Carry out a plan: write the copy, then rename it over the file (``would-write`` for a
    dry run). ``expected`` is the file as it was first read (at decode time); if the file no
    longer matches it, or the plan, nothing is written (``ChangedSinceRead``)."""
    model = plan.provenance[MODEL_KEY]
    if plan.action != "write":
        return Outcome(plan.path, plan.action, options.policy, plan.before, plan.after, model,
                       plan.reason)
    if options.dry_run:  # a preview also tells which files could not be written
        check_writable(plan.target)
        return Outcome(plan.path, "would-write", options.policy, plan.before, plan.after, model,
                       **_undo_facts(plan))
    replace_atomically(
        plan.target,
        checked(lambda tmp: set_fields(tmp, plan.after, plan.provenance, options.separator,
                                       kind=plan.kind),
                plan.after, plan.provenance, options.separator, plan.kind),
        (expected, plan.stat), options.keep_mtime)
    return Outcome(plan.path, "written", options.policy, plan.before, plan.after, model,
                   **_undo_facts(plan))


def write_genres(path: str, scores: Mapping[str, float], model: str, options: WriteOptions,
                 expected: FileStat | None = None) -> Outcome:
    """Plan and apply in one call: what the pipeline's last stage does for each file."""
    return apply(plan(path, scores, model, options), options, expected)
