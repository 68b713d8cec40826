"""Labelled audio for ``mgc extract``: FMA's metadata, a folder per genre, or a CSV manifest.

Each reader returns a ``Source``: the labelled tracks (stable id, path, split, label ids,
artist), the label names in id order, and what was left out and why. FMA keeps its own
artist-filtered split; the others get a deterministic split by track (by artist when artists
are known), stratified by genre. Splits are by track, never by patch: a seed paper that cut
the same tracks into chunks on both sides of the split measured memorisation.

Runs on the launcher, before the pipeline: metadata is small next to the audio it describes.
"""

from __future__ import annotations

import ast
import hashlib
import posixpath
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd
from fsspec.core import url_to_fs

from pipelines.audio.matching import is_audio_path, normalise
from schemas.tfrecord import SPLITS

SUBSETS = ("small", "medium", "large")  # each FMA subset contains the smaller ones
LABEL_MODES = ("top", "all")
SHARES = (("test", 0.1), ("validation", 0.1))  # the rest is training: 80/10/10 as FMA
SPLIT_ALIASES = {
    "train": "training", "training": "training",
    "val": "validation", "valid": "validation", "validation": "validation", "dev": "validation",
    "test": "test", "eval": "test",
}
FMA_REQUIRED = {
    "top": [("set", "split"), ("set", "subset"), ("track", "genre_top"), ("artist", "id")],
    "all": [("set", "split"), ("set", "subset"), ("track", "genres_all"), ("artist", "id")],
}
GENRES_COLUMNS = ("genre_id", "title")


class SourceError(ValueError):
    """Metadata that cannot be used as given; the message says what to fix."""


class LabelledTrack(NamedTuple):
    track_id: str  # stable: FMA's 6-digit id, else derived from the path under the root
    path: str
    split: str
    labels: tuple[int, ...]  # indices into Source.labels
    artist: str | None


@dataclass(frozen=True)
class Source:
    kind: str  # fma | folder | manifest
    tracks: tuple[LabelledTrack, ...]
    labels: tuple[str, ...]
    multi_label: bool
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> tracks left out
    details: dict = field(default_factory=dict)  # where it came from, for labels.json
    warnings: tuple[str, ...] = ()

    def labels_json(self) -> dict:
        """The dataset's ``labels.json``."""
        return {"labels": list(self.labels), "multi_label": self.multi_label,
                "source": self.kind, **self.details}


def path_track_id(relative: str) -> str:
    """Id of a track outside FMA: the path relative to the dataset root, hashed, so that moving
    the root keeps every id."""
    return hashlib.sha1(relative.encode("utf-8")).hexdigest()[:16]


def _join(root: str, *parts: str) -> str:
    return posixpath.join(root, *parts) if "://" in root else "/".join([root.rstrip("/"), *parts])


def _exists(path: str) -> bool:
    fs, p = url_to_fs(path)
    return fs.exists(p)


# --- FMA -------------------------------------------------------------------------------------

def read_fma_tracks(path: str, labels: str = "top") -> pd.DataFrame:
    """FMA's ``tracks.csv``: three header rows (group, field, then ``track_id``)."""
    try:
        frame = pd.read_csv(path, index_col=0, header=[0, 1], low_memory=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SourceError(f"{path} is not FMA's tracks.csv ({error}); expected its three "
                          "header rows (group, field, track_id)") from None
    if not isinstance(frame.columns, pd.MultiIndex):
        raise SourceError(f"{path} is not FMA's tracks.csv: expected two header rows of "
                          "column names (group, field) and a track_id row")
    missing = [c for c in FMA_REQUIRED[labels] if c not in frame.columns]
    if missing:
        names = ", ".join(f"{g}.{f}" for g, f in missing)
        raise SourceError(f"{path} is not FMA's tracks.csv: no column {names} (FMA's file has "
                          "three header rows and columns such as set.split, set.subset, "
                          "track.genre_top)")
    if not pd.api.types.is_integer_dtype(frame.index):
        raise SourceError(f"{path} is not FMA's tracks.csv: its first column must be the "
                          "numeric track_id")
    return frame


def read_fma_genres(path: str) -> dict[int, str]:
    """``genres.csv``: genre_id -> title."""
    try:
        frame = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SourceError(f"{path} is not FMA's genres.csv ({error})") from None
    if not set(GENRES_COLUMNS) <= set(frame.columns):
        raise SourceError(f"{path} is not FMA's genres.csv: expected columns genre_id, "
                          f"#tracks, parent, title, top_level; found {list(frame.columns)}")
    return dict(zip(frame["genre_id"].astype(int), frame["title"].astype(str), strict=True))


def _parse_id_list(value) -> list[int]:
    if not isinstance(value, str) or not value.strip():
        return []
    try:
        return [int(v) for v in ast.literal_eval(value)]
    except (ValueError, SyntaxError, TypeError):
        raise SourceError(f"genre list {value!r} is not a list of genre ids") from None


def fma_audio_path(audio_dir: str, track_id: int) -> str:
    """FMA's layout: ``AUDIO_DIR/000/000002.mp3``."""
    tid = f"{track_id:06d}"
    return _join(audio_dir, tid[:3], f"{tid}.mp3")


def fma_source(metadata_dir: str, audio_dir: str, subset: str = "medium",
               labels: str = "top") -> Source:
    """FMA's tracks of ``subset`` (and the smaller subsets it contains), with their official
    split. ``labels="top"``: the top-level genre, one per track (tracks without one are left
    out and counted); ``"all"``: every genre in ``genres_all``, several per track."""
    if subset not in SUBSETS:
        raise SourceError(f"unknown subset {subset!r}: choose one of {', '.join(SUBSETS)}")
    if labels not in LABEL_MODES:
        raise SourceError(f"unknown label mode {labels!r}: choose top or all")
    metadata_dir, audio_dir = normalise(metadata_dir), normalise(audio_dir)
    tracks_csv, genres_csv = _join(metadata_dir, "tracks.csv"), _join(metadata_dir, "genres.csv")
    for path in (tracks_csv, genres_csv):
        if not _exists(path):
            raise SourceError(f"{path} not found: --fma-metadata is the folder unpacked from "
                              "fma_metadata.zip (tracks.csv, genres.csv)")
    if not _exists(audio_dir):
        raise SourceError(f"audio folder {audio_dir} not found (--audio-dir: the folder of "
                          "000/, 001/ ... from fma_<subset>.zip)")
    frame = read_fma_tracks(tracks_csv, labels)
    genre_titles = read_fma_genres(genres_csv)

    subsets = frame[("set", "subset")]
    unknown = sorted(set(subsets.dropna()) - set(SUBSETS))
    if unknown:
        raise SourceError(f"{tracks_csv}: unknown set.subset values {unknown}")
    splits = frame[("set", "split")]
    unknown = sorted(set(splits.dropna()) - set(SPLITS))
    if unknown:
        raise SourceError(f"{tracks_csv}: unknown set.split values {unknown}; FMA's are "
                          f"{', '.join(SPLITS)}")
    rank = subsets.map({s: i for i, s in enumerate(SUBSETS)})
    frame = frame[rank <= SUBSETS.index(subset)]
    skipped: Counter = Counter()

    if labels == "top":
        names = frame[("track", "genre_top")]
        skipped["no_genre_top"] = int(names.isna().sum())
        frame, names = frame[names.notna()], names[names.notna()]
        vocabulary = sorted(set(names.astype(str)))
        index = {name: i for i, name in enumerate(vocabulary)}
        label_ids = [(index[str(n)],) for n in names]
        by_title = {t: g for g, t in genre_titles.items()}
        genre_ids = [by_title.get(name) for name in vocabulary]
    else:
        lists = frame[("track", "genres_all")].map(_parse_id_list)
        skipped["no_genres"] = int((lists.map(len) == 0).sum())
        frame, lists = frame[lists.map(len) > 0], lists[lists.map(len) > 0]
        used = sorted({g for ids in lists for g in ids})
        unknown_ids = [g for g in used if g not in genre_titles]
        if unknown_ids:
            raise SourceError(f"{genres_csv} has no genre ids {unknown_ids[:10]} used in "
                              f"{tracks_csv}")
        titles = Counter(genre_titles[g] for g in used)
        name_of = {g: genre_titles[g] if titles[genre_titles[g]] == 1
                   else f"{genre_titles[g]} ({g})" for g in used}
        order = sorted(used, key=lambda g: name_of[g])
        vocabulary = [name_of[g] for g in order]
        position = {g: i for i, g in enumerate(order)}
        label_ids = [tuple(sorted(position[g] for g in set(ids))) for ids in lists]
        genre_ids = order

    missing_split = frame[("set", "split")].isna()
    if missing_split.any():
        skipped["no_split"] = int(missing_split.sum())
    artists = frame[("artist", "id")]
    tracks = tuple(
        LabelledTrack(f"{tid:06d}", fma_audio_path(audio_dir, tid), split, ids,
                      None if pd.isna(artist) else str(int(artist)))
        for tid, split, ids, artist, no_split in zip(
            frame.index, frame[("set", "split")], label_ids, artists, missing_split,
            strict=True)
        if not no_split
    )
    if not tracks:
        raise SourceError(f"no labelled track of subset {subset!r} in {tracks_csv}")
    return Source(
        kind="fma", tracks=tracks, labels=tuple(vocabulary), multi_label=labels == "all",
        skipped={k: v for k, v in skipped.items() if v},
        details={"subset": subset, "label_mode": labels, "genre_ids": genre_ids,
                 "metadata_dir": metadata_dir, "audio_dir": audio_dir},
    )


# --- splits of the other layouts -------------------------------------------------------------

def _order(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


def assign_splits(track_ids: Sequence[str], genres: Sequence[str],
                  artists: Sequence[str | None] | None = None) -> list[str]:
    """A deterministic 80/10/10 split, stratified by genre.

    The unit is the track, or the artist when ``artists`` is given (tracks without one are
    their own unit): all of an artist's tracks share a split, so a model cannot pass the test
    by recognising a voice or a production. Within a genre, units are ordered by a hash of
    their key and handed out test first, then validation, until each holds its share of the
    genre's tracks; a genre with at least three units gets at least one in every split. An
    artist of several genres counts under the genre of most of its tracks.
    """
    units: dict[str, list[int]] = defaultdict(list)
    for i, tid in enumerate(track_ids):
        artist = artists[i] if artists is not None else None
        units[f"artist:{artist}" if artist else f"track:{tid}"].append(i)
    by_genre: dict[str, list[str]] = defaultdict(list)
    for key, members in units.items():
        counts = Counter(genres[i] for i in members)
        top = max(sorted(counts), key=lambda g: counts[g])
        by_genre[top].append(key)

    split_of_unit: dict[str, str] = {}
    for keys in by_genre.values():
        keys.sort(key=_order)
        total = sum(len(units[k]) for k in keys)
        position = 0
        if len(keys) >= 3:
            for n, (split, share) in enumerate(SHARES):
                quota, got = max(1, round(share * total)), 0
                keep = len(SHARES) - n  # units left for the splits after this one
                while got < quota and position < len(keys) - keep:
                    split_of_unit[keys[position]] = split
                    got += len(units[keys[position]])
                    position += 1
        for key in keys[position:]:
            split_of_unit[key] = "training"
    result = [""] * len(track_ids)
    for key, members in units.items():
        for i in members:
            result[i] = split_of_unit[key]
    return result


def _labelled(kind: str, rows: list[tuple[str, str, str, str | None, str | None]],
              details: dict, skipped: dict[str, int]) -> Source:
    """(track_id, path, genre, split or None, artist or None) rows -> a single-label Source."""
    if not rows:
        raise SourceError(f"no labelled audio found ({kind})")
    vocabulary = sorted({genre for _, _, genre, _, _ in rows})
    if len(vocabulary) < 2:
        raise SourceError(f"only one genre ({vocabulary[0]!r}) found: a classifier needs two "
                          "or more")
    warnings = []
    splits = [split for *_, split, _ in rows]
    artists = [artist for *_, artist in rows]
    has_artists = any(artists)
    if all(s is None for s in splits):
        splits = assign_splits([r[0] for r in rows], [r[2] for r in rows],
                               artists if has_artists else None)
        details = {**details, "split": "by artist" if has_artists else "by track"}
    else:
        details = {**details, "split": "given"}
        seen: dict[str, set[str]] = defaultdict(set)
        for artist, split in zip(artists, splits, strict=True):
            if artist:
                seen[artist].add(split)
        shared = sorted(a for a, s in seen.items() if len(s) > 1)
        if shared:
            warnings.append(f"{len(shared)} artists have tracks in more than one split (e.g. "
                            f"{shared[0]!r}): test scores may be optimistic")
    index = {g: i for i, g in enumerate(vocabulary)}
    tracks = tuple(
        LabelledTrack(tid, path, split, (index[genre],), artist)
        for (tid, path, genre, _, artist), split in zip(rows, splits, strict=True)
    )
    return Source(kind=kind, tracks=tracks, labels=tuple(vocabulary), multi_label=False,
                  skipped={k: v for k, v in skipped.items() if v}, details=details,
                  warnings=tuple(warnings))


# --- folder per genre ------------------------------------------------------------------------

def folder_source(root: str) -> Source:
    """GTZAN style: ``ROOT/<genre>/**/<audio>``; the genre is the first folder under ROOT."""
    root = normalise(root)
    fs, base = url_to_fs(root)
    if not fs.isdir(base):
        raise SourceError(f"--folder {root}: not a directory (expected ROOT/<genre>/<audio>)")
    rows = []
    skipped: Counter = Counter()
    prefix = base.rstrip("/") + "/"
    for found in sorted(fs.find(base)):
        if not is_audio_path(found):
            continue
        relative = found[len(prefix):]
        parts = relative.split("/")
        if len(parts) < 2 or parts[0].startswith("."):
            skipped["outside_genre_folder"] += 1
            continue
        path = fs.unstrip_protocol(found) if "://" in root else found
        rows.append((path_track_id(relative), path, parts[0], None, None))
    if not rows:
        raise SourceError(f"--folder {root}: no audio files in genre folders "
                          "(expected ROOT/<genre>/<audio>)")
    return _labelled("folder", rows, {"root": root}, skipped)


# --- CSV manifest ----------------------------------------------------------------------------

def _normalise_split(value: str, line: int, manifest: str) -> str:
    split = SPLIT_ALIASES.get(value.strip().lower())
    if split is None:
        raise SourceError(f"{manifest}, line {line}: unknown split {value!r}; use training, "
                          "validation or test")
    return split


def manifest_source(manifest: str) -> Source:
    """A CSV with columns ``path,genre`` and optionally ``split`` and ``artist``; relative
    paths are relative to the CSV's folder, and so are the track ids."""
    manifest = normalise(manifest)
    if not _exists(manifest):
        raise SourceError(f"manifest {manifest} not found")
    try:
        frame = pd.read_csv(manifest, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SourceError(f"{manifest} is not a readable CSV ({error})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if not {"path", "genre"} <= set(frame.columns):
        found = ", ".join(list(frame.columns)[:6]) + (" ..." if len(frame.columns) > 6 else "")
        raise SourceError(f"{manifest}: a manifest needs a header row with columns path,genre "
                          f"(and optionally split, artist); found: {found}")
    base = manifest.rsplit("/", 1)[0]
    has_split = "split" in frame.columns
    if has_split and (frame["split"].str.strip() == "").any():
        line = int((frame["split"].str.strip() == "").idxmax()) + 2
        raise SourceError(f"{manifest}, line {line}: empty split; give every row a split or "
                          "drop the column to have one assigned")
    rows, seen = [], {}
    for i, record in enumerate(frame.to_dict("records")):
        line = i + 2  # the header is line 1
        path, genre = record["path"].strip(), record["genre"].strip()
        if not path or not genre:
            raise SourceError(f"{manifest}, line {line}: empty path or genre")
        if "://" in path or path.startswith("/"):
            full = path
            relative = path[len(base) + 1:] if path.startswith(base + "/") else path
        else:
            relative = posixpath.normpath(path.replace("\\", "/"))
            full = _join(base, relative)
        if full in seen:
            raise SourceError(f"{manifest}, line {line}: {path} is listed twice (first on line "
                              f"{seen[full]}); one genre per track")
        seen[full] = line
        split = _normalise_split(record["split"], line, manifest) if has_split else None
        artist = (record.get("artist") or "").strip() or None
        rows.append((path_track_id(relative), full, genre, split, artist))
    return _labelled("manifest", rows, {"manifest": manifest}, {})
