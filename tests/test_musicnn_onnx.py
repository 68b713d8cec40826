"""The onnxruntime graph that tags with musicnn, against musicnn's original TF1 graphs (the
same reference as ``test_musicnn_reference.py``), and its cache."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from mgc_model import graph_cache, musicnn_onnx
from mgc_model.frontend import FrontendConfig
from mgc_model.pretrained import MusicnnGenreTagger

REFERENCE = pathlib.Path(__file__).parent / "data" / "musicnn_reference.npz"


@pytest.fixture(scope="module")
def tagger() -> MusicnnGenreTagger:
    return MusicnnGenreTagger()


def test_graph_matches_original_networks(tagger: MusicnnGenreTagger) -> None:
    with np.load(REFERENCE) as data:
        ref = {key: data[key] for key in data.files}
    msd, mtt, embedding = tagger.tags(ref["inputs"])
    np.testing.assert_allclose(msd, ref["MSD_musicnn_tags"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(mtt, ref["MTT_musicnn_tags"], rtol=0, atol=1e-5)
    penultimate = np.concatenate(
        [ref["MSD_musicnn_penultimate"], ref["MTT_musicnn_penultimate"]], axis=1)
    np.testing.assert_allclose(embedding, penultimate, rtol=0, atol=1e-4)
    # any batch size, one patch included
    np.testing.assert_allclose(tagger.tags(ref["inputs"][:1])[0], msd[:1], atol=1e-6)


def test_cached_graph_is_reused_and_a_damaged_one_rebuilt(
        tagger: MusicnnGenreTagger, tmp_path, monkeypatch) -> None:
    graph = musicnn_onnx.cache_path().read_bytes()  # the tagger's session made it
    monkeypatch.setenv(graph_cache.CACHE_ENV, str(tmp_path))
    conversions = []
    monkeypatch.setattr(musicnn_onnx, "convert",
                        lambda frontend: conversions.append(frontend) or graph)

    musicnn_onnx.session(FrontendConfig())  # an empty cache: converted, then written
    (written,) = tmp_path.glob("musicnn-*.onnx")
    assert written.read_bytes() == graph and len(conversions) == 1
    musicnn_onnx.session(FrontendConfig())
    assert len(conversions) == 1  # read back, not converted again

    written.write_bytes(graph[: len(graph) // 2])  # a cut-short file, e.g. a full disk
    session = musicnn_onnx.session(FrontendConfig())
    assert len(conversions) == 2 and written.read_bytes() == graph
    assert [o.shape[-1] for o in session.get_outputs()] == [50, 50, 400]
