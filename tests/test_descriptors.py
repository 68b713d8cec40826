"""Styles, moods, voice and instruments (mgc_model.descriptors): what the default model hears
besides the genre, in the tag rows."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from mgc_model import descriptors
from mgc_model.descriptors import DESCRIPTORS, NAMES, THRESHOLD, TOP, Describer, listed
from mgc_model.genres import FMA_GENRES

DEMO = Path(__file__).resolve().parents[1] / "pipelines" / "demo"


def test_a_descriptor_scores_the_highest_of_the_outputs_that_name_it():
    from mgc_model import mapping, yamnet
    from mgc_model.musicnn_checkpoints import MSD_LABELS, MTT_LABELS

    classes = (*yamnet.class_names(), mapping.SPOKEN_WORD)
    describe = Describer(MSD_LABELS, MTT_LABELS, classes)
    msd, mtt = np.full((1, 50), 0.01), np.full((1, 50), 0.01)
    audioset = np.full((1, len(classes)), 0.01)
    msd[0, MSD_LABELS.index("heavy metal")] = 0.1
    mtt[0, MTT_LABELS.index("metal")] = 0.6
    audioset[0, classes.index("Heavy metal")] = 0.3
    audioset[0, -1] = 0.8  # speech without music
    scores = dict(zip(NAMES, describe(msd, mtt, audioset)[0], strict=True))
    assert scores["styles:Heavy Metal"] == pytest.approx(0.6)
    assert scores["voice:Speech"] == pytest.approx(0.8)
    assert scores["moods:Happy"] == pytest.approx(0.01)
    with pytest.raises(ValueError):  # a source the model does not output fails at load
        Describer(["rock"], MTT_LABELS, classes)
    # from musicnn's tags alone (--model fast): what AudioSet alone names is left out
    tags_only = Describer(MSD_LABELS, MTT_LABELS)
    names = descriptors.names(("msd", "mtt"))
    assert "voice:Speech" not in names and "styles:Grunge" not in names
    assert "styles:Heavy Metal" in names and set(names) < set(NAMES)
    scores = dict(zip(names, tags_only(msd, mtt)[0], strict=True))
    assert scores["styles:Heavy Metal"] == pytest.approx(0.6)


def test_listed_keeps_the_best_few_above_the_threshold_and_a_styles_parent():
    scores = np.zeros(len(NAMES), np.float32)
    for name, score in [("styles:Heavy Metal", 0.8), ("styles:Punk", 0.5),
                        ("styles:Techno", 0.3), ("styles:House", 0.25),
                        ("moods:Sad", THRESHOLD - 0.01), ("voice:Speech", 0.9)]:
        scores[NAMES.index(name)] = score
    columns = listed(NAMES, scores)
    assert [d["name"] for d in columns["styles"]] == ["Heavy Metal", "Punk", "Techno"][:TOP]
    assert columns["styles"][0]["parent"] == "Rock" and columns["moods"] == []
    assert columns["voice"] == [{"name": "Speech", "score": pytest.approx(0.9),
                                 "parent": None}]
    assert listed((), None) == dict.fromkeys(descriptors.KINDS)


def test_every_style_sits_under_an_fma_genre():
    for d in DESCRIPTORS:
        assert d.kind in descriptors.KINDS
        assert (d.parent in FMA_GENRES) if d.kind == "styles" else d.parent is None


@pytest.fixture(scope="module")
def demo_rows() -> dict[str, dict]:
    """The demo's real recordings through the pipeline's own steps: windows, the handler's
    batches, the per-track mean, the tag row."""
    from mgc_model import registry
    from pipelines.audio.windows import PatchStream
    from pipelines.graph.inference import GenreModelHandler
    from pipelines.graph.steps import MeanScores, decoded_track, tag_row

    info = registry.describe(registry.DEFAULT_MODEL)
    handler = GenreModelHandler(registry.DEFAULT_MODEL)
    model = handler.load_model()
    rows = {}
    for path in sorted(DEMO.glob("*.opus")):
        stream = PatchStream(info.frontends, max_patches=10)
        windows = list(stream.patches(str(path)))
        outputs = [r.inference for r in handler.run_inference(windows, model)]
        assert outputs[0][0].shape == (len(info.genres) + len(NAMES),)
        rows[path.stem] = tag_row(decoded_track(str(path), stream), MeanScores(info).apply(outputs),
                                  info.genres, info.ref, 3, 0.1, datetime.now(timezone.utc),
                                  info.descriptors)
    return rows


def names(row: dict, kind: str) -> list[str]:
    return [d["name"] for d in row[kind] or []]


def test_the_demos_styles_and_instruments_are_what_their_sources_say(demo_rows):
    metal, techno = demo_rows["Sectoid - War of freedom"], demo_rows["nexuiz-subcities"]
    assert "Heavy Metal" in names(metal, "styles") and "Guitar" in names(metal, "instruments")
    assert names(techno, "styles")[0] == "Techno"
    assert techno["styles"][0]["parent"] == "Electronic"
    assert "Strings" in names(demo_rows["return_to_wesnoth"], "instruments")
    for row in demo_rows.values():
        for kind in descriptors.KINDS:
            assert len(row[kind]) <= TOP
            assert all(THRESHOLD <= d["score"] <= 1 for d in row[kind])
        assert "Speech" not in names(row, "voice")  # music, all of it
