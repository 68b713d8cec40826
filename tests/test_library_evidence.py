"""What the library says besides the audio: albums, the artist's other albums, compilations,
and the threshold measured on the library's own genres (``--min-score auto``)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from mgc_model.calibration import (
    FALLBACK,
    MIN_LABELLED,
    NEVER,
    Sample,
    calibrate,
    describe,
    fallback,
    kind_of,
)
from mgc_model.decision import Album, label_share, labels_of, with_library
from mgc_model.metrics import threshold_for_precision
from pipelines.files.tags import artist_key, is_compilation

GENRES = ("Rock", "Jazz", "Classical")
# Keras 3.15 converts TensorFlow tensors with np.array(x, copy=False) on every step.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_file_genres_name_the_models_genres_by_spelling_or_through_the_alias_table():
    assert labels_of(["rock"], GENRES) == [0]
    assert labels_of(["Symphonic", "Bebop", "Blorp"], GENRES) == [2, 1]
    assert labels_of(["Heavy Metal", "ROCK"], GENRES) == [0]  # one label, once
    assert labels_of(None, GENRES) == [] and labels_of(["Polka"], GENRES) == []
    owners = ("Symphonic", "Chill")  # a bundle learned from a library: the owner's labels
    assert labels_of(["symphonic"], owners) == [0] and labels_of(["CHILL "], owners) == [1]


def test_label_share_gives_each_track_one_vote():
    np.testing.assert_allclose(label_share([[0], [0, 1], []], 3), [0.75, 0.25, 0.0])
    assert label_share([[], []], 3) is None


def test_the_artists_other_albums_speak_for_an_untagged_album_and_never_for_their_own():
    tagged = Album(np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2]], np.float32), [[1], [1]])
    untagged = Album(np.array([[0.5, 0.3, 0.2], [0.3, 0.3, 0.4]], np.float32), [[], []])
    (first, first_from), (second, second_from) = with_library(
        [tagged, untagged], album_weight=1.0, artist_weight=0.5)
    # the untagged album: its mean, then half of it the tagged album's genre (Jazz)
    mean = untagged.scores.mean(axis=0)
    np.testing.assert_allclose(second, np.tile(0.5 * mean + 0.5 * np.eye(3)[1], (2, 1)),
                               rtol=1e-6)
    assert second_from == "audio+album+artist" and (second.argmax(axis=1) == 1).all()
    # the tagged album hears no one: its own genres never judge it
    np.testing.assert_allclose(first, np.tile(tagged.scores.mean(axis=0), (2, 1)), rtol=1e-6)
    assert first_from == "audio+album"


def test_a_compilation_is_neither_blended_nor_joined_by_artist_evidence():
    various = Album(np.array([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]], np.float32), [[], []],
                    compilation=True)
    other = Album(np.array([[0.2, 0.7, 0.1]], np.float32), [[1]])
    (scores, source), _ = with_library([various, other], album_weight=1.0, artist_weight=0.5)
    np.testing.assert_allclose(scores, various.scores)
    assert source == "audio"


def test_what_makes_a_compilation_and_whose_album_it_is():
    def rows(*artists, album_artist=None):
        return [{"artist": a, "album_artist": album_artist} for a in artists]

    assert is_compilation(rows("A", "B", album_artist="Various Artists"))
    assert is_compilation(rows("A", "B", "C", "D"))  # no artist holds half the tracks
    assert not is_compilation(rows("A", "A", "B", "C"))
    assert artist_key(rows("A", "A", "B", "C")) == artist_key(rows("a ", "A"))
    assert artist_key(rows("Guest", "A", album_artist="A")) == artist_key(rows("A"))
    assert artist_key(rows("A", "B", "C", album_artist="VA")) is None
    assert artist_key(rows(None, None)) is None


def test_the_least_score_from_which_mgc_is_right_nine_times_in_ten():
    scores = np.linspace(0.95, 0.05, 40)
    right = np.array([True] * 20 + [True, False] * 10)  # perfect above 0.5, half below
    t = threshold_for_precision(scores, right, 0.9, min_tracks=10)
    chosen = scores >= t
    assert right[chosen].mean() >= 0.9 and 20 <= chosen.sum() < 30
    assert threshold_for_precision(scores, np.zeros(40, bool), 0.9) is None
    assert threshold_for_precision(scores[:5], right[:5], 0.9, min_tracks=10) is None


def samples(n: int, kind: str = "audio", right_above: float = 0.5) -> list[Sample]:
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.2, 0.9, n)
    return [Sample(float(s), bool(s >= right_above or i % 3 == 0), f"album{i // 4}", kind)
            for i, s in enumerate(scores)]


def test_calibration_measures_on_the_library_with_enough_labelled_tracks():
    result = calibrate(samples(120))
    audio = result["audio"]
    assert audio.source == "library" and audio.labelled == 120
    scores = np.array([s.score for s in samples(120)])
    right = np.array([s.right for s in samples(120)])
    chosen = scores >= audio.min_score  # right from 0.5 up, and a third of those below
    assert audio.min_score <= 0.5 and right[chosen].mean() >= 0.9
    assert audio.precision is not None and audio.precision >= 0.85  # held out by album
    artist = result["artist"]  # none of this kind: the corpus's threshold
    assert artist.source == "model" and artist.min_score == FALLBACK["artist"]


def test_calibration_falls_back_below_the_minimum_and_writes_nothing_where_nothing_is_right():
    few = calibrate(samples(MIN_LABELLED - 1))["audio"]
    assert few.source == "model" and few.min_score == FALLBACK["audio"]
    wrong = [Sample(s.score, False, s.group, s.kind) for s in samples(60)]
    never = calibrate(wrong)["audio"]
    assert never.min_score == NEVER and "nothing" in never.reason


def test_only_a_model_measured_on_the_check_corpus_falls_back_on_its_threshold():
    from dataclasses import replace

    from mgc_model import registry

    default = registry.describe(registry.DEFAULT_MODEL)
    assert fallback(default) == FALLBACK
    head = fallback(replace(default, held_out_min_score=None))  # e.g. a head on the library
    assert head == {"audio": NEVER, "album": NEVER, "artist": FALLBACK["artist"]}
    few = calibrate(samples(10), head)["audio"]
    assert few.min_score == NEVER and "never learnt from" in few.reason
    assert "no score of the model's" in describe({"audio": asdict(few)})[0]


@pytest.mark.parametrize("source, kind", [("audio", "audio"), ("audio+album", "album"),
                                          ("audio+album+artist", "artist"),
                                          ("audio+artist", "artist"), (None, "audio")])
def test_kind_of(source, kind):
    assert kind_of(source) == kind


@pytest.fixture(scope="module")
def library_run(tmp_path_factory):
    """An artist's tagged album and its untagged second album, and a compilation, tagged by
    a tiny model with ``--write-tags fill`` at the default ``--min-score auto``."""
    import json

    from test_albums import track
    from test_incremental import tiny_bundle

    from pipelines.files.writeback import AUTO, WriteOptions
    from pipelines.graph.publish import read_tags, read_writes
    from pipelines.graph.tag import TagOptions, run_tag

    root = tmp_path_factory.mktemp("library")
    lib, out = root / "lib", root / "out"
    files = {f"first{i}": track(lib / "z" / "first" / f"{i}.flac", i, artist="Z",
                                album="First", genre="jazz") for i in range(3)}
    files |= {f"second{i}": track(lib / "z" / "second" / f"{i}.flac", 10 + i, artist="Z",
                                  album="Second") for i in range(3)}
    files |= {f"various{i}": track(lib / "va" / f"{i}.flac", 20 + i, artist=f"Guest {i}",
                                   albumartist="Various Artists", album="Hits")
              for i in range(3)}
    options = TagOptions(model=tiny_bundle(root / "tiny"), max_patches=1,
                         write=WriteOptions(min_score=AUTO))
    summary = run_tag([str(lib)], str(out), options)
    rows = {row["path"]: row for row in read_tags(str(out)).to_table().to_pylist()}
    writes = {row["path"]: row for row in read_writes(str(out))}
    return {"files": files, "rows": rows, "writes": writes, "summary": summary,
            "run": json.loads((out / "run.json").read_text())}


def test_an_untagged_album_takes_the_genre_its_artists_other_album_carries(library_run):
    from mutagen.flac import FLAC

    files, rows, writes = library_run["files"], library_run["rows"], library_run["writes"]
    for i in range(3):
        second = rows[files[f"second{i}"]]
        assert second["genre_from"] == "audio+album+artist" and second["genre"] == "Jazz"
        assert second["genre_score"] >= 0.5  # half of it is the artist's other album
        assert writes[files[f"second{i}"]]["action"] == "written"
        assert FLAC(files[f"second{i}"])["GENRE"] == ["Jazz"]
        first = rows[files[f"first{i}"]]  # its own genre never speaks for itself
        assert first["genre_from"] == "audio+album" and first["file_genres"] == ["jazz"]
        assert writes[files[f"first{i}"]]["action"] == "skipped"
        assert FLAC(files[f"first{i}"])["GENRE"] == ["jazz"]


def test_a_compilation_is_judged_by_its_audio_alone_and_the_run_says_why(library_run):
    files, rows, writes = library_run["files"], library_run["rows"], library_run["writes"]
    run = library_run["run"]
    for i in range(3):
        row = rows[files[f"various{i}"]]
        assert row["genre_from"] == "audio"
        np.testing.assert_allclose(row["genre_scores"], row["track_genre_scores"])
        # too few labelled tracks here, and a model never measured on the check corpus:
        # nothing it judges by audio alone is trusted
        assert writes[files[f"various{i}"]]["action"] == "skipped"
    assert run["min_score"] == "auto"
    calibration = run["calibration"]
    assert calibration["audio"]["min_score"] == NEVER
    assert "nothing of this kind is written" in calibration["audio"]["reason"]
    assert calibration["artist"]["source"] == "model"
    assert calibration["artist"]["min_score"] == FALLBACK["artist"]
    assert calibration["album"]["labelled"] == 3 and "fewer than 30" in calibration[
        "album"]["reason"]
    assert run["writes"] == {"written": 3, "skipped": 6}
    # confident: at or above the threshold of its own kind of evidence
    assert run["confident"] == sum(
        row["genre_score"] >= calibration[kind_of(row["genre_from"])]["min_score"]
        for row in rows.values())
    assert run["agreement"]["compared"] == 3  # 'jazz' is the bundle's Jazz


def test_the_weights_are_not_incremental_state():
    """Every run decides again from the rows' own scores, so a new weight reuses the state."""
    from pipelines.graph.incremental import state_key
    from pipelines.graph.tag import TagOptions

    base = state_key("m@1", TagOptions())
    assert state_key("m@1", TagOptions(album_weight=0.2, artist_weight=0.9)) == base
    assert state_key("m@1", TagOptions(max_patches=3)) != base
