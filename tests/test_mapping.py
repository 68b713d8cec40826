"""The default model's mapping: the speech gate on synthetic probabilities, the product of
experts it was measured against, and the whole model on real speech and music."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mgc_model import genres, mapping, yamnet
from mgc_model.genres import FMA_GENRES

SPOKEN = FMA_GENRES.index("Spoken")
CLASSES = yamnet.class_names()
DEMO = Path(__file__).resolve().parents[1] / "pipelines" / "demo"


def audioset(**raised: float) -> np.ndarray:
    """One window of YAMNet probabilities: everything at 0.001 but the classes named."""
    probs = np.full((1, len(CLASSES)), 0.001, np.float32)
    for name, value in raised.items():
        probs[0, CLASSES.index(name.replace("_", " "))] = value
    return probs


def spoken_word(**raised: float) -> float:
    return float(mapping.with_spoken_word(audioset(**raised), CLASSES)[0, -1])


def test_speech_without_music_is_spoken_word():
    assert spoken_word(Speech=0.95, Music=0.02) > 0.9
    assert spoken_word(**{"Narration, monologue": 0.8}) > 0.75


@pytest.mark.parametrize("music", [
    {"Music": 0.9},  # a voice over a band
    {"Singing": 0.9},  # a cappella song
    {"Rapping": 0.9},  # a cappella rap: Hip-Hop, never Spoken
    {"Choir": 0.8},
])
def test_a_voice_with_music_is_not_spoken_word(music):
    assert spoken_word(Speech=0.95, **music) < 0.2


def test_gate_gives_the_speech_share_to_spoken_and_keeps_music_order():
    rng = np.random.default_rng(0)
    music = rng.dirichlet(np.ones(16), size=8).astype(np.float32)
    music[:, SPOKEN] = 0.0
    music /= music.sum(axis=1, keepdims=True)
    spoken = np.linspace(0, 1, 8)
    scores = mapping.spoken_gate(music, spoken)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(scores[:, SPOKEN], spoken, atol=1e-5)
    others = [g for g in range(16) if g != SPOKEN]
    music_left = spoken < 1
    assert (scores[music_left][:, others].argmax(1)
            == music[music_left][:, others].argmax(1)).all()


def test_sharpening_makes_a_clear_winner_more_confident_and_keeps_spoken():
    track = np.full(16, 0.05, np.float32)
    track[FMA_GENRES.index("Jazz")] = 0.2
    track[SPOKEN] = 0.05
    track /= track.sum()
    sharp = mapping.sharpen(track, mapping.TEMPERATURE)
    assert mapping.TEMPERATURE < 1
    np.testing.assert_allclose(sharp.sum(), 1.0, atol=1e-6)
    assert sharp[SPOKEN] == pytest.approx(track[SPOKEN])
    assert sharp.argmax() == track.argmax()
    assert sharp.max() > track.max() + 0.2


def test_yamnet_table_names_real_classes_and_genres():
    for name, targets in mapping.YAMNET_TO_GENRE.items():
        assert name in CLASSES or name == mapping.SPOKEN_WORD, name
        assert targets and all(g in FMA_GENRES and 0 < w <= 1 for g, w in targets.items())
    for instrument in ("Harpsichord", "Piano", "Guitar", "Steel guitar, slide guitar"):
        assert instrument not in mapping.YAMNET_TO_GENRE  # misleading on MIDI renders


def test_expert_evidence_is_neutral_where_an_expert_has_no_class():
    classes = (*CLASSES, mapping.SPOKEN_WORD)
    table = mapping.class_table("YAMNet", classes)
    probs = mapping.with_spoken_word(audioset(**{"Classical music": 0.6}), CLASSES)
    evidence = mapping.expert_evidence({"YAMNet": probs}, {"YAMNet": table},
                                       {"YAMNet": np.full(len(classes), 0.002, np.float32)})
    assert evidence[0].argmax() == FMA_GENRES.index("Classical")
    for uncovered in ("Experimental", "Easy Listening", "Old-Time / Historic"):
        assert evidence[0, FMA_GENRES.index(uncovered)] == 1.0
    scores = mapping.combine({"YAMNet": evidence}, {"YAMNet": 1.0})
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)


# --- the whole default model on real audio -----------------------------------------------------

@pytest.fixture(scope="module")
def default_model():
    from mgc_model import registry

    return registry.load(registry.DEFAULT_MODEL)


def windows_of(model, path: Path) -> tuple[np.ndarray, ...]:
    """The file's analysis windows as the pipeline cuts them, batched per front-end."""
    from pipelines.audio.windows import PatchStream
    from pipelines.graph.inference import stack_windows

    return stack_windows(list(PatchStream(model.info.frontends).patches(str(path))))


def track_scores(model, path: Path) -> np.ndarray:
    """As the pipeline scores a track: the windows' mean, then ``MeanScores``' sharpening."""
    from pipelines.graph.steps import MeanScores

    inputs = windows_of(model, path)
    scores, embedding = model.predict(inputs)
    assert embedding.shape == (len(inputs[0]), model.info.embedding_dim)
    mean = MeanScores(model.info)
    acc = mean.create_accumulator()
    for s, e in zip(scores, embedding, strict=True):
        acc = mean.add_input(acc, (s, e))
    return mean.extract_output(acc).genre_scores


def espeak(tmp_path: Path, text: str) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (.ci/run installs it)")
    path = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True)
    return path


TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it "
        "was the age of foolishness, it was the epoch of belief, it was the epoch of "
        "incredulity, it was the season of Light, it was the season of Darkness.")


def test_narration_is_spoken_and_confident(tmp_path, default_model):
    from mgc_model.decision import CONFIDENT_SCORE

    scores = track_scores(default_model, espeak(tmp_path, TEXT))
    assert FMA_GENRES[scores.argmax()] == "Spoken"
    assert scores.max() >= CONFIDENT_SCORE


def test_speech_over_music_is_music(tmp_path, default_model):
    import soundfile as sf
    import soxr

    speech, rate = sf.read(espeak(tmp_path, TEXT), dtype="float32")
    band, band_rate = sf.read(DEMO / "bluegrass_in_G.opus", dtype="float32", always_2d=True)
    band = soxr.resample(band.mean(axis=1), band_rate, rate).astype(np.float32)
    n = min(len(speech), len(band))
    mix = 0.5 * speech[:n] / np.abs(speech).max() + 0.5 * band[:n] / np.abs(band).max()
    path = tmp_path / "talk-over-band.wav"
    sf.write(path, mix, rate)
    scores = track_scores(default_model, path)
    assert FMA_GENRES[scores.argmax()] != "Spoken"
    assert scores[SPOKEN] < 0.3


@pytest.mark.parametrize("name, genre", [("Sectoid - War of freedom.opus", "Rock"),
                                         ("return_to_wesnoth.opus", "Classical")])
def test_music_keeps_musicnns_genre(default_model, name, genre):
    scores = track_scores(default_model, DEMO / name)
    assert FMA_GENRES[scores.argmax()] == genre
    assert scores[SPOKEN] < 0.05
    # the same call as the musicnn-only model, more decided
    msd, mtt, _ = default_model.tags(windows_of(default_model, DEMO / name)[0])
    before = genres.tags_to_genre_scores(msd, mtt).mean(axis=0)
    assert before.argmax() == scores.argmax() and scores.max() > before.max()
