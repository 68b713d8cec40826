"""How many 3 s windows a full-length track needs: the measurement behind ``mgc tag``'s
default ``--max-patches``.

The default model runs once over every window of each real recording (game soundtracks that
Debian packages ship, 2-8 minutes each); the per-window genre scores are cached on disk, so
the curve is redrawn in seconds. Then, for each budget N, the windows ``--max-patches N``
picks (``frontend.patch_starts``, the very code ``PatchCutter`` uses) are averaged and
sharpened by ``MeanScores`` (the product's per-track step) and compared with the same track
analysed in full: top-genre agreement overall and per top genre of the full analysis, and the
L1 and largest differences of the 16 scores.

Usage: python bench/patch_budget.py [--quick] [--cache DIR] [--out DIR] [--compute-only]
Writes OUT/patch_budget.json and OUT/patch_budget.png (default OUT: bench/out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

# Full-length real recordings shipped by Debian game packages (their licences allow it; each
# package's copyright file says which). Only folders that exist are read.
CORPUS_DIRS = (
    "/usr/share/games/wesnoth/1.16/data/core/music",
    "/usr/share/games/hedgewars/Data/Music",
    "/usr/share/games/supertuxkart/data/music",
    "/usr/share/games/colobot/music",
    "/usr/share/games/warzone2100/music/albums",
    "/usr/share/games/fretsonfire/data/songs",
    "/usr/share/hyperrogue/music",
    "/usr/share/freedroidrpg/data/sound/music",
)
AUDIO = (".ogg", ".opus", ".mp3", ".flac")
MIN_S, MAX_S = 120.0, 480.0  # full-length tracks: 2 to 8 minutes
BUDGETS = (1, 2, 3, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64)
TARGET_AGREEMENT = 0.97
# A 30 s clip (FMA's, and the check corpus's of scripts/check_real_music.py) has 10 windows: a
# budget of at least that analyses it whole, so the model's accuracy, calibration and
# write-back precision, all measured on such clips, hold as measured. (On them, 6 windows moved
# 16 of 198 top genres: accuracy 44.4% instead of 45.5%.)
CLIP_WINDOWS = 10
# Two genres the full analysis scores less than this apart are a tie it cannot break: on these
# recordings its own odd and even windows name different top genres for about one track in
# nine (``split_half``), and a budget's top score moves by some 0.02-0.05 (``top diff``).
TIE = 0.05
QUICK_TRACKS = 24
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mgc" / \
    "patch-budget"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def corpus(dirs: Sequence[str] = CORPUS_DIRS) -> list[Path]:
    """Every 2-8 minute recording in ``dirs``. Frets on Fire ships each song with its
    instrument stems (guitar.ogg, rhythm.ogg): only the mixed song.ogg is a recording."""
    import soundfile as sf

    found = []
    for folder in dirs:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() not in AUDIO or not path.is_file():
                continue
            if (path.parent / "song.ogg").exists() and path.name != "song.ogg":
                continue
            try:
                seconds = sf.info(str(path)).duration
            except Exception:  # a file libsndfile cannot read is not part of the corpus
                continue
            if MIN_S <= seconds <= MAX_S:
                found.append(path)
    return found


def cache_file(cache: Path, path: Path, model_ref: str) -> Path:
    st = path.stat()
    key = f"{model_ref}\0{path}\0{st.st_size}\0{st.st_mtime_ns}"
    return cache / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.npz"


def analyse_track(path: Path, model, batch: int) -> dict[str, np.ndarray]:
    """Every window of ``path`` through the default model, as ``mgc tag --max-patches 0``
    scores them: decoded in full by ``PatchStream``, predicted in batches."""
    from pipelines.audio.decode import AudioReader
    from pipelines.audio.windows import PatchStream
    from pipelines.graph.inference import stack_windows

    with AudioReader(str(path)) as reader:
        header_s = reader.info.duration_s
    stream = PatchStream(model.info.frontends)
    windows = list(stream.patches(str(path)))
    scores, embeddings = [], []
    for start in range(0, len(windows), batch):
        s, e = model.predict(stack_windows(windows[start:start + batch]))
        scores.append(s)
        embeddings.append(e)
    return {"scores": np.concatenate(scores).astype(np.float32),
            "embeddings": np.concatenate(embeddings).astype(np.float32),
            "header_s": np.float64(header_s if header_s is not None else np.nan),
            "decoded_s": np.float64(stream.duration_s)}


def fill_cache(paths: Sequence[Path], cache: Path) -> list[Path]:
    """The cache file of every track, computing those missing (the slow part: the model over
    every window)."""
    from mgc_model import registry
    from pipelines.graph.inference import DEFAULT_BATCH_SIZE

    info = registry.describe(registry.DEFAULT_MODEL)
    cache.mkdir(parents=True, exist_ok=True)
    files = [cache_file(cache, p, info.ref) for p in paths]
    missing = [(p, f) for p, f in zip(paths, files, strict=True) if not f.exists()]
    if missing:
        log(f"analysing {len(missing)} tracks in full (cache: {cache}) ...")
        model = registry.load(registry.DEFAULT_MODEL)
        clock = time.perf_counter()
        for i, (path, file) in enumerate(missing, 1):
            result = analyse_track(path, model, DEFAULT_BATCH_SIZE)
            tmp = file.with_suffix(".part.npz")
            np.savez(tmp, path=str(path), model=info.ref, **result)
            tmp.rename(file)
            log(f"  {i}/{len(missing)} {path.name}: {len(result['scores'])} windows "
                f"({time.perf_counter() - clock:.0f} s so far)")
    return files



def ends_included(n_windows: int, budget: int | None) -> list[int]:
    """The spread ``--max-patches`` used before, for comparison only: ``budget`` windows evenly
    from the first to the last, so an intro and a fade-out are always among them."""
    if budget is None or budget >= n_windows:
        return list(range(n_windows))
    return sorted({int(i) for i in np.round(np.linspace(0, n_windows - 1, budget))})


def track_scores(scores: np.ndarray, embeddings: np.ndarray, keep: Sequence[int]):
    """The track's scores and embedding from the windows ``keep``, by ``MeanScores``: the
    product's mean and per-track sharpening, not a copy of them."""
    from mgc_model import registry
    from pipelines.graph.steps import MeanScores

    mean = MeanScores(registry.describe(registry.DEFAULT_MODEL))
    acc = mean.create_accumulator()
    for i in keep:
        acc = mean.add_input(acc, (scores[i], embeddings[i]))
    return mean.extract_output(acc)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion k/n: on ~100 tracks one track is a percent."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def measure(files: Sequence[Path], budgets: Sequence[int] = BUDGETS,
            spread: str = "product") -> dict:
    """Agreement of each budget with the full analysis, over the cached tracks; ``spread``:
    the windows ``--max-patches`` picks (``product``) or ``ends_included``'s."""
    from mgc_model import registry
    from mgc_model.frontend import budget_windows

    info = registry.describe(registry.DEFAULT_MODEL)
    genres = info.genres
    tracks = []
    for file in files:
        with np.load(file) as data:
            tracks.append({k: data[k] for k in ("scores", "embeddings", "header_s",
                                                "decoded_s", "path")})
    from mgc_model.decision import CONFIDENT_SCORE

    full = [track_scores(t["scores"], t["embeddings"], range(len(t["scores"]))) for t in tracks]
    full_top = [genres[int(np.argmax(f.genre_scores))] for f in full]
    ranked = [np.sort(f.genre_scores.astype(np.float64))[::-1] for f in full]
    margin = np.array([r[0] - r[1] for r in ranked])  # the full analysis's own lead
    confident = np.array([r[0] >= CONFIDENT_SCORE for r in ranked])
    rows = []
    for budget in budgets:
        agree, l1, max_abs, top_drop, cosine, analysed, top2, tied = ([] for _ in range(8))
        for t, f in zip(tracks, full, strict=True):
            keep = (budget_windows(len(t["scores"]), float(t["header_s"]), budget, info.frontend)
                    if spread == "product" else ends_included(len(t["scores"]), budget))
            part = track_scores(t["scores"], t["embeddings"], keep)
            diff = np.abs(part.genre_scores.astype(np.float64) - f.genre_scores)
            best = int(np.argmax(f.genre_scores))
            agree.append(int(np.argmax(part.genre_scores)) == best)
            pick = int(np.argmax(part.genre_scores))
            top2.append(pick in np.argsort(-f.genre_scores)[:2])
            tied.append(float(f.genre_scores[best]) - float(f.genre_scores[pick]) <= TIE)
            l1.append(diff.sum())
            max_abs.append(diff.max())
            top_drop.append(abs(float(part.genre_scores[best]) - float(f.genre_scores[best])))
            e, g = part.embedding.astype(np.float64), f.embedding.astype(np.float64)
            cosine.append(e @ g / (np.linalg.norm(e) * np.linalg.norm(g) + 1e-12))
            analysed.append(len(keep))
        agree = np.array(agree)
        per_genre = {}
        for g in sorted(set(full_top)):
            mask = np.array([top == g for top in full_top])
            per_genre[g] = {"tracks": int(mask.sum()), "agreement": float(agree[mask].mean())}
        low, high = wilson(int(agree.sum()), len(agree))
        rows.append({
            "budget": budget, "agreement": float(agree.mean()), "agreement_95": [low, high],
            "disagreeing_tracks": [str(t["path"]) for t, a in zip(tracks, agree, strict=True)
                                   if not a],
            "agreement_tie": float(np.mean(tied)),
            "agreement_confident": float(agree[confident].mean()) if confident.any() else None,
            "in_full_top2": float(np.mean(top2)),
            "disagreeing_median_full_margin": (float(np.median(margin[~agree]))
                                               if (~agree).any() else None),
            "mean_l1": float(np.mean(l1)), "p95_max_abs": float(np.percentile(max_abs, 95)),
            "mean_max_abs": float(np.mean(max_abs)), "max_abs": float(np.max(max_abs)),
            "mean_top_score_diff": float(np.mean(top_drop)),
            "mean_embedding_cosine": float(np.mean(cosine)),
            "mean_windows": float(np.mean(analysed)), "per_genre": per_genre})
    halves = []  # the full analysis against itself: odd windows' top genre vs even ones'
    for t in tracks:
        n = len(t["scores"])
        odd, even = (track_scores(t["scores"], t["embeddings"], range(k, n, 2)) for k in (1, 0))
        halves.append(np.argmax(odd.genre_scores) == np.argmax(even.genre_scores))
    windows = [len(t["scores"]) for t in tracks]
    minutes = [float(t["decoded_s"]) / 60 for t in tracks]
    return {"tracks": len(tracks), "windows": int(sum(windows)),
            "confident_tracks": int(confident.sum()), "confident_score": CONFIDENT_SCORE,
            "median_full_margin": float(np.median(margin)),
            "split_half_agreement": float(np.mean(halves)),
            "mean_windows_all": float(np.mean(windows)),
            "minutes": {"mean": float(np.mean(minutes)), "min": float(np.min(minutes)),
                        "max": float(np.max(minutes))},
            "full_top_genres": {g: full_top.count(g) for g in sorted(set(full_top))},
            "rows": rows}


def choose(rows: Sequence[dict], target: float = TARGET_AGREEMENT,
           key: str = "agreement_tie") -> int | None:
    """The rule: the smallest budget whose agreement ``key`` with the full analysis is at
    least ``target`` and stays so for every larger budget measured (one lucky budget between
    two worse ones does not decide). ``agreement_tie``: the budget's top genre is the full
    analysis's, or one the full analysis scores within ``TIE`` of it; ``agreement``: the
    very same top genre."""
    ok = [r[key] >= target for r in rows]
    for i, row in enumerate(rows):
        if all(ok[i:]):
            return row["budget"]
    return None


def default_budget(rows: Sequence[dict]) -> int | None:
    """``mgc tag``'s default ``--max-patches``: the rule's budget, and no fewer than a 30 s
    clip's windows."""
    rule = choose(rows)
    return None if rule is None else max(rule, CLIP_WINDOWS)


def plot(result: dict, path: Path) -> None:
    """Agreement (overall with its 95% interval, and per genre) and score differences
    against the budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    x = [r["budget"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    for genre, n in sorted(result["full_top_genres"].items(), key=lambda kv: -kv[1]):
        if n >= 5:
            top.plot(x, [100 * r["per_genre"][genre]["agreement"] for r in rows],
                     lw=0.9, alpha=0.7, label=f"{genre} ({n})")
    top.fill_between(x, [100 * r["agreement_95"][0] for r in rows],
                     [100 * r["agreement_95"][1] for r in rows], color="black", alpha=0.12)
    top.plot(x, [100 * r["agreement"] for r in rows], "k-o", lw=2,
             label=f"all {result['tracks']} tracks, same top genre (95% interval)")
    top.plot(x, [100 * r["agreement_tie"] for r in rows], "b-s", lw=2,
             label=f"all, same or tied within {TIE:g} (the rule)")
    top.axhline(100 * result["split_half_agreement"], color="grey", lw=1, ls="-.",
                label="full analysis: odd vs even windows")
    if result.get("ends_included"):
        top.plot(x, [100 * r["agreement_tie"] for r in result["ends_included"]], color="grey",
                 ls=":", marker=".", label="the rule, first-to-last spread (before)")
    top.axhline(100 * result["target"], color="red", ls="--", lw=1,
                label=f"target {result['target']:.0%}")
    chosen = result["chosen"]
    low = min(100 * r["agreement"] for r in rows)
    rule = result.get("agreement_rule")
    if rule is not None and rule != chosen:
        top.axvline(rule, color="red", lw=1, ls=":", label=f"the agreement rule alone: {rule}")
    if chosen is not None:
        top.axvline(chosen, color="red", lw=1.5, label=f"default --max-patches {chosen}")
    top.set_ylabel("top genre = full analysis's (%)")
    top.set_ylim(max(0, low - 5), 101)
    top.legend(fontsize=8, loc="lower right", ncol=2)
    top.set_title(f"Patch budget on {result['tracks']} full-length recordings "
                  f"({result['minutes']['min']:.0f}-{result['minutes']['max']:.0f} min, mean "
                  f"{result['mean_windows_all']:.0f} windows of 3 s)", fontsize=10)
    bottom.plot(x, [r["mean_l1"] for r in rows], "b-o", label="mean L1 of the 16 scores")
    bottom.plot(x, [r["p95_max_abs"] for r in rows], "g-s",
                label="95th percentile of the largest score difference")
    bottom.plot(x, [r["mean_top_score_diff"] for r in rows], "m-^",
                label="mean |difference| of the full analysis's top score")
    bottom.set_ylabel("difference from the full analysis")
    bottom.set_xlabel("windows analysed per track (--max-patches N)")
    bottom.set_xscale("log", base=2)
    bottom.set_xticks(x, [str(v) for v in x])
    bottom.legend(fontsize=8)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(result: dict) -> str:
    lines = [f"{'N':>4} {'agree':>6} {'95% interval':>13} {'tied':>6} {'confid.':>7} {'top-2':>6} "
             f"{'margin':>6} {'mean L1':>8} {'p95 max':>8} "
             f"{'max':>6} {'top diff':>8} {'emb cos':>7} {'windows':>7}"]
    for r in result["rows"]:
        low, high = r["agreement_95"]
        conf = r["agreement_confident"]
        margin = r["disagreeing_median_full_margin"]
        lines.append(f"{r['budget']:>4} {r['agreement']:6.1%} {low:6.1%}-{high:6.1%} "
                     f"{r['agreement_tie']:6.1%} "
                     f"{'' if conf is None else format(conf, '7.1%'):>7} "
                     f"{r['in_full_top2']:6.1%} "
                     f"{'' if margin is None else format(margin, '6.3f'):>6} "
                     f"{r['mean_l1']:8.3f} {r['p95_max_abs']:8.3f} {r['max_abs']:6.3f} "
                     f"{r['mean_top_score_diff']:8.3f} {r['mean_embedding_cosine']:7.4f} "
                     f"{r['mean_windows']:7.1f}")
    genres = sorted(result["full_top_genres"], key=lambda g: -result["full_top_genres"][g])
    lines.append(f"(tied: same top genre or one the full analysis scores within {TIE:g} of "
                 f"it; the full analysis's odd and even windows agree on "
                 f"{result['split_half_agreement']:.1%} of the tracks)")
    lines.append(f"(confid.: agreement on the {result['confident_tracks']} tracks whose full "
                 f"analysis scores its top genre >= {result['confident_score']:g}, those a "
                 "write-back writes; top-2: the budget's top genre among the full analysis's "
                 "two best; margin: median lead of the full analysis's top genre over its "
                 f"second on the tracks that disagree; over all tracks "
                 f"{result['median_full_margin']:.3f})")
    lines.append("")
    lines.append("per top genre of the full analysis (tracks): agreement at each N")
    lines.append(f"{'genre':<22}" + "".join(f"{r['budget']:>6}" for r in result["rows"]))
    for g in genres:
        lines.append(f"{g + ' (' + str(result['full_top_genres'][g]) + ')':<22}" + "".join(
            f"{r['per_genre'][g]['agreement']:6.0%}" for r in result["rows"]))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"per-window scores, one file a track (default {DEFAULT_CACHE})")
    parser.add_argument("--out", type=Path, default=BENCH / "out",
                        help="where patch_budget.json and .png go (default bench/out)")
    parser.add_argument("--quick", action="store_true",
                        help=f"tracks not in the cache: analyse at most {QUICK_TRACKS}")
    parser.add_argument("--compute-only", action="store_true", help="fill the cache, no report")
    parser.add_argument("--cached-only", action="store_true",
                        help="report on the tracks already in the cache, analyse none")
    parser.add_argument("--figure", type=Path, default=None,
                        help="also write the PNG here (docs/figures/patch_budget.png)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from mgc_model import registry
    from pipelines.graph.tag import DEFAULT_MAX_PATCHES

    args = parse_args(argv)
    paths = corpus()
    if not paths:
        log("no recording found in " + ", ".join(CORPUS_DIRS) + ": nothing to measure")
        return 1
    note = ""
    if args.quick or args.cached_only:
        ref = registry.describe(registry.DEFAULT_MODEL).ref
        cached = [p for p in paths if cache_file(args.cache, p, ref).exists()]
        room = 0 if args.cached_only else max(0, QUICK_TRACKS - len(cached))
        fresh = [p for p in paths if p not in cached][:room]
        if len(cached) + len(fresh) < len(paths):
            note = (f"{len(cached) + len(fresh)} of the {len(paths)} recordings "
                    "(the rest are not in the cache yet); run without --quick for all")
            log(note)
        paths = cached + fresh
    files = fill_cache(paths, args.cache)
    if args.compute_only:
        return 0
    result = {"model": registry.describe(registry.DEFAULT_MODEL).ref, "corpus_dirs": CORPUS_DIRS,
              "target": TARGET_AGREEMENT, "note": note, **measure(files)}
    result["agreement_rule"] = choose(result["rows"])
    result["chosen"] = default_budget(result["rows"])
    result["chosen_strict"] = choose(result["rows"], key="agreement")
    result["ends_included"] = measure(files, spread="ends_included")["rows"]
    result["rule"] = (f"smallest N whose top genre is the full analysis's, or one it scores "
                      f"within {TIE:g} of it, on >= {TARGET_AGREEMENT:.0%} of the tracks, at N "
                      f"and at every larger N measured; and at least the {CLIP_WINDOWS} "
                      "windows of a 30 s clip")
    result["code_default"] = DEFAULT_MAX_PATCHES
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "patch_budget.json").write_text(json.dumps(result, indent=1))
    plot(result, args.out / "patch_budget.png")
    if args.figure:
        plot(result, args.figure)
    print(report(result))
    print("first-to-last spread (before; the rule's agreement): " + ", ".join(
        f"N={r['budget']} {r['agreement_tie']:.1%}" for r in result["ends_included"]))
    print(f"\nrule: {result['rule']} -> N = {result['chosen']}; mgc tag's default "
          f"--max-patches is {DEFAULT_MAX_PATCHES}"
          + ("" if result["chosen"] == DEFAULT_MAX_PATCHES else "  (DIFFERENT: revisit it)"))
    print(f"the same rule on the very same top genre (no ties): N = {result['chosen_strict']}")
    print(f"{args.out / 'patch_budget.json'}, {args.out / 'patch_budget.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
