"""Run the pretrained genre tagger over a folder of labelled real music and report how it does.

Why: tests of ``mgc_model.genres`` use synthetic tag vectors; only real recordings show whether
the tag-to-genre mapping and its calibration call orchestral music Classical and stop calling
everything Rock. The corpus comes from ``scripts/build_real_music_corpus.sh`` (labels in
LABELS.csv); any folder of ``<Genre>/<file>`` works too (labels from folder names).

Per file: expected genre, predicted top-3 genres with scores, top-5 raw MSD and MTT tags. Then
accuracy, confusion counts and how many files were called Rock for three ways of reading the
tags: a naive weighted sum of raw probabilities, the shipped formula without calibration
(``calibrated=False``) and the shipped formula with the tag priors.
``--print-priors`` measures the priors instead (see ``genres.MSD_PRIOR``).

Raw per-patch tags are cached next to the corpus (``.tag_cache/``), so re-running after a
change to genres.py takes a second.

    .venv/bin/python scripts/check_real_music.py [FOLDER] [--min-confidence medium]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mgc_model import genres  # noqa: E402
from mgc_model.musicnn import MSD_LABELS, MTT_LABELS  # noqa: E402

AUDIO_SUFFIXES = {".flac", ".ogg", ".opus", ".mp3", ".wav", ".aiff", ".aif"}
CONFIDENCE = {"low": 0, "medium": 1, "high": 2}


@dataclass
class Clip:
    path: Path
    genre: str
    confidence: str = "high"
    source: str = ""


def load_clips(root: Path) -> list[Clip]:
    """Clips from LABELS.csv when the folder has one, else ``<Genre>/<file>`` folder names."""
    labels = root / "LABELS.csv"
    if labels.exists():
        with labels.open(newline="", encoding="utf-8") as f:
            return [
                Clip(root / row["path"], row["genre"], row.get("confidence") or "high",
                     row.get("source", ""))
                for row in csv.DictReader(f)
            ]
    return [
        Clip(p, p.parent.name)
        for p in sorted(root.rglob("*"))
        if p.suffix.lower() in AUDIO_SUFFIXES and p.parent != root and ".tag_cache" not in p.parts
    ]


class Tagger:
    """Both musicnn nets over the shared front-end; loaded lazily (TensorFlow start-up is slow)."""

    def __init__(self) -> None:
        from mgc_model.frontend import FrontendConfig
        from mgc_model.musicnn import load_musicnn

        self.cfg = FrontendConfig()
        self.msd = load_musicnn("MSD_musicnn")
        self.mtt = load_musicnn("MTT_musicnn")

    def tags(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        """Per-patch sigmoid tags (n, 50) of both models for one audio file."""
        import soundfile as sf
        import soxr

        from mgc_model.frontend import log_mel, patches

        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        mono = audio.mean(axis=1)
        if rate != self.cfg.sample_rate:
            mono = soxr.resample(mono, rate, self.cfg.sample_rate).astype(np.float32)
        x = patches(log_mel(mono, self.cfg), self.cfg)
        msd = self.msd(x, training=False)["tags"]
        mtt = self.mtt(x, training=False)["tags"]
        return np.asarray(msd, dtype=np.float32), np.asarray(mtt, dtype=np.float32)


def cached_tags(clips: list[Clip], root: Path) -> dict[Path, tuple[np.ndarray, np.ndarray]]:
    """Raw tags per clip, from ``root/.tag_cache`` when the audio file has not changed."""
    tagger: Tagger | None = None
    out = {}
    for i, clip in enumerate(clips):
        stat = clip.path.stat()
        key = f"{stat.st_size}-{stat.st_mtime_ns}"
        cache = root / ".tag_cache" / (str(clip.path.relative_to(root)) + ".npz")
        if cache.exists():
            with np.load(cache) as data:
                if str(data["key"]) == key:
                    out[clip.path] = (data["msd"], data["mtt"])
                    continue
        if tagger is None:
            tagger = Tagger()
        print(f"  tagging {i + 1}/{len(clips)} {clip.path.name}", file=sys.stderr)
        msd, mtt = tagger.tags(clip.path)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, key=key, msd=msd, mtt=mtt)
        out[clip.path] = (msd, mtt)
    return out


def track_scores(msd: np.ndarray, mtt: np.ndarray, calibrated: bool) -> np.ndarray:
    """Per-track genre distribution: the mean of the per-patch ones, as the pipeline does."""
    return genres.tags_to_genre_scores(msd, mtt, calibrated=calibrated).mean(axis=0)


def top_tags(tags: np.ndarray, labels: list[str], k: int = 5) -> str:
    mean = tags.mean(axis=0)
    return ", ".join(f"{labels[i]} {mean[i]:.2f}" for i in np.argsort(-mean)[:k])


def summarise(name: str, clips: list[Clip], predicted: dict[Path, str]) -> None:
    """Accuracy, per-genre recall, confusion counts and the number of files called Rock."""
    hits = sum(predicted[c.path] == c.genre for c in clips)
    rock = sum(predicted[c.path] == "Rock" for c in clips)
    true_rock = sum(c.genre == "Rock" for c in clips)
    confusion: dict[str, Counter] = defaultdict(Counter)
    for c in clips:
        confusion[c.genre][predicted[c.path]] += 1
    # Mean per-genre recall: the corpus is unbalanced (many Classical clips), this is not.
    balanced = np.mean([row[g] / sum(row.values()) for g, row in confusion.items()])
    print(f"\n== {name}: accuracy {hits}/{len(clips)} = {hits / max(len(clips), 1):.0%}, "
          f"balanced {balanced:.0%}; called Rock: {rock} (truly Rock: "
          f"{sum(predicted[c.path] == 'Rock' and c.genre == 'Rock' for c in clips)} "
          f"of {true_rock})")
    calls = Counter(predicted[c.path] for c in clips)
    print("  predicted: " + ", ".join(f"{g} {n}" for g, n in calls.most_common()))
    for genre in sorted(confusion):
        row = confusion[genre]
        n = sum(row.values())
        calls = ", ".join(f"{g} {k}" for g, k in row.most_common())
        print(f"  {genre:<14} {row[genre]:>2}/{n:<2}  -> {calls}")


def print_priors(clips: list[Clip], tags: dict[Path, tuple[np.ndarray, np.ndarray]]) -> None:
    """Genre-balanced mean tag probability: mean over genres of the mean over their tracks of
    the mean over patches. Balancing keeps a corpus heavy in one style from setting the bar."""
    by_genre: dict[str, list[Path]] = defaultdict(list)
    for c in clips:
        by_genre[c.genre].append(c.path)
    for idx, (name, labels) in enumerate((("MSD_PRIOR", MSD_LABELS), ("MTT_PRIOR", MTT_LABELS))):
        per_genre = [
            np.mean([tags[p][idx].mean(axis=0) for p in paths], axis=0)
            for paths in by_genre.values()
        ]
        prior = np.mean(per_genre, axis=0)
        print(f"{name}: dict[str, float] = {{  # {len(by_genre)} genres, {len(clips)} tracks")
        line = "   "
        for label, value in zip(labels, prior, strict=True):
            item = f' "{label}": {value:.4f},'
            if len(line) + len(item) > 99:
                print(line)
                line = "   "
            line += item
        print(line)
        print("}  # fmt: skip")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="/work/realmusic", type=Path)
    parser.add_argument("--min-confidence", choices=list(CONFIDENCE), default="low",
                        help="only clips whose label confidence is at least this")
    parser.add_argument("--print-priors", action="store_true",
                        help="measure genre-balanced mean tag probabilities and print them")
    parser.add_argument("--quiet", action="store_true", help="summary only, no per-file lines")
    args = parser.parse_args(argv)

    root = args.folder.resolve()
    clips = [c for c in load_clips(root)
             if CONFIDENCE.get(c.confidence, 2) >= CONFIDENCE[args.min_confidence]]
    if not clips:
        parser.error(f"no labelled audio under {root}")
    unknown = sorted({c.genre for c in clips} - set(genres.FMA_GENRES))
    if unknown:
        parser.error(f"labels outside the FMA vocabulary: {unknown}")
    tags = cached_tags(clips, root)
    if args.print_priors:
        print_priors(clips, tags)
        return 0

    naive: dict[Path, str] = {}
    before: dict[Path, str] = {}
    after: dict[Path, str] = {}
    weights = genres.tag_weight_matrix()
    for c in clips:
        msd, mtt = tags[c.path]
        raw = track_scores(msd, mtt, calibrated=False)
        scores = track_scores(msd, mtt, calibrated=True)
        summed = (np.concatenate([msd, mtt], axis=1) @ weights).mean(axis=0)
        naive[c.path] = genres.FMA_GENRES[int(np.argmax(summed))]
        before[c.path] = genres.FMA_GENRES[int(np.argmax(raw))]
        after[c.path] = genres.FMA_GENRES[int(np.argmax(scores))]
        if args.quiet:
            continue
        top3 = ", ".join(f"{genres.FMA_GENRES[i]} {scores[i]:.2f}"
                         for i in np.argsort(-scores)[:3])
        mark = "ok " if after[c.path] == c.genre else "BAD"
        print(f"{mark} {c.path.relative_to(root)}  [{c.genre}, {c.confidence}]")
        print(f"      predicted: {top3}   (uncalibrated: {before[c.path]})")
        print(f"      MSD: {top_tags(msd, MSD_LABELS)}")
        print(f"      MTT: {top_tags(mtt, MTT_LABELS)}")
    summarise("naive baseline: sum of raw tag probabilities per genre", clips, naive)
    summarise("before calibration: strongest raw tag per genre", clips, before)
    summarise("after calibration: strongest tag lift (tag / prior) per genre", clips, after)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
