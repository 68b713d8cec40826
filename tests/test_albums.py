"""``mgc tag --album-weight W``: the blend itself, what an album is, a run in which each
album's tracks move toward the album's mean, and incremental runs: a new weight re-blends the
carried rows without decoding anything, and a changed track re-blends its whole album (and
sends its carried files to the write-back stage) while other albums stay as they were."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mutagen.flac import FLAC
from test_incremental import tiny_bundle

from audio import chord_track, write_audio
from mgc_model.decision import blend
from pipelines.cli import main
from pipelines.files.tags import album_key, evidence_album
from pipelines.files.writeback import WriteOptions
from pipelines.graph.tag import TagOptions, run_tag

SR = 16000
# Keras 3.15 converts TensorFlow tensors with np.array(x, copy=False) on every step.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def track(path, seed: int, **tags) -> str:
    path = Path(path)
    write_audio(path, chord_track(3.2 + seed % 3, SR, channels=1, seed=seed), SR)
    if tags:
        audio = FLAC(str(path))
        for key, value in tags.items():
            audio[key.upper()] = [value]
        audio.save()
    return str(path)


def test_blend_moves_each_track_toward_its_albums_mean():
    scores = np.array([[0.7, 0.3, 0.0], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3]], np.float32)
    mean = scores.mean(axis=0)
    np.testing.assert_allclose(blend(scores, 0.0), scores)
    np.testing.assert_allclose(blend(scores, 1.0), np.tile(mean, (3, 1)), rtol=1e-6)
    half = blend(scores, 0.5)
    np.testing.assert_allclose(half, 0.5 * scores + 0.5 * mean, rtol=1e-6)
    assert half[0].argmax() == 0 and blend(scores, 0.75)[0].argmax() == 1
    np.testing.assert_allclose(half.sum(axis=1), 1.0, rtol=1e-6)


def test_an_album_is_its_album_artist_and_title_else_its_folder():
    def key(path, artist=None, album_artist=None, album=None):
        return album_key({"path": path, "artist": artist, "album_artist": album_artist,
                          "album": album})

    assert key("/m/a/1.mp3", "X", None, "LP") == key("/n/2.mp3", " x ", None, "lp")
    assert key("/m/1.mp3", "Guest", "X", "LP") == key("/m/2.mp3", "X", None, "LP")
    assert key("/m/1.mp3", "X", None, "LP") != key("/m/2.mp3", "Y", None, "LP")
    assert key("/m/a/1.mp3") == key("/m/a/2.ogg") != key("/m/b/1.mp3")
    assert key("/m/a/1.mp3", album="LP") != key("/m/b/1.mp3", album="LP")  # no artist
    # a folder of loose files is grouped for folds and splits, but no album speaks for them
    loose = {"path": "/m/a/1.mp3", "artist": None, "album_artist": None, "album": None}
    assert evidence_album(loose) != evidence_album({**loose, "path": "/m/a/2.mp3"})
    assert evidence_album({**loose, "album": "LP"}) == key("/m/a/1.mp3", album="LP")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A library of two albums and a folder of loose files, tagged by a tiny model: W = 0,
    then W = 0.5 incrementally, then W = 0.5 again after one track of album A changed."""
    root = tmp_path_factory.mktemp("albums")
    lib, out = root / "lib", root / "out"
    files = {f"A{i}": track(lib / "a" / f"{i}.flac", i, artist="X", album="Album A")
             for i in range(3)}
    files.update({f"B{i}": track(lib / "b" / f"{i}.flac", 10 + i, artist="Y",
                                 album="Album B", albumartist="Y") for i in range(3)})
    files.update({f"L{i}": track(lib / "loose" / f"{i}.flac", 20 + i) for i in range(2)})
    model = tiny_bundle(root / "tiny")
    seen = {"files": files}

    # a dry run of the write-back: its rows name the files it would write, and change none
    dry = WriteOptions(policy="overwrite", min_score=0.0, dry_run=True)

    def run(weight: float) -> pd.DataFrame:
        options = TagOptions(model=model, max_patches=1, album_weight=weight, write=dry)
        seen.setdefault("summaries", []).append(
            run_tag([str(lib)], str(out), options, incremental=True))
        seen.setdefault("writes", []).append(
            pd.read_parquet(out / "writes").set_index("path"))
        return pd.read_parquet(out / "tags").set_index("path")

    seen["own"] = run(0.0)
    seen["half"] = run(0.5)
    track(files["A0"], 99, artist="X", album="Album A")  # other audio, same album
    seen["changed"] = run(0.5)
    return seen


# the loose files have no album tag: each stands alone
ALBUMS = {"A": ["A0", "A1", "A2"], "B": ["B0", "B1", "B2"], "L0": ["L0"], "L1": ["L1"]}


def expected(own: pd.DataFrame, files: dict, weight: float) -> dict[str, np.ndarray]:
    """Each track's blend, from the rows' own track scores, album by album."""
    out = {}
    for members in ALBUMS.values():
        paths = [files[m] for m in members]
        scores = np.stack(own.loc[paths, "track_genre_scores"].to_list())
        for path, blended in zip(paths, blend(scores, weight), strict=True):
            out[path] = blended
    return out


def test_each_albums_tracks_move_toward_its_mean(runs):
    own, half, files = runs["own"], runs["half"], runs["files"]
    for path in files.values():
        np.testing.assert_allclose(own.loc[path, "genre_scores"],
                                   own.loc[path, "track_genre_scores"])
    for path, blended in expected(own, files, 0.5).items():
        np.testing.assert_allclose(half.loc[path, "genre_scores"], blended, rtol=1e-5)
        np.testing.assert_allclose(half.loc[path, "track_genre_scores"],
                                   own.loc[path, "track_genre_scores"])
        genres = ["Rock", "Jazz", "Folk"]
        assert half.loc[path, "genre"] == genres[int(np.argmax(blended))]
        assert half.loc[path, "genre_score"] == pytest.approx(float(blended.max()), rel=1e-5)
    for members in ALBUMS.values():
        paths = [files[m] for m in members]
        mean = np.stack(own.loc[paths, "track_genre_scores"].to_list()).mean(axis=0)
        for path in paths:
            before = np.abs(np.asarray(own.loc[path, "genre_scores"]) - mean).sum()
            after = np.abs(np.asarray(half.loc[path, "genre_scores"]) - mean).sum()
            assert after == pytest.approx(before / 2, rel=1e-4, abs=1e-7)


def test_a_new_weight_reblends_carried_rows_without_decoding(runs):
    first, second = runs["summaries"][:2]
    assert (first.tagged, first.skipped) == (8, 0)
    assert (second.tagged, second.skipped) == (0, 8)
    # every track of an album changed, so each is considered again; the loose files, no
    # album's, kept their genres and are not
    files = runs["files"]
    assert set(runs["writes"][1].index) == {files[m] for m in [*ALBUMS["A"], *ALBUMS["B"]]}


def test_a_changed_track_reblends_its_album_and_rewrites_its_files(runs):
    half, changed, files = runs["half"], runs["changed"], runs["files"]
    writes = runs["writes"][2]
    summary = runs["summaries"][2]
    assert (summary.tagged, summary.skipped) == (1, 7)
    assert not np.allclose(changed.loc[files["A0"], "track_genre_scores"],
                           half.loc[files["A0"], "track_genre_scores"])
    for path, blended in expected(changed, files, 0.5).items():
        np.testing.assert_allclose(changed.loc[path, "genre_scores"], blended, rtol=1e-5)
    for name in ("A1", "A2"):  # carried, and blended with A0's new scores
        assert not np.allclose(changed.loc[files[name], "genre_scores"],
                               half.loc[files[name], "genre_scores"])
    for name in ("B0", "B1", "B2", "L0", "L1"):
        np.testing.assert_allclose(changed.loc[files[name], "genre_scores"],
                                   half.loc[files[name], "genre_scores"])
    assert set(writes.index) == {files[n] for n in ("A0", "A1", "A2")}
    assert set(writes.action) == {"would-write"}


def test_the_weight_is_checked(tmp_path, capsys):
    with pytest.raises(SystemExit, match="--album-weight must be between 0"):
        main(["tag", str(tmp_path), "--output", str(tmp_path / "out"), "--album-weight",
              "1.5"])
    with pytest.raises(ValueError, match="between 0"):
        TagOptions(album_weight=-0.1).validate()
