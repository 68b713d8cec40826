"""``mgc train --from-tags``: a generated library whose tagged files name three genres (one
spelt three ways) and a genre too small to learn, and untagged files; the labels, the split by
artist, the bundle beating the default model on the same held-out tracks, and the bundle
filling the untagged files with the owner's own genre names through ``mgc tag``."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from mutagen.flac import FLAC

from audio import write_audio
from fma_fixture import SR, ArtistStyle, synth_track
from mgc_model import registry
from mgc_model.bundle import NotABundle, load_bundle
from mgc_model.head import fit_head
from pipelines.cli import main
from pipelines.files.tags import album_key
from pipelines.learn.from_tags import LearnOptions
from pipelines.learn.owner_labels import artist_groups, held_out, owner_labels
from tagged_files import mediafile_genres

SECONDS = 3.2  # one analysis window
# owner's genre -> (synthetic sound, spellings used by its files in turn)
OWNER = {"Hip Hop": ("Electronic", ["Hip Hop", "Hip Hop", "hip-hop", "HIP HOP"]),
         "Rock": ("Rock", ["Rock"]),
         "Classical": ("Classical", ["classical", "Classical", "Classical"])}
ARTISTS_PER_GENRE, TRACKS_PER_ARTIST, UNTAGGED_ARTISTS = 5, 2, 5


def flac(path, sound: str, style: ArtistStyle, rng, **tags) -> str:
    """A FLAC file of a synthetic genre with the given Vorbis comments."""
    write_audio(path, synth_track(sound, style, rng, seconds=SECONDS), SR)
    audio = FLAC(str(path))
    for key, value in tags.items():
        if value is not None:
            audio[key.upper()] = [value]
    audio.save()
    return str(path)


def make_library(root) -> dict:
    """Each owner genre: five artists with an album of two tracks; a two-track 'Polka' album
    (too small); one artist guesting on another's album; as many untagged files, ten of each
    sound."""
    rng = np.random.default_rng(7)
    truth, artist_of, tagged = {}, {}, set()
    for genre, (sound, spellings) in OWNER.items():
        spelling = iter(spellings * 10)
        for a in range(ARTISTS_PER_GENRE):
            artist = f"{genre} Artist {a}"
            style = ArtistStyle.draw(sound, rng)
            for t in range(TRACKS_PER_ARTIST):
                guest = genre == "Rock" and a == 0 and t == 1
                path = flac(root / artist / f"{t}.flac", sound, style, rng,
                            artist="Rock Artist 1" if guest else artist, albumartist=artist,
                            album=f"{artist} LP", genre=next(spelling))
                truth[path], artist_of[path] = genre, {artist, "Rock Artist 1"} if guest else {
                    artist}
                tagged.add(path)
    polka = ArtistStyle.draw("Folk", rng)
    for t in range(2):
        path = flac(root / "polka" / f"{t}.flac", "Folk", polka, rng, artist="Polka Band",
                    album="Oompah", genre="Polka")
        truth[path], artist_of[path] = "Polka", {"Polka Band"}
        tagged.add(path)
    untagged = {}  # as many as the tagged files: half the library carries genres
    for genre, (sound, _) in OWNER.items():
        for a in range(UNTAGGED_ARTISTS):
            style = ArtistStyle.draw(sound, rng)
            for t in range(TRACKS_PER_ARTIST):
                path = flac(root / "inbox" / f"{sound}-{a}-{t}.flac", sound, style, rng)
                untagged[path] = genre
    return {"truth": truth, "artists": artist_of, "tagged": tagged, "untagged": untagged}


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    """The whole loop, once: train --from-tags (through the CLI), then tag with the bundle
    and --write-tags fill."""
    root = tmp_path_factory.mktemp("learn")
    lib = make_library(root / "lib")
    bundle, features = root / "owner", root / "features"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", "--from-tags", str(root / "lib"), "--output", str(bundle),
                     "--features", str(features), "--max-patches", "1", "--no-progress"])
    report = json.loads((bundle / "report.json").read_text())
    tagged_out = root / "out"
    tag_printed = io.StringIO()
    with contextlib.redirect_stdout(tag_printed):
        tag_code = main(["tag", str(root / "lib"), "--output", str(tagged_out), "--model",
                         str(bundle), "--write-tags", "fill", "--max-patches", "1",
                         "--no-progress"])
    return {"root": root, "lib": lib, "bundle": bundle, "features": features, "code": code,
            "printed": printed.getvalue(), "report": report, "tag_code": tag_code,
            "tag_printed": tag_printed.getvalue(),
            "tags": pd.read_parquet(tagged_out / "tags").set_index("path"),
            "run": json.loads((tagged_out / "run.json").read_text()),
            "writes": pd.read_parquet(tagged_out / "writes").set_index("path")}


def test_labels_merge_spellings_keep_the_commonest_and_list_small_genres():
    files = [["Hip Hop"], ["hip-hop", "Rap"], ["HIP HOP"], ["Hip Hop"], None, [],
             ["Polka"], ["  rock "], ["Rock"], ["Rock"], ["rap"]]
    found = owner_labels(files, min_tracks=3)
    assert found.labels == ("Hip Hop", "Rock")  # most tracks first; 'Rap' is not merged
    assert found.spellings == {"Hip Hop": {"Hip Hop": 2, "hip-hop": 1, "HIP HOP": 1},
                               "Rock": {"Rock": 2, "rock": 1}}
    assert found.left_out == {"Polka": 1, "rap": 1}
    assert found.untagged == 2
    assert found.targets == (0, 0, 0, 0, None, None, None, 1, 1, 1, None)


def test_groups_join_artists_shared_through_albums_and_folders():
    rows = [{"path": "/m/a/1.mp3", "artist": "A", "album_artist": None, "album": "X"},
            {"path": "/m/a/2.mp3", "artist": "B; A", "album_artist": None, "album": "Y"},
            {"path": "/m/c/1.mp3", "artist": "C", "album_artist": "V.A.", "album": "Z"},
            {"path": "/m/c/2.mp3", "artist": "D", "album_artist": "v.a.", "album": "Z"},
            {"path": "/m/e/1.mp3", "artist": None, "album_artist": None, "album": None},
            {"path": "/m/e/2.mp3", "artist": None, "album_artist": None, "album": None},
            {"path": "/m/f/1.mp3", "artist": "F", "album_artist": None, "album": None}]
    groups = artist_groups(rows)
    assert groups[0] == groups[1] and groups[2] == groups[3] and groups[4] == groups[5]
    assert len({groups[0], groups[2], groups[4], groups[6]}) == 4


def test_the_held_out_fold_takes_whole_groups():
    groups = np.repeat(np.arange(12), 3)
    targets = groups % 3
    mask = held_out(targets, groups, 0.25, seed=1)
    assert 0 < mask.sum() < len(mask)
    assert not set(groups[mask]) & set(groups[~mask])
    assert set(targets[mask]) == {0, 1, 2}  # stratified: each genre on both sides
    with pytest.raises(ValueError, match="at least two"):
        held_out(targets, np.zeros_like(groups), 0.25)


def test_the_head_is_scikit_learns_logistic_regression():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 5)) + np.repeat(np.eye(3, 5) * 2, 20, axis=0)
    y = np.repeat([0, 2, 3], 20)  # genre 1 has no track: it never wins
    head = fit_head(x, y, 4, c=0.5)
    reference = make_pipeline(StandardScaler(), LogisticRegression(
        C=0.5, class_weight="balanced", max_iter=5000)).fit(x, y)
    probs = head.probabilities(x)
    np.testing.assert_allclose(probs[:, [0, 2, 3]], reference.predict_proba(x), atol=1e-5)
    assert probs[:, 1].max() < 1e-6
    two = fit_head(x[:40], np.repeat([0, 1], 20), 2)
    assert (two.probabilities(x[:40]).argmax(axis=1) == np.repeat([0, 1], 20)).mean() > 0.9


def test_train_from_tags_reports_labels_spellings_and_left_out_genres(taught):
    assert taught["code"] == 0, taught["printed"]
    labels = taught["report"]["labels"]
    n = ARTISTS_PER_GENRE * TRACKS_PER_ARTIST
    assert labels["kept"] == {"Classical": n, "Hip Hop": n, "Rock": n}
    assert labels["spellings"]["Hip Hop"] == {"Hip Hop": 6, "hip-hop": 2, "HIP HOP": 2}
    assert set(labels["spellings"]["Classical"]) == {"Classical", "classical"}
    assert labels["left_out"] == {"Polka": 2}
    assert labels["untagged_tracks"] == len(taught["lib"]["untagged"])
    printed = taught["printed"]
    assert "Hip Hop 10 (Hip Hop / HIP HOP / hip-hop)" in printed
    assert "Left out (fewer than 5 tracks): Polka 2" in printed
    assert json.loads((taught["bundle"] / "labels.json").read_text())["labels"] == [
        "Classical", "Hip Hop", "Rock"]


def test_no_artist_is_on_both_sides_of_the_split(taught):
    lib, split = taught["lib"], taught["report"]["split"]
    held = {t["path"] for t in taught["report"]["held_out"]["tracks_held_out"]}
    train = {p for p in lib["tagged"] if lib["truth"][p] != "Polka"} - held
    assert len(held) == split["held_out_tracks"] and len(train) == split["train_tracks"]
    held_artists = set().union(*(lib["artists"][p] for p in held))
    train_artists = set().union(*(lib["artists"][p] for p in train))
    assert held_artists and train_artists and not held_artists & train_artists
    assert split["artists_on_both_sides"] == 0 == split["albums_on_both_sides"]
    assert "artists on both sides: 0" in taught["printed"]


def test_the_tracks_the_head_learnt_from_never_judge_how_far_to_trust_it(taught):
    """--min-score auto measures a bundle on the owner's held-out albums only: on the
    albums it was fitted on, its scores were fitted to the very genres they would be judged
    by."""
    lib, split = taught["lib"], taught["report"]["split"]
    held = {t["path"] for t in taught["report"]["held_out"]["tracks_held_out"]}
    rows = pq.read_table(taught["root"] / "out" / "tags").to_pylist()
    album = {row["path"]: album_key(row) for row in rows}
    trained = {album[p] for p in lib["tagged"] if lib["truth"][p] != "Polka"} - {
        album[p] for p in held}
    assert registry.describe(str(taught["bundle"])).fitted_on == trained
    run = taught["run"]
    assert run["fitted_on_albums"] == len(trained)
    assert sum(t["labelled"] for t in run["calibration"].values()) == split["held_out_tracks"]
    assert f"the {len(trained)} albums the model learnt from" in taught["tag_printed"]
    # too few held-out tracks to measure it on the library: the head's own threshold, every
    # labelled track scored by a head that never heard its artist
    trust = json.loads((taught["bundle"] / "training.json").read_text())["held_out_min_score"]
    assert trust["tracks"] == split["train_tracks"] + split["held_out_tracks"]
    assert trust["min_score"] is not None and trust["precision"] >= 0.9
    assert run["calibration"]["audio"] == {**run["calibration"]["audio"], "source": "model",
                                           "min_score": trust["min_score"]}


def test_the_bundle_beats_the_default_model_on_the_same_held_out_tracks(taught):
    held = taught["report"]["held_out"]
    tracks = held["tracks_held_out"]
    assert {t["label"] for t in tracks} == set(OWNER)
    bundle_right = sum(t["bundle"] == t["label"] for t in tracks)
    default_right = sum(t["default"] == t["default_fma_of_label"] for t in tracks)
    assert held["bundle"]["right"] == bundle_right and held["default"]["right"] == default_right
    assert held["bundle"]["accuracy"] > held["default"]["accuracy"]
    assert held["bundle"]["accuracy"] >= 0.8
    assert held["labels_with_an_fma_genre"] == len(tracks)  # all three map onto FMA genres


def test_the_bundle_is_a_head_on_the_default_model(taught):
    info = registry.describe(str(taught["bundle"]))
    training = json.loads((taught["bundle"] / "training.json").read_text())
    assert info.ref == taught["report"]["model"] == f"owner@{training['version']}"
    assert info.base == registry.DEFAULT_MODEL and training["arch"] == "head"
    assert training["base_model"] == registry.describe(registry.DEFAULT_MODEL).ref
    assert info.frontends == registry.describe(registry.DEFAULT_MODEL).frontends
    assert info.genres == ("Classical", "Hip Hop", "Rock") and info.keeps_spelling
    with pytest.raises(NotABundle, match="report.json"):
        load_bundle(str(taught["bundle"]))
    head = taught["bundle"] / "head.json"
    head.write_text(head.read_text().replace('"base"', '"base" ', 1))
    with pytest.raises(NotABundle, match="replaced after training"):
        registry.describe(str(taught["bundle"]))


def test_tagging_with_the_bundle_fills_untagged_files_with_the_owners_genres(taught):
    assert taught["tag_code"] == 0, taught["tag_printed"]
    lib, tags, writes = taught["lib"], taught["tags"], taught["writes"]
    assert set(tags.genre) <= set(OWNER) and set(tags.model) == {taught["report"]["model"]}
    written = right = 0
    least = taught["run"]["calibration"]["audio"]["min_score"]  # loose files: audio alone
    for path, genre in lib["untagged"].items():
        if tags.loc[path, "genre_score"] >= least:
            assert writes.loc[path, "action"] == "written"
            assert mediafile_genres(path) == [tags.loc[path, "genre"]]  # spelt 'Hip Hop'
            written += 1
            right += tags.loc[path, "genre"] == genre
        else:
            assert writes.loc[path, "action"] == "skipped" and not mediafile_genres(path)
    assert written >= 0.8 * len(lib["untagged"]) and right >= 0.9 * written
    for path in lib["tagged"]:
        assert writes.loc[path, "action"] == "skipped"  # fill keeps the owner's genres
    assert "Agreement with the files' own genres" in taught["tag_printed"]
    # the base model's styles, moods, voice and instruments come with the owner's genres
    assert tags["instruments"].map(lambda heard: heard is not None).all()
    assert tags["voice"].map(lambda heard: heard is not None).all()


def test_a_library_that_cannot_teach_is_refused_before_a_bundle(tmp_path):
    from mgc_model.bundle import BundleWriter
    from pipelines.learn.from_tags import _fit_and_report

    features = {"path": [f"/m/{i}.flac" for i in range(8)], "artist": list("AABBCCDD"),
                "album_artist": [None] * 8, "album": [None] * 8,
                "file_genres": [["Rock"]] * 6 + [["Jazz"]] * 2,
                "embedding": np.eye(8, 400).tolist(), "track_genre_scores": [[1.0]] * 8,
                "genres": ["Rock"], "summary": {}}
    writer = BundleWriter(tmp_path / "b")
    with pytest.raises(ValueError, match=r"fewer than two genres with at least 5 tracks each "
                                         r"\(kept: Rock; left out: \{'Jazz': 2\}\)"):
        _fit_and_report(features, writer, LearnOptions(), registry.describe(registry.DEFAULT_MODEL))
    writer.discard()
    assert not (tmp_path / "b").exists()
    (tmp_path / "writes").mkdir()  # a --write-tags run's records: never a feature folder
    with pytest.raises(ValueError, match="a folder of its own"):
        LearnOptions(features=str(tmp_path)).validate()
