"""musicnn's two networks (MSD and MTT) as one ONNX graph, run by onnxruntime.

onnxruntime runs musicnn about twice as fast as TensorFlow's oneDNN kernels on a CPU
(``bench/run.py`` times both side by side) and on a GPU where ``onnxruntime-gpu`` is
installed. The graph is converted from the Keras port (``mgc_model.musicnn``) by tf2onnx,
the converter made for the job. Converting takes seconds, so it is done once per machine
and cached in the user's cache folder (``MGC_CACHE_DIR``, else ``$XDG_CACHE_HOME/mgc``,
else ``~/.cache/mgc``), keyed by the checkpoints' bytes, this graph's version and the
converter's; a cache that cannot be written only costs the conversion again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from importlib.metadata import version
from pathlib import Path

from mgc_model.frontend import FrontendConfig
from mgc_model.musicnn_checkpoints import checkpoint_dir
from mgc_model.onnx_session import inference_session

log = logging.getLogger(__name__)

CACHE_ENV = "MGC_CACHE_DIR"
GRAPH_VERSION = 1  # bump when forward() changes: the cached graphs are then rebuilt
OPSET = 17
NETWORKS = ("MSD_musicnn", "MTT_musicnn")


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mgc"


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
    return cache_dir() / f"musicnn-{cache_key()[:32]}.onnx"


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
    """An onnxruntime session over the graph: the cached one, else (none, or unreadable) one
    converted now and cached."""
    path = cache_path()
    if path.is_file():
        try:
            return inference_session(path.read_bytes(), threads)
        except Exception as error:  # a damaged cache file: convert again, over it
            log.info("musicnn's cached ONNX graph %s is unreadable (%s): converting", path, error)
    return inference_session(_convert_and_cache(frontend, path), threads)


def _convert_and_cache(frontend: FrontendConfig, path: Path) -> bytes:
    serialised = convert(frontend)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".musicnn-", delete=False) as f:
            f.write(serialised)
        os.replace(f.name, path)  # atomic: two workers converting at once both end well
    except OSError as error:
        log.info("musicnn's ONNX graph not cached (%s): it is converted on each start", error)
    return serialised
