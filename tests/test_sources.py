"""Labelled sources for ``mgc extract``: FMA's metadata as published, folder and manifest
layouts, splits that never share a track or an artist, and clear refusals of bad input."""

import shutil
from collections import Counter, defaultdict

import pandas as pd
import pytest

from fma_fixture import GENRE_NAMES, make_labelled_folder
from pipelines.graph.sources import (
    SourceError,
    assign_splits,
    fma_source,
    folder_source,
    manifest_source,
    path_track_id,
)
from schemas.tfrecord import SPLITS


def fma(fixture, **kwargs):
    return fma_source(str(fixture.metadata_dir), str(fixture.audio_dir), **kwargs)


def test_fixture_tracks_csv_reads_as_fma_documents_it(fma_fixture):
    """The fixture is FMA's format: three header rows, read with FMA's own recipe."""
    lines = (fma_fixture.metadata_dir / "tracks.csv").read_text().splitlines()
    assert lines[0].startswith(",album,album") and lines[1].startswith(",comments,")
    assert lines[2].startswith("track_id,,")
    tracks = pd.read_csv(fma_fixture.metadata_dir / "tracks.csv", index_col=0, header=[0, 1])
    assert tracks.shape[1] == 52 and tracks.index.name == "track_id"
    assert set(tracks[("set", "subset")]) == {"small", "medium", "large"}


def test_top_genres_keep_fma_split_and_skip_tracks_without_one(fma_fixture):
    source = fma(fma_fixture, subset="medium", labels="top")
    assert source.labels == GENRE_NAMES and not source.multi_label
    assert source.skipped == {"no_genre_top": len(fma_fixture.no_top_ids)}
    by_id = {t.track_id: t for t in source.tracks}
    expected = set(fma_fixture.ids()) | set(fma_fixture.broken_ids)
    assert set(by_id) == expected  # broken files are listed: extract reports them
    for tid, track in by_id.items():
        truth = fma_fixture.tracks[tid]
        assert track.split == truth.split
        assert source.labels[track.labels[0]] == truth.genre_top
        assert track.artist == str(truth.artist_id)
        assert track.path == str(fma_fixture.audio_path(tid))
    assert source.labels_json()["genre_ids"] == [5, 15, 17, 12]  # FMA's ids, label order


def test_subsets_are_cumulative(fma_fixture):
    sizes = {s: {t.track_id for t in fma(fma_fixture, subset=s).tracks}
             for s in ("small", "medium", "large")}
    assert sizes["small"] < sizes["medium"] < sizes["large"]
    assert {fma_fixture.tracks[t].subset for t in sizes["small"]} == {"small"}
    assert set(fma_fixture.large_only_ids) <= sizes["large"] - sizes["medium"]


def test_all_genres_are_multi_label_genre_titles(fma_fixture):
    source = fma(fma_fixture, subset="medium", labels="all")
    assert source.multi_label and "Punk" in source.labels and "Rock" in source.labels
    mixed = next(t for t in source.tracks if t.track_id == fma_fixture.no_top_ids[0])
    assert {source.labels[i] for i in mixed.labels} == {"Punk", "Rock", "Electronic"}
    assert source.skipped == {}


def test_fma_metadata_keeps_artists_in_one_split(fma_fixture):
    splits_of = defaultdict(set)
    for track in fma(fma_fixture, subset="large").tracks:
        splits_of[track.artist].add(track.split)
    assert all(len(s) == 1 for s in splits_of.values())


@pytest.mark.parametrize("content,message", [
    ("path,genre\na.mp3,rock\n", "not FMA's tracks.csv"),
    (",set\n,split\ntrack_id,\n2,training\n", "no column set.subset"),
    (",set,set,track,artist\n,split,subset,genre_top,id\ntrack_id,,,,\nx,test,small,Rock,1\n",
     "numeric track_id"),
])
def test_a_csv_that_is_not_fma_tracks_is_refused(fma_fixture, tmp_path, content, message):
    (tmp_path / "tracks.csv").write_text(content)
    shutil.copy(fma_fixture.metadata_dir / "genres.csv", tmp_path / "genres.csv")
    with pytest.raises(SourceError, match=message):
        fma_source(str(tmp_path), str(fma_fixture.audio_dir))


def test_missing_metadata_and_unknown_options_are_refused(fma_fixture, tmp_path):
    with pytest.raises(SourceError, match="genres.csv not found"):
        shutil.copy(fma_fixture.metadata_dir / "tracks.csv", tmp_path / "tracks.csv")
        fma_source(str(tmp_path), str(fma_fixture.audio_dir))
    with pytest.raises(SourceError, match="unknown subset 'huge'"):
        fma(fma_fixture, subset="huge")
    with pytest.raises(SourceError, match="audio folder .* not found"):
        fma_source(str(fma_fixture.metadata_dir), str(tmp_path / "nowhere"))


def test_split_is_stratified_deterministic_and_gives_small_genres_every_split():
    ids = [f"t{i}" for i in range(43)]
    genres = ["a"] * 30 + ["b"] * 10 + ["c"] * 3
    splits = assign_splits(ids, genres)
    assert splits == assign_splits(ids, genres)
    for genre in "abc":
        got = Counter(s for s, g in zip(splits, genres, strict=True) if g == genre)
        assert set(got) == set(SPLITS), genre
    a = Counter(s for s, g in zip(splits, genres, strict=True) if g == "a")
    assert a == {"training": 24, "validation": 3, "test": 3}


def test_split_by_artist_never_shares_an_artist():
    ids = [f"t{i}" for i in range(60)]
    genres = ["a", "b"] * 30
    artists = [f"artist{i % 13}" for i in range(60)]
    splits = assign_splits(ids, genres, artists)
    seen = defaultdict(set)
    for artist, split in zip(artists, splits, strict=True):
        seen[artist].add(split)
    assert all(len(s) == 1 for s in seen.values())
    assert set(splits) == set(SPLITS)


def test_folder_layout_ids_survive_moving_the_root(tmp_path):
    written = make_labelled_folder(tmp_path / "a" / "lib", genres=("Rock", "Folk"), per_genre=4,
                                   seconds=1.0)
    (tmp_path / "a" / "lib" / "loose.wav").write_bytes(b"")  # not in a genre folder
    first = folder_source(str(tmp_path / "a" / "lib"))
    assert first.labels == ("folk", "rock") and first.skipped == {"outside_genre_folder": 1}
    assert {t.track_id for t in first.tracks} == {path_track_id(r) for r in written}
    shutil.move(tmp_path / "a" / "lib", tmp_path / "moved")
    moved = folder_source(str(tmp_path / "moved"))
    assert [(t.track_id, t.split, t.labels) for t in moved.tracks] == [
        (t.track_id, t.split, t.labels) for t in first.tracks]
    shutil.copytree(tmp_path / "moved" / "rock", tmp_path / "one" / "rock")
    with pytest.raises(SourceError, match="only one genre"):
        folder_source(str(tmp_path / "one"))
    with pytest.raises(SourceError, match="no audio files in genre folders"):
        folder_source(str(tmp_path / "one" / "rock"))


def test_manifest_paths_splits_and_artists(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "m.csv").write_text(
        "path,genre,split,artist\n"
        "songs/a.mp3,rock,train,x\n"
        "/abs/b.mp3,jazz,val,y\n"
        "songs/c.mp3,jazz,test,x\n"
    )
    source = manifest_source(str(tmp_path / "data" / "m.csv"))
    paths = [t.path for t in source.tracks]
    assert paths == [f"{tmp_path}/data/songs/a.mp3", "/abs/b.mp3", f"{tmp_path}/data/songs/c.mp3"]
    assert [t.split for t in source.tracks] == ["training", "validation", "test"]
    assert source.tracks[0].track_id == path_track_id("songs/a.mp3")
    assert source.warnings and "artists have tracks in more than one split" in source.warnings[0]


@pytest.mark.parametrize("content,message", [
    ("file,label\na.mp3,rock\n", "needs a header row with columns path,genre"),
    ("path,genre\na.mp3,rock\nb.mp3,jazz\na.mp3,jazz\n", "listed twice"),
    ("path,genre,split\na.mp3,rock,training\nb.mp3,jazz,holdout\n", "line 3: unknown split"),
    ("path,genre,split\na.mp3,rock,training\nb.mp3,jazz,\n", "line 3: empty split"),
    ("path,genre\na.mp3,rock\nb.mp3,rock\n", "only one genre"),
])
def test_bad_manifests_are_refused_with_the_line(tmp_path, content, message):
    (tmp_path / "m.csv").write_text(content)
    with pytest.raises(SourceError, match=message):
        manifest_source(str(tmp_path / "m.csv"))
