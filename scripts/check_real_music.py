"""Measure the pretrained genre models on a folder of labelled real music.

Why: the default model's mapping (``mgc_model/mapping.py``) must be judged on real recordings
of known style, with every fitted number (priors, source weights, the write-back threshold)
fitted without the clips it is scored on. The corpus comes from
``scripts/build_real_music_corpus.sh`` (LABELS.csv: path, genre, source, ...); any folder of
``<Genre>/<file>`` works too (labels from folder names, each folder its own source).

What it reports, per candidate combination of networks (MSD, MSD+MTT, YAMNet, MSD+YAMNet,
all three) and for today's musicnn-only model: accuracy, balanced accuracy (mean per-genre
recall), per-genre recall, confusion matrix, expected calibration error, GFLOP per analysis
window; all with leave-one-source-out cross-validation: the clips of each source are scored
by priors, weights and temperature fitted on the other sources only. Both musicnn models are
also scored with the tag priors as shipped (``genres.MSD_PRIOR``/``MTT_PRIOR``), which were
measured on 79 of the corpus's clips and so are partly in-sample. Then, for the chosen
candidate, the lowest ``--min-score`` whose written genres are right at least 9 times in 10,
and the share of files it writes, from the same cross-validated scores.

``--fit`` prints the default's temperature fitted on the whole corpus, for mapping.py.
``--check-runtime`` reruns musicnn with the product's onnxruntime graph and compares it with
the cached outputs of the Keras port in TensorFlow: a speed-up must keep the top genre.
``--out DIR`` writes figures.json, a reliability diagram and the confusion matrices as PNG.

Raw per-window network outputs are cached next to the corpus (``.evidence_cache/``), so a
re-run after a change to mapping.py takes seconds.

    .venv/bin/python scripts/check_real_music.py [FOLDER] [--out DIR] [--fit]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mgc_model import genres, mapping, metrics, yamnet  # noqa: E402
from mgc_model.decision import CONFIDENT_SCORE  # noqa: E402
from mgc_model.frontend import FrontendConfig, budget_windows  # noqa: E402
from mgc_model.musicnn_checkpoints import MSD_LABELS, MTT_LABELS  # noqa: E402
from pipelines.graph.tag import DEFAULT_MAX_PATCHES  # noqa: E402

AUDIO_SUFFIXES = {".flac", ".ogg", ".opus", ".mp3", ".wav", ".aiff", ".aif"}
CANDIDATES = {
    "MSD": ("MSD",),
    "MSD+MTT": ("MSD", "MTT"),
    "YAMNet": ("YAMNet",),
    "MSD+YAMNet": ("MSD", "YAMNet"),
    "all three": ("MSD", "MTT", "YAMNet"),
}
# GFLOP per analysis window (3 s): musicnn over one patch (tf.profiler float_operation on
# the Keras port: 2.82 for each), YAMNet over its three.
GFLOP = {"MSD": 2.82, "MTT": 2.82, "YAMNet": 3 * yamnet.GFLOP_PER_PATCH}
TARGET_PRECISION = 0.9


@dataclass
class Clip:
    path: Path
    genre: str
    source: str


def source_family(source: str) -> str:
    """The fold a clip is held out with: every MIDI render of one renderer together (all MMA
    grooves, all music21 scores share the soundfont and the synthesiser), else its source."""
    return re.sub(r"^(mma groove|music21 corpus) \S+ \+ ", "MIDI rendered with ", source)


def load_clips(root: Path) -> list[Clip]:
    """Clips from LABELS.csv when the folder has one, else ``<Genre>/<file>`` folder names."""
    labels = root / "LABELS.csv"
    if labels.exists():
        with labels.open(newline="", encoding="utf-8") as f:
            return [Clip(root / row["path"], row["genre"],
                         source_family(row.get("source") or row["genre"]))
                    for row in csv.DictReader(f)]
    return [Clip(p, p.parent.name, p.parent.name) for p in sorted(root.glob("*/*"))
            if p.suffix.lower() in AUDIO_SUFFIXES and not p.parent.name.startswith(".")]


class Networks:
    """MSD_musicnn, MTT_musicnn (the Keras port, in TensorFlow) and YAMNet (int8 and float)
    over the pipeline's windows."""

    FRONTENDS = (FrontendConfig(), yamnet.FRONTEND)

    def __init__(self) -> None:
        import onnxruntime as ort

        from mgc_model.musicnn import load_musicnn

        self.frontends = self.FRONTENDS
        self.msd = load_musicnn("MSD_musicnn")
        self.mtt = load_musicnn("MTT_musicnn")
        self.yamnet = yamnet.Yamnet()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.yamnet_float = ort.InferenceSession(yamnet.load_graph("float"), options,
                                                 providers=["CPUExecutionProvider"])

    def outputs(self, path: Path) -> dict[str, np.ndarray]:
        from scipy.special import expit

        from pipelines.audio.windows import PatchStream
        from pipelines.graph.inference import stack_windows

        first, second = stack_windows(list(PatchStream(self.frontends).patches(str(path))))
        flat = second.reshape(-1, *second.shape[2:])
        n, k = second.shape[:2]
        float_logits = self.yamnet_float.run(None, {"audio": flat[:, None]})[0]
        return {
            "MSD": np.asarray(self.msd(first, training=False)["tags"], np.float32),
            "MTT": np.asarray(self.mtt(first, training=False)["tags"], np.float32),
            "YAMNet": self.yamnet(flat).reshape(n, k, -1).mean(axis=1),
            "YAMNet-float": expit(float_logits).reshape(n, k, -1).mean(axis=1),
        }


def cached_per_clip(clips: list[Clip], root: Path, folder: str,
                    analyser: Callable[[], Callable[[Path], dict[str, np.ndarray]]],
                    what: str = "analysing") -> dict[Path, dict[str, np.ndarray]]:
    """Per-window outputs per clip, from ``root/folder`` when the file is unchanged (its size
    and mtime), else from ``analyser()`` (built at the first clip that needs it) and cached."""
    analyse = None
    out = {}
    for i, clip in enumerate(clips):
        stat = clip.path.stat()
        key = f"{stat.st_size}-{stat.st_mtime_ns}"
        cache = root / folder / (str(clip.path.relative_to(root)) + ".npz")
        if cache.exists():
            with np.load(cache) as data:
                if str(data["key"]) == key:
                    out[clip.path] = {k: data[k] for k in data.files if k != "key"}
                    continue
        analyse = analyse or analyser()
        print(f"  {what} {i + 1}/{len(clips)} {clip.path.name}", file=sys.stderr)
        result = analyse(clip.path)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, key=key, **result)
        out[clip.path] = result
    return out


def cached_outputs(clips: list[Clip], root: Path) -> dict[Path, dict[str, np.ndarray]]:
    """Per-window outputs of every network per clip, cached in ``root/.evidence_cache``."""
    return cached_per_clip(clips, root, ".evidence_cache", lambda: Networks().outputs)


# --- the mapping, per source, with priors and weights given ----------------------------------

YAMNET_CLASSES = (*yamnet.class_names(), mapping.SPOKEN_WORD)
CLASSES = {"MSD": tuple(MSD_LABELS), "MTT": tuple(MTT_LABELS), "YAMNet": YAMNET_CLASSES}
TABLES = {s: mapping.class_table(s, c) for s, c in CLASSES.items()}


def source_probs(outputs: dict[str, np.ndarray], source: str, yamnet_key: str) -> np.ndarray:
    if source == "YAMNet":
        return mapping.with_spoken_word(outputs[yamnet_key], yamnet.class_names())
    return outputs[source]


def fit_priors(clips: list[Clip], outs, source: str, yamnet_key: str) -> np.ndarray:
    """Genre-balanced mean class probability: mean over genres of the mean over their clips
    of the mean over windows (as genres.MSD_PRIOR was measured)."""
    by_genre: dict[str, list[np.ndarray]] = defaultdict(list)
    for c in clips:
        by_genre[c.genre].append(source_probs(outs[c.path], source, yamnet_key).mean(axis=0))
    return np.mean([np.mean(v, axis=0) for v in by_genre.values()], axis=0).astype(np.float32)


def music_priors(clips: list[Clip], outs) -> np.ndarray:
    """musicnn's 100 tag priors measured as ``genres.MSD_PRIOR``/``MTT_PRIOR`` were (the
    genre-balanced mean output over music), on these clips only."""
    music = [c for c in clips if c.genre != "Spoken"]
    return np.concatenate([fit_priors(music, outs, s, "YAMNet") for s in ("MSD", "MTT")])


def folds(clips: list[Clip]):
    """Per source: the indices of its clips and the clips of every other source."""
    for held in sorted({c.source for c in clips}):
        yield ([i for i, c in enumerate(clips) if c.source == held],
               [c for c in clips if c.source != held])


def experts_of(sources) -> tuple[str, ...]:
    return tuple(dict.fromkeys(mapping.expert_of(s) for s in sources))


def log_evidence(outputs, sources, priors, yamnet_key: str) -> dict[str, np.ndarray]:
    probs = {s: source_probs(outputs, s, yamnet_key) for s in sources}
    out = {}
    for expert in experts_of(sources):
        mine = [s for s in sources if mapping.expert_of(s) == expert]
        out[expert] = np.log(np.maximum(mapping.expert_evidence(
            {s: probs[s] for s in mine}, {s: TABLES[s] for s in mine},
            {s: priors[s] for s in mine}), 1e-6))
    return out


def track_scores(outputs, sources, priors, weights, yamnet_key: str) -> np.ndarray:
    """The pipeline's track score: the mean over windows of the per-window distributions."""
    probs = {s: source_probs(outputs, s, yamnet_key) for s in sources}
    return mapping.genre_scores(probs, TABLES, priors, weights).mean(axis=0)


def fit_weights(clips, outs, sources, priors, yamnet_key: str) -> dict[str, float]:
    """Expert weights minimising the genre-balanced log-loss of the track scores."""
    from scipy.optimize import minimize

    experts = experts_of(sources)
    counts = Counter(c.genre for c in clips)
    balance = np.array([1.0 / counts[c.genre] for c in clips])
    truth = [genres.FMA_GENRES.index(c.genre) for c in clips]
    evidence = [log_evidence(outs[c.path], sources, priors, yamnet_key) for c in clips]

    def loss(theta):
        total = 0.0
        for ev, t, b in zip(evidence, truth, balance, strict=True):
            logits = sum(np.exp(th) * ev[e] for th, e in zip(theta, experts, strict=True))
            logits = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p = (p / p.sum(axis=1, keepdims=True)).mean(axis=0)
            total -= b * np.log(max(p[t], 1e-9))
        return total / balance.sum()

    best = minimize(loss, np.zeros(len(experts)), method="L-BFGS-B",
                    bounds=[(-4.0, 3.0)] * len(experts))
    return {e: float(np.exp(th)) for th, e in zip(best.x, experts, strict=True)}


def fitted(clips, outs, sources, yamnet_key):
    priors = {s: fit_priors(clips, outs, s, yamnet_key) for s in sources}
    return priors, fit_weights(clips, outs, sources, priors, yamnet_key)


def leave_one_source_out(clips, outs, sources, yamnet_key="YAMNet") -> np.ndarray:
    """(n_clips, 16) scores, each source's clips scored by a fit on all other sources."""
    scores = np.zeros((len(clips), len(genres.FMA_GENRES)), np.float32)
    for held, train in folds(clips):
        priors, weights = fitted(train, outs, sources, yamnet_key)
        for i in held:
            scores[i] = track_scores(outs[clips[i].path], sources, priors, weights, yamnet_key)
    return scores


def gated_scores(outputs, temperature: float, yamnet_key: str = "YAMNet",
                 priors: np.ndarray | None = None) -> np.ndarray:
    """The default model's track score (``mapping.spoken_gate``) at a given temperature, with
    musicnn's tag priors as shipped or as given."""
    music = genres.tags_to_genre_scores(outputs["MSD"], outputs["MTT"], priors=priors)
    spoken = mapping.with_spoken_word(outputs[yamnet_key], yamnet.class_names())[:, -1]
    return mapping.sharpen(mapping.spoken_gate(music, spoken).mean(axis=0), temperature)


def fit_temperature(clips, outs, yamnet_key: str = "YAMNet",
                    priors: np.ndarray | None = None) -> float:
    """The temperature minimising the genre-balanced log-loss of the default's track scores."""
    from scipy.optimize import minimize_scalar

    counts = Counter(c.genre for c in clips)

    def loss(log_t: float) -> float:
        t = float(np.exp(log_t))
        return -sum(np.log(max(gated_scores(outs[c.path], t, yamnet_key, priors)
                               [genres.FMA_GENRES.index(c.genre)], 1e-9)) / counts[c.genre]
                    for c in clips)

    return float(np.exp(minimize_scalar(loss, bounds=(-4.0, 1.0), method="bounded").x))


def leave_one_source_out_default(clips, outs, yamnet_key="YAMNet",
                                 max_patches: int | None = None,
                                 shipped_priors: bool = False) -> tuple[np.ndarray, list]:
    """The default's scores, each source's clips with musicnn's tag priors and the temperature
    fitted without them (on every window, as the shipped ones were); ``shipped_priors``: with
    ``genres.MSD_PRIOR``/``MTT_PRIOR`` instead, which were measured on 79 of the corpus's clips;
    ``max_patches``: each clip scored on the windows ``mgc tag --max-patches`` keeps."""
    import soundfile as sf

    scores = np.zeros((len(clips), len(genres.FMA_GENRES)), np.float32)
    temperatures = []
    for held, train in folds(clips):
        priors = None if shipped_priors else music_priors(train, outs)
        t = fit_temperature(train, outs, yamnet_key, priors)
        temperatures.append(t)
        for i in held:
            out = outs[clips[i].path]
            if max_patches is not None:  # the clip's header length: only a budget needs it
                keep = budget_windows(len(out["MSD"]), sf.info(str(clips[i].path)).duration,
                                      max_patches, Networks.FRONTENDS[0])
                out = {k: v[keep] for k, v in out.items()}
            scores[i] = gated_scores(out, t, yamnet_key, priors)
    return scores, temperatures


def musicnn_v1_scores(clips, outs, shipped_priors: bool = False) -> np.ndarray:
    """Today's default (``genres.tags_to_genre_scores``), each source's clips with tag priors
    fitted without them, or with the priors as shipped."""
    scores = np.zeros((len(clips), len(genres.FMA_GENRES)), np.float32)
    for held, train in folds(clips):
        priors = None if shipped_priors else music_priors(train, outs)
        for i in held:
            out = outs[clips[i].path]
            scores[i] = genres.tags_to_genre_scores(out["MSD"], out["MTT"],
                                                    priors=priors).mean(axis=0)
    return scores


# --- reporting --------------------------------------------------------------------------------

def evaluate(clips: list[Clip], scores: np.ndarray) -> dict:
    present = sorted({c.genre for c in clips}, key=genres.FMA_GENRES.index)
    truth = np.array([genres.FMA_GENRES.index(c.genre) for c in clips])
    predicted = scores.argmax(axis=1)
    correct = predicted == truth
    per_genre = {g: {"clips": int((truth == genres.FMA_GENRES.index(g)).sum()),
                     "right": int(correct[truth == genres.FMA_GENRES.index(g)].sum())}
                 for g in present}
    for row in per_genre.values():
        row["recall"] = row["right"] / row["clips"]
    confusion = {g: dict(Counter(genres.FMA_GENRES[p] for p, t in zip(predicted, truth,
                                                                       strict=True)
                                 if genres.FMA_GENRES[t] == g)) for g in present}
    return {
        "clips": len(clips),
        "accuracy": float(correct.mean()),
        "balanced_accuracy": float(np.mean([r["recall"] for r in per_genre.values()])),
        "per_genre": per_genre,
        "confusion": confusion,
        "reliability": metrics.reliability(scores.max(axis=1), correct),
    }


def print_result(name: str, result: dict, gflop: float | None) -> None:
    cost = f", {gflop:.2f} GFLOP/window" if gflop is not None else ""
    print(f"\n== {name}: accuracy {result['accuracy']:.1%}, balanced "
          f"{result['balanced_accuracy']:.1%}, ECE {result['reliability']['ece']:.3f}{cost}")
    for genre, row in result["per_genre"].items():
        calls = ", ".join(f"{g} {n}" for g, n in Counter(result["confusion"][genre])
                          .most_common())
        print(f"  {genre:<14} {row['right']:>3}/{row['clips']:<3} -> {calls}")


def write_figures(out: Path, clips, results: dict[str, dict], chosen: str) -> None:
    from mgc_model.report import plot_confusion_matrix, plot_reliability

    out.mkdir(parents=True, exist_ok=True)
    plot_reliability({name: results[name]["reliability"] for name in ("musicnn v1", chosen)},
                     out / "reliability.png")
    present = sorted({c.genre for c in clips}, key=genres.FMA_GENRES.index)
    for name in ("musicnn v1", chosen):
        confusion = results[name]["confusion"]
        calls = sorted({g for row in confusion.values() for g in row} | set(present),
                       key=genres.FMA_GENRES.index)
        matrix = [[confusion.get(t, {}).get(p, 0) for p in calls] for t in calls]
        slug = "default" if name == chosen else name.replace(" ", "_")
        plot_confusion_matrix(matrix, calls, out / f"confusion_{slug}.png")
    (out / "figures.json").write_text(json.dumps(results, indent=1) + "\n")


def print_fit(clips, outs) -> None:
    print(f"# {len({c.genre for c in clips})} genres, {len(clips)} clips, "
          f"{len({c.source for c in clips})} sources")
    print(f"TEMPERATURE = {fit_temperature(clips, outs):.3f}")


DEFAULT = "default: musicnn + YAMNet speech gate"
# genres.MSD_PRIOR/MTT_PRIOR were measured on 79 clips of this corpus (its first version), so
# figures with them are partly in-sample; they are reported beside the refitted ones, not instead.
AS_SHIPPED = ", tag priors as shipped (measured on 79 of these clips)"
V1_SHIPPED = f"musicnn v1{AS_SHIPPED}"


def check_runtime(clips: list[Clip], outs) -> None:
    """musicnn through onnxruntime (what mgc tags with) against the cached TensorFlow run:
    largest tag difference and the share of clips whose default top genre is unchanged."""
    from mgc_model.pretrained import MusicnnGenreTagger
    from pipelines.audio.windows import PatchStream
    from pipelines.graph.inference import stack_windows

    tagger = MusicnnGenreTagger()
    rerun, worst = {}, 0.0
    for clip in clips:
        first, _ = stack_windows(list(PatchStream(Networks.FRONTENDS).patches(str(clip.path))))
        msd, mtt, _ = tagger.tags(first)
        worst = max(worst, float(np.abs(msd - outs[clip.path]["MSD"]).max()),
                    float(np.abs(mtt - outs[clip.path]["MTT"]).max()))
        rerun[clip.path] = {**outs[clip.path], "MSD": msd, "MTT": mtt}
    before, _ = leave_one_source_out_default(clips, outs)
    after, _ = leave_one_source_out_default(clips, rerun)
    same = int((before.argmax(1) == after.argmax(1)).sum())
    print(f"onnxruntime against TensorFlow on {len(clips)} clips: largest tag difference "
          f"{worst:.2e}; the same top genre on {same} of {len(clips)} "
          f"({same / len(clips):.1%}); largest score difference "
          f"{np.abs(before - after).max():.2e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="/work/realmusic", type=Path)
    parser.add_argument("--fit", action="store_true",
                        help="print the default's temperature, fitted on the whole corpus")
    parser.add_argument("--out", type=Path, help="write figures.json and PNGs here")
    parser.add_argument("--check-runtime", action="store_true",
                        help="compare the onnxruntime musicnn graph with TensorFlow's")
    args = parser.parse_args(argv)

    root = args.folder.resolve()
    clips = load_clips(root)
    if not clips:
        parser.error(f"no labelled audio under {root}")
    unknown = sorted({c.genre for c in clips} - set(genres.FMA_GENRES))
    if unknown:
        parser.error(f"labels outside the FMA vocabulary: {unknown}")
    outs = cached_outputs(clips, root)
    if args.fit:
        print_fit(clips, outs)
        return 0
    if args.check_runtime:
        check_runtime(clips, outs)
        return 0

    print(f"{len(clips)} clips, {len({c.genre for c in clips})} genres, "
          f"{len({c.source for c in clips})} sources; leave-one-source-out throughout (tag "
          f"priors, weights, temperature), except where the priors are as shipped")
    results = {}
    for name, shipped in (("musicnn v1", False), (V1_SHIPPED, True)):
        results[name] = evaluate(clips, musicnn_v1_scores(clips, outs, shipped))
        results[name]["gflop_per_window"] = 2 * GFLOP["MSD"]
        print_result(f"{name} (mgc 0.1's default)", results[name], 2 * GFLOP["MSD"])
    for name, sources in CANDIDATES.items():
        results[name] = evaluate(clips, leave_one_source_out(clips, outs, sources))
        results[name]["gflop_per_window"] = sum(GFLOP[s] for s in sources)
        print_result(f"product of experts, {name}", results[name],
                     results[name]["gflop_per_window"])
    scores, temperatures = leave_one_source_out_default(clips, outs)
    results[DEFAULT] = evaluate(clips, scores)
    results[DEFAULT]["gflop_per_window"] = sum(GFLOP.values())
    results[DEFAULT]["temperatures"] = temperatures
    print_result(DEFAULT, results[DEFAULT], results[DEFAULT]["gflop_per_window"])
    shipped, _ = leave_one_source_out_default(clips, outs, shipped_priors=True)
    results[f"{DEFAULT}{AS_SHIPPED}"] = evaluate(clips, shipped)
    print_result(f"{DEFAULT}{AS_SHIPPED}", results[f"{DEFAULT}{AS_SHIPPED}"], None)
    float_scores, _ = leave_one_source_out_default(clips, outs, "YAMNet-float")
    same = float((scores.argmax(1) == float_scores.argmax(1)).mean())
    results["float YAMNet"] = {**evaluate(clips, float_scores), "same_top_genre": same}
    print(f"  with float YAMNet: accuracy {results['float YAMNet']['accuracy']:.1%}, top "
          f"genre as with the int8 graph on {same:.1%} of clips")
    budget_scores, _ = leave_one_source_out_default(clips, outs, max_patches=DEFAULT_MAX_PATCHES)
    same = float((scores.argmax(1) == budget_scores.argmax(1)).mean())
    name = f"{DEFAULT}, --max-patches {DEFAULT_MAX_PATCHES} (mgc tag's default budget)"
    results["default budget"] = {**evaluate(clips, budget_scores), "same_top_genre": same,
                                 "max_patches": DEFAULT_MAX_PATCHES}
    print_result(name, results["default budget"], None)
    print(f"  top genre as on every window for {same:.1%} of clips")
    truth = np.array([genres.FMA_GENRES.index(c.genre) for c in clips])
    for label, table in (("every window", scores), ("default budget", budget_scores)):
        precision, share = metrics.precision_at(table.max(axis=1),
                                                table.argmax(axis=1) == truth, CONFIDENT_SCORE)
        results[f"write_back_{label.replace(' ', '_')}"] = {"precision": precision,
                                                              "share_written": share}
        print(f"  {label}: at the write-back default {CONFIDENT_SCORE:.2f}, writes {share:.0%}"
              f", right {'-' if precision is None else f'{precision:.1%}'} (cross-validated)")

    confidence, correct = scores.max(axis=1), scores.argmax(axis=1) == truth
    threshold = metrics.threshold_for_precision(confidence, correct, TARGET_PRECISION)
    write_back = {"target_precision": TARGET_PRECISION, "min_score": threshold}
    if threshold is not None:
        precision, share = metrics.precision_at(confidence, correct, threshold)
        write_back.update(precision=precision, share_written=share)
        print(f"\n--min-score {threshold:.2f}: writes {share:.0%} of files, "
              f"{precision:.1%} of them right (cross-validated)")
    for t in (0.15, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        precision, share = metrics.precision_at(confidence, correct, t)
        write_back[f"at_{t}"] = {"precision": precision, "share_written": share}
        print(f"  at {t:.2f}: writes {share:.0%}, right "
              f"{'-' if precision is None else f'{precision:.1%}'}")
    results["write_back"] = write_back
    if args.out:
        write_figures(args.out, clips, results, DEFAULT)
        print(f"\nfigures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
