"""mgc benchmark: every throughput the project targets, measured side by side in one run.

Ratios only mean something when both sides ran on the same machine, under the same load, on
the same audio; so one run measures the end-to-end CLI (the default model, mgc 0.1's and
``--model fast``, the student distilled from the default), the model alone, decode alone,
musicnn's own tagger and the CPU's matmul peak on one seeded synthetic corpus (~1 h of MP3s,
cached in bench/out/), and prints the ratios. The machine may be shared: each measurement
waits for a quiet CPU, records how many cores other processes used meanwhile, and is taken
again when they used more than a quarter of a core.

Usage: python bench/run.py [--quick] [--files N] [--library-tracks N] [--skip musicnn long
       extras experiments incremental runners library]
Writes bench/out/results.json; logs of every subprocess go to bench/out/runs/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
CLIPS = OUT / "clips"
LONG = OUT / "long" / "set-60min.mp3"
RUNS = OUT / "runs"
MUSICNN_VENV = OUT / "musicnn-venv"
BIN = Path(sys.executable).parent  # the venv running this script: .venv/bin
HZ = os.sysconf("SC_CLK_TCK")

N_CLIPS = 120
CLIP_SECONDS = 30.0
SAMPLE_RATE = 44100
MODEL_BATCH = 64  # the brief's model-only batch; the pipeline's default is read from the code
MODEL_SUBSET = 512  # patches for the batch-128 and single-network model-only rows
TARGET_E2E_VS_MODEL = 0.85
TARGET_VS_MUSICNN = 5.0  # issue 14: on 30 s clips, with the default model and patch budget
LIBRARY = OUT / "library"
LIBRARY_TRACKS = 24  # enough for the marginal cost per track to stand above the noise
LIBRARY_SIZE = 50_000  # a personal library of full-length tracks
LIBRARY_TARGET_HOURS = 4.0


# --- measuring ------------------------------------------------------------------------------

def _machine_cpu_s() -> float:
    """CPU seconds every process on the machine has used (steal included: also unavailable)."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(
            int, stat.readline().split()[1:9]
        )
    return (user + nice + system + irq + softirq + steal) / HZ


@dataclass
class Meter:
    """Wall time and CPU of one measurement, plus what the rest of the machine used meanwhile."""

    wall_s: float = 0.0
    cpu_s: float = 0.0  # ours: this process's threads, or the measured child tree
    machine_cpu_s: float = 0.0

    @property
    def cores(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def others_cores(self) -> float:
        """Cores other processes kept busy during the measurement: >0.2 means a noisy row."""
        return max(0.0, (self.machine_cpu_s - self.cpu_s) / self.wall_s) if self.wall_s else 0.0


@contextmanager
def metered(child_cpu: Callable[[], float] | None = None) -> Iterator[Meter]:
    """Measure a block; ``child_cpu`` gives a subprocess's CPU seconds once it has ended."""
    meter = Meter()
    wall, cpu, machine = time.perf_counter(), time.process_time(), _machine_cpu_s()
    yield meter
    meter.wall_s = time.perf_counter() - wall
    meter.machine_cpu_s = _machine_cpu_s() - machine
    meter.cpu_s = child_cpu() if child_cpu else time.process_time() - cpu


def _tree_memory(pid: int) -> tuple[int, int]:
    """(sum of VmRSS, largest VmHWM) over a process and its descendants, in bytes: Beam's
    multi-processing workers are grandchildren, and their RSS adds up."""
    total, hwm, stack = 0, 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                    elif line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]) * 1024)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as children:
                    stack.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total, hwm


def others_busy(sample_s: float = 2.0) -> float:
    """Cores the rest of the machine keeps busy right now (we are idle while sampling)."""
    machine, cpu = _machine_cpu_s(), time.process_time()
    time.sleep(sample_s)
    return max(0.0, (_machine_cpu_s() - machine - (time.process_time() - cpu)) / sample_s)


def wait_for_quiet(max_wait_s: float, threshold: float = 0.2) -> float:
    """Hold a measurement while other processes load the CPU (a shared machine), up to
    ``max_wait_s``; returns the cores they used at the start of the measurement."""
    deadline = time.monotonic() + max_wait_s
    busy = others_busy()
    if busy > threshold and max_wait_s > 0:
        log(f"  others use {busy:.1f} cores: waiting up to {max_wait_s:.0f} s for a quiet CPU")
        while busy > threshold and time.monotonic() < deadline:
            busy = others_busy(5.0)
    return busy


@dataclass
class Row:
    """One line of the results table."""

    name: str
    wall_s: float
    tracks: int
    patches: int
    cores: float
    others_cores: float
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def tracks_per_s(self) -> float:
        return self.tracks / self.wall_s if self.wall_s else 0.0

    @property
    def patches_per_s(self) -> float:
        return self.patches / self.wall_s if self.wall_s else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "tracks_per_s": self.tracks_per_s,
                "patches_per_s": self.patches_per_s}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


MAX_WAIT_S = 0.0  # set from --max-wait
RETRIES = 1  # set from --retries
NOISY_CORES = 0.25  # others using more than this during a measurement: measure again
ONE_TF_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def section(message: str) -> None:
    """Announce a measurement and hold it until the machine is quiet enough."""
    log(message)
    wait_for_quiet(MAX_WAIT_S)


# --- corpus ---------------------------------------------------------------------------------

def _make_clip(i: int) -> str:
    import synth

    return str(synth.write_clip(CLIPS / f"clip-{i:03d}.mp3", seed=i, seconds=CLIP_SECONDS,
                                sr=SAMPLE_RATE))


def make_corpus(n: int) -> list[Path]:
    """The first ``n`` clips (seeded: --quick uses a prefix of the same corpus), made if absent."""
    return _synthesise_missing([CLIPS / f"clip-{i:03d}.mp3" for i in range(n)], _make_clip,
                               f"clips of {CLIP_SECONDS:.0f} s into {CLIPS}")


def _synthesise_missing(paths: list[Path], make: Callable[[int], str], what: str) -> list[Path]:
    """``paths``, each made by ``make(index)`` on every core where it is absent."""
    missing = [i for i, p in enumerate(paths) if not p.exists()]
    if missing:
        log(f"synthesising {len(missing)} {what} ...")
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(make, missing))
    return paths


def library_seconds(i: int) -> float:
    """Track ``i``'s length: spread over 3 to 6 minutes (seeded, so --quick is a prefix)."""
    return 180.0 + (i * 97) % 181


def _make_track(i: int) -> str:
    import synth

    return str(synth.write_track(LIBRARY / f"track-{i:02d}.mp3", seed=1000 + i,
                                 seconds=library_seconds(i), sr=SAMPLE_RATE))


def make_library(n: int) -> list[Path]:
    """``n`` full-length songs of 3 to 6 minutes (MP3, 44.1 kHz stereo), made if absent."""
    return _synthesise_missing([LIBRARY / f"track-{i:02d}.mp3" for i in range(n)], _make_track,
                               f"full-length tracks into {LIBRARY}")


def make_long_file() -> Path:
    """One hour in one MP3: the 120 clips back to back, decoded and re-encoded piece by piece."""
    if LONG.exists():
        return LONG
    import soundfile as sf

    clips = make_corpus(N_CLIPS)
    log(f"writing the one-hour file {LONG} ...")
    LONG.parent.mkdir(parents=True, exist_ok=True)
    tmp = LONG.with_name(LONG.stem + ".part.mp3")
    with sf.SoundFile(str(tmp), "w", SAMPLE_RATE, 2, format="MP3") as out:
        for clip in clips:
            out.write(sf.read(str(clip), dtype="float32", always_2d=True)[0])
    tmp.rename(LONG)
    return LONG


# --- (f) matmul peak and model FLOPs --------------------------------------------------------

def matmul_peak(seconds: float = 1.0, rounds: int = 3) -> dict[str, float]:
    """Warm square matmuls: the most GFLOP/s TensorFlow gets out of this CPU, per dtype."""
    import tensorflow as tf

    n = 2048
    out = {}
    for name, dtype in (("fp32", tf.float32), ("bf16", tf.bfloat16)):
        try:
            a = tf.cast(tf.random.normal([n, n]), dtype)
            b = tf.cast(tf.random.normal([n, n]), dtype)
            tf.matmul(a, b).numpy()
            best = 0.0
            for _ in range(rounds):  # the best round: a shared machine only ever slows it down
                reps, clock = 0, time.perf_counter()
                while time.perf_counter() - clock < seconds:
                    r = tf.matmul(a, b)
                    reps += 1
                    if reps % 4 == 0:
                        r.numpy()
                r.numpy()
                best = max(best, 2 * n**3 * reps / (time.perf_counter() - clock) / 1e9)
            out[name] = best
        except Exception as error:  # bf16 kernels are not built for every CPU
            out[name + "_error"] = f"{type(error).__name__}: {error}"
    return out


def model_flops() -> dict:
    """FLOPs (2 x multiply-adds) per patch of each musicnn network, from its layers' shapes
    (``musicnn.layer_flops``)."""
    from mgc_model.musicnn import MODEL_NAMES, build_musicnn, layer_flops

    nets = {}
    for name, labels in MODEL_NAMES.items():
        layers = layer_flops(build_musicnn(num_classes=len(labels), name=name))
        nets[name] = {"flops": sum(layers.values()), "layers": layers}
    return nets


# --- (c) decode + front-end -----------------------------------------------------------------

def decode_all(paths: Sequence[Path]) -> tuple[Row, list, dict]:
    """Decode and cut every file as DecodeToPatches does (one BLAS thread, as its setup()
    asks), in this one thread; keep the patches.

    Also splits the time: MP3 decode (reader.blocks), downmix + resample + finiteness check
    (the rest of mono_blocks), log-mel, and patch cutting.
    """
    import numpy as np

    from mgc_model import registry
    from mgc_model.frontend import LogMelStream, PatchCutter
    from pipelines.audio.decode import AudioReader, mono_blocks

    cfg = registry.describe("musicnn").frontend
    split = {"mp3_decode": 0.0, "mono_resample": 0.0, "log_mel": 0.0, "cut": 0.0}
    per_file = []

    def timed_blocks(blocks: Iterator) -> Iterator:
        while True:
            clock = time.perf_counter()
            block = next(blocks, None)
            split["mp3_decode"] += time.perf_counter() - clock
            if block is None:
                return
            yield block

    from threadpoolctl import threadpool_limits

    with metered() as meter, threadpool_limits(limits=1, user_api="blas"):
        for path in paths:
            kept = []
            with AudioReader(str(path)) as reader:
                mel = LogMelStream(cfg)
                cutter = PatchCutter(cfg, cfg.expected_frames(reader.info.duration_s))
                reader_blocks = reader.blocks
                reader.blocks = lambda rb=reader_blocks: timed_blocks(rb())
                mono = mono_blocks(reader, cfg.sample_rate)
                while True:
                    clock = time.perf_counter()
                    block = next(mono, None)
                    split["mono_resample"] += time.perf_counter() - clock
                    if block is None:
                        break
                    clock = time.perf_counter()
                    frames = mel.push(block)
                    split["log_mel"] += time.perf_counter() - clock
                    clock = time.perf_counter()
                    kept.extend(cutter.push(frames))
                    split["cut"] += time.perf_counter() - clock
                clock = time.perf_counter()
                frames = mel.finish()
                split["log_mel"] += time.perf_counter() - clock
                kept.extend(cutter.push(frames))
                kept.extend(cutter.finish())
            per_file.append(np.stack(kept))
    split["mono_resample"] -= split["mp3_decode"]  # mono_blocks' time includes the reads
    n_patches = sum(len(p) for p in per_file)
    row = Row("decode + front-end only (1 thread)", meter.wall_s, len(paths), n_patches,
              meter.cores, meter.others_cores)
    return row, per_file, split


def library_decode(paths: Sequence[Path]) -> list[Row]:
    """Decode + front-end alone over the library, three ways, in this one thread: every
    window from a whole decode (today), the default budget from a whole decode, the default
    budget from a seeking decode (the new default)."""
    from threadpoolctl import threadpool_limits

    from mgc_model import registry
    from pipelines.audio.windows import PatchStream
    from pipelines.graph.tag import DEFAULT_MAX_PATCHES

    frontends = registry.describe(registry.DEFAULT_MODEL).frontends
    rows = []
    for name, cap, seek in (("every window, whole decode (today)", None, False),
                            (f"{DEFAULT_MAX_PATCHES} windows, whole decode", DEFAULT_MAX_PATCHES,
                             False),
                            (f"{DEFAULT_MAX_PATCHES} windows, seeking decode (default)",
                             DEFAULT_MAX_PATCHES, True)):
        def measure(cap=cap, seek=seek, name=name) -> Row:
            windows = frames = 0
            seeked = 0
            with metered() as meter, threadpool_limits(limits=1, user_api="blas"):
                for path in paths:
                    stream = PatchStream(frontends, None, cap, seek=seek)
                    windows += sum(1 for _ in stream.patches(str(path)))
                    frames += stream.decoded_frames
                    seeked += stream.seeked
            return Row(f"library decode + front-ends: {name}", meter.wall_s, len(paths),
                       windows, meter.cores, meter.others_cores,
                       extra={"decoded_frames": frames, "seeked_tracks": seeked})
        rows.append(best_of(measure))
    return rows


def library_rows(paths: Sequence[Path]) -> dict[str, Row]:
    """``mgc tag`` over full-length tracks: today's way (every patch of a whole decode,
    ``--max-patches 0``), the default (the patch budget, decoded by seeking) and the same with
    ``--model fast``, one after the other in this run, each also on the first track alone,
    plus decode alone each way.

    Two projections for the whole library: the run's tracks/s, which counts the start-up of a
    short run (model loading, the graph, the outputs: seconds) as if every few tracks paid it
    again; and the start-up once plus each further track's marginal cost, the difference
    between the run and its one-track run."""
    args = {"today": ["--max-patches", "0"], "default": [], "fast": ["--model", "fast"]}
    rows = {k: best_of(lambda k=k: run_cli(f"library-{k}", paths, args[k])) for k in args}
    minutes = sum(library_seconds(i) for i in range(len(paths))) / 60
    for key, row in rows.items():
        one = best_of(lambda k=key: run_cli(f"library-{k}-one-track", paths[:1], args[k]))
        first_s, all_s = one.extra["pipeline_wall_s"], row.extra["pipeline_wall_s"]
        marginal = (all_s - first_s) / max(1, len(paths) - 1)
        row.extra["one_track_pipeline_s"] = first_s
        row.extra["marginal_s_per_track"] = marginal
        row.extra["projected_hours"] = LIBRARY_SIZE / row.extra["pipeline_tracks_per_s"] / 3600
        row.extra["projected_hours_marginal"] = (first_s + (LIBRARY_SIZE - 1) * marginal) / 3600
        row.note = (f"{row.note or 'default options'}; {len(paths)} tracks, {minutes:.0f} min; "
                    f"{LIBRARY_SIZE:,} such tracks: {row.extra['projected_hours']:.1f} h at this "
                    f"run's rate, {row.extra['projected_hours_marginal']:.1f} h at {marginal:.2f} "
                    f"s a further track (one track alone: {first_s:.1f} s)")
    for row in library_decode(paths):
        rows[row.name] = row
    return rows


def library_ratios(rows: dict[str, Row]) -> dict[str, float]:
    today, default, fast = rows["today"], rows["default"], rows["fast"]
    return {
        "library: default vs every patch (today), tracks/s (pipeline wall)": (
            default.extra["pipeline_tracks_per_s"] / today.extra["pipeline_tracks_per_s"]),
        "library: default vs every patch (today), tracks/s (subprocess wall)": (
            default.tracks_per_s / today.tracks_per_s),
        f"library_hours: projected hours for {LIBRARY_SIZE:,} tracks, default": (
            default.extra["projected_hours"]),
        f"library: projected hours for {LIBRARY_SIZE:,} tracks, every patch (today)": (
            today.extra["projected_hours"]),
        f"library_hours: projected hours for {LIBRARY_SIZE:,} tracks, default, start-up once": (
            default.extra["projected_hours_marginal"]),
        f"library: projected hours for {LIBRARY_SIZE:,} tracks, every patch, start-up once": (
            today.extra["projected_hours_marginal"]),
        "library: default vs every patch, marginal time per track": (
            today.extra["marginal_s_per_track"] / default.extra["marginal_s_per_track"]),
        f"library_hours: projected hours for {LIBRARY_SIZE:,} tracks, --model fast": (
            fast.extra["projected_hours"]),
        f"library_hours: projected hours for {LIBRARY_SIZE:,} tracks, fast, start-up once": (
            fast.extra["projected_hours_marginal"]),
        "library: fast vs default, tracks/s (pipeline wall)": (
            fast.extra["pipeline_tracks_per_s"] / default.extra["pipeline_tracks_per_s"]),
        "library: fast vs default, marginal time per track": (
            default.extra["marginal_s_per_track"] / fast.extra["marginal_s_per_track"]),
    }


# --- (b) the model alone --------------------------------------------------------------------

def time_predict(predict: Callable, patches, batch: int, name: str, tracks: float) -> Row:
    """Batches formed across tracks, as RunInference forms them; the last one may be short."""
    clock = time.perf_counter()
    predict(patches[:batch])  # warm-up: tracing, graph optimisation, oneDNN primitives
    first = time.perf_counter() - clock
    predict(patches[:batch])
    with metered() as meter:
        for start in range(0, len(patches), batch):
            predict(patches[start:start + batch])
    return Row(name, meter.wall_s, round(tracks), len(patches), meter.cores, meter.others_cores,
               extra={"batch": batch, "first_call_s": first})


def pipeline_batch_size() -> int:
    """The CLI's default --batch-size, from the code (it has changed: 64, then 16)."""
    import pipelines.graph.inference

    return getattr(pipelines.graph.inference, "DEFAULT_BATCH_SIZE", 64)


def model_only(per_file: list) -> tuple[list[Row], dict]:
    """predict() alone over every patch, then a 512-patch subset at batch 128 and with the MSD
    network alone (what musicnn's tagger runs), each warm."""
    import numpy as np
    import tensorflow as tf

    from mgc_model import musicnn_onnx, registry
    from mgc_model.frontend import FrontendConfig
    from mgc_model.musicnn import load_musicnn

    patches = np.concatenate(per_file)
    clock = time.perf_counter()
    musicnn = registry.load("musicnn")
    load_s = time.perf_counter() - clock

    def predict(x):  # one front-end: musicnn's patches alone
        return musicnn.predict((x,))

    rows = [best_of(lambda: time_predict(
        predict, patches, MODEL_BATCH,
        f"model only: musicnn (mgc 0.1), batch {MODEL_BATCH} (MSD+MTT)", len(per_file)))]
    default = pipeline_batch_size()
    if default != MODEL_BATCH:
        rows.append(best_of(lambda: time_predict(
            predict, patches, default,
            f"model only: musicnn (mgc 0.1), batch {default} (the pipeline's default)",
            len(per_file))))
    subset = patches[:MODEL_SUBSET]
    frac = len(subset) / len(patches) * len(per_file)
    rows.append(best_of(lambda: time_predict(
        predict, subset, 128, f"model only: musicnn, batch 128 ({len(subset)} patches)",
        frac)))
    rows.append(best_of(lambda: tensorflow_musicnn_row(patches, default, len(per_file))))
    one_thread = musicnn_onnx.session(FrontendConfig(), threads=1)
    rows.append(best_of(lambda: time_predict(
        lambda x: one_thread.run(None, {one_thread.get_inputs()[0].name: x}), subset, default,
        f"model only: musicnn, onnxruntime on one thread, batch {default}", frac)))
    msd = load_musicnn("MSD_musicnn")
    spec = tf.TensorSpec([None, 187, 96], tf.float32)
    one = tf.function(lambda x: msd(x, training=False)["tags"], input_signature=[spec])
    rows.append(best_of(lambda: time_predict(
        lambda x: one(tf.convert_to_tensor(x)).numpy(), subset, MODEL_BATCH,
        f"model only: MSD network alone ({len(subset)} patches)", frac)))
    rows.append(best_of(lambda: bf16_row(subset, frac, one)))
    return rows, {"load_s": load_s}


def tensorflow_musicnn_row(patches, batch: int, tracks: float) -> Row:
    """MSD and MTT as mgc 0.2 ran them, in one TensorFlow graph (oneDNN kernels), beside
    onnxruntime's run of the same networks above: the reason mgc converts them."""
    import tensorflow as tf

    from mgc_model.musicnn import load_musicnn

    msd, mtt = load_musicnn("MSD_musicnn"), load_musicnn("MTT_musicnn")
    spec = tf.TensorSpec([None, 187, 96], tf.float32)
    both = tf.function(lambda x: (msd(x, training=False)["tags"],
                                  mtt(x, training=False)["tags"]), input_signature=[spec])
    return time_predict(lambda x: [t.numpy() for t in both(tf.convert_to_tensor(x))],
                        patches, batch, f"model only: musicnn in TensorFlow (mgc 0.2), batch "
                        f"{batch}", tracks)


def default_model_only(clips: Sequence[Path]) -> Row:
    """The default model's predict alone over every window of the corpus (musicnn's patch and
    YAMNet's three per window), at the pipeline's batch size, warm."""
    from mgc_model import registry
    from pipelines.audio.windows import PatchStream
    from pipelines.graph.inference import stack_windows

    model = registry.load(registry.DEFAULT_MODEL)
    windows = [w for p in clips for w in PatchStream(model.info.frontends).patches(str(p))]
    batch = pipeline_batch_size()

    class Windows:  # time_predict slices its input: slice the windows, stack per front-end
        def __len__(self):
            return len(windows)

        def __getitem__(self, part):
            return stack_windows(windows[part])

    return time_predict(model.predict, Windows(), batch,
                        f"model only: {model.info.name} (default), batch {batch}", len(clips))


def bf16_row(subset, tracks: float, fp32_tags: Callable) -> Row:
    """The MSD network under Keras' mixed_bfloat16 policy (weights fp32, maths bf16): what
    this CPU's bf16 units would give, and how far the tags move (a model change, not measured
    end to end)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from mgc_model.musicnn import load_musicnn

    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        msd = load_musicnn("MSD_musicnn")
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    spec = tf.TensorSpec([None, 187, 96], tf.float32)
    run16 = tf.function(lambda x: tf.cast(msd(x, training=False)["tags"], tf.float32),
                        input_signature=[spec])

    def tags16(x):
        return run16(tf.convert_to_tensor(x)).numpy()

    row = time_predict(tags16, subset, MODEL_BATCH,
                       f"model only: MSD alone, mixed_bfloat16 ({len(subset)} patches)", tracks)
    ref = np.concatenate([fp32_tags(tf.convert_to_tensor(subset[i:i + MODEL_BATCH])).numpy()
                          for i in range(0, len(subset), MODEL_BATCH)])
    low = np.concatenate([tags16(subset[i:i + MODEL_BATCH])
                          for i in range(0, len(subset), MODEL_BATCH)])
    row.extra.update({"tags_max_abs_diff": float(np.abs(ref - low).max()),
                      "tags_mean_abs_diff": float(np.abs(ref - low).mean()),
                      "top1_tag_agreement": float((ref.argmax(1) == low.argmax(1)).mean())})
    row.note = (f"tags vs fp32: max |diff| {row.extra['tags_max_abs_diff']:.3f}, top-1 tag "
                f"agrees on {row.extra['top1_tag_agreement']:.0%} of patches")
    return row


# --- (a), (e) the real CLI ------------------------------------------------------------------

def _spawn_and_wait(cmd: list[str], env: dict[str, str], logfile: str) -> dict:
    """Run a command to its end and report wall time, rusage and sampled memory.

    Called in a forkserver child of a few tens of MB: Linux carries the high-water RSS of the
    process that forks into the child's ru_maxrss, so forking from this bench process (which
    holds TensorFlow and every patch) would report our size, not the CLI's.
    """
    peak_tree = peak_hwm = 0
    with open(logfile, "w") as logf:
        clock = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_tree, peak_hwm
            while not done.wait(0.25):
                tree, hwm = _tree_memory(proc.pid)
                peak_tree, peak_hwm = max(peak_tree, tree), max(peak_hwm, hwm)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - clock
        done.set()
        sampler.join()
    return {"wall_s": wall, "returncode": os.waitstatus_to_exitcode(status),
            "cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_bytes": usage.ru_maxrss * 1024,
            "peak_tree_rss_bytes": peak_tree, "peak_process_hwm_bytes": peak_hwm}


_launcher: ProcessPoolExecutor | None = None


def spawn(cmd: Sequence[str], logfile: Path, env: dict[str, str] | None = None
          ) -> tuple[dict, Meter]:
    """``cmd`` via the small launcher process, metered (CPU: the command's own, from wait4)."""
    global _launcher
    if _launcher is None:
        _launcher = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
    result: dict = {}
    with metered(lambda: result["cpu_s"]) as meter:
        result = _launcher.submit(_spawn_and_wait, [str(c) for c in cmd],
                                  {**os.environ, **(env or {})}, str(logfile)).result()
    meter.wall_s = result["wall_s"]  # without the hand-over to the launcher
    if result["returncode"] != 0:
        tail = logfile.read_text()[-3000:]
        raise RuntimeError(f"{' '.join(map(str, cmd[:3]))} ... failed "
                           f"({result['returncode']}):\n{tail}")
    return result, meter


def run_cli(name: str, inputs: Sequence[Path | str], args: Sequence[str] = (),
            env: dict[str, str] | None = None, state_from: str | None = None) -> Row:
    """``mgc tag`` in a subprocess: wall time around it, run.json's pipeline time, peak RSS
    (wait4's ru_maxrss: the largest single process) and the sampled whole-tree RSS.
    ``state_from``: start from a copy of that run's output (the state of --incremental)."""
    import pyarrow.parquet as pq

    out = RUNS / name
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if state_from:
        shutil.copytree(RUNS / state_from, out)
    cmd = [BIN / "mgc", "tag", *inputs, "--output", out, *args]
    result, meter = spawn(cmd, RUNS / f"{name}.log", env)
    run = json.loads((out / "run.json").read_text())
    tags = pq.read_table(out / "tags", columns=["n_patches", "genre"])
    n_patches = sum(tags["n_patches"].to_pylist())
    genres: dict[str, int] = {}
    for g in tags["genre"].to_pylist():
        genres[g] = genres.get(g, 0) + 1
    errors = 0
    if (out / "errors").exists() and any((out / "errors").glob("*.parquet")):
        errors = pq.read_table(out / "errors").num_rows
    pipeline_s = run["wall_time_s"]
    label = " ".join([*(f"{k}={v}" for k, v in (env or {}).items()), *args])
    return Row(name, meter.wall_s, tags.num_rows, n_patches, meter.cores, meter.others_cores,
               note=label, extra={
                   "pipeline_wall_s": pipeline_s,
                   "pipeline_tracks_per_s": tags.num_rows / pipeline_s,
                   "pipeline_patches_per_s": n_patches / pipeline_s,
                   "startup_s": meter.wall_s - pipeline_s,
                   "peak_rss_mb": result["maxrss_bytes"] / 2**20,
                   "peak_process_hwm_mb": result["peak_process_hwm_bytes"] / 2**20,
                   "peak_tree_rss_mb": result["peak_tree_rss_bytes"] / 2**20,
                   "errors": errors,
                   "tagged": run.get("tagged"),
                   "skipped": run.get("skipped", 0),
                   "genres": dict(sorted(genres.items(), key=lambda kv: -kv[1])),
               })


def incremental_rerun(clips: Sequence[Path], base: str = "e2e-default") -> Row:
    """``mgc tag --incremental`` over the corpus, on the state the ``base`` run left: every
    file is unchanged, so every row is carried over (the row's tracks count the rows carried)."""
    row = run_cli(f"{base}-incremental-no-change", clips, ["--incremental"], state_from=base)
    if row.extra["tagged"] != 0 or row.extra["skipped"] != row.tracks:
        raise RuntimeError(f"the no-change incremental run tagged {row.extra['tagged']} and "
                           f"skipped {row.extra['skipped']} of {row.tracks} files")
    row.note += f" (nothing changed since {base}: every file skipped)"
    return row


def incremental_ratios(rerun: Row, full: Row) -> dict[str, float]:
    return {
        "incremental no-change rerun / full run (subprocess wall)": rerun.wall_s / full.wall_s,
        "incremental no-change rerun / full run (pipeline wall)": (
            rerun.extra["pipeline_wall_s"] / full.extra["pipeline_wall_s"]),
    }


# --- runners: worker processes and the portable runner -------------------------------------

MULTI_PROCESS = ["--direct_running_mode", "multi_processing", "--direct_num_workers"]


@contextmanager
def local_job_service() -> Iterator[str]:
    """Beam's local job service on a free port (the PortableRunner's endpoint), stopped after."""
    import socket

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    log_file = (RUNS / "job-service.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
         "--port", str(port)], stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("localhost", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the local job service did not start: see "
                                       f"{RUNS / 'job-service.log'}") from None
                time.sleep(0.5)
        yield f"localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log_file.close()


def runner_rows(clips: Sequence[Path]) -> dict[str, Row]:
    """The same corpus on 1 and 2 DirectRunner worker processes and on the PortableRunner
    (local job service, LOOPBACK workers: the SDK-harness path of Flink and Dataflow)."""
    rows = {n: best_of(lambda n=n: run_cli(f"e2e-multi-processing-{n}", clips,
                                           [*MULTI_PROCESS, str(n)]))
            for n in (1, 2)}
    RUNS.mkdir(parents=True, exist_ok=True)
    with local_job_service() as endpoint:
        portable = ["--runner", "PortableRunner", "--job_endpoint", endpoint,
                    "--environment_type", "LOOPBACK"]
        rows["portable"] = best_of(lambda: run_cli("e2e-portable-loopback", clips, portable))
    return rows


def runner_ratios(rows: dict[str, Row], direct: Row) -> dict[str, float]:
    def pipeline_rate(row: Row) -> float:
        return row.extra["pipeline_tracks_per_s"]

    return {
        "2 vs 1 DirectRunner worker processes, throughput (pipeline wall)": (
            pipeline_rate(rows[2]) / pipeline_rate(rows[1])),
        "2 vs 1 DirectRunner worker processes, throughput (subprocess wall)": (
            rows[2].tracks_per_s / rows[1].tracks_per_s),
        "PortableRunner LOOPBACK / DirectRunner, time (pipeline wall)": (
            rows["portable"].extra["pipeline_wall_s"] / direct.extra["pipeline_wall_s"]),
        "PortableRunner LOOPBACK / DirectRunner, time (subprocess wall)": (
            rows["portable"].wall_s / direct.wall_s),
    }


# --- (d) musicnn 0.1.0 as published ---------------------------------------------------------

def musicnn_venv() -> Path:
    """A separate venv for musicnn's own (TF 1-style) code; built once, then reused."""
    python = MUSICNN_VENV / "bin" / "python"
    if python.exists():
        return python
    log(f"building {MUSICNN_VENV} (once) ...")
    subprocess.run(["python3", "-m", "venv", str(MUSICNN_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "tensorflow==2.21.0", "tf_keras", "librosa"], check=True)
    subprocess.run([*pip, "--no-deps", "musicnn==0.1.0"], check=True)
    return python


def run_musicnn(paths: Sequence[Path]) -> tuple[Row, dict]:
    """musicnn.tagger.top_tags per file, in its own venv; the first call is a warm-up."""
    python = musicnn_venv()
    result_path = RUNS / "musicnn.json"
    RUNS.mkdir(parents=True, exist_ok=True)
    env = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc, meter = spawn([python, BENCH / "musicnn_driver.py", result_path, "MSD_musicnn",
                         *paths], RUNS / "musicnn.log", env)
    result = json.loads(result_path.read_text())
    files = result["files"]
    steady = files[1:] or files
    wall = sum(f["seconds"] for f in steady)
    row = Row(f"musicnn 0.1.0 top_tags per file ({len(steady)} files, after 1 warm-up)",
              wall, len(steady), 0, meter.cores, meter.others_cores, note=result["entry_point"],
              extra={"first_call_s": files[0]["seconds"], "import_s": result["import_s"],
                     "error": result["error"], "process_wall_s": meter.wall_s,
                     "peak_rss_mb": proc["maxrss_bytes"] / 2**20})
    return row, result


# --- experiments: where the end-to-end time goes ---------------------------------------------

def model_child(n_files: int, result_path: str) -> None:
    """Model-only throughput in a fresh process, so TF_NUM_INTRAOP_THREADS set by the parent
    applies (TensorFlow reads it once, when it starts its thread pools)."""
    from mgc_model import registry

    _, per_file, _ = decode_all(make_corpus(n_files))
    import numpy as np

    patches = np.concatenate(per_file)
    musicnn = registry.load("musicnn")
    row = time_predict(lambda x: musicnn.predict((x,)), patches, MODEL_BATCH, "", n_files)
    Path(result_path).write_text(json.dumps(row.as_dict()))


def model_one_thread(n_files: int) -> Row:
    result_path = RUNS / "model-1-thread.json"
    _, meter = spawn([sys.executable, __file__, "--model-child", result_path,
                      "--files", n_files], RUNS / "model-1-thread.log", ONE_TF_THREAD)
    r = json.loads(result_path.read_text())
    return Row(f"model only: 1 TF thread, fresh process ({r['patches']} patches)", r["wall_s"],
               r["tracks"], r["patches"], r["cores"], r["others_cores"],
               note="TF_NUM_INTRAOP_THREADS=1", extra=r["extra"])


def experiment_child(variant: str, n_files: int, result_path: str) -> None:
    """Body of the fresh process that ``in_process_run`` starts: cold like the CLI, so model
    loading and tracing cost what they cost there."""
    import experiments
    from mgc_model import registry
    from pipelines.graph.tag import TagOptions, run_tag

    registry.describe("musicnn")  # imports TensorFlow, as the CLI does before run_tag's clock
    paths = make_corpus(n_files)
    out = RUNS / f"in-process-{variant}"
    shutil.rmtree(out, ignore_errors=True)
    with experiments.instrumented(variant) as timings, metered() as meter:
        summary = run_tag([str(p) for p in paths], str(out), TagOptions())
    Path(result_path).write_text(json.dumps({
        "wall_s": meter.wall_s, "cores": meter.cores, "others_cores": meter.others_cores,
        "tracks": summary.tagged,
        "timings": {**vars(timings), "batches": {str(k): v for k, v in timings.batches.items()}},
        "pipeline_wall_s": summary.run["wall_time_s"],
    }))


def in_process_run(variant: str, n_files: int) -> Row:
    """The tag pipeline in one fresh process (DirectRunner, default options) with its stages
    timed and, per variant, a candidate change to the pipeline code monkeypatched in."""
    import experiments

    result_path = RUNS / f"in-process-{variant}.json"
    env = experiments.VARIANTS[variant].env
    spawn([sys.executable, __file__, "--experiment-child", variant, result_path,
           "--files", n_files], RUNS / f"in-process-{variant}.log", env)
    r = json.loads(result_path.read_text())
    t = r["timings"]
    prefetch = experiments.VARIANTS[variant].prefetch
    other = r["wall_s"] - t["load_s"] - t["inference_s"] - (0.0 if prefetch else t["decode_s"])
    steady_inference = (t["patches"] - t["first_batch_size"]) / (
        t["inference_s"] - t["first_batch_s"])
    return Row(f"pipeline, fresh process: {variant} ({n_files} clips)", r["wall_s"],
               r["tracks"], t["patches"], r["cores"], r["others_cores"],
               note=" ".join(f"{k}={v}" for k, v in env.items()), extra={
                   "pipeline_wall_s": r["pipeline_wall_s"],
                   # without model load and first batch, whose set-up time varies by seconds
                   "steady_wall_s": r["wall_s"] - t["load_s"] - t["first_batch_s"],
                   "steady_inference_patches_per_s": steady_inference,
                   "model_load_s": t["load_s"],
                   "first_batch_s": t["first_batch_s"],
                   "decode_s": None if prefetch else t["decode_s"],
                   "inference_s": t["inference_s"],
                   "other_s": other,
                   "batch_sizes": t["batches"],
               })


def best_of(measure: Callable[[], Row], retries: int | None = None) -> Row:
    """Measure; if other processes took CPU meanwhile, wait for quiet and measure again,
    keeping the least disturbed result (the row records how many attempts it took)."""
    retries = RETRIES if retries is None else retries
    best = None
    for attempt in range(1 + retries):
        wait_for_quiet(MAX_WAIT_S)
        row = measure()
        row.extra["attempts"] = attempt + 1
        if best is None or row.others_cores < best.others_cores:
            best = row
        if best.others_cores <= NOISY_CORES:
            break
        log(f"  {row.name}: others used {row.others_cores:.2f} cores meanwhile; measuring again")
    return best


# --- report ---------------------------------------------------------------------------------

def table(rows: Sequence[Row]) -> str:
    head = (f"{'measurement':58} {'wall s':>8} {'tracks':>6} {'tracks/s':>8} {'patches/s':>9} "
            f"{'cores':>5} {'others':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        patches = f"{r.patches_per_s:9.2f}" if r.patches else f"{'':9}"
        cores = f"{r.cores:5.2f}" if r.cores else f"{'':5}"
        others = f"{r.others_cores:6.2f}" if r.cores else f"{'':6}"
        lines.append(f"{r.name[:58]:58} {r.wall_s:8.1f} {r.tracks:6d} {r.tracks_per_s:8.3f} "
                     f"{patches} {cores} {others}")
        if r.note:
            lines.append(f"    ({r.note})")
        if "pipeline_wall_s" in r.extra and "startup_s" in r.extra:
            e = r.extra
            lines.append(f"{'  pipeline only (run.json wall_time_s)':58} "
                         f"{e['pipeline_wall_s']:8.1f} {r.tracks:6d} "
                         f"{e['pipeline_tracks_per_s']:8.3f} {e['pipeline_patches_per_s']:9.2f}"
                         f"   peak RSS {e['peak_rss_mb']:.0f} MB"
                         f" (tree {e['peak_tree_rss_mb']:.0f})")
        if "inference_s" in r.extra:
            e = r.extra
            decode = "overlapped" if e["decode_s"] is None else f"{e['decode_s']:.1f}"
            lines.append(f"    model load {e['model_load_s']:.1f} s, inference "
                         f"{e['inference_s']:.1f} (first batch {e['first_batch_s']:.1f}; then "
                         f"{e['steady_inference_patches_per_s']:.1f} patches/s), decode "
                         f"{decode}, the rest {e['other_s']:.1f}")
            lines.append(f"    wall without load and first batch: {e['steady_wall_s']:.1f} s; "
                         f"batches {e['batch_sizes']}")
    return "\n".join(lines)


def code_state() -> dict:
    """Which code was measured: the tree changes under us while others work. Hashes the files'
    contents (a commit of the same code is no change); git is only read."""
    digest = hashlib.sha1()
    for folder in ("pipelines", "mgc_model", "schemas"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()
    return {"head": head, "sources_sha1": digest.hexdigest(),
            "pipeline_default_batch_size": pipeline_batch_size()}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="16 clips, 4 musicnn files, no one-hour file, no extra rows")
    parser.add_argument("--files", type=int, default=None, help=f"clips (default {N_CLIPS})")
    parser.add_argument("--library-tracks", type=int, default=None,
                        help=f"full-length tracks of 3-6 min for the library scenario (default "
                        f"{LIBRARY_TRACKS}, --quick 6)")
    parser.add_argument("--musicnn-files", type=int, default=None,
                        help="files for musicnn's per-file tagger (default 21: 1 warm-up + 20)")
    parser.add_argument("--experiment-files", type=int, default=None,
                        help="clips for the profiling runs (default: all)")
    parser.add_argument("--max-wait", type=float, default=120.0,
                        help="seconds to wait, before each measurement, for other processes to "
                        "leave the CPU idle (default 120; 0: never wait)")
    parser.add_argument("--retries", type=int, default=1,
                        help="measure a row again when other processes took more than "
                        f"{NOISY_CORES} cores meanwhile, at most this many times (default 1)")
    parser.add_argument("--experiment-child", nargs=2, metavar=("VARIANT", "RESULT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--model-child", metavar="RESULT", help=argparse.SUPPRESS)
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["musicnn", "long", "extras", "experiments", "incremental",
                                 "runners", "library"],
                        help="leave these sections out")
    args = parser.parse_args(argv)
    if args.quick:
        args.skip = sorted({*args.skip, "long", "extras"})
    args.files = args.files or (16 if args.quick else N_CLIPS)
    args.library_tracks = args.library_tracks or (6 if args.quick else LIBRARY_TRACKS)
    args.musicnn_files = args.musicnn_files or (4 if args.quick else 21)
    args.experiment_files = min(args.files, args.experiment_files or args.files)
    args.model_thread_files = min(args.files, 4 if args.quick else 20)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    global MAX_WAIT_S, RETRIES
    args = parse_args(argv)
    MAX_WAIT_S, RETRIES = args.max_wait, args.retries
    if args.model_child:
        model_child(args.files, args.model_child)
        return 0
    if args.experiment_child:
        variant, result_path = args.experiment_child
        experiment_child(variant, args.files, result_path)
        return 0
    started = time.perf_counter()
    clips = make_corpus(args.files)
    long_file = None if "long" in args.skip else make_long_file()
    audio_s = len(clips) * CLIP_SECONDS
    log(f"corpus: {len(clips)} clips, {audio_s / 60:.0f} min of 44.1 kHz stereo MP3")
    rows: list[Row] = []
    results: dict = {
        "started_at": datetime.now(timezone.utc).isoformat(),
        "machine": {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
                    "load_avg_at_start": os.getloadavg()},
        "corpus": {"clips": len(clips), "clip_seconds": CLIP_SECONDS, "sample_rate": SAMPLE_RATE},
        "args": vars(args),
        "code": code_state(),
    }

    section("(f) matmul peak ...")
    with metered() as meter:
        peak = matmul_peak()
    results["matmul_others_cores"] = meter.others_cores
    flops = model_flops()
    flops_per_patch = sum(n["flops"] for n in flops.values())
    results["matmul_gflops"] = peak
    results["model_flops"] = flops

    log("(a) end to end: mgc tag, default options, then with mgc 0.1's model and the fast one ...")
    e2e = best_of(lambda: run_cli("e2e-default", clips))
    rows.append(e2e)
    e2e_old = best_of(lambda: run_cli("e2e-musicnn-0.1", clips, ["--model", "musicnn"]))
    rows.append(e2e_old)
    e2e_fast = best_of(lambda: run_cli("e2e-fast", clips, ["--model", "fast"]))
    rows.append(e2e_fast)
    library: dict[str, Row] = {}
    if "library" not in args.skip:
        tracks = make_library(args.library_tracks)
        log(f"library: {len(tracks)} full-length tracks, every patch (today) against the "
            "default (patch budget + seeking decode) ...")
        library = library_rows(tracks)
        rows.extend(library.values())
    incremental = None
    if "incremental" not in args.skip:
        log("nightly: the same run again with --incremental, nothing changed ...")
        incremental = best_of(lambda: incremental_rerun(clips))
        rows.append(incremental)

    runners: dict[str, Row] = {}
    if "runners" not in args.skip:
        log("runners: 1 and 2 DirectRunner worker processes, the PortableRunner (LOOPBACK) ...")
        runners = runner_rows(clips)
        rows.extend(runners.values())

    log("(c) decode + front-end alone ...")
    decoded: dict = {}

    def decode() -> Row:
        row, decoded["per_file"], decoded["split"] = decode_all(clips)
        return row

    decode_row = best_of(decode)
    rows.append(decode_row)
    per_file, split = decoded.pop("per_file"), decoded.pop("split")
    results["decode_split_s"] = split
    if decode_row.patches != e2e.patches:
        log(f"warning: decode cut {decode_row.patches} patches, the CLI {e2e.patches}")

    log("(b) model alone on the same patches ...")
    model_rows, model_info = model_only(per_file)
    rows.extend(model_rows)
    default_model = best_of(lambda: default_model_only(clips))
    rows.append(default_model)
    results["model_load_s"] = model_info["load_s"]
    del per_file
    model = model_rows[0]
    model_same_batch = next((r for r in model_rows if "pipeline's default" in r.name), model)
    rows.append(best_of(lambda: model_one_thread(args.model_thread_files)))

    musicnn = None
    if "musicnn" not in args.skip:
        log("(d) musicnn 0.1.0's own tagger, per file ...")
        musicnn_result: dict = {}

        def musicnn_row() -> Row:
            row, musicnn_result["result"] = run_musicnn(clips[: args.musicnn_files])
            return row

        musicnn = best_of(musicnn_row)
        rows.append(musicnn)
        results["musicnn"] = musicnn_result["result"]

    if "long" not in args.skip:
        log("(e) memory: one 30-s clip, then the one-hour file ...")
        rows.append(best_of(lambda: run_cli("e2e-one-clip", clips[:1])))
        rows.append(best_of(lambda: run_cli("e2e-one-hour-file", [long_file])))

    import experiments

    if "extras" not in args.skip:
        log("extra rows: other batch sizes, two worker processes ...")
        mp = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
        batches = [] if pipeline_batch_size() == MODEL_BATCH else [MODEL_BATCH]
        for name, extra_args, env in (
            *((f"e2e-batch-{b}", ["--batch-size", str(b)], None) for b in batches),
            ("e2e-batch-128", ["--batch-size", "128"], None),
            *((("e2e-2-processes", mp, None),) if not runners else ()),  # a runners row
            ("e2e-2-processes-1-tf-thread", mp, ONE_TF_THREAD),
        ):
            rows.append(best_of(lambda n=name, a=extra_args, e=env: run_cli(n, clips, a, e)))

    variant_rows: dict[str, Row] = {}
    if "experiments" not in args.skip:
        log(f"experiments: the pipeline on {args.experiment_files} clips, stock and with "
            "candidate changes ...")
        for variant in experiments.VARIANTS:
            rows.append(best_of(lambda v=variant: in_process_run(v, args.experiment_files)))
            variant_rows[variant] = rows[-1]

    # --- ratios ---
    ratios: dict[str, float] = {}
    ratios["default model vs mgc 0.1's, e2e tracks/s (pipeline wall)"] = (
        e2e.extra["pipeline_tracks_per_s"] / e2e_old.extra["pipeline_tracks_per_s"])
    ratios["fast vs default, e2e tracks/s (pipeline wall)"] = (
        e2e_fast.extra["pipeline_tracks_per_s"] / e2e.extra["pipeline_tracks_per_s"])
    ratios["fast vs default, e2e tracks/s (subprocess wall)"] = (
        e2e_fast.tracks_per_s / e2e.tracks_per_s)
    ratios["default model vs mgc 0.1's, model-only tracks/s"] = (
        default_model.tracks_per_s / model_same_batch.tracks_per_s)
    # the pipeline against its own model (the default), both at the pipeline's batch size
    ratios["e2e_vs_model (subprocess wall)"] = e2e.tracks_per_s / default_model.tracks_per_s
    ratios["e2e_vs_model (pipeline wall)"] = (e2e.extra["pipeline_tracks_per_s"]
                                              / default_model.tracks_per_s)
    if musicnn is not None:
        ratios["e2e_vs_musicnn per file (subprocess wall)"] = (e2e.tracks_per_s
                                                               / musicnn.tracks_per_s)
        ratios["e2e_vs_musicnn per file (pipeline wall)"] = (e2e.extra["pipeline_tracks_per_s"]
                                                             / musicnn.tracks_per_s)
        ratios["e2e_vs_musicnn per network (2 nets vs 1, subprocess wall)"] = (
            2 * e2e.tracks_per_s / musicnn.tracks_per_s)
        ratios["fast_vs_musicnn per file (subprocess wall)"] = (e2e_fast.tracks_per_s
                                                                / musicnn.tracks_per_s)
        ratios["fast_vs_musicnn per file (pipeline wall)"] = (
            e2e_fast.extra["pipeline_tracks_per_s"] / musicnn.tracks_per_s)
    if args.experiment_files == len(clips):  # same corpus: comparable with the e2e ratio
        for variant, row in variant_rows.items():
            ratios[f"pipeline/model with {variant} (pipeline wall)"] = (
                row.tracks / row.extra["pipeline_wall_s"] / default_model.tracks_per_s)
    if library:
        ratios.update(library_ratios(library))
        results["library"] = {"tracks": args.library_tracks, "size": LIBRARY_SIZE,
                              "target_hours": LIBRARY_TARGET_HOURS}
    if incremental is not None:
        ratios.update(incremental_ratios(incremental, e2e))
    if runners:
        ratios.update(runner_ratios(runners, e2e))
    serial = default_model.wall_s / (default_model.wall_s + decode_row.wall_s)
    ratios["serial bound: model / (model + decode), same thread"] = serial
    model_gflops = model.patches_per_s * flops_per_patch / 1e9
    from mgc_model import yamnet

    window_flops = flops_per_patch + 3 * yamnet.GFLOP_PER_PATCH * 1e9  # + YAMNet's 3 patches
    e2e_gflops = e2e.extra["pipeline_patches_per_s"] * window_flops / 1e9
    ratios["model_flop_efficiency_vs_fp32_matmul"] = model_gflops / peak.get("fp32", float("nan"))
    ratios["e2e_flop_efficiency_vs_fp32_matmul"] = e2e_gflops / peak.get("fp32", float("nan"))
    from mgc_model import student

    results["student_flops"] = student.graph_flops()
    results["gflops"] = {"model_only": model_gflops, "e2e_pipeline": e2e_gflops,
                         "flops_per_patch": flops_per_patch}
    results["ratios"] = ratios
    results["rows"] = [r.as_dict() for r in rows]
    results["code_at_end"] = code_state()
    code_changed = results["code_at_end"]["sources_sha1"] != results["code"]["sources_sha1"]
    results["total_bench_s"] = time.perf_counter() - started
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=str))

    print()
    print(table(rows))
    print()
    per_net = {k: v["flops"] / 1e9 for k, v in flops.items()}
    print("FLOPs per patch: " + ", ".join(f"{k} {v:.2f} GFLOP" for k, v in per_net.items())
          + f"; both {flops_per_patch / 1e9:.2f} GFLOP; --model fast "
          + f"{results['student_flops'] / 1e9:.3f} GFLOP a window (graph), "
          + f"{window_flops / results['student_flops']:.1f}x fewer than the default's "
          + f"{window_flops / 1e9:.2f} with YAMNet")
    print("matmul peak (2048^2, warm): " + ", ".join(
        f"{k} {v:.0f} GFLOP/s" if isinstance(v, float) else f"{k}: {v}" for k, v in peak.items()))
    print(f"model achieved {model_gflops:.0f} GFLOP/s, e2e pipeline {e2e_gflops:.0f} GFLOP/s; "
          f"model load {model_info['load_s']:.1f} s")
    print("decode split (s): " + ", ".join(f"{k} {v:.1f}" for k, v in split.items()))
    print()
    targets = {"e2e_vs_model": TARGET_E2E_VS_MODEL, "e2e_vs_musicnn": TARGET_VS_MUSICNN,
               "fast_vs_musicnn": TARGET_VS_MUSICNN}
    for name, value in ratios.items():
        target = next((t for k, t in targets.items() if name.startswith(k)), None)
        verdict = ""
        if target is not None and "per network" not in name:
            verdict = f"  (target >= {target:g}: {'met' if value >= target else 'NOT met'})"
        if name.startswith("library_hours"):
            verdict = (f"  (target <= {LIBRARY_TARGET_HOURS:g} h: "
                       f"{'met' if value <= LIBRARY_TARGET_HOURS else 'NOT met'})")
        print(f"{name[:76]:76} {value:6.3f}{verdict}")
    if code_changed:
        print("\nWARNING: pipelines/ or mgc_model/ changed while the bench ran (others at work): "
              "rows measured before and after the change are not comparable; run it again.")
    print(f"\nresults: {OUT / 'results.json'}; whole bench {results['total_bench_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
