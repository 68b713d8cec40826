"""The genre vocabulary and the tag-to-genre mapping, on synthetic tag vectors (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from mgc_model import genres
from mgc_model.genres import FMA_GENRES, TAG_TO_GENRE, tags_to_genre_scores
from mgc_model.musicnn import MSD_LABELS, MTT_LABELS

LABELS = {"MSD": MSD_LABELS, "MTT": MTT_LABELS}


def typical(n: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Patches whose every tag sits at its prior: music with nothing remarkable about it."""
    msd = np.array([genres.MSD_PRIOR[t] for t in MSD_LABELS], np.float32)
    mtt = np.array([genres.MTT_PRIOR[t] for t in MTT_LABELS], np.float32)
    return np.tile(msd, (n, 1)), np.tile(mtt, (n, 1))


def with_tags(**raised: float) -> tuple[np.ndarray, np.ndarray]:
    """A typical patch with some tags raised; keys are 'MSD:tag' or 'MTT:tag'."""
    msd, mtt = typical()
    for key, value in raised.items():
        model, tag = key.split(":", 1)
        target = msd if model == "MSD" else mtt
        target[0, LABELS[model].index(tag)] = value
    return msd, mtt


def top(scores: np.ndarray) -> str:
    return FMA_GENRES[int(np.argmax(scores[0]))]


def test_vocabulary_is_the_16_fma_top_level_genres():
    assert FMA_GENRES == [
        "Blues", "Classical", "Country", "Easy Listening", "Electronic", "Experimental", "Folk",
        "Hip-Hop", "Instrumental", "International", "Jazz", "Old-Time / Historic", "Pop", "Rock",
        "Soul-RnB", "Spoken",
    ]  # fmt: skip


def test_every_mapped_tag_exists_and_maps_to_known_genres():
    for (model, tag), targets in TAG_TO_GENRE.items():
        assert tag in LABELS[model], f"{model} has no tag {tag!r}"
        assert targets, f"{model}:{tag} maps to nothing: leave it out instead"
        for genre, weight in targets.items():
            assert genre in FMA_GENRES, genre
            assert 0 < weight <= 1, (model, tag, genre, weight)


def test_tags_that_say_nothing_about_genre_are_not_mapped():
    for model, tag in [("MSD", "female vocalists"), ("MSD", "beautiful"), ("MSD", "00s"),
                       ("MSD", "sad"), ("MTT", "male"), ("MTT", "loud"), ("MTT", "guitar")]:
        assert (model, tag) not in TAG_TO_GENRE


def test_priors_cover_every_tag_with_a_probability():
    assert list(genres.MSD_PRIOR) == MSD_LABELS
    assert list(genres.MTT_PRIOR) == MTT_LABELS
    values = list(genres.MSD_PRIOR.values()) + list(genres.MTT_PRIOR.values())
    assert all(0 < v < 1 for v in values)


def test_weight_matrix_matches_the_table():
    weights = genres.tag_weight_matrix()
    assert weights.shape == (100, 16)
    row = len(MSD_LABELS) + MTT_LABELS.index("classical")
    assert weights[row, FMA_GENRES.index("Classical")] == 1.0
    assert np.count_nonzero(weights) == sum(len(t) for t in TAG_TO_GENRE.values())


@pytest.mark.parametrize("priors", [None, np.ones(100)])
def test_rows_are_distributions(priors):
    rng = np.random.default_rng(0)
    msd = rng.uniform(size=(64, 50)).astype(np.float32)
    mtt = rng.uniform(size=(64, 50)).astype(np.float32) ** 3
    scores = tags_to_genre_scores(msd, mtt, priors=priors)
    assert scores.shape == (64, 16) and scores.dtype == np.float32
    assert np.all(scores >= 0)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)


def test_given_priors_replace_the_shipped_ones():
    """The real-music check refits the priors without the clips it scores: the shipped ones
    passed explicitly change nothing, and a tag expected higher on typical music counts less."""
    msd, mtt = with_tags(**{"MSD:jazz": 0.4, "MSD:blues": 0.4})
    shipped = np.concatenate(typical(), axis=1)[0]
    scores = tags_to_genre_scores(msd, mtt)
    np.testing.assert_array_equal(tags_to_genre_scores(msd, mtt, priors=shipped), scores)
    assert top(scores) == "Blues"  # 'blues' sits far lower than 'jazz' on typical music
    raised = shipped.copy()
    raised[MSD_LABELS.index("blues")] = 0.3
    assert top(tags_to_genre_scores(msd, mtt, priors=raised)) == "Jazz"


def test_all_zero_and_empty_input():
    scores = tags_to_genre_scores(np.zeros((2, 50)), np.zeros((2, 50)))
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    assert tags_to_genre_scores(np.zeros((0, 50)), np.zeros((0, 50))).shape == (0, 16)


def test_classical_tags_give_classical():
    scores = tags_to_genre_scores(*with_tags(**{"MTT:classical": 0.8, "MTT:strings": 0.7}))
    assert top(scores) == "Classical"
    assert scores[0, FMA_GENRES.index("Classical")] > 0.2


def test_orchestral_strings_without_the_classical_tag_give_classical():
    """MSD has no classical tag and says 'instrumental'/'ambient' on film-score strings."""
    raised = {"MTT:strings": 0.6, "MTT:violin": 0.6, "MTT:cello": 0.3,
              "MSD:instrumental": 0.3, "MSD:ambient": 0.15}
    assert top(tags_to_genre_scores(*with_tags(**raised))) == "Classical"


def test_choir_gives_classical():
    assert top(tags_to_genre_scores(*with_tags(**{"MTT:choir": 0.8, "MTT:choral": 0.6}))) == (
        "Classical")


def test_hip_hop_tag_gives_hip_hop():
    assert top(tags_to_genre_scores(*with_tags(**{"MSD:Hip-Hop": 0.7}))) == "Hip-Hop"


def test_metal_gives_rock():
    assert top(tags_to_genre_scores(*with_tags(**{"MSD:metal": 0.8, "MTT:metal": 0.5}))) == "Rock"


@pytest.mark.parametrize(("model", "tag", "genre"), [
    (model, tag, genre)
    for (model, tag), targets in TAG_TO_GENRE.items()
    for genre, weight in targets.items()
    if weight == 1.0 and len(targets) == 1
])
def test_a_confident_genre_tag_wins_on_typical_music(model, tag, genre):
    assert top(tags_to_genre_scores(*with_tags(**{f"{model}:{tag}": 0.9}))) == genre


@pytest.mark.parametrize("value", [0.0, 0.01, 0.1, 0.3, 0.5, 0.9])
def test_uniform_input_is_not_rock(value):
    scores = tags_to_genre_scores(np.full((1, 50), value), np.full((1, 50), value))
    assert top(scores) != "Rock"


def test_typical_music_is_not_rock_and_nearly_uniform():
    """Tags at their priors carry no evidence: no genre, Rock least of all, should stand out."""
    scores = tags_to_genre_scores(*typical())[0]
    assert scores.max() < 1.5 / 15  # 15 genres have tags
    assert scores[FMA_GENRES.index("Rock")] == pytest.approx(scores[FMA_GENRES.index("Jazz")])
    assert top(scores[None]) != "Rock"


def test_high_rock_prior_does_not_make_rock_win_uncalibrated_tags():
    """MSD 'rock' at its usual level plus a clearly higher 'jazz' is jazz, not rock."""
    assert top(tags_to_genre_scores(*with_tags(**{"MSD:rock": 0.2, "MSD:jazz": 0.6}))) == "Jazz"


def test_spoken_gets_only_what_normalisation_leaves():
    rng = np.random.default_rng(1)
    scores = tags_to_genre_scores(rng.uniform(size=(8, 50)), rng.uniform(size=(8, 50)))
    assert np.all(scores[:, FMA_GENRES.index("Spoken")] == 0)


def test_track_mean_of_patch_distributions_keeps_both_styles():
    classical = with_tags(**{"MTT:classical": 0.9})
    rock = with_tags(**{"MSD:rock": 0.9, "MTT:rock": 0.8})
    msd = np.concatenate([classical[0], rock[0]])
    mtt = np.concatenate([classical[1], rock[1]])
    track = tags_to_genre_scores(msd, mtt).mean(axis=0)
    best_two = {FMA_GENRES[i] for i in np.argsort(-track)[:2]}
    assert best_two == {"Classical", "Rock"}
    assert track.sum() == pytest.approx(1.0, rel=1e-5)


def test_patches_are_scored_independently():
    msd, mtt = with_tags(**{"MSD:jazz": 0.8})
    alone = tags_to_genre_scores(msd, mtt)
    other = with_tags(**{"MSD:metal": 0.9})
    both = tags_to_genre_scores(np.concatenate([msd, other[0]]), np.concatenate([mtt, other[1]]))
    np.testing.assert_allclose(both[:1], alone, rtol=1e-6)


@pytest.mark.parametrize(("msd_shape", "mtt_shape", "message"), [
    ((3, 49), (3, 50), "msd_tags must have shape"),
    ((3, 50), (3, 100), "mtt_tags must have shape"),
    ((50, 3), (50, 3), "msd_tags must have shape"),  # transposed: (tags, patches)
    ((50,), (50,), "msd_tags must have shape"),  # one patch without its batch axis
    ((3, 50), (4, 50), "3 patches but mtt_tags 4"),
])
def test_shape_errors_raise_clearly(msd_shape, mtt_shape, message):
    with pytest.raises(ValueError, match=message):
        tags_to_genre_scores(np.zeros(msd_shape), np.zeros(mtt_shape))


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_values_that_are_not_probabilities_raise(bad):
    msd = np.zeros((1, 50))
    msd[0, 3] = bad
    with pytest.raises(ValueError, match="probabilities"):
        tags_to_genre_scores(msd, np.zeros((1, 50)))


def test_logits_instead_of_probabilities_raise():
    """Passing the pre-sigmoid layer by mistake would silently skew everything."""
    with pytest.raises(ValueError, match="probabilities"):
        tags_to_genre_scores(np.full((1, 50), 3.0), np.zeros((1, 50)))
