"""ONNX graphs that mgc derives from the installed weights (musicnn converted by tf2onnx,
YAMNet's export with its batch freed), built once per machine and kept in the user's cache
folder: ``MGC_CACHE_DIR``, else ``$XDG_CACHE_HOME/mgc``, else ``~/.cache/mgc``. Building
takes seconds (TensorFlow, tf2onnx, onnx's checker); reading a cached graph does not. A file
name carries a digest of everything its graph depends on, so a new checkpoint, export or
converter gets a new file; a cache that cannot be written only costs the build again."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from mgc_model.onnx_session import inference_session

log = logging.getLogger(__name__)

CACHE_ENV = "MGC_CACHE_DIR"


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mgc"


def session(path: Path, build: Callable[[], bytes], threads: int | None = None):
    """An onnxruntime session over the graph at ``path``, or, when there is none or it is
    unreadable (cut short by a full disk, say), over one built now and written there."""
    if path.is_file():
        try:
            return inference_session(path.read_bytes(), threads)
        except Exception as error:  # a damaged cache file: build again, over it
            log.info("cached ONNX graph %s is unreadable (%s): building it again", path, error)
    graph = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.stem}-",
                                         delete=False) as f:
            f.write(graph)
        os.replace(f.name, path)  # atomic: two workers building at once both end well
    except OSError as error:
        log.info("ONNX graph not cached (%s): it is built on each start", error)
    return inference_session(graph, threads)
