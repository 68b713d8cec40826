"""The research path timed on the benchmark corpus: extract, train (transfer and CNN),
evaluate and baselines, each as a user runs it (the CLI in a subprocess), plus decode alone on
the same files for the extract ratio. From the measured rates it estimates FMA medium (25,000
clips of 30 s, ~20,000 in training) on this machine.

The corpus' genres are the synthesiser's styles (bench/synth.py): learnable, not music, so
the accuracies printed say the commands work, not how good the models are.

Usage: python bench/training.py [--files N] [--cnn-epochs N]   (part of `make bench`)
Writes bench/out/training.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import synth
from run import (
    BIN,
    CLIP_SECONDS,
    OUT,
    RUNS,
    Row,
    best_of,
    decode_all,
    log,
    make_corpus,
    spawn,
    table,
    wait_for_quiet,
)

WORK = OUT / "training"
FMA_MEDIUM_TRACKS = 25_000
FMA_MEDIUM_TRAIN_PATCHES = 20_000 * 10  # 30 s clips, patches back to back
EPOCH_LINE = re.compile(r"epoch (\d+)/\d+: .*\(([\d.]+) s\)")
FEATURES_LINE = re.compile(r"features of (\d+) patches in ([\d.]+) s")


def manifest(clips: Sequence[Path], name: str = "manifest.csv") -> Path:
    """path,genre: the style each clip was synthesised in; no split column, so extract splits
    by track."""
    path = WORK / name
    lines = ["path,genre"] + [f"{c},{synth.song(int(c.stem.split('-')[1])).style}"
                              for c in clips]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(name: str, *args: str | Path) -> tuple[Row, str]:
    """One mgc command in a subprocess, metered; returns its row and its log."""
    wait_for_quiet(60.0)
    logfile = RUNS / f"{name}.log"
    RUNS.mkdir(parents=True, exist_ok=True)
    result, meter = spawn([BIN / "mgc", *args], logfile)
    row = Row(name, meter.wall_s, 0, 0, meter.cores, meter.others_cores,
              extra={"peak_rss_mb": result["maxrss_bytes"] / 2**20})
    return row, logfile.read_text()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--cnn-epochs", type=int, default=2)
    args = parser.parse_args(argv)

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    clips = make_corpus(args.files)
    data, rows, results = WORK / "data", [], {"files": len(clips), "clip_seconds": CLIP_SECONDS}

    log(f"extract: {len(clips)} clips ...")
    extract, _ = cli("mgc extract (manifest)", "extract", "--manifest", manifest(clips),
                     "--output", data)
    summary = json.loads((data / "extract.json").read_text())
    n_tracks = sum(s["tracks"] for s in summary["splits"].values())
    extract.tracks, extract.patches = n_tracks, sum(s["patches"] for s in
                                                    summary["splits"].values())
    extract.extra["pipeline_wall_s"] = summary["wall_time_s"]
    rows.append(extract)

    half, _ = cli("mgc extract (manifest, first half)", "extract", "--manifest",
                  manifest(clips[: len(clips) // 2], "half.csv"), "--output", WORK / "half")
    half_summary = json.loads((WORK / "half" / "extract.json").read_text())
    half.tracks = sum(s["tracks"] for s in half_summary["splits"].values())
    rows.append(half)
    # what each further track costs, without the fixed start-up (importing TensorFlow for the
    # Example protos, librosa, Beam): the rate that matters for a 25,000-track collection
    marginal = (extract.tracks - half.tracks) / (summary["wall_time_s"]
                                                 - half_summary["wall_time_s"])

    log("decode + front-end alone, same files ...")
    decode = best_of(lambda: decode_all(clips)[0])
    rows.append(decode)

    log("train --arch transfer (default) ...")
    transfer, transfer_log = cli("mgc train --arch transfer", "train", "--data", data,
                                 "--output", WORK / "transfer")
    found = FEATURES_LINE.search(transfer_log)
    if found:
        transfer.patches = int(found.group(1))
        transfer.extra["backbone_features_s"] = float(found.group(2))
    rows.append(transfer)

    log(f"train --arch cnn, {args.cnn_epochs} epochs ...")
    cnn, cnn_log = cli("mgc train --arch cnn", "train", "--data", data, "--output",
                       WORK / "cnn", "--arch", "cnn", "--epochs", str(args.cnn_epochs),
                       "--patience", str(args.cnn_epochs))
    epochs = [float(s) for _, s in EPOCH_LINE.findall(cnn_log)]
    training = json.loads((WORK / "cnn" / "training.json").read_text())
    train_patches = training["counts"]["training"]["patches"]
    cnn.patches = train_patches * len(epochs)
    cnn.extra["epoch_s"] = epochs
    rows.append(cnn)

    log("evaluate, baselines ...")
    evaluate, _ = cli("mgc evaluate (transfer bundle, test split)", "evaluate", "--model",
                      WORK / "transfer", "--data", data, "--output", WORK / "report")
    metrics = json.loads((WORK / "report" / "metrics.json").read_text())
    evaluate.tracks = metrics["n_tracks"]
    rows.append(evaluate)
    baselines, _ = cli("mgc baselines", "baselines", "--data", data, "--output",
                       WORK / "baselines")
    rows.append(baselines)

    cnn_patches_per_s = train_patches / min(epochs)  # an epoch includes its validation pass
    features_rate = transfer.patches / transfer.extra["backbone_features_s"] if found else None
    ratios = {
        "extract / decode + front-end alone (tracks/s, pipeline wall)": (
            n_tracks / summary["wall_time_s"]) / decode.tracks_per_s,
        "extract / decode + front-end alone (tracks/s, whole process)": (
            extract.tracks_per_s / decode.tracks_per_s),
        "extract / decode + front-end alone (marginal tracks/s: 120 vs 60 clips)": (
            marginal / decode.tracks_per_s),
    }
    estimates_h = {
        "extract FMA medium, one process (marginal rate)": FMA_MEDIUM_TRACKS / marginal / 3600,
        "CNN, one epoch over FMA medium's training split": (
            FMA_MEDIUM_TRAIN_PATCHES / cnn_patches_per_s / 3600),
    }
    if features_rate:
        estimates_h["transfer, backbone features of FMA medium's training split"] = (
            FMA_MEDIUM_TRAIN_PATCHES / features_rate / 3600)
    results.update({
        "rows": [r.as_dict() for r in rows], "ratios": ratios, "estimates_hours": estimates_h,
        "cnn_train_patches_per_s": cnn_patches_per_s,
        "extract_marginal_tracks_per_s": marginal, "transfer_features_per_s": features_rate,
        "transfer_test_accuracy": metrics["accuracy"],
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    (OUT / "training.json").write_text(json.dumps(results, indent=1))
    print()
    print(table(rows))
    print()
    print(f"extract: {marginal:.1f} tracks/s per further track (fixed start-up excluded)")
    print(f"CNN training: {cnn_patches_per_s:.1f} patches/s (epochs {epochs} s); transfer "
          f"backbone features: {features_rate or float('nan'):.1f} patches/s; transfer test "
          f"accuracy on the synthetic styles {metrics['accuracy']:.1%}")
    for name, value in ratios.items():
        print(f"{name:66} {value:6.3f}")
    for name, hours in estimates_h.items():
        print(f"estimate: {name:56} {hours:6.1f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
