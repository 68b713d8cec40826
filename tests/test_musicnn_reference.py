"""The Keras musicnn port against outputs of musicnn's original TF1 graphs.

``tests/data/musicnn_reference.npz`` comes from ``scripts/make_musicnn_reference.py``, which
runs the ``.meta`` graphs shipped with the checkpoints and never imports the port.
"""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import pytest

from mgc_model import musicnn

REFERENCE = pathlib.Path(__file__).parent / "data" / "musicnn_reference.npz"
MODELS = ("MSD_musicnn", "MTT_musicnn")


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module", params=MODELS)
def model_and_name(request: pytest.FixtureRequest) -> tuple[keras.Model, str]:
    # No skip when musicnn is missing: `make install` provides it, and a skipped reference
    # test would hide a broken setup.
    return musicnn.load_musicnn(request.param), request.param


def test_reference_file_is_sane(reference: dict[str, np.ndarray]) -> None:
    inputs = reference["inputs"]
    assert inputs.dtype == np.float32
    assert inputs.ndim == 3 and inputs.shape[1:] == (187, 96) and 3 <= len(inputs) <= 4
    assert np.isfinite(inputs).all() and inputs.min() >= 0 and inputs.max() < 8
    for name in MODELS:
        assert reference[f"{name}_tags"].shape == (len(inputs), 50)
        assert reference[f"{name}_penultimate"].shape == (len(inputs), 200)


def test_port_matches_original_graph(
    model_and_name: tuple[keras.Model, str], reference: dict[str, np.ndarray]
) -> None:
    model, name = model_and_name
    out = model.predict_on_batch(reference["inputs"])
    np.testing.assert_allclose(out["tags"], reference[f"{name}_tags"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        out["penultimate"], reference[f"{name}_penultimate"], rtol=0, atol=1e-4
    )
    # The references are not degenerate: different patches get different top tags.
    assert len(set(np.argmax(reference[f"{name}_tags"], axis=1))) >= 3


def test_architecture_size(model_and_name: tuple[keras.Model, str]) -> None:
    model, _ = model_and_name
    assert model.count_params() == 792_079  # 787,159 trainable + 4,920 batch-norm statistics
    assert model.output["tags"].shape == (None, 50)
    assert model.output["penultimate"].shape == (None, 200)


def test_variable_length_model_loads_the_same_weights(reference: dict[str, np.ndarray]) -> None:
    model = musicnn.build_musicnn(n_frames=None)
    musicnn.load_checkpoint(model, musicnn.checkpoint_dir("MSD_musicnn"))
    out = model.predict_on_batch(reference["inputs"])
    np.testing.assert_allclose(out["tags"], reference["MSD_musicnn_tags"], rtol=0, atol=1e-5)
    longer = model.predict_on_batch(np.zeros((2, 250, 96), np.float32))
    assert longer["tags"].shape == (2, 50) and longer["penultimate"].shape == (2, 200)


def test_labels() -> None:
    for labels in (musicnn.MSD_LABELS, musicnn.MTT_LABELS):
        assert len(labels) == 50 and len(set(labels)) == 50
    assert musicnn.MSD_LABELS[:3] == ["rock", "pop", "alternative"]
    assert musicnn.MTT_LABELS[:3] == ["guitar", "classical", "slow"]


def test_wrong_number_of_classes_is_rejected() -> None:
    checkpoint = musicnn.checkpoint_dir("MSD_musicnn")
    model = musicnn.build_musicnn(num_classes=49)
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(ValueError, match=r"dense_1/kernel \(200, 49\)") as info:
        musicnn.load_checkpoint(model, checkpoint)
    assert "dense_1/bias" in str(info.value)
    # All or nothing: nothing was assigned, not even the layers that did match.
    for old, new in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(old, new.numpy())


def test_renamed_layer_is_rejected() -> None:
    checkpoint = musicnn.checkpoint_dir("MTT_musicnn")
    model = musicnn.build_musicnn()
    model.get_layer("conv2d_7").name = "conv2d_7_renamed"
    with pytest.raises(ValueError) as info:
        musicnn.load_checkpoint(model, checkpoint)
    message = str(info.value)
    assert "model weight conv2d_7_renamed/kernel" in message
    assert "checkpoint variable conv2d_7/kernel" in message
    assert "Adam" not in message  # optimizer slots are ignored, not reported


def test_unused_checkpoint_variables_are_rejected() -> None:
    head = keras.Sequential(
        [keras.Input((200,)), keras.layers.Dense(50, name="dense_1")], name="head_only"
    )
    with pytest.raises(ValueError, match="checkpoint variable conv2d/kernel .* is not used"):
        musicnn.load_checkpoint(head, musicnn.checkpoint_dir("MSD_musicnn"))


def test_unknown_model_name() -> None:
    with pytest.raises(ValueError, match="unknown musicnn model"):
        musicnn.checkpoint_dir("MSD_vgg_big")
