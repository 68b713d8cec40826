"""Distillation of the default model into a small network (issue 24): the teacher's outputs
cached over the check corpus and unlabelled audio, widened by augmentation, a student trained
to reproduce them, its fidelity on sources it never saw, and an ONNX export: mgc's
``--model fast`` (``mgc_model/student.py``) is this script's export, made by

    scripts/build_real_music_corpus.sh CORPUS; scripts/fetch_unlabelled_audio.sh EXTRA
    python scripts/distill_student.py CORPUS --cache DIR --extra EXTRA \
        --export mgc_model/data/fast-student.onnx

(about 35 minutes for the teacher's outputs and 30 for the training on a 2-core CPU).

What the student reproduces, from the musicnn log-mel patch alone: MSD_musicnn's and
MTT_musicnn's 100 tag probabilities, YAMNet's speech-without-music probability (the Spoken
gate) and the 400-value embedding. Its genre scores are then the default model's own mapping
of those (``genres.tags_to_genre_scores``, ``mapping.spoken_gate``, the per-track sharpening),
so what it is measured on is the genre the default model would give.

The student also has a genre head of its own, fitted to the teacher's per-window genre
distribution (the mapping's output after the Spoken gate, matched as centred log-probabilities,
which weighs the small genres' ratios as the argmax of a track's mean does); its genres are
measured both ways (the mapping's way has kept the teacher's top genre more often).

Stages (each reuses the cache of the one before):
  teacher  decode every recording of CORPUS (its LABELS.csv: genre, source) and every audio
           file under each --extra folder (unlabelled: Debian game music from
           scripts/fetch_unlabelled_audio.sh; a file's family is its first folder there, a
           long file gives up to SEGMENTS clips of 30 s), cut windows, and score them with
           the teacher, as is and in augmented copies (gain, tilt EQ, speed (pitch and tempo
           together), added noise, another recording mixed in): CACHE/*.npz
  train    fit the student on the windows of the training sources
  measure  on the held-out sources' original recordings: the teacher's top genre kept (per
           track), genre accuracy and calibration error (5 bins) of both against LABELS.csv,
           embedding neighbours shared

  export   the student as an ONNX graph of its tags and embedding, with a reference

Usage: python scripts/distill_student.py CORPUS --cache DIR [--extra DIR ...]
           [--stage teacher|train|measure|export|all] [--export ONNX] [--epochs N]
           [--channels 20,40,80,160]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np
from scipy.signal import lfilter
from scipy.special import softmax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AUGMENTS = 3  # augmented copies of each labelled training recording
EXTRA_AUGMENTS = 1  # and of each unlabelled clip
SEGMENTS = 6  # 30 s clips at most from one unlabelled file, spread over it
CLIP_S = 30
AUDIO = (".ogg", ".mp3", ".flac", ".opus", ".wav")
MIN_BYTES = 400_000  # smaller files in game packages are sound effects
# The sources never trained on: a quarter of the source families (a package: 'mma', 'music21',
# 'wesnoth-1.16-music' ...), by a stable hash: Wesnoth's orchestral score, Colobot's and
# HyperRogue's game music, eSpeak NG's and two Asterisk languages' speech (42 recordings).
HOLD_OUT_EVERY, HOLD_OUT = 4, 2
SR = 16000  # musicnn's and YAMNet's rate
CHANNELS = (20, 40, 80, 160)  # the student's convolution blocks (the shipped one)
REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "data" / "fast_student_reference.npz"


def held_out(source: str) -> bool:
    family = source.split()[0]  # 'mma groove Salsa + fluid-soundfont-gm' -> 'mma'
    return zlib.crc32(family.encode()) % HOLD_OUT_EVERY == HOLD_OUT


def recordings(corpus: Path) -> list[dict]:
    with open(corpus / "LABELS.csv", encoding="utf-8") as f:
        return [{"path": str(corpus / row["path"]), "genre": row["genre"],
                 "source": row["source"]} for row in csv.DictReader(f)]


def unlabelled(folder: Path) -> list[dict]:
    """Audio files of MIN_BYTES or more under FOLDER, each of the family of its first folder."""
    return [{"path": str(p), "genre": "", "source": p.relative_to(folder).parts[0]}
            for p in sorted(folder.rglob("*"))
            if p.suffix.lower() in AUDIO and p.stat().st_size >= MIN_BYTES]


def segments(audio: np.ndarray) -> list[np.ndarray]:
    """Up to SEGMENTS clips of CLIP_S from a long recording, spread evenly over it."""
    n = CLIP_S * SR
    if audio.size <= n * 1.5:
        return [audio]
    count = min(SEGMENTS, audio.size // n)
    starts = np.linspace(0, audio.size - n, count).astype(int)
    return [audio[s:s + n] for s in starts]


def decode(path: str) -> np.ndarray:
    from pipelines.audio.decode import AudioReader, mono_blocks

    with AudioReader(path) as reader:
        return np.concatenate(list(mono_blocks(reader, SR)))


def augment(audio: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Speed (+-12%), gain (+-9 dB), a first-order tilt EQ, white noise at 20-40 dB SNR, and
    half the time another source's recording mixed in 6-15 dB below."""
    import soxr

    # speed: resampled and played at the old rate, so pitch and tempo move together (+-12%)
    out = soxr.resample(audio, SR, SR * rng.uniform(0.88, 1.12)).astype(np.float32)
    out = out * 10 ** (rng.uniform(-9, 9) / 20)
    a = rng.uniform(-0.6, 0.6)  # tilt: a first-order shelving of the highs or the lows
    out = lfilter([1 - abs(a), a], [1.0], out).astype(np.float32)
    power = float(np.mean(out ** 2)) + 1e-12
    out = out + rng.normal(0, np.sqrt(power / 10 ** (rng.uniform(20, 40) / 10)), out.shape)
    if rng.random() < 0.5 and other.size:
        mix = np.resize(other, out.shape) * np.sqrt(power / (np.mean(other ** 2) + 1e-12))
        out = out + mix * 10 ** (-rng.uniform(6, 15) / 20)
    return np.clip(out, -1, 1).astype(np.float32)


def windows(audio: np.ndarray, frontends) -> tuple[np.ndarray, np.ndarray]:
    from mgc_model.frontend import WindowCutter

    cutter = WindowCutter(frontends, duration_s=audio.size / SR)
    cut = [*cutter.push(audio), *cutter.finish()]
    return np.stack([w[0] for w in cut]), np.stack([w[1] for w in cut])


def teacher(corpus: Path, cache: Path, extra: list[Path]) -> None:
    from mgc_model import registry

    model = registry.load(registry.DEFAULT_MODEL)
    rows = recordings(corpus)
    jobs = [(f"{i:04d}", row, AUGMENTS) for i, row in enumerate(rows)]
    for folder in extra:
        jobs += [(f"x{zlib.crc32(row['path'].encode()):08x}", row, EXTRA_AUGMENTS)
                 for row in unlabelled(folder)]
    mixers = [r for r in rows if not held_out(r["source"])]
    started = time.time()
    for n, (stem, row, augments) in enumerate(jobs):
        if (cache / f"{stem}.npz").exists() or (cache / f"{stem}-0.npz").exists():
            continue
        # seeded per recording: an interrupted or widened run caches the same copies
        rng = np.random.default_rng(zlib.crc32(stem.encode()))
        others = [r for r in mixers if r["source"] != row["source"]]
        clips = segments(decode(row["path"]))
        for k, audio in enumerate(clips):
            copies = [audio]
            if not held_out(row["source"]):
                for _ in range(augments):
                    other = decode(others[rng.integers(len(others))]["path"])
                    copies.append(augment(audio, other, rng))
            arrays: dict[str, list[np.ndarray]] = {
                key: [] for key in ("mel", "msd", "mtt", "spoken", "emb", "copy")}
            for c, copy in enumerate(copies):
                mel, yam = windows(copy, model.info.frontends)
                msd, mtt, emb = model.tags(mel)
                spoken = model.audioset(yam)[:, -1]
                for key, v in (("mel", mel), ("msd", msd), ("mtt", mtt), ("spoken", spoken),
                               ("emb", emb), ("copy", np.full(len(mel), c))):
                    arrays[key].append(v)
            name = stem if len(clips) == 1 and stem[0] != "x" else f"{stem}-{k}"
            np.savez_compressed(cache / f"{name}.npz",
                                **{key: np.concatenate(v) for key, v in arrays.items()}, **row)
        print(f"[{time.time() - started:6.0f} s] {n + 1}/{len(jobs)} {row['path']} "
              f"({len(clips)} clips)", flush=True)


def load(cache: Path, training: bool) -> dict[str, np.ndarray]:
    parts: dict[str, list] = {}
    from mgc_model import genres, mapping

    for f in sorted(cache.glob("[0-9x]*.npz")):  # the recordings, not emb_norm.npz
        z = np.load(f)
        if held_out(str(z["source"])) == training:
            continue
        keep = z["copy"] >= 0 if training else z["copy"] == 0
        for k in ("mel", "msd", "mtt", "spoken", "emb"):
            parts.setdefault(k, []).append(z[k][keep])
        parts.setdefault("genres", []).append(mapping.spoken_gate(
            genres.tags_to_genre_scores(z["msd"][keep], z["mtt"][keep]), z["spoken"][keep]))
        parts.setdefault("track", []).extend([f.stem] * int(keep.sum()))
        parts.setdefault("genre", []).extend([str(z["genre"])] * int(keep.sum()))
    return {k: np.concatenate(v) if k not in ("track", "genre") else np.array(v)
            for k, v in parts.items()}


def centred_mse(log_p, logits):
    """Logit matching: the teacher's log-probabilities and the student's logits, each less its
    mean over the genres (a softmax ignores a shift), compared by mean squared error."""
    from keras import ops

    centre = lambda v: v - ops.mean(v, axis=-1, keepdims=True)  # noqa: E731
    return ops.mean(ops.square(centre(log_p) - centre(logits)), axis=-1)


def build_student(channels: tuple[int, ...] = CHANNELS):
    import keras
    from keras import layers

    x = keras.Input(shape=(187, 96), name="log_mel")
    h = layers.Reshape((187, 96, 1))(x)
    h = layers.BatchNormalization()(h)
    for width in channels:
        h = layers.Conv2D(width, 3, padding="same", use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.ReLU()(h)
        h = layers.MaxPooling2D(2)(h)
    h = layers.Concatenate()([layers.GlobalAveragePooling2D()(h), layers.GlobalMaxPooling2D()(h)])
    h = layers.Dense(256, activation="relu")(h)
    outputs = {"tags": layers.Dense(101, activation="sigmoid", name="tags")(h),
               "emb": layers.Dense(400, name="emb")(h),
               "genre": layers.Dense(16, name="genre")(h)}  # logits, FMA_GENRES order
    return keras.Model(x, outputs, name="student")


def train(cache: Path, epochs: int, channels: tuple[int, ...]) -> None:
    import keras

    from mgc_model.musicnn import layer_flops

    data = load(cache, training=True)
    tags = np.concatenate([data["msd"], data["mtt"], data["spoken"][:, None]], axis=1)
    mean, std = data["emb"].mean(0), data["emb"].std(0) + 1e-6
    np.savez(cache / "emb_norm.npz", mean=mean, std=std)
    # the same weights from the same cache: seeded initialisation and shuffling, and
    # TensorFlow's deterministic kernels
    keras.utils.set_random_seed(0)
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    model = build_student(channels)
    gflop = sum(layer_flops(model).values()) / 1e9
    print(f"student: {model.count_params()} parameters, {gflop:.3f} GFLOP a window")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss={"tags": "binary_crossentropy", "emb": "mse", "genre": centred_mse},
                  loss_weights={"tags": 10.0, "emb": 1.0, "genre": 1.0})
    print(f"{len(data['mel'])} training windows from {len(set(data['track']))} clips")
    schedule = keras.callbacks.LearningRateScheduler(
        lambda epoch: 1e-3 * 0.5 * (1 + np.cos(np.pi * epoch / epochs)))
    model.fit(data["mel"], {"tags": tags, "emb": (data["emb"] - mean) / std,
                            "genre": np.log(np.maximum(data["genres"], 1e-6))},
              batch_size=64, epochs=epochs, shuffle=True, verbose=2, callbacks=[schedule])
    model.save(cache / "student.keras")


def genre_scores(per_window, tracks) -> dict[str, np.ndarray]:
    """Per track: the default model's genre scores from its windows' genre distributions."""
    from mgc_model import mapping, pretrained

    out = {}
    for track in np.unique(tracks):
        mean = per_window[tracks == track].mean(0)
        out[track] = mapping.sharpen(mean, pretrained.DEFAULT_INFO.track_temperature)
    return out


def measure(cache: Path) -> dict:
    import keras

    from mgc_model import metrics, student
    from mgc_model.genres import FMA_GENRES
    from mgc_model.musicnn import layer_flops
    from scripts.compare_runs import shared_neighbours

    data = load(cache, training=False)
    model = keras.models.load_model(cache / "student.keras",
                                    custom_objects={"centred_mse": centred_mse})
    norm = np.load(cache / "emb_norm.npz")
    predicted = model.predict(data["mel"], batch_size=64, verbose=0)
    tags, emb = predicted["tags"], predicted["emb"] * norm["std"] + norm["mean"]
    teacher = genre_scores(data["genres"], data["track"])
    via_tags = genre_scores(student.genre_scores(tags), data["track"])
    own_head = genre_scores(softmax(predicted["genre"], axis=1), data["track"])
    truth = {t: g for t, g in zip(data["track"], data["genre"], strict=True)}
    tracks = sorted(teacher)
    labelled = [t for t in tracks if truth[t]]

    def kept_from(scores, among):  # the share of tracks whose top genre is the teacher's
        return np.mean([np.argmax(teacher[t]) == np.argmax(scores[t]) for t in among])

    kept, kept_labelled = kept_from(own_head, tracks), kept_from(own_head, labelled)
    kept_via_tags = kept_from(via_tags, tracks)
    kept_via_tags_labelled = kept_from(via_tags, labelled)
    right = {name: np.mean([FMA_GENRES[np.argmax(s[t])] == truth[t] for t in labelled])
             for name, s in (("teacher", teacher), ("student", own_head),
                             ("student_via_tags", via_tags))}
    ece = {name: metrics.reliability(
        np.array([s[t].max() for t in labelled]),
        np.array([FMA_GENRES[np.argmax(s[t])] == truth[t] for t in labelled]), n_bins=5)["ece"]
        for name, s in (("teacher", teacher), ("student_via_tags", via_tags))}
    def means(e):  # a track's embedding: the mean of its windows'
        return np.stack([e[data["track"] == t].mean(0) for t in tracks])

    shared, k = shared_neighbours(means(data["emb"]), means(emb))
    result = {"held_out_clips": len(tracks), "labelled": len(labelled),
              "top_genre_kept": float(kept), "top_genre_kept_labelled": float(kept_labelled),
              "top_genre_kept_via_tags": float(kept_via_tags),
              "top_genre_kept_via_tags_labelled": float(kept_via_tags_labelled),
              "accuracy_teacher": float(right["teacher"]),
              "accuracy_student": float(right["student"]),
              "accuracy_student_via_tags": float(right["student_via_tags"]),
              "calibration_error": {name: float(v) for name, v in ece.items()},
              "neighbours_shared_of": [shared, k],
              "student_gflop": sum(layer_flops(model).values()) / 1e9}
    print(json.dumps(result, indent=1))
    (cache / "fidelity.json").write_text(json.dumps(result, indent=1))
    return result


def export(cache: Path, target: Path) -> None:
    """The trained student as an ONNX graph of its tags and its embedding (de-normalised inside
    the graph), its SHA-256 printed, and its outputs on the musicnn reference windows
    (tests/data/musicnn_reference.npz) written for tests/test_student.py to pin (REFERENCE)."""
    import hashlib

    import keras
    from keras import layers

    model = keras.models.load_model(cache / "student.keras",
                                    custom_objects={"centred_mse": centred_mse})
    norm = np.load(cache / "emb_norm.npz")
    mean, std = norm["mean"].astype(np.float32), norm["std"].astype(np.float32)
    x = keras.Input(shape=(187, 96), name="log_mel")
    out = model(x)
    shipped = keras.Model(x, {  # genres come from the tags, as the teacher's do (measure)
        "tags": layers.Identity(name="tags")(out["tags"]),
        "emb": layers.Lambda(lambda e: e * std + mean, name="emb")(out["emb"])})
    with np.load(REFERENCE.with_name("musicnn_reference.npz")) as z:
        probe = z["inputs"]
    expected = shipped.predict(probe, verbose=0)
    target.parent.mkdir(parents=True, exist_ok=True)
    shipped.export(str(target), format="onnx", verbose=False)
    import onnxruntime as ort

    session = ort.InferenceSession(str(target))
    got = dict(zip([o.name for o in session.get_outputs()],
                   session.run(None, {session.get_inputs()[0].name: probe}), strict=True))
    worst = max(float(np.abs(got[k] - expected[k]).max()) for k in expected)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    np.savez_compressed(REFERENCE, **got)
    print(f"{target}: {target.stat().st_size / 1e6:.2f} MB, outputs {sorted(got)}, "
          f"largest difference from Keras {worst:.2e}, SHA-256 {digest}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--stage", choices=("teacher", "train", "measure", "export", "all"),
                        default="all")
    parser.add_argument("--export", type=Path, metavar="ONNX",
                        help="with --stage export or all: write the shipped graph here")
    parser.add_argument("--extra", type=Path, action="append", default=[],
                        help="a folder of unlabelled audio, one family per first folder")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--channels", default=",".join(map(str, CHANNELS)),
                        help="the convolution blocks' widths (default %(default)s)")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.stage in ("teacher", "all"):
        teacher(args.corpus, args.cache, args.extra)
    if args.stage in ("train", "all"):
        train(args.cache, args.epochs, tuple(int(c) for c in args.channels.split(",")))
    if args.stage in ("measure", "all"):
        measure(args.cache)
    if args.stage in ("export", "all") and args.export:
        export(args.cache, args.export)
    return 0


if __name__ == "__main__":
    sys.exit(main())
