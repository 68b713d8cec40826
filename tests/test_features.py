"""Handcrafted features: what they measure, and that streaming gives the one-shot answer."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from mgc_model.features import (
    FEATURE_NAMES,
    FeatureAccumulator,
    frame_length,
    handcrafted_features,
)

SR = 16000


def tone(freq: float, seconds: float, amplitude: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def named(values: np.ndarray) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, values.tolist(), strict=True))


def test_names_match_values():
    values = handcrafted_features(tone(440, 2.0), SR)
    assert values.dtype == np.float32
    assert values.shape == (len(FEATURE_NAMES),)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert np.all(np.isfinite(values))
    # seed 000's features, each summarised by mean and std
    for stem in ("zcr", "ste_db", "spectral_centroid", "spectral_energy_db", "mfcc_01",
                 "chroma_A", "contrast_0"):
        assert f"{stem}_mean" in FEATURE_NAMES and f"{stem}_std" in FEATURE_NAMES


def test_pure_tone_has_expected_values():
    f = named(handcrafted_features(tone(440, 5.0, amplitude=0.5), SR))
    assert f["zcr_mean"] == pytest.approx(2 * 440 / SR, rel=0.02)
    assert f["spectral_centroid_mean"] == pytest.approx(440, rel=0.05)
    assert f["ste_db_mean"] == pytest.approx(10 * np.log10(0.5**2 / 2), abs=0.1)
    chroma = {k: v for k, v in f.items() if k.startswith("chroma_") and k.endswith("_mean")}
    assert max(chroma, key=chroma.get) == "chroma_A_mean"
    assert f["zcr_std"] < 1e-3  # steady signal: frame features barely move


def test_features_separate_timbre_and_dynamics():
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(3 * SR)).astype(np.float32)
    low = named(handcrafted_features(tone(110, 3.0), SR))
    bright = named(handcrafted_features(noise, SR))
    assert bright["zcr_mean"] > 10 * low["zcr_mean"]
    assert bright["spectral_centroid_mean"] > 10 * low["spectral_centroid_mean"]
    # bursts (on/off every 0.25 s) vary in energy; a steady tone does not
    bursts = tone(440, 3.0) * (np.arange(3 * SR) // (SR // 4) % 2)
    assert named(handcrafted_features(bursts, SR))["ste_db_std"] > 10 * max(low["ste_db_std"],
                                                                              0.1)


@pytest.mark.parametrize("block", [777, 16000, 160000])
def test_streaming_equals_one_shot(block):
    rng = np.random.default_rng(1)
    signal = (tone(220, 12.3) + 0.05 * rng.standard_normal(int(12.3 * SR))).astype(np.float32)
    signal *= np.linspace(0.2, 1.0, signal.size, dtype=np.float32)
    whole = handcrafted_features(signal, SR)
    acc = FeatureAccumulator(SR)
    for start in range(0, signal.size, block):
        acc.push(signal[start:start + block])
    np.testing.assert_allclose(acc.finish(), whole, rtol=1e-5, atol=1e-5)


def _peak_memory(n_blocks: int, block: np.ndarray) -> int:
    acc = FeatureAccumulator(SR)
    tracemalloc.start()
    try:
        for _ in range(n_blocks):
            acc.push(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.all(np.isfinite(acc.finish()))
    return peak


def test_memory_does_not_grow_with_length():
    """Three 10 s blocks or 24: the same peak memory (no frames or samples are kept; keeping
    the samples alone would add 13 MB to a peak of about 9 MB)."""
    block = (0.1 * np.random.default_rng(2).standard_normal(10 * SR)).astype(np.float32)
    short, long = _peak_memory(3, block), _peak_memory(24, block)
    assert long < 1.3 * short


def test_short_and_silent_tracks():
    short = handcrafted_features(tone(440, 0.01), SR)  # shorter than one frame
    assert np.all(np.isfinite(short))
    silent = named(handcrafted_features(np.zeros(SR, dtype=np.float32), SR))
    assert silent["zcr_mean"] == 0.0
    assert silent["ste_db_mean"] == pytest.approx(-100.0)


def test_other_sample_rates_scale_the_frame():
    assert frame_length(16000) == 1024
    assert frame_length(44100) == 2048
    f = named(handcrafted_features(tone(1000, 2.0, sr=44100), 44100))
    assert f["spectral_centroid_mean"] == pytest.approx(1000, rel=0.05)


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="sample rate of at least"):
        FeatureAccumulator(8000)
    with pytest.raises(ValueError, match="no audio samples"):
        handcrafted_features(np.zeros(0, dtype=np.float32), SR)
    bad = tone(440, 1.0)
    bad[100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        handcrafted_features(bad, SR)
    acc = FeatureAccumulator(SR)
    acc.push(tone(440, 1.0))
    acc.finish()
    with pytest.raises(RuntimeError):
        acc.push(tone(440, 1.0))
