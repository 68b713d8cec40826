"""``mgc train``: both architectures learn the FMA-layout fixture's genres well enough to tag
unseen artists, the CNN is seed 001's network, augmentation does what it says, and bad input
is refused before any work."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from mgc_model.augment import AugmentConfig, PatchAugmenter
from mgc_model.dataset import class_weights
from mgc_model.frontend import FrontendConfig
from mgc_model.training import TrainConfig, train
from pipelines.cli import main
from schemas.tfrecord import encode_example

CFG = FrontendConfig()
# Keras 3.15 converts TensorFlow tensors with np.array(x, copy=False) on every step.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def write_tiny_dataset(root: Path, n_labels: int = 3, multi_label: bool = False,
                       tracks_per_split: dict | None = None, seed: int = 0) -> Path:
    """A hand-made extracted dataset: each label lights its own third of the mel bands."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tracks_per_split = tracks_per_split or {"training": 12, "validation": 6, "test": 6}
    band = CFG.n_mels // n_labels
    for split, n_tracks in tracks_per_split.items():
        with tf.io.TFRecordWriter(str(root / f"{split}-00000-of-00001.tfrecord")) as out:
            for t in range(n_tracks):
                labels = [t % n_labels]
                if multi_label and t % 2:
                    labels.append((t + 1) % n_labels)
                for p in range(2):
                    patch = rng.uniform(0.0, 0.3, (CFG.patch_frames, CFG.n_mels))
                    for label in labels:
                        patch[:, label * band:(label + 1) * band] += 2.0
                    out.write(encode_example(f"{split}-{t:03d}", split, labels, p,
                                             patch.astype(np.float32)))
    names = [f"genre{i}" for i in range(n_labels)]
    (root / "labels.json").write_text(json.dumps(
        {"labels": names, "multi_label": multi_label, "source": "manifest"}))
    (root / "frontend.json").write_text(json.dumps(CFG.to_dict()))
    return root


# --- the acceptance: >= 90% track accuracy on the fixture's test split ----------------

def test_transfer_cli_writes_a_bundle_that_tags_unseen_artists(transfer_bundle, fma_dataset,
                                                               fma_fixture):
    bundle, run = transfer_bundle
    assert run.returncode == 0, run.stderr
    training = json.loads((bundle / "training.json").read_text())
    assert f"Bundle transfer@{training['version']}" in run.stdout
    assert "epoch 1/" in run.stderr  # a progress line per epoch
    assert training["arch"] == "transfer" and training["backbone"] == "MSD_musicnn"
    # frozen backbone, no augmentation: the features were computed once, as recorded
    assert training["features_precomputed"] is True and training["augmentation"] is None
    counts = training["counts"]
    assert counts["training"]["tracks"] == len(fma_fixture.ids("training"))
    assert counts["validation"]["tracks"] == len(fma_fixture.ids("validation"))

    from mgc_model.evaluate import evaluate

    metrics = evaluate(str(bundle), str(fma_dataset), str(bundle.parent / "rep"))
    assert metrics["n_tracks"] == len(fma_fixture.ids("test"))
    assert metrics["accuracy"] >= 0.9, metrics["confusion_matrix"]


@pytest.mark.timeout(1200)  # may train the CNN fixture (~220 s on a slow 2-core machine)
def test_cnn_trains_from_scratch_to_90_percent(cnn_bundle, fma_dataset, fma_fixture, tmp_path):
    from mgc_model.evaluate import evaluate

    training = json.loads((cnn_bundle / "training.json").read_text())
    assert training["arch"] == "cnn" and training["features_precomputed"] is False
    assert training["augmentation"]["stretch"] == [0.8, 1.25]  # augmented by default
    history = pd.read_csv(cnn_bundle / "history.csv")
    assert len(history) == training["epochs_run"]
    assert training["best_epoch"] == int(history["val_loss"].idxmin()) + 1
    assert (cnn_bundle / "training_curves.png").stat().st_size > 0
    assert not list(cnn_bundle.parent.glob(".*partial*"))  # staging renamed into place

    metrics = evaluate(str(cnn_bundle), str(fma_dataset), str(tmp_path / "rep"))
    assert metrics["n_tracks"] == len(fma_fixture.ids("test"))
    assert metrics["accuracy"] >= 0.9, metrics["confusion_matrix"]


# --- the models ------------------------------------------------------------------------------

def test_cnn_is_seed_001s_network():
    from keras import layers

    from mgc_model.cnn import build_cnn

    model = build_cnn(10)
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 32, 64, 64, 128, 128, 256, 256, 512, 512]
    assert {c.kernel_size for c in convs} == {(3, 3)}
    pools = [layer for layer in model.layers if isinstance(layer, layers.MaxPooling2D)]
    assert len(pools) == 5 and {p.pool_size for p in pools} == {(2, 2)}
    dropouts = [layer.rate for layer in model.layers if isinstance(layer, layers.Dropout)]
    assert dropouts == [0.3, 0.3, 0.45]
    assert model.get_layer("dense").units == 1200
    out = model(np.zeros((2, CFG.patch_frames, CFG.n_mels), np.float32), training=False)
    assert out["genres"].shape == (2, 10) and out["embedding"].shape == (2, 1200)
    np.testing.assert_allclose(out["genres"].numpy().sum(axis=1), 1.0, rtol=1e-5)  # softmax
    multi = build_cnn(10, multi_label=True)
    assert multi.get_layer("genres").activation.__name__ == "sigmoid"


def test_balanced_class_weights():
    weights = class_weights(np.array([30, 10, 0]))
    # scikit-learn's 'balanced': n_samples / (n_classes * count); an absent label weighs 1
    np.testing.assert_allclose(weights, [40 / 60, 40 / 20, 1.0])


def test_multi_label_data_trains_sigmoid_outputs(tmp_path):
    data = write_tiny_dataset(tmp_path / "data", multi_label=True)
    result = train(str(data), str(tmp_path / "bundle"),
                   TrainConfig(epochs=3, batch_size=8), log=lambda line, **_: None)
    assert result.training["loss"] == "binary_crossentropy" and result.training["multi_label"]
    from mgc_model.bundle import load_bundle

    bundle = load_bundle(str(result.bundle))
    scores = bundle.model(np.ones((3, CFG.patch_frames, CFG.n_mels), np.float32))["genres"]
    assert bundle.model.get_layer("head").get_layer("genres").activation.__name__ == "sigmoid"
    assert scores.shape == (3, 3)
    assert result.metrics["multi_label"] and result.metrics["confusion_matrix"] is None


@pytest.mark.parametrize(("fine_tune", "learning_rate", "expect"), [
    (True, None, "top blocks"),  # fine-tuning lowers the validation loss: kept
    (True, 1e-2, "head only"),  # too high a rate makes it worse: the head-only model is kept
    (False, None, "head only"),  # --augment, frozen backbone
])
def test_transfer_trains_only_what_it_says(tmp_path, fine_tune, learning_rate, expect):
    """--fine-tune: head first on precomputed features, then musicnn's top blocks; --augment
    with a frozen backbone: every augmented patch goes through the unchanged backbone."""
    from mgc_model.bundle import load_bundle
    from mgc_model.musicnn import load_musicnn
    from mgc_model.transfer import FINE_TUNE_LAYERS

    data = write_tiny_dataset(tmp_path / "data")
    config = TrainConfig(epochs=1, fine_tune=fine_tune, augment=True,
                         learning_rate=learning_rate)
    result = train(str(data), str(tmp_path / "bundle"), config, log=lambda line, **_: None)
    phases = result.training["phases"]
    assert [p["name"] for p in phases] == (["head", "fine_tune"] if fine_tune else ["train"])
    assert phases[-1]["augment"] is True
    assert result.training["features_precomputed"] is fine_tune
    if fine_tune:
        assert phases[1]["learning_rate"] == pytest.approx(phases[0]["learning_rate"] / 10)

    pretrained = load_musicnn("MSD_musicnn")
    backbone = load_bundle(str(result.bundle)).model.get_layer("MSD_musicnn_features")
    changed = set()
    for layer in backbone.layers:
        before = pretrained.get_layer(layer.name).get_weights()
        if any(not np.array_equal(a, b)
               for a, b in zip(before, layer.get_weights(), strict=True)):
            changed.add(layer.name)
    kept_head_only = any("did not lower" in note for note in result.training["notes"])
    if expect == "top blocks":
        assert changed == set(FINE_TUNE_LAYERS) and not kept_head_only
    else:
        assert changed == set() and kept_head_only == fine_tune


def test_same_seed_same_training(tmp_path):
    data = write_tiny_dataset(tmp_path / "data")
    runs = [train(str(data), str(tmp_path / f"b{i}"), TrainConfig(epochs=3, seed=5),
                  log=lambda line, **_: None) for i in range(2)]
    first, second = (pd.read_csv(r.bundle / "history.csv") for r in runs)
    pd.testing.assert_frame_equal(first, second)


def test_bad_flags_get_a_message_saying_what_to_do(tmp_path, capsys):
    data = write_tiny_dataset(tmp_path / "data")
    out = str(tmp_path / "bundle")

    def refused(*args) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(["train", *args])
        return str(exit_info.value.code) + capsys.readouterr().err

    assert "--epochs must be at least 1" in refused("--data", str(data), "--output", out,
                                                    "--epochs", "0")
    assert "--fine-tune applies to --arch transfer" in refused(
        "--data", str(data), "--output", out, "--arch", "cnn", "--fine-tune")
    assert "did you mean --epochs" in refused("--data", str(data), "--output", out,
                                              "--epoch", "3")
    assert "invalid choice: 'vgg'" in refused("--data", str(data), "--output", out,
                                             "--arch", "vgg")
    message = refused("--data", str(tmp_path / "nowhere"), "--output", out)
    assert "nowhere does not exist" in message and "mgc extract --output" in message
    only = write_tiny_dataset(tmp_path / "only-train", tracks_per_split={"training": 3})
    assert "no 'validation' shards" in refused("--data", str(only), "--output", out)
    assert not Path(out).exists()


def test_an_output_that_is_not_a_bundle_is_never_replaced(tmp_path):
    data = write_tiny_dataset(tmp_path / "data")
    precious = tmp_path / "music"
    precious.mkdir()
    (precious / "song.mp3").write_bytes(b"keep me")
    with pytest.raises(ValueError, match="exists and is not a model bundle"):
        train(str(data), str(precious), TrainConfig(epochs=1), log=lambda line, **_: None)
    assert [p.name for p in precious.iterdir()] == ["song.mp3"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --- augmentation ----------------------------------------------------------------------------

def _seed(n: int) -> tf.Tensor:
    return tf.constant([n, 0], tf.int64)


def test_augmentation_is_seeded_and_keeps_the_patch_shape():
    patch = np.random.default_rng(0).uniform(0, 3, (CFG.patch_frames, CFG.n_mels))
    augment = PatchAugmenter(CFG, AugmentConfig(probability=1.0))
    a, b, c = (augment(tf.constant(patch, tf.float32), _seed(s)).numpy() for s in (1, 1, 2))
    assert a.shape == patch.shape and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, patch)


def test_pitch_shift_moves_a_tone_to_the_band_of_the_shifted_frequency():
    augment = PatchAugmenter(CFG, AugmentConfig(semitones=12, semitone_step=12))
    centres = librosa.mel_frequencies(CFG.n_mels + 2, fmin=0, fmax=CFG.sample_rate / 2)[1:-1]
    band = 40
    patch = np.zeros((CFG.patch_frames, CFG.n_mels), np.float32)
    patch[:, band] = 3.0
    up = augment.pitch_shift(tf.constant(patch), _seed(0), row=tf.constant(2)).numpy()
    octave_up = int(np.argmin(np.abs(centres - 2 * centres[band])))
    assert abs(int(up[0].argmax()) - octave_up) <= 1
    unchanged = augment.pitch_shift(tf.constant(patch), _seed(0), row=tf.constant(1)).numpy()
    np.testing.assert_allclose(unchanged, patch, atol=1e-4)


def test_time_stretch_changes_the_tempo():
    augment = PatchAugmenter(CFG)
    patch = np.zeros((CFG.patch_frames, CFG.n_mels), np.float32)
    patch[::20] = 3.0  # a beat every 20 frames
    faster = augment.time_stretch(tf.constant(patch), _seed(0), rate=tf.constant(2.0)).numpy()
    stretched = round(CFG.patch_frames / 2)  # then repeat-padded to the full patch
    beats = np.flatnonzero(faster[:stretched, 0] > 2.9)
    assert set(np.diff(beats)) == {10} and len(beats) == 10  # twice the tempo
    np.testing.assert_array_equal(faster[stretched:], faster[:CFG.patch_frames - stretched])


def test_noise_volume_and_masks_act_in_the_right_domain():
    augment = PatchAugmenter(CFG, AugmentConfig(noise_snr_db=(20.0, 20.0), gain_db=6.0))
    loud = np.full((CFG.patch_frames, CFG.n_mels), 3.0, np.float32)
    noisy = augment.add_noise(tf.constant(loud), _seed(0)).numpy()
    power = (10.0 ** noisy - 1) / CFG.log_scale
    clean = (10.0 ** 3.0 - 1) / CFG.log_scale
    assert abs(power.mean() / clean - 1.01) < 0.002  # +1% of the power: 20 dB SNR
    levels = np.tile(np.linspace(0.5, 3.0, CFG.n_mels, dtype=np.float32), (CFG.patch_frames, 1))
    louder = augment.volume(tf.constant(levels), _seed(0)).numpy()
    ratio = (10.0 ** louder - 1) / (10.0 ** levels - 1)  # one gain on every cell's power
    assert np.ptp(ratio) / ratio.mean() < 1e-3 and 10 ** -0.6 <= ratio.mean() <= 10 ** 0.6
    assert abs(ratio.mean() - 1) > 0.01
    masked = augment.mask(tf.constant(loud), _seed(3)).numpy()
    silent_frames = (masked == 0).all(axis=1).sum()
    silent_bands = (masked == 0).all(axis=0).sum()
    assert 0 < silent_frames <= 2 * 20 and 0 < silent_bands <= 2 * 12
