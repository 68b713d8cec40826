"""Write ``tests/data/musicnn_reference.npz``: outputs of musicnn's ORIGINAL TF1 graphs.

The Keras port in ``mgc_model/musicnn.py`` is checked against these numbers, so this script
must stay independent of it: it never imports ``mgc_model`` (nor musicnn's Python code, which
needs TF 1). It imports the ``.meta`` graph that was saved next to each pretrained checkpoint,
restores the checkpoint into it under ``tf.compat.v1`` graph mode and evaluates it with
``is_training=False`` (batch norm on moving statistics, dropout off).

Run with the project venv::

    .venv/bin/python scripts/make_musicnn_reference.py
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib

import librosa
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

# musicnn's signal-processing setup (musicnn/configuration.py); a patch is 187 frames (~3 s).
SR = 16000
FFT_HOP = 256
FFT_SIZE = 512
N_MELS = 96
N_FRAMES = 187

MODELS = ("MSD_musicnn", "MTT_musicnn")

# Tensor names in the saved graphs (TF 1.12). The graph was saved from the training script,
# so the placeholders are anonymous: Placeholder is the log-mel batch, Placeholder_1 the
# labels (unused here) and Placeholder_2 the is_training switch of batch norm and dropout.
INPUT_TENSOR = "model/Placeholder:0"
IS_TRAINING_TENSOR = "model/Placeholder_2:0"
TAGS_TENSOR = "model/Sigmoid:0"
# bn_dense of backend(): the non-fused batch norm after the 200-unit dense layer.
PENULTIMATE_TENSOR = "model/batch_normalization_10/batchnorm/add_1:0"
EXPECTED_OPS = {
    INPUT_TENSOR: "Placeholder",
    IS_TRAINING_TENSOR: "Placeholder",
    TAGS_TENSOR: "Sigmoid",
    PENULTIMATE_TENSOR: "Add",
}

DEFAULT_OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data"


def musicnn_dir() -> pathlib.Path:
    """Locate the installed musicnn package without importing it (its code needs TF 1)."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("musicnn is not installed: pip install --no-deps musicnn==0.1.0")
    return pathlib.Path(next(iter(spec.submodule_search_locations)))


def log_mel(audio: np.ndarray) -> np.ndarray:
    """musicnn's front-end preprocessing (extractor.batch_data), first 187 frames.

    musicnn casts the mel power to float16 before ``log10(10000 * x + 1)``; the product then
    overflows to inf for any bin above 6.55. Here it stays float32, so inputs are finite.
    """
    mel = librosa.feature.melspectrogram(
        y=audio.astype(np.float32), sr=SR, hop_length=FFT_HOP, n_fft=FFT_SIZE, n_mels=N_MELS
    ).T
    mel = np.log10(10000 * mel.astype(np.float32) + 1)
    if mel.shape[0] < N_FRAMES:
        raise ValueError(f"audio gives {mel.shape[0]} frames, need {N_FRAMES}")
    return mel[:N_FRAMES].astype(np.float32)


def harmonic_tones(n_samples: int) -> np.ndarray:
    """An A-minor arpeggio of plucked harmonic tones: pitched, tonal content."""
    t = np.arange(n_samples) / SR
    notes_hz = [220.0, 261.63, 329.63, 440.0, 329.63, 261.63]
    note_len = n_samples // len(notes_hz)
    audio = np.zeros(n_samples)
    for i, f0 in enumerate(notes_hz):
        start = i * note_len
        tn = t[: n_samples - start]
        envelope = np.exp(-3.0 * tn) * np.minimum(1.0, tn / 0.01)
        tone = sum(np.sin(2 * np.pi * k * f0 * tn) / k for k in range(1, 9) if k * f0 < SR / 2)
        audio[start:] += 0.2 * envelope * tone
    return audio


def drum_pattern(n_samples: int, seed: int = 1) -> np.ndarray:
    """A 120 BPM kick/snare/hi-hat pattern of decaying sweeps and noise bursts."""
    rng = np.random.default_rng(seed)
    audio = np.zeros(n_samples)
    eighth = int(0.25 * SR)

    def add(start: int, sound: np.ndarray) -> None:
        end = min(n_samples, start + len(sound))
        audio[start:end] += sound[: end - start]

    for step, start in enumerate(range(0, n_samples, eighth)):
        th = np.arange(int(0.05 * SR)) / SR
        hat = np.diff(rng.standard_normal(len(th) + 1)) * np.exp(-th / 0.01)
        add(start, 0.08 * hat)
        if step % 4 == 0:
            tk = np.arange(int(0.3 * SR)) / SR
            phase = 2 * np.pi * np.cumsum(50 + 100 * np.exp(-tk / 0.03)) / SR
            add(start, 0.8 * np.sin(phase) * np.exp(-tk / 0.12))
        elif step % 4 == 2:
            ts = np.arange(int(0.2 * SR)) / SR
            body = np.sin(2 * np.pi * 180 * ts) * np.exp(-ts / 0.05)
            add(start, 0.4 * (rng.standard_normal(len(ts)) * np.exp(-ts / 0.07) + body))
    return audio


def make_inputs() -> tuple[np.ndarray, list[str]]:
    """Three or four deterministic log-mel patches with realistic value ranges."""
    n_samples = (N_FRAMES - 1) * FFT_HOP  # librosa's centred STFT then gives 187 frames
    tones = harmonic_tones(n_samples)
    drums = drum_pattern(n_samples)
    random_patch = np.random.default_rng(0).uniform(0.0, 5.0, size=(N_FRAMES, N_MELS))
    patches = {
        "harmonic_tones": log_mel(tones),
        "drum_pattern": log_mel(drums),
        "tones_plus_drums": log_mel(0.7 * tones + 0.7 * drums),
        "uniform_random": random_patch.astype(np.float32),
    }
    return np.stack(list(patches.values())), list(patches)


def load_meta_graph(path: pathlib.Path) -> meta_graph_pb2.MetaGraphDef:
    """Parse the .meta file and drop ``_output_shapes`` so that TF 2 can import it.

    TF 1.12 recorded shapes (e.g. of FusedBatchNormGrad outputs in the gradient ops) that
    TF 2's shape inference rejects as inconsistent; the attribute is only a hint.
    """
    meta_graph = meta_graph_pb2.MetaGraphDef()
    meta_graph.ParseFromString(path.read_bytes())
    for node in meta_graph.graph_def.node:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
    return meta_graph


def run_original(model_dir: pathlib.Path, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Restore one checkpoint into its own graph and return (tag probabilities, penultimate)."""
    meta_graph = load_meta_graph(model_dir / ".meta")
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(meta_graph, clear_devices=True)
        for name, op_type in EXPECTED_OPS.items():
            found = graph.get_tensor_by_name(name).op.type
            if found != op_type:
                raise RuntimeError(f"{name} is a {found} op, expected {op_type}")
        with tf.compat.v1.Session(graph=graph) as sess:
            # The checkpoint prefix is the directory itself: files are '<dir>/.index' etc.
            saver.restore(sess, str(model_dir) + "/")
            tags, penultimate = sess.run(
                [TAGS_TENSOR, PENULTIMATE_TENSOR],
                feed_dict={INPUT_TENSOR: inputs, IS_TRAINING_TENSOR: False},
            )
    return tags.astype(np.float32), penultimate.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=pathlib.Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()

    inputs, names = make_inputs()
    arrays: dict[str, np.ndarray] = {
        "inputs": inputs.astype(np.float32),
        "input_names": np.array(names),
        "tensorflow_version": np.array(tf.__version__),
    }
    root = musicnn_dir()
    for model in MODELS:
        tags, penultimate = run_original(root / model, inputs)
        arrays[f"{model}_tags"] = tags
        arrays[f"{model}_penultimate"] = penultimate
        top = [int(i) for i in np.argsort(-tags, axis=1)[:, 0]]
        print(f"{model}: tags {tags.shape}, penultimate {penultimate.shape}, top index {top}")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    out = args.output_dir / "musicnn_reference.npz"
    np.savez_compressed(out, **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
