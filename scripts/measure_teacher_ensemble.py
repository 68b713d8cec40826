"""Would musicnn averaged with musicnn's VGG checkpoints be a better teacher? (issue 24)

Why: the default model maps MSD_musicnn's and MTT_musicnn's tags to genres; musicnn 0.1.0
also ships MSD_vgg and MTT_vgg (``mgc_model/musicnn_vgg.py``), a different network trained on
the same tags. If averaging each vocabulary's tags over both networks, then the same mapping,
called more genres right on real music, the ensemble would be worth its extra compute as the
distillation teacher. This scores three teachers on the labelled corpus, each exactly as
``scripts/check_real_music.py`` scores the default (leave-one-source-out: tag priors and
temperature fitted without the held-out source; YAMNet's Spoken gate per window):

* musicnn: MSD_musicnn + MTT_musicnn (today's default),
* VGG: MSD_vgg + MTT_vgg in their place,
* ensemble: the mean of MSD_musicnn and MSD_vgg, the mean of MTT_musicnn and MTT_vgg.

Also without the Spoken gate (``genres.tags_to_genre_scores`` alone, priors refitted), the
clips each teacher gets right and the other not, and the GFLOP per analysis window.

Per-window musicnn and YAMNet outputs come from (and go to) check_real_music's cache,
``FOLDER/.evidence_cache/``; the VGG outputs, on the same windows, are cached in
``FOLDER/.teacher_cache/``.

    .venv/bin/python scripts/measure_teacher_ensemble.py [FOLDER] [--out figures.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from math import comb
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mgc_model import genres  # noqa: E402
from scripts.check_real_music import (  # noqa: E402
    GFLOP,
    Clip,
    Networks,
    cached_outputs,
    cached_per_clip,
    evaluate,
    leave_one_source_out_default,
    load_clips,
    musicnn_v1_scores,
)

VGG_KEYS = ("MSD_vgg", "MTT_vgg")


def vgg_outputs(clips: list[Clip], root: Path, evidence) -> dict[Path, dict[str, np.ndarray]]:
    """Per-window VGG tags per clip, on the windows check_real_music cuts (its front-ends, its
    patch stream), cached in ``root/.teacher_cache`` under the same file key."""
    def analyser():
        from mgc_model.musicnn_vgg import load_vgg
        from pipelines.audio.windows import PatchStream
        from pipelines.graph.inference import stack_windows

        models = {k: load_vgg(k) for k in VGG_KEYS}

        def analyse(path: Path) -> dict[str, np.ndarray]:
            first = stack_windows(list(PatchStream(Networks.FRONTENDS).patches(str(path))))[0]
            return {k: np.asarray(m(first, training=False)["tags"], np.float32)
                    for k, m in models.items()}
        return analyse

    out = cached_per_clip(clips, root, ".teacher_cache", analyser, "VGG")
    for clip in clips:  # the same windows as the cached musicnn outputs, or nothing compares
        n_vgg, n_msd = len(out[clip.path]["MSD_vgg"]), len(evidence[clip.path]["MSD"])
        if n_vgg != n_msd:
            raise RuntimeError(f"{clip.path}: {n_vgg} VGG windows but {n_msd} musicnn windows")
    return out


def teachers(evidence, vgg) -> dict[str, dict[Path, dict[str, np.ndarray]]]:
    """Each teacher as check_real_music's outputs, its MSD/MTT tags swapped in."""
    def swap(msd, mtt):
        return {p: {**ev, "MSD": msd(ev, vgg[p]), "MTT": mtt(ev, vgg[p])}
                for p, ev in evidence.items()}

    return {
        "musicnn (default)": swap(lambda e, v: e["MSD"], lambda e, v: e["MTT"]),
        "VGG": swap(lambda e, v: v["MSD_vgg"], lambda e, v: v["MTT_vgg"]),
        "ensemble": swap(lambda e, v: (e["MSD"] + v["MSD_vgg"]) / 2,
                         lambda e, v: (e["MTT"] + v["MTT_vgg"]) / 2),
    }


def sign_test(only_a: int, only_b: int) -> float:
    """Two-sided exact binomial (McNemar) p-value for the clips one teacher alone gets right."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="/work/realmusic", type=Path)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)

    root = args.folder.resolve()
    clips = load_clips(root)
    evidence = cached_outputs(clips, root)
    vgg = vgg_outputs(clips, root, evidence)
    from mgc_model.musicnn import layer_flops
    from mgc_model.musicnn_vgg import build_vgg

    vgg_gflop = sum(sum(layer_flops(build_vgg(name=name)).values()) for name in VGG_KEYS) / 1e9
    gflop = {"musicnn (default)": GFLOP["MSD"] + GFLOP["MTT"], "VGG": vgg_gflop,
             "ensemble": GFLOP["MSD"] + GFLOP["MTT"] + vgg_gflop}

    print(f"{len(clips)} clips, {len({c.genre for c in clips})} genres, "
          f"{len({c.source for c in clips})} source folds, "
          f"{sum(len(e['MSD']) for e in evidence.values())} windows; leave-one-source-out")
    truth = np.array([genres.FMA_GENRES.index(c.genre) for c in clips])
    results, right = {}, {}
    for name, outs in teachers(evidence, vgg).items():
        gated, temperatures = leave_one_source_out_default(clips, outs)
        results[name] = {"gated": evaluate(clips, gated),
                         "ungated": evaluate(clips, musicnn_v1_scores(clips, outs)),
                         "temperatures": temperatures,
                         "teacher_gflop_per_window": gflop[name]}
        right[name] = gated.argmax(axis=1) == truth

    names = list(results)
    print(f"\n{'teacher':<18} {'acc':>6} {'bal':>6} {'acc/ungated':>11} {'bal/ungated':>11}"
          f" {'tagger GFLOP/window':>20}  (YAMNet's {GFLOP['YAMNet']:.2f} on top for all)")
    for name in names:
        g, u = results[name]["gated"], results[name]["ungated"]
        print(f"{name:<18} {g['accuracy']:>6.1%} {g['balanced_accuracy']:>6.1%} "
              f"{u['accuracy']:>11.1%} {u['balanced_accuracy']:>11.1%} "
              f"{results[name]['teacher_gflop_per_window']:>20.2f}")
    print("\nper-genre recall (Spoken gate on): right/clips")
    per_genre = {n: results[n]["gated"]["per_genre"] for n in names}
    print(f"  {'genre':<20}" + "".join(f"{n:>20}" for n in names))
    for genre, row in per_genre[names[0]].items():
        print(f"  {genre:<20}" + "".join(
            f"{per_genre[n][genre]['right']:>14}/{row['clips']:<3} " for n in names))
    base = names[0]
    for name in names[1:]:
        only_new = int((right[name] & ~right[base]).sum())
        only_base = int((right[base] & ~right[name]).sum())
        p = sign_test(only_new, only_base)
        results[name]["vs_default"] = {"right_only_here": only_new,
                                       "right_only_default": only_base, "sign_test_p": p}
        print(f"{name} vs default: right only with {name} {only_new}, only with the default "
              f"{only_base} (exact sign test p = {p:.2f})")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"figures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
