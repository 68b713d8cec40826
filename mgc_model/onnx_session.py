"""onnxruntime sessions for mgc's networks: on the GPU when onnxruntime has CUDA, quiet."""

from __future__ import annotations

import logging


def providers() -> list[str]:
    """CUDA first where ``onnxruntime-gpu`` provides it, then the CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def inference_session(graph: bytes | str, threads: int | None = None):
    """A session over ``graph`` (serialised ONNX or a path); ``threads``: intra-op threads
    on the CPU (default: onnxruntime's, one per core)."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # errors only: its start-up lines are no news
    options = ort.SessionOptions()
    options.log_severity_level = 3  # likewise for this session's graph clean-up notes
    if threads:
        options.intra_op_num_threads = threads
    wanted = providers()
    session = ort.InferenceSession(graph, options, providers=wanted)
    if wanted[0] != session.get_providers()[0]:  # e.g. CUDA present, its libraries not
        logging.getLogger(__name__).warning(
            "onnxruntime runs this network on %s, not %s: it could not start the GPU provider "
            "(its CUDA and cuDNN libraries)", session.get_providers()[0], wanted[0])
    return session
