"""The library the serve tests look at: tracks, one tag run over them and a running server,
each made once per test session (a pytest plugin that conftest.py loads, so test_serve and
test_serve_browser share one of each instead of tagging and serving twice)."""

from __future__ import annotations

import threading
from pathlib import Path

import mutagen
import mutagen.id3 as id3
import numpy as np
import pytest

from audio import chord_track, write_audio
from pipelines.graph.publish import read_tags
from pipelines.graph.tag import TagOptions, run_tag
from pipelines.serve.server import make_server

UPLOAD_LIMIT = 1024 * 1024  # small, so the 413 test sends little


def _noise_track(seconds: float, sr: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.2 * rng.standard_normal((int(seconds * sr), 2))).astype(np.float32)


# the files' own tags of two of the serve tracks: (title, artist, album, genres)
OWN_TAGS = {"chords2": ("Second Chords", "The Testers", "Träck Album", ["Jazz"]),
            "low": ("Low Hum", "Deep Ensemble", "Bottom Album", ["(17)", "Blorp"])}


def _own_tags(path: Path, title: str, artist: str, album: str, genres: list[str]) -> None:
    audio = mutagen.File(str(path))
    if path.suffix == ".mp3":
        if audio.tags is None:
            audio.add_tags()
        for frame, text in ((id3.TIT2, title), (id3.TPE1, artist), (id3.TALB, album),
                            (id3.TCON, genres)):
            audio.tags.add(frame(encoding=3, text=text))
    else:
        audio["TITLE"], audio["ARTIST"], audio["ALBUM"] = [title], [artist], [album]
        audio["GENRE"] = genres
    audio.save()


@pytest.fixture(scope="session")
def serve_tracks(tmp_path_factory) -> dict[str, Path]:
    """A small library of different-sounding tracks in several formats; two carry their own
    title, artist, album and genres (``OWN_TAGS``)."""
    root = tmp_path_factory.mktemp("serve-library")
    tracks = {
        "chords": write_audio(root / "album a" / "chords.wav", chord_track(4.0, 22050), 22050),
        "chords2": write_audio(root / "album a" / "chords two.flac",
                               chord_track(4.0, 22050, seed=1), 22050),
        "low": write_audio(root / "album b" / "low chords.mp3",
                           chord_track(4.0, 44100, seed=5, amplitude=0.05), 44100),
        "noise": write_audio(root / "album b" / "noise ♫.ogg", _noise_track(4.0, 22050, 3),
                             22050),
    }
    for key, fields in OWN_TAGS.items():
        _own_tags(tracks[key], *fields)
    return tracks


@pytest.fixture(scope="session")
def serve_tags(serve_tracks, tmp_path_factory) -> Path:
    """``mgc tag`` (the library call the command runs) over ``serve_tracks``."""
    out = tmp_path_factory.mktemp("serve-out")
    summary = run_tag([str(p) for p in serve_tracks.values()], str(out), TagOptions())
    assert summary.tagged == len(serve_tracks)
    return out


@pytest.fixture(scope="session")
def tag_rows(serve_tags) -> dict[str, dict]:
    return {row["path"]: row for row in read_tags(str(serve_tags)).to_table().to_pylist()}


@pytest.fixture(scope="session")
def server(serve_tags, tmp_path_factory):
    """A running server on a free port; uploads go to a folder the tests can watch."""
    uploads = tmp_path_factory.mktemp("uploads")
    srv = make_server(str(serve_tags), port=0, max_upload=UPLOAD_LIMIT, upload_dir=str(uploads))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


