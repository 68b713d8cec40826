"""The front-end gives what the musicnn checkpoints were trained on, in float32, streaming."""

import librosa
import numpy as np
import pytest

from mgc_model.frontend import (
    FrontendConfig,
    LogMelStream,
    PatchCutter,
    log_mel,
    pad_short,
    patch_starts,
    patches,
)

CFG = FrontendConfig()


def reference_log_mel(y: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96)
    return np.log10(10000 * mel.T.astype(np.float32) + 1)


@pytest.mark.parametrize("n_samples", [600, 16000, 16000 * 3 + 17, 16000 * 20])
def test_log_mel_matches_librosa(n_samples):
    y = (np.random.default_rng(n_samples).standard_normal(n_samples) * 0.2).astype(np.float32)
    ours = log_mel(y)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference_log_mel(y), atol=1e-5)


@pytest.mark.parametrize("block", [7, 255, 256, 1000, 48000])
def test_streaming_equals_one_shot(block):
    y = (np.random.default_rng(1).standard_normal(16000 * 4) * 0.2).astype(np.float32)
    stream = LogMelStream()
    parts = [stream.push(y[i:i + block]) for i in range(0, y.size, block)] + [stream.finish()]
    np.testing.assert_allclose(np.concatenate(parts), log_mel(y), atol=1e-5)


def test_loud_audio_stays_finite_where_float16_overflows():
    """musicnn's extractor casts the mel power to float16 before the log: on a loud track the
    power exceeds float16's 65504 and the log becomes inf. Ours stays finite and ordered."""
    t = np.arange(16000 * 3) / 16000
    loud = (0.99 * np.sign(np.sin(2 * np.pi * 110 * t))).astype(np.float32)  # full-scale square
    mel = librosa.feature.melspectrogram(y=loud, sr=16000, n_fft=512, hop_length=256, n_mels=96)
    with np.errstate(over="ignore"):
        float16_path = np.log10(10000 * mel.T.astype(np.float16) + 1)
    assert np.isinf(float16_path).any(), "the test signal must be loud enough to overflow"
    ours = log_mel(loud)
    assert np.isfinite(ours).all()
    assert ours.max() > 6  # log10(10000 * power) of a full-scale partial: well past float16
    quieter = log_mel(loud * 0.1)
    assert (ours.mean(axis=0) > quieter.mean(axis=0)).all()


def test_patch_starts_back_to_back_and_capped():
    assert patch_starts(187 * 10, CFG) == [187 * i for i in range(10)]
    capped = patch_starts(187 * 100, CFG, max_patches=5)
    assert len(capped) == 5
    assert capped == [187 * i for i in (10, 30, 50, 70, 90)]  # the middles of 5 equal parts
    assert patch_starts(100, CFG) == [0]
    assert patch_starts(187 * 4, CFG, hop_frames=94) == [0, 94, 188, 282, 376, 470]


def test_short_track_is_repeat_padded():
    frames = np.arange(50 * 96, dtype=np.float32).reshape(50, 96)
    padded = pad_short(frames, CFG)
    assert padded.shape == (187, 96)
    np.testing.assert_array_equal(padded[50:100], frames)
    np.testing.assert_array_equal(patches(frames)[0], padded)


@pytest.mark.parametrize("n_frames,max_patches", [(60, None), (187 * 5 + 30, None),
                                                  (187 * 40, 7), (187 * 3, 10)])
def test_patch_cutter_streams_what_patches_cuts(n_frames, max_patches):
    frames = np.random.default_rng(0).random((n_frames, 96), dtype=np.float32)
    cutter = PatchCutter(CFG, expected_frames=n_frames, max_patches=max_patches)
    out = []
    for i in range(0, n_frames, 33):
        out.extend(cutter.push(frames[i:i + 33]))
    out.extend(cutter.finish())
    np.testing.assert_array_equal(np.stack(out), patches(frames, max_patches=max_patches))
    assert cutter.n_patches == len(out)


def test_patch_cutter_holds_little_memory():
    cutter = PatchCutter(CFG)
    block = np.ones((1000, 96), dtype=np.float32)
    for _ in range(100):
        list(cutter.push(block))
        assert cutter._held.shape[0] <= 187 + 1000


def test_config_round_trip_and_unknown_keys():
    assert FrontendConfig.from_dict(CFG.to_dict()) == CFG
    with pytest.raises(ValueError, match="unknown front-end"):
        FrontendConfig.from_dict({**CFG.to_dict(), "n_ftt": 256})


@pytest.mark.parametrize("n_samples, max_patches", [(300, None), (16000 * 2, None),
                                                    (16000 * 31, None), (16000 * 60 + 123, 4)])
def test_windows_carry_a_second_front_end_over_the_same_audio(n_samples, max_patches):
    """Each window: one musicnn patch, and YAMNet's patches from the frame nearest its start,
    equal to YAMNet's one-shot log-mel there; streaming gives the same as one shot."""
    from mgc_model.frontend import WindowCutter
    from mgc_model.yamnet import FRONTEND as YAMNET

    y = (np.random.default_rng(n_samples).standard_normal(n_samples) * 0.1).astype(np.float32)
    cutter = WindowCutter((CFG, YAMNET), n_samples / 16000, None, max_patches)
    windows = [w for i in range(0, n_samples, 7001) for w in cutter.push(y[i:i + 7001])]
    windows += list(cutter.finish())
    first = patches(log_mel(y), CFG, None, max_patches)
    assert len(windows) == len(first) == cutter.n_patches
    np.testing.assert_allclose(np.stack([w[0] for w in windows]), first, atol=1e-5)
    second = log_mel(y, YAMNET)
    starts = patch_starts(log_mel(y).shape[0], CFG, None, max_patches)
    for (_, aligned), start in zip(windows, starts, strict=True):
        assert aligned.shape == (3, 96, 64)
        frame = round(start * CFG.hop_length / YAMNET.hop_length)
        expected = second[frame:frame + 288]
        if expected.shape[0] == 288:  # a long enough track: exactly YAMNet's own frames
            np.testing.assert_allclose(aligned.reshape(288, 64), expected, atol=1e-4)
        else:  # a short one is repeat-padded, as musicnn's patch is
            np.testing.assert_allclose(aligned.reshape(288, 64)[:len(expected)], expected,
                                       atol=1e-4)
