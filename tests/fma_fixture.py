"""A small dataset in FMA's layout, made by the tests: real ``tracks.csv`` format (three header
rows, FMA's column names), ``genres.csv``, ``AUDIO_DIR/tid[:3]/tid.mp3`` files, subsets,
artist-filtered splits and the faults FMA has (a listed track without a file, an empty file, a
track without a top genre, tracks of a larger subset whose audio is not in the download).

Four synthetic genres that differ in timbre and rhythm, each track varied in key, tempo,
level, brightness and noise, and each artist with its own tempo and sound, so that a model has
to learn the genre rather than a track or an artist:

- Rock: distorted power chords in eighths, backbeat drums (kick 1 and 3, snare 2 and 4);
- Electronic: four-on-the-floor kick, off-beat hats, a square-wave synth bass line;
- Classical: slow string-like pads (vibrato, slow attack), no drums;
- Folk: plucked strings in 3/4 (bass note then two chord tones per bar), no drums.

Top-level genre ids are FMA's (Classical 5, Rock 12, Electronic 15, Folk 17); the subgenres are
illustrative. ``make_labelled_folder`` writes the same music as a folder-per-genre tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

SR = 22050
CLIP_SECONDS = 8.0
# Patch hop of the shared extracted dataset (tests/conftest.py's fma_dataset): 3 s patches
# every second, six per clip.
DATASET_HOP_SECONDS = 1.0

# genre_id, title, parent (0 = top level)
GENRES_CSV = [
    (5, "Classical", 0),
    (12, "Rock", 0),
    (15, "Electronic", 0),
    (17, "Folk", 0),
    (25, "Punk", 12),
    (31, "Metal", 12),
    (181, "Techno", 15),
    (187, "Chamber Music", 5),
    (49, "Singer-Songwriter", 17),
]
TOP_IDS = {"Classical": 5, "Rock": 12, "Electronic": 15, "Folk": 17}
SUBGENRES = {"Classical": [187], "Rock": [25, 31], "Electronic": [181], "Folk": [49]}
GENRE_NAMES = tuple(sorted(TOP_IDS))

# Artists of each genre: (split, number of tracks). All of an artist's tracks share a split,
# as in FMA; the test split has 4 tracks per genre so that 90% track accuracy means at most
# one mistake in 16.
ARTISTS_PER_GENRE = [
    ("training", 3), ("training", 3), ("training", 2), ("training", 2),
    ("validation", 2), ("test", 2), ("test", 2),
]

# FMA's 52 columns of tracks.csv, in its order.
TRACKS_COLUMNS = [
    *(("album", c) for c in (
        "comments", "date_created", "date_released", "engineer", "favorites", "id",
        "information", "listens", "producer", "tags", "title", "tracks", "type")),
    *(("artist", c) for c in (
        "active_year_begin", "active_year_end", "associated_labels", "bio", "comments",
        "date_created", "favorites", "id", "latitude", "location", "longitude", "members",
        "name", "related_projects", "tags", "website", "wikipedia_page")),
    ("set", "split"), ("set", "subset"),
    *(("track", c) for c in (
        "bit_rate", "comments", "composer", "date_created", "date_recorded", "duration",
        "favorites", "genre_top", "genres", "genres_all", "information", "interest",
        "language_code", "license", "listens", "lyricist", "number", "publisher", "tags",
        "title")),
]


# --- synthesis -------------------------------------------------------------------------------

def _midi(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def _place(out: np.ndarray, start_s: float, sound: np.ndarray) -> None:
    start = int(start_s * SR)
    if start >= out.size:
        return
    end = min(out.size, start + sound.size)
    out[start:end] += sound[: end - start]


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _kick(rng: np.random.Generator) -> np.ndarray:
    t = _t(0.25)
    freq = 50 + 90 * np.exp(-t * 30)
    return np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t * 14)


def _snare(rng: np.random.Generator) -> np.ndarray:
    t = _t(0.18)
    noise = rng.standard_normal(t.size)
    return (0.7 * noise + 0.5 * np.sin(2 * np.pi * 185 * t)) * np.exp(-t * 22)


def _hat(rng: np.random.Generator) -> np.ndarray:
    t = _t(0.05)
    return np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t * 90) * 0.5


def _saw(freq: float, t: np.ndarray) -> np.ndarray:
    return 2.0 * ((freq * t) % 1.0) - 1.0


def _lowpass(x: np.ndarray, cutoff: float) -> np.ndarray:
    """One-pole low-pass: enough to vary the brightness of a sound."""
    from scipy.signal import lfilter

    a = np.exp(-2 * np.pi * cutoff / SR)
    return lfilter([1 - a], [1, -a], x)


def _chords(rng: np.random.Generator, n: int, minor_ok: bool = True) -> list[int]:
    """Scale degrees (semitones above the key) of a short progression."""
    pool = [0, 5, 7, 9, 3, 10] if minor_ok else [0, 5, 7, 2]
    return [0, *rng.choice(pool, size=n - 1)]


def rock(rng: np.random.Generator, seconds: float, tempo: float, key: int,
         brightness: float) -> np.ndarray:
    out = np.zeros(int(seconds * SR))
    beat = 60.0 / tempo
    eighth = beat / 2
    progression = _chords(rng, 4)
    gain = rng.uniform(4, 12)
    n_eighths = int(seconds / eighth) + 1
    for i in range(n_eighths):
        root = key + progression[(i // 4) % len(progression)]
        t = _t(eighth * rng.uniform(0.8, 1.0))
        chord = sum(_saw(_midi(root + iv) * rng.uniform(0.998, 1.002), t) for iv in (0, 7, 12))
        env = np.exp(-t * rng.uniform(3, 10))
        _place(out, i * eighth, np.tanh(gain * chord * env / 3) * 0.5)
    out = _lowpass(out, brightness * 3500)
    drums = np.zeros_like(out)
    for b in range(int(seconds / beat) + 1):
        _place(drums, b * beat, _kick(rng) if b % 2 == 0 else _snare(rng))
        if b % 2 == 0 and rng.random() < 0.3:
            _place(drums, (b + 1.5) * beat, _kick(rng) * 0.7)
        _place(drums, b * beat, _hat(rng))
        _place(drums, b * beat + eighth, _hat(rng))
    return out + drums * rng.uniform(0.6, 1.0)


def electronic(rng: np.random.Generator, seconds: float, tempo: float, key: int,
               brightness: float) -> np.ndarray:
    out = np.zeros(int(seconds * SR))
    beat = 60.0 / tempo
    sixteenth = beat / 4
    pattern = rng.choice([0, 0, 12, 7, 10, 0], size=8)
    progression = _chords(rng, 2)
    for i in range(int(seconds / sixteenth) + 1):
        if i % 4 == 0 and rng.random() < 0.5:  # bass rests on most downbeats: kick's place
            continue
        root = key - 12 + progression[(i // 16) % 2] + pattern[i % 8]
        t = _t(sixteenth * 0.9)
        square = np.sign(np.sin(2 * np.pi * _midi(root) * t))
        _place(out, i * sixteenth, square * np.exp(-t * rng.uniform(4, 12)) * 0.45)
    out = _lowpass(out, brightness * 1200)
    drums = np.zeros_like(out)
    clap = rng.random() < 0.5
    for b in range(int(seconds / beat) + 1):
        _place(drums, b * beat, _kick(rng) * 1.2)
        _place(drums, b * beat + beat / 2, _hat(rng) * 1.5)
        if clap and b % 2 == 1:
            _place(drums, b * beat, _snare(rng) * 0.5)
    return out + drums


def classical(rng: np.random.Generator, seconds: float, tempo: float, key: int,
              brightness: float) -> np.ndarray:
    out = np.zeros(int(seconds * SR))
    chord_s = rng.uniform(1.8, 3.2) * 90.0 / tempo
    progression = _chords(rng, 4, minor_ok=False)
    n_harmonics = int(4 + 5 * brightness)
    phase = np.linspace(0, 2 * np.pi, 2048, endpoint=False)  # one period of a bowed tone
    table = sum(np.sin(k * phase) / k for k in range(1, n_harmonics + 1))
    for c in range(int(seconds / chord_s) + 1):
        root = key + 12 + progression[c % len(progression)]
        t = _t(chord_s + 1.0)
        env = np.minimum(1.0, t / rng.uniform(0.4, 0.9)) * np.minimum(1.0, (t[-1] - t) / 0.8)
        for interval in (-12, 0, 4, 7):
            f = _midi(root + interval)
            vibrato = 1 + 0.004 * np.sin(2 * np.pi * rng.uniform(4.5, 6.0) * t)
            cycles = f * np.cumsum(vibrato) / SR
            voice = table[(cycles * table.size).astype(np.int64) % table.size]
            _place(out, c * chord_s, voice * env * 0.25)
    swell = 0.75 + 0.25 * np.sin(2 * np.pi * np.arange(out.size) / SR / rng.uniform(5, 9))
    return out * swell


def _pluck(freq: float, seconds: float, brightness: float) -> np.ndarray:
    t = _t(seconds)
    return sum(np.sin(2 * np.pi * k * freq * t) * np.exp(-t * (1.5 + (3 - brightness) * k))
               / k for k in range(1, 9))


def folk(rng: np.random.Generator, seconds: float, tempo: float, key: int,
         brightness: float) -> np.ndarray:
    out = np.zeros(int(seconds * SR))
    beat = 60.0 / tempo
    progression = _chords(rng, 4, minor_ok=False)
    arpeggio = rng.random() < 0.5  # six eighths per bar rather than three beats
    step = beat / 2 if arpeggio else beat
    per_bar = 6 if arpeggio else 3
    for i in range(int(seconds / step) + 1):
        bar, pos = divmod(i, per_bar)
        root = key + progression[bar % len(progression)]
        if pos == 0:
            note, level = root - 12, 0.9
        else:
            note, level = root + (4, 7, 12, 7, 4)[(pos - 1) % 5], 0.5
        _place(out, i * step, _pluck(_midi(note), 1.2, brightness) * level)
    return out


SYNTHS: dict[str, Callable[..., np.ndarray]] = {
    "Rock": rock, "Electronic": electronic, "Classical": classical, "Folk": folk,
}
TEMPO = {"Rock": (100, 150), "Electronic": (118, 134), "Classical": (60, 100), "Folk": (85, 130)}


@dataclass(frozen=True)
class ArtistStyle:
    """What an artist keeps from track to track."""

    tempo: float
    key: int
    brightness: float

    @classmethod
    def draw(cls, genre: str, rng: np.random.Generator) -> ArtistStyle:
        lo, hi = TEMPO[genre]
        return cls(rng.uniform(lo, hi), int(rng.integers(40, 52)), rng.uniform(0.5, 1.5))


def synth_track(genre: str, style: ArtistStyle, rng: np.random.Generator,
                seconds: float = CLIP_SECONDS, stereo: bool = False) -> np.ndarray:
    """One clip: (frames, channels) float32 at ``SR``, varied around the artist's style."""
    lo, hi = TEMPO[genre]
    tempo = float(np.clip(style.tempo * rng.uniform(0.92, 1.08), lo, hi))
    key = style.key + int(rng.integers(-3, 4))
    brightness = float(np.clip(style.brightness * rng.uniform(0.8, 1.25), 0.4, 1.8))
    mono = SYNTHS[genre](rng, seconds, tempo, key, brightness)
    mono = mono / max(1e-9, np.abs(mono).max()) * rng.uniform(0.25, 0.85)
    noise = rng.uniform(0.001, 0.02)
    pan = rng.uniform(0.8, 1.0)
    left = mono + noise * rng.standard_normal(mono.size)
    if not stereo:
        return np.clip(left, -1, 1).astype(np.float32)[:, None]
    right = mono * pan + noise * rng.standard_normal(mono.size)
    return np.clip(np.stack([left, right], axis=1), -1, 1).astype(np.float32)


# --- the FMA layout --------------------------------------------------------------------------

@dataclass(frozen=True)
class FixtureTrack:
    track_id: str  # FMA's 6-digit id
    genre_top: str | None
    genre_ids: tuple[int, ...]
    artist_id: int
    split: str
    subset: str


@dataclass(frozen=True)
class FmaFixture:
    root: Path
    metadata_dir: Path  # tracks.csv, genres.csv
    audio_dir: Path  # tid[:3]/tid.mp3
    genres: tuple[str, ...]  # top-level genre titles, sorted
    tracks: dict[str, FixtureTrack] = field(repr=False)
    missing_ids: tuple[str, ...]  # listed in tracks.csv, no audio file
    empty_ids: tuple[str, ...]  # a 0-byte audio file
    no_top_ids: tuple[str, ...]  # no genre_top: skipped by --labels top
    large_only_ids: tuple[str, ...]  # subset large, audio absent (as in an fma_medium download)

    @property
    def broken_ids(self) -> tuple[str, ...]:
        return self.missing_ids + self.empty_ids

    def audio_path(self, track_id: str) -> Path:
        return self.audio_dir / track_id[:3] / f"{track_id}.mp3"

    def ids(self, split: str | None = None, subset: str = "medium") -> list[str]:
        """Ids a ``--labels top --subset <subset>`` extract should produce, in a split."""
        order = ["small", "medium", "large"]
        bad = set(self.broken_ids) | set(self.no_top_ids)
        return sorted(
            t.track_id for t in self.tracks.values()
            if t.track_id not in bad and order.index(t.subset) <= order.index(subset)
            and (split is None or t.split == split)
        )


def _row(track: FixtureTrack, artist_name: str, title: str, duration: float) -> dict:
    parents = {g: p for g, _, p in GENRES_CSV}
    genres_all = sorted({*track.genre_ids, *(parents[g] for g in track.genre_ids if parents[g])})
    values = {
        ("album", "id"): track.artist_id * 10,
        ("album", "title"): f"{artist_name} - Album",
        ("album", "type"): "Album",
        ("album", "tags"): "[]",
        ("album", "tracks"): 3,
        ("album", "date_created"): "2009-01-05 00:00:00",
        ("artist", "id"): track.artist_id,
        ("artist", "name"): artist_name,
        ("artist", "tags"): "[]",
        ("artist", "date_created"): "2008-11-26 01:42:32",
        ("set", "split"): track.split,
        ("set", "subset"): track.subset,
        ("track", "bit_rate"): 128000,
        ("track", "duration"): int(round(duration)),
        ("track", "genre_top"): track.genre_top,
        ("track", "genres"): str(list(track.genre_ids)),
        ("track", "genres_all"): str(genres_all),
        ("track", "interest"): 1000,
        ("track", "license"): "Attribution-NonCommercial-ShareAlike 3.0 International",
        ("track", "listens"): 100,
        ("track", "number"): 1,
        ("track", "tags"): "[]",
        ("track", "title"): title,
    }
    return {col: values.get(col) for col in TRACKS_COLUMNS}


def make_fma_fixture(root: Path, seed: int = 7) -> FmaFixture:
    """Write ``root/fma_metadata/{tracks,genres}.csv`` and ``root/fma_audio/``."""
    rng = np.random.default_rng(seed)
    meta_dir, audio_dir = root / "fma_metadata", root / "fma_audio"
    meta_dir.mkdir(parents=True, exist_ok=True)
    audio_dir.mkdir(parents=True, exist_ok=True)

    # (genre, artist, split, with audio?, kind) for every listed track
    plan: list[tuple[str, int, str, str]] = []
    artist_id = 100
    styles: dict[int, ArtistStyle] = {}
    genre_of_artist: dict[int, str] = {}
    for genre in GENRE_NAMES:
        for split, n in ARTISTS_PER_GENRE:
            artist_id += int(rng.integers(1, 40))
            styles[artist_id] = ArtistStyle.draw(genre, rng)
            genre_of_artist[artist_id] = genre
            plan += [(genre, artist_id, split, "ok")] * n
    first_rock = next(a for a, g in genre_of_artist.items() if g == "Rock")
    first_folk_test = next(a for g, a, s, _ in plan if g == "Folk" and s == "test")
    plan += [
        ("Rock", first_rock, "training", "missing"),
        ("Folk", first_folk_test, "test", "empty"),
        ("Rock", first_rock, "training", "no_top"),
        ("Electronic", artist_id + 7, "training", "large"),
        ("Folk", artist_id + 9, "test", "large"),
    ]
    order = rng.permutation(len(plan))  # ids do not follow genres
    ids = np.cumsum(rng.integers(20, 400, size=len(plan))) + 1

    tracks: dict[str, FixtureTrack] = {}
    rows: dict[int, dict] = {}
    kinds: dict[str, list[str]] = {"missing": [], "empty": [], "no_top": [], "large": []}
    for n, index in enumerate(order):
        genre, artist, split, kind = plan[index]
        tid = int(ids[n])
        track_id = f"{tid:06d}"
        if kind == "no_top":  # two top-level parents: FMA leaves genre_top empty
            genre_ids, genre_top = (SUBGENRES["Rock"][0], TOP_IDS["Electronic"]), None
        else:
            choices = [TOP_IDS[genre], *SUBGENRES[genre]]
            genre_ids, genre_top = (int(rng.choice(choices)),), genre
        subset = "large" if kind == "large" else ("medium" if rng.random() < 0.3 else "small")
        track = FixtureTrack(track_id, genre_top, genre_ids, artist, split, subset)
        tracks[track_id] = track
        if kind in kinds:
            kinds[kind].append(track_id)
        path = audio_dir / track_id[:3] / f"{track_id}.mp3"
        if kind in ("ok", "no_top"):
            path.parent.mkdir(parents=True, exist_ok=True)
            style = styles.get(artist) or ArtistStyle.draw(genre, rng)
            stereo = n % 4 == 0  # FMA has both; mono halves the fixture's encoding time
            audio = synth_track(genre, style, rng, stereo=stereo)
            if kind == "no_top":  # a rock band with a drum machine
                audio = 0.5 * audio + 0.5 * synth_track("Electronic", style, rng, stereo=stereo)
            sf.write(str(path), audio, SR, format="MP3")
        elif kind == "empty":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
        rows[tid] = _row(track, f"Fixture Artist {artist}", f"Track {track_id}", CLIP_SECONDS)

    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    frame = frame[pd.MultiIndex.from_tuples(TRACKS_COLUMNS)].sort_index()
    frame.index.name = "track_id"
    frame.to_csv(meta_dir / "tracks.csv")

    counts = {g: 0 for g, _, _ in GENRES_CSV}
    for track in tracks.values():
        for g in track.genre_ids:
            counts[g] += 1
    top_of = {g: (p or g) for g, _, p in GENRES_CSV}
    genres = pd.DataFrame(
        [(g, counts[g], p, title, top_of[g]) for g, title, p in GENRES_CSV],
        columns=["genre_id", "#tracks", "parent", "title", "top_level"],
    ).sort_values("genre_id")
    genres.to_csv(meta_dir / "genres.csv", index=False)

    return FmaFixture(
        root=root, metadata_dir=meta_dir, audio_dir=audio_dir, genres=GENRE_NAMES,
        tracks=tracks, missing_ids=tuple(kinds["missing"]), empty_ids=tuple(kinds["empty"]),
        no_top_ids=tuple(kinds["no_top"]), large_only_ids=tuple(sorted(kinds["large"])),
    )


def make_labelled_folder(root: Path, genres: tuple[str, ...] = GENRE_NAMES,
                         per_genre: int = 5, seconds: float = 4.0, ext: str = "wav",
                         seed: int = 11) -> dict[str, str]:
    """A folder-per-genre tree (GTZAN style): ``root/<genre>/<genre>.NNNNN.<ext>``.
    Returns {path relative to root: genre}."""
    rng = np.random.default_rng(seed)
    written = {}
    for genre in genres:
        for i in range(per_genre):
            rel = f"{genre.lower()}/{genre.lower()}.{i:05d}.{ext}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            audio = synth_track(genre, ArtistStyle.draw(genre, rng), rng, seconds)
            sf.write(str(root / rel), audio, SR)
            written[rel] = genre
    return written
