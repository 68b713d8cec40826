"""musicnn's two networks (MSD and MTT) as one ONNX graph, run by onnxruntime.

onnxruntime runs musicnn about twice as fast as TensorFlow's oneDNN kernels on a CPU
(``bench/run.py`` times both side by side) and on a GPU where ``onnxruntime-gpu`` is
installed. The graph is converted from the Keras port (``mgc_model.musicnn``) by tf2onnx,
the converter made for the job, once per machine (``mgc_model.graph_cache``), keyed by the
checkpoints' bytes, this graph's version and the converter's.
"""

from __future__ import annotations

import hashlib
import logging
from importlib.metadata import version
from pathlib import Path

from mgc_model import graph_cache
from mgc_model.frontend import FrontendConfig
from mgc_model.musicnn_checkpoints import checkpoint_dir

GRAPH_VERSION = 1  # bump when forward() changes: the cached graphs are then rebuilt
OPSET = 17
NETWORKS = ("MSD_musicnn", "MTT_musicnn")


def cache_key() -> str:
    """What the converted graph depends on: the checkpoint files, the graph's code, tf2onnx."""
    digest = hashlib.sha256(f"{GRAPH_VERSION} {OPSET} {version('tf2onnx')}".encode())
    for name in NETWORKS:
        for file in sorted(checkpoint_dir(name).iterdir()):
            if file.is_file():
                digest.update(file.name.encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def cache_path() -> Path:
    """Where this machine's converted graph for the installed checkpoints lives."""
    return graph_cache.cache_dir() / f"musicnn-{cache_key()[:32]}.onnx"


def convert(frontend: FrontendConfig) -> bytes:
    """(n, frames, mels) log-mel patches -> MSD tags (n, 50), MTT tags (n, 50) and both
    penultimate layers side by side (n, 400), as serialised ONNX."""
    import tensorflow as tf
    import tf2onnx

    from mgc_model.musicnn import load_musicnn

    msd, mtt = (load_musicnn(name) for name in NETWORKS)

    def forward(patches):
        a, b = msd(patches, training=False), mtt(patches, training=False)
        return a["tags"], b["tags"], tf.concat([a["penultimate"], b["penultimate"]], axis=1)

    spec = [tf.TensorSpec([None, frontend.patch_frames, frontend.n_mels], tf.float32,
                          name="log_mel")]
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    proto, _ = tf2onnx.convert.from_function(tf.function(forward), input_signature=spec,
                                             opset=OPSET)
    return proto.SerializeToString()


def session(frontend: FrontendConfig, threads: int | None = None):
    """An onnxruntime session over the graph: the cached one, else one converted now."""
    return graph_cache.session(cache_path(), lambda: convert(frontend), threads)
