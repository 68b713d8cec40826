"""A first distillation of the default model into a small network (issue 24): the teacher's
outputs cached over the check corpus widened by augmentation, a student trained to reproduce
them, and its fidelity on sources it never saw. A measuring tool, not yet a shipped model.

What the student reproduces, from the musicnn log-mel patch alone: MSD_musicnn's and
MTT_musicnn's 100 tag probabilities, YAMNet's speech-without-music probability (the Spoken
gate) and the 400-value embedding. Its genre scores are then the default model's own mapping
of those (``genres.tags_to_genre_scores``, ``mapping.spoken_gate``, the per-track sharpening),
so what it is measured on is the genre the default model would give.

Stages (each reuses the cache of the one before):
  teacher  decode every recording of CORPUS (its LABELS.csv: genre, source), cut windows,
           and score them with the teacher, as is and in AUGMENTS augmented copies (gain,
           tilt EQ, added noise, another recording of another source mixed in): CACHE/*.npz
  train    fit the student on the windows of the training sources
  measure  on the held-out sources' original recordings: the teacher's top genre kept (per
           track), genre accuracy of both against LABELS.csv, embedding neighbours shared

Usage: python scripts/distill_student.py CORPUS --cache DIR [--stage teacher|train|measure|all]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AUGMENTS = 3  # augmented copies of each training recording
# The sources never trained on: a quarter of the source families (a package: 'mma', 'music21',
# 'wesnoth-1.16-music' ...), by a stable hash: Wesnoth's orchestral score, Colobot's and
# HyperRogue's game music, eSpeak NG's and two Asterisk languages' speech (42 recordings).
HOLD_OUT_EVERY, HOLD_OUT = 4, 2
SR = 16000  # musicnn's and YAMNet's rate
CHANNELS = (16, 32, 64, 128)  # the student's convolution blocks


def held_out(source: str) -> bool:
    family = source.split()[0]  # 'mma groove Salsa + fluid-soundfont-gm' -> 'mma'
    return zlib.crc32(family.encode()) % HOLD_OUT_EVERY == HOLD_OUT


def recordings(corpus: Path) -> list[dict]:
    with open(corpus / "LABELS.csv", encoding="utf-8") as f:
        return [{"path": str(corpus / row["path"]), "genre": row["genre"],
                 "source": row["source"]} for row in csv.DictReader(f)]


def decode(path: str) -> np.ndarray:
    from pipelines.audio.decode import AudioReader, mono_blocks

    with AudioReader(path) as reader:
        return np.concatenate(list(mono_blocks(reader, SR)))


def augment(audio: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gain (+-9 dB), a first-order tilt EQ, white noise at 20-40 dB SNR, and half the time
    another source's recording mixed in 6-15 dB below."""
    out = audio * 10 ** (rng.uniform(-9, 9) / 20)
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


def teacher(corpus: Path, cache: Path) -> None:
    from mgc_model import registry

    model = registry.load(registry.DEFAULT_MODEL)
    rows = recordings(corpus)
    rng = np.random.default_rng(0)
    started = time.time()
    for i, row in enumerate(rows):
        out = cache / f"{i:04d}.npz"
        if out.exists():
            continue
        audio = decode(row["path"])
        copies = [audio]
        if not held_out(row["source"]):
            others = [r for r in rows if r["source"] != row["source"]
                      and not held_out(r["source"])]
            for _ in range(AUGMENTS):
                other = decode(others[rng.integers(len(others))]["path"])
                copies.append(augment(audio, other, rng))
        arrays: dict[str, list[np.ndarray]] = {k: [] for k in
                                                ("mel", "msd", "mtt", "spoken", "emb", "copy")}
        for c, copy in enumerate(copies):
            mel, yam = windows(copy, model.info.frontends)
            msd, mtt, emb = model.tags(mel)
            spoken = model.audioset(yam)[:, -1]
            for k, v in (("mel", mel), ("msd", msd), ("mtt", mtt), ("spoken", spoken),
                         ("emb", emb), ("copy", np.full(len(mel), c))):
                arrays[k].append(v)
        np.savez_compressed(out, **{k: np.concatenate(v) for k, v in arrays.items()},
                            **row)
        print(f"[{time.time() - started:6.0f} s] {i + 1}/{len(rows)} {row['path']}",
              flush=True)


def load(cache: Path, training: bool) -> dict[str, np.ndarray]:
    parts: dict[str, list] = {}
    for f in sorted(cache.glob("[0-9]*.npz")):  # the recordings, not emb_norm.npz
        z = np.load(f)
        if held_out(str(z["source"])) == training:
            continue
        keep = z["copy"] >= 0 if training else z["copy"] == 0
        for k in ("mel", "msd", "mtt", "spoken", "emb"):
            parts.setdefault(k, []).append(z[k][keep])
        parts.setdefault("track", []).extend([f.stem] * int(keep.sum()))
        parts.setdefault("genre", []).extend([str(z["genre"])] * int(keep.sum()))
    return {k: np.concatenate(v) if k not in ("track", "genre") else np.array(v)
            for k, v in parts.items()}


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
               "emb": layers.Dense(400, name="emb")(h)}
    return keras.Model(x, outputs, name="student")


def flops(model) -> float:
    """Multiply-adds x 2 of the convolutions and dense layers for one window."""
    total = 0.0
    for layer in model.layers:
        if layer.__class__.__name__ == "Conv2D":
            _, h, w, c = layer.output.shape
            total += 2 * h * w * c * np.prod(layer.kernel.shape[:3])
        elif layer.__class__.__name__ == "Dense":
            total += 2 * np.prod(layer.kernel.shape)
    return total


def train(cache: Path, epochs: int, channels: tuple[int, ...]) -> None:
    import keras

    data = load(cache, training=True)
    tags = np.concatenate([data["msd"], data["mtt"], data["spoken"][:, None]], axis=1)
    mean, std = data["emb"].mean(0), data["emb"].std(0) + 1e-6
    np.savez(cache / "emb_norm.npz", mean=mean, std=std)
    model = build_student(channels)
    print(f"student: {model.count_params()} parameters, {flops(model) / 1e9:.3f} GFLOP a window")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss={"tags": "binary_crossentropy", "emb": "mse"},
                  loss_weights={"tags": 10.0, "emb": 1.0})
    keras.utils.set_random_seed(0)
    model.fit(data["mel"], {"tags": tags, "emb": (data["emb"] - mean) / std},
              batch_size=32, epochs=epochs, shuffle=True, verbose=2)
    model.save(cache / "student.keras")


def genre_scores(msd, mtt, spoken, tracks) -> dict[str, np.ndarray]:
    """Per track: the default model's genre scores from these window outputs."""
    from mgc_model import genres, mapping, pretrained

    per_window = mapping.spoken_gate(genres.tags_to_genre_scores(msd, mtt), spoken)
    out = {}
    for track in np.unique(tracks):
        mean = per_window[tracks == track].mean(0)
        out[track] = mapping.sharpen(mean, pretrained.DEFAULT_INFO.track_temperature)
    return out


def measure(cache: Path) -> dict:
    import keras

    from mgc_model.genres import FMA_GENRES

    data = load(cache, training=False)
    model = keras.models.load_model(cache / "student.keras")
    norm = np.load(cache / "emb_norm.npz")
    predicted = model.predict(data["mel"], batch_size=64, verbose=0)
    tags, emb = predicted["tags"], predicted["emb"] * norm["std"] + norm["mean"]
    teacher = genre_scores(data["msd"], data["mtt"], data["spoken"], data["track"])
    student = genre_scores(tags[:, :50], tags[:, 50:100], tags[:, 100], data["track"])
    truth = {t: g for t, g in zip(data["track"], data["genre"], strict=True)}
    tracks = sorted(teacher)
    kept = np.mean([np.argmax(teacher[t]) == np.argmax(student[t]) for t in tracks])
    right = {name: np.mean([FMA_GENRES[np.argmax(s[t])] == truth[t] for t in tracks])
             for name, s in (("teacher", teacher), ("student", student))}
    # embedding neighbours: per track mean, cosine, 10 nearest shared
    def means(e):
        m = np.stack([e[data["track"] == t].mean(0) for t in tracks])
        return m / np.linalg.norm(m, axis=1, keepdims=True)
    a, b = means(data["emb"]), means(emb)
    k = min(10, len(tracks) - 1)
    na = np.argsort(-(a @ a.T), axis=1)[:, 1:k + 1]
    nb = np.argsort(-(b @ b.T), axis=1)[:, 1:k + 1]
    shared = np.mean([len(set(x) & set(y)) for x, y in zip(na, nb, strict=True)])
    result = {"held_out_tracks": len(tracks), "top_genre_kept": float(kept),
              "accuracy_teacher": float(right["teacher"]),
              "accuracy_student": float(right["student"]),
              "neighbours_shared_of": [float(shared), k],
              "student_gflop": flops(model) / 1e9}
    print(json.dumps(result, indent=1))
    (cache / "fidelity.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--stage", choices=("teacher", "train", "measure", "all"),
                        default="all")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--channels", default=",".join(map(str, CHANNELS)),
                        help="the convolution blocks' widths (default %(default)s)")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.stage in ("teacher", "all"):
        teacher(args.corpus, args.cache)
    if args.stage in ("train", "all"):
        train(args.cache, args.epochs, tuple(int(c) for c in args.channels.split(",")))
    if args.stage in ("measure", "all"):
        measure(args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
