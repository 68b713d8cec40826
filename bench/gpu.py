"""GPU benchmark: how fast one GPU tags full-length tracks, how busy it is, and how many decode
workers it takes to keep it fed.

One command on a machine with an NVIDIA GPU (onnxruntime-gpu, which runs both networks):

    python bench/gpu.py [--tracks 24] [--workers 1 2 4 8] [--batch-size 128]

Decode workers (processes) turn tracks into the default model's windows, exactly as ``mgc tag``
does (``PatchStream``: the default patch budget, seeking decode); the main process batches the
windows across tracks and runs the model, as RunInference does on a worker. For each number of
decode workers it reports tracks/s, the share of the wall time the model was running, and the
GPU's busy fraction sampled by ``nvidia-smi`` every 200 ms. The smallest worker count within
10% of the best throughput is the one that keeps the GPU fed.

Without a GPU it runs the same on the CPU as a dry check and says so: those figures are not
GPU figures. Writes bench/out/gpu.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def devices() -> dict:
    """What onnxruntime (both networks of the default model run on it) can use."""
    import onnxruntime as ort

    return {"onnxruntime_providers": ort.get_available_providers(),
            "nvidia_smi": shutil.which("nvidia-smi") is not None}


def placement(model) -> dict:
    """The providers each network's session actually runs on (onnxruntime falls back to the
    CPU when CUDA cannot start): proof that inference is on the GPU, not an assumption."""
    yamnet = getattr(model, "_yamnet", None)
    return {"musicnn_providers": model._session.get_providers(),
            "yamnet_providers": yamnet.session.get_providers() if yamnet else None}


class GpuSampler:
    """``nvidia-smi --query-gpu=utilization.gpu -lms 200`` in the background: per-sample busy
    percentages of GPU 0 while a measurement runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._proc = None
        if shutil.which("nvidia-smi"):
            self._proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                 "-lms", "200", "-i", "0"], stdout=subprocess.PIPE, text=True)
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._proc.stdout:
            try:
                self.samples.append(float(line.strip()))
            except ValueError:
                continue

    def stop(self) -> float | None:
        """Mean busy fraction, None without nvidia-smi."""
        if self._proc is None:
            return None
        self._proc.terminate()
        self._proc.wait(timeout=10)
        return sum(self.samples) / len(self.samples) / 100 if self.samples else None


def decode_track(path: str) -> tuple[str, list]:
    """One decode worker's job: a track's windows, as DecodeToPatches cuts them."""
    from threadpoolctl import threadpool_limits

    from mgc_model import registry
    from pipelines.audio.windows import PatchStream
    from pipelines.graph.tag import DEFAULT_MAX_PATCHES

    with threadpool_limits(limits=1, user_api="blas"):
        stream = PatchStream(registry.describe(registry.DEFAULT_MODEL).frontends, None,
                             DEFAULT_MAX_PATCHES)
        return path, list(stream.patches(path))


def _warm(_: int) -> None:
    from mgc_model import registry

    registry.describe(registry.DEFAULT_MODEL)  # imports in the worker before the clock starts


def measure(model, paths: Sequence[str], workers: int, batch: int) -> dict:
    """Decode workers feed windows; this process batches them across tracks and predicts."""
    from pipelines.graph.inference import stack_windows

    # spawned, not forked: this process holds onnxruntime sessions (on a GPU, a CUDA context)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_warm, range(workers)))
        sampler = GpuSampler()
        clock = time.perf_counter()
        predict_s = 0.0
        pending: list = []
        windows = 0
        for _, found in pool.map(decode_track, paths):
            pending.extend(found)
            while len(pending) >= batch:
                start = time.perf_counter()
                model.predict(stack_windows(pending[:batch]))
                predict_s += time.perf_counter() - start
                windows += batch
                del pending[:batch]
        if pending:
            start = time.perf_counter()
            model.predict(stack_windows(pending))
            predict_s += time.perf_counter() - start
            windows += len(pending)
        wall = time.perf_counter() - clock
        busy = sampler.stop()
    return {"workers": workers, "batch": batch, "wall_s": wall, "tracks": len(paths),
            "windows": windows, "tracks_per_s": len(paths) / wall,
            "model_busy_fraction": predict_s / wall, "gpu_busy_fraction": busy}


def main(argv: Sequence[str] | None = None) -> int:
    import run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=24,
                        help="full-length tracks of 3-6 min (bench/run.py's library; made if "
                        "absent)")
    parser.add_argument("--workers", type=int, nargs="+", default=None,
                        help="decode worker counts to try (default 1 2 4 ... up to the cores)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="windows per prediction (default 128 on a GPU, 16 on a CPU)")
    args = parser.parse_args(argv)

    from mgc_model import registry
    from pipelines.graph.inference import DEFAULT_BATCH_SIZE

    found = devices()
    on_gpu = "CUDAExecutionProvider" in found["onnxruntime_providers"]
    if not on_gpu:
        log("NO GPU: onnxruntime has no CUDA provider, so this runs on the CPU as a dry check "
            "of the script. These are NOT GPU figures.")
    cores = os.cpu_count() or 1
    workers = args.workers or [w for w in (1, 2, 4, 8, 16, 32) if w <= cores] or [1]
    batch = args.batch_size or (128 if on_gpu else DEFAULT_BATCH_SIZE)
    paths = [str(p) for p in run.make_library(args.tracks)]
    model = registry.load(registry.DEFAULT_MODEL)
    where = placement(model)
    if on_gpu and "CUDAExecutionProvider" not in where["musicnn_providers"]:
        log("WARNING: CUDA is there but musicnn's session runs on the CPU (see the log above)")
    log(f"devices: {found}; placement: {where}")
    results = []
    for w in workers:
        log(f"{w} decode worker(s), batch {batch} ...")
        results.append(measure(model, paths, w, batch))
        r = results[-1]
        busy = "n/a" if r["gpu_busy_fraction"] is None else f"{r['gpu_busy_fraction']:.0%}"
        log(f"  {r['tracks_per_s']:.2f} tracks/s, model busy {r['model_busy_fraction']:.0%}, "
            f"GPU busy {busy}")
    best = max(r["tracks_per_s"] for r in results)
    fed = next(r["workers"] for r in results if r["tracks_per_s"] >= 0.9 * best)
    out = {"on_gpu": on_gpu, "devices": found, "placement": where, "cores": cores,
           "note": "" if on_gpu else "no GPU: a CPU dry run, not GPU figures",
           "results": results, "workers_that_keep_it_fed": fed}
    run.OUT.mkdir(parents=True, exist_ok=True)
    (run.OUT / "gpu.json").write_text(json.dumps(out, indent=1))
    print(f"\n{'GPU' if on_gpu else 'CPU DRY RUN (no GPU)'}: {len(paths)} tracks, batch {batch}")
    print(f"{'workers':>7} {'tracks/s':>9} {'model busy':>10} {'GPU busy':>8} {'wall s':>7}")
    for r in results:
        busy = "n/a" if r["gpu_busy_fraction"] is None else f"{r['gpu_busy_fraction']:.0%}"
        print(f"{r['workers']:>7} {r['tracks_per_s']:9.2f} {r['model_busy_fraction']:10.0%} "
              f"{busy:>8} {r['wall_s']:7.1f}")
    print(f"decode workers that keep {'the GPU' if on_gpu else 'the model'} fed (within 10% of "
          f"the best): {fed}; results: {run.OUT / 'gpu.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
