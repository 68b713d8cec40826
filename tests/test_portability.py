"""The tag and extract pipelines run unchanged on every runner a deployment uses: DirectRunner
with worker processes, and PortableRunner against a local job service with LOOPBACK workers and
with an EXTERNAL SDK worker pool (the SDK-harness path of Flink and Dataflow). Outputs must
equal the default DirectRunner run's."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from apache_beam.metrics.metric import MetricsFilter

from audio import chord_track, write_audio
from mgc_model import bundle
from pipelines.commands.common import with_progress
from pipelines.graph.extract import ExtractOptions, run_extract
from pipelines.graph.sources import folder_source
from pipelines.graph.tag import TagOptions, run_tag
from schemas import tfrecord

MULTI_PROCESS = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start_service(module: str, port_flag: str, log: Path):
    """Start a Beam service on a free port; (process, port) once it accepts connections."""
    port = _free_port()
    env = dict(os.environ)
    # The worker pool starts SDK workers with plain `python`: it must be this environment's.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", module, port_flag, str(port)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{module} exited: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("localhost", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.5)
    _stop(proc)
    raise TimeoutError(f"{module} did not listen on port {port} within 90 s")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the service and the SDK workers it started (its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def job_service(tmp_path_factory):
    log = tmp_path_factory.mktemp("services") / "job_service.log"
    proc, port = _start_service("apache_beam.runners.portability.local_job_service_main",
                                "--port", log)
    yield f"localhost:{port}"
    _stop(proc)


@pytest.fixture(scope="module")
def worker_pool(tmp_path_factory):
    log = tmp_path_factory.mktemp("services") / "worker_pool.log"
    proc, port = _start_service("apache_beam.runners.worker.worker_pool_main",
                                "--service_port", log)
    yield f"localhost:{port}"
    _stop(proc)


def _runners(job_service: str, worker_pool: str) -> dict[str, list[str]]:
    portable = ["--runner", "PortableRunner", "--job_endpoint", job_service]
    return {
        "multi_processing": MULTI_PROCESS,
        "portable_loopback": [*portable, "--environment_type", "LOOPBACK"],
        "portable_external": [*portable, "--environment_type", "EXTERNAL",
                              "--environment_config", worker_pool],
    }


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Two genre folders of short tracks and one broken file (an error row on every runner)."""
    root = tmp_path_factory.mktemp("library")
    for i, (genre, ext) in enumerate([("Rock", "wav"), ("Rock", "flac"), ("Jazz", "ogg"),
                                      ("Jazz", "mp3")]):
        write_audio(root / genre / f"t{i}.{ext}", chord_track(4.0, 16000, seed=i), 16000)
    (root / "Jazz" / "broken.mp3").write_bytes(b"ID3 not really an mp3")
    return root


def _tags(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "tags").sort_values("path").reset_index(drop=True)


def _errors(out: Path) -> list[tuple[str, str]]:
    errors = pd.read_parquet(out / "errors")
    return sorted(zip(errors.path, errors.stage, strict=True))


def test_tag_outputs_are_the_same_on_every_runner(library, job_service, worker_pool,
                                                  tmp_path):
    options = TagOptions(max_patches=2)
    reference = run_tag([str(library)], str(tmp_path / "direct"), options)
    expected = _tags(tmp_path / "direct")
    assert reference.tagged == 4 and reference.failed == 1
    for name, args in _runners(job_service, worker_pool).items():
        summary = run_tag([str(library)], str(tmp_path / name), options, args)
        got = _tags(tmp_path / name)
        assert (summary.tagged, summary.failed) == (4, 1), name
        assert got.path.tolist() == expected.path.tolist(), name
        assert got.genre.tolist() == expected.genre.tolist(), name
        assert [[g["name"] for g in gs] for gs in got.genres] == \
            [[g["name"] for g in gs] for gs in expected.genres], name
        np.testing.assert_allclose(np.stack(got.genre_scores), np.stack(expected.genre_scores),
                                   atol=1e-5, err_msg=name)
        np.testing.assert_allclose(np.stack(got.embedding), np.stack(expected.embedding),
                                   atol=1e-4, err_msg=name)
        assert _errors(tmp_path / name) == _errors(tmp_path / "direct"), name


def _records(out: Path) -> dict[tuple[str, int], tuple[str, list[int], np.ndarray]]:
    import tensorflow as tf

    frontend = ExtractOptions().frontend
    records = {}
    for split in tfrecord.SPLITS:
        files = sorted(str(p) for p in out.glob(f"{split}-*.tfrecord"))
        for raw in tf.data.TFRecordDataset(files).as_numpy_iterator() if files else ():
            ex = tfrecord.decode_example(raw, frontend)
            key = (ex[tfrecord.TRACK_ID], ex[tfrecord.PATCH_INDEX])
            records[key] = (ex[tfrecord.SPLIT], ex[tfrecord.LABELS], ex[tfrecord.PATCH])
    return records


def test_extract_outputs_are_the_same_on_every_runner(library, job_service, worker_pool,
                                                      tmp_path):
    source = folder_source(str(library))
    options = ExtractOptions(max_patches=2)
    run_extract(source, str(tmp_path / "direct"), options)
    expected = _records(tmp_path / "direct")
    expected_tracks = pd.read_parquet(tmp_path / "direct" / "tracks").sort_values("track_id")
    assert len(expected_tracks) == 4 and len(expected) == expected_tracks.n_patches.sum() >= 4
    for name, args in _runners(job_service, worker_pool).items():
        summary = run_extract(source, str(tmp_path / name), options, args)
        assert (summary.extracted, summary.failed) == (4, 1), name
        got = _records(tmp_path / name)
        assert got.keys() == expected.keys(), name
        for key, (split, labels, patch) in expected.items():
            assert got[key][:2] == (split, labels), (name, key)
            np.testing.assert_allclose(got[key][2], patch, atol=1e-5, err_msg=f"{name} {key}")
        tracks = pd.read_parquet(tmp_path / name / "tracks").sort_values("track_id")
        assert tracks.track_id.tolist() == expected_tracks.track_id.tolist(), name
        np.testing.assert_allclose(np.stack(tracks.features), np.stack(expected_tracks.features),
                                   rtol=1e-5, atol=1e-6, err_msg=name)
        assert _errors(tmp_path / name) == _errors(tmp_path / "direct"), name


def test_model_is_loaded_once_per_worker_process(library, tmp_path):
    """RunInference shares one model between a process's threads: the DirectRunner's
    multi_threading mode splits the 4 tracks between 2 threads, each with its own DoFn
    instance, and still the model is loaded once."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from mgc_model import registry
    from pipelines.graph.tag import build_tag_pipeline

    info = registry.describe(registry.DEFAULT_MODEL)
    args = ["--direct_num_workers", "2", "--direct_running_mode", "multi_threading"]
    p = beam.Pipeline(options=PipelineOptions(args))
    build_tag_pipeline(p, [str(library)], str(tmp_path / "staging"),
                       TagOptions(max_patches=2, batch_size=1), info)
    result = p.run()
    result.wait_until_finish()
    loads = result.metrics().query(MetricsFilter().with_name("load_model_latency_milli_secs"))
    assert sum(d.committed.count for d in loads["distributions"]) == 1
    batches = result.metrics().query(MetricsFilter().with_name("num_inferences"))
    assert sum(c.committed for c in batches["counters"]) == 4  # 4 tracks x 1 patch (4 s)


def test_gpu_memory_growth_is_set_for_every_gpu_before_a_bundle_loads(monkeypatch):
    """On a GPU worker TensorFlow must not reserve all device memory: growth is switched on for
    each GPU before a bundle's model is built (no GPU here: the devices are simulated)."""
    gpus = [tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU"),
            tf.config.PhysicalDevice("/physical_device:GPU:1", "GPU")]
    grown = []
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth",
                        lambda device, enable: grown.append((device.name, enable)))
    loaded = []

    def load_bundle(path):
        loaded.append((path, list(grown)))
        raise bundle.NotABundle("stop here")

    monkeypatch.setattr(bundle, "load_bundle", load_bundle)
    with pytest.raises(bundle.NotABundle):
        bundle.BundleTagger("some/bundle")
    assert loaded == [("some/bundle", [(g.name, True) for g in gpus])]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("args, shown", [
    ([], True),
    (MULTI_PROCESS, True),
    (["--runner", "PortableRunner", "--job_endpoint", "localhost:8099",
      "--environment_type", "LOOPBACK"], True),
    (["--runner", "PortableRunner", "--job_endpoint", "localhost:8099",
      "--environment_type", "EXTERNAL", "--environment_config", "localhost:50000"], False),
    (["--runner", "PortableRunner", "--job_endpoint", "localhost:8099"], False),  # DOCKER
])
def test_progress_line_only_where_workers_share_this_machine(monkeypatch, args, shown):
    """The status line's event file is local: workers in a worker pool's or Flink's containers
    could not open it, so a terminal run there goes without it rather than failing."""
    monkeypatch.setattr(sys, "stderr", _Terminal())
    progress = with_progress(lambda progress: progress, args, no_progress=False)
    assert (progress is not None) == shown
