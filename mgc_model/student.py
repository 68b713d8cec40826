"""``--model fast``: a small network distilled from the default model (issue 24), for CPUs.

One convolutional network over musicnn's log-mel window (``FrontendConfig()``) reproduces what
the default model computes from it and from YAMNet: MSD_musicnn's and MTT_musicnn's 100 tag
probabilities, YAMNet's speech-without-music probability and the 400-value embedding. Its
genres are the default model's own mapping of those (``genres.tags_to_genre_scores``,
``mapping.spoken_gate``, the same per-track sharpening), so it answers as the default model
would, at about a thirtieth of the FLOPs; its styles, moods, voice and instruments are those
musicnn's tags name (YAMNet's AudioSet classes are not reproduced).

The graph ships in this package (``data/fast-student.onnx``) with its SHA-256, made by
``scripts/distill_student.py`` (the training command and its fidelity figures:
docs/performance.md, "A smaller network").
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from mgc_model import descriptors, genres, mapping, musicnn_checkpoints, pretrained
from mgc_model.contract import ModelInfo
from mgc_model.frontend import FrontendConfig
from mgc_model.onnx_session import inference_session

GRAPH = Path(__file__).parent / "data" / "fast-student.onnx"
GRAPH_SHA256 = "fa2d78477fcc3ccef3fb138b15b22876ad79fe174a276123b69b064e1868a92c"
TEACHER = pretrained.DEFAULT_INFO

FAST_INFO = ModelInfo(
    name="fast",
    version=f"1+distilled-from-{TEACHER.name}-{TEACHER.version}",
    genres=tuple(genres.FMA_GENRES),
    embedding_dim=400,
    frontend=FrontendConfig(),
    track_temperature=mapping.TEMPERATURE,
    descriptors=descriptors.names(families=("msd", "mtt")),
)


class BadWeights(RuntimeError):
    pass


@lru_cache(maxsize=1)
def graph_bytes() -> bytes:
    """The shipped graph, refused unless it is byte for byte the one distilled."""
    data = GRAPH.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != GRAPH_SHA256:
        raise BadWeights(f"{GRAPH} has SHA-256 {digest}, expected {GRAPH_SHA256}: it is not the "
                         "distilled network this mgc ships; reinstall mgc")
    return data


def graph_flops() -> float:
    """FLOPs (2 x multiply-adds) of the convolutions and matrix products for one window,
    from the shipped graph's own shapes (onnx shape inference), not from a description of it."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = onnx.load_model_from_string(graph_bytes())
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1  # one window
    model = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in (*model.graph.value_info, *model.graph.output, *model.graph.input)}
    weights = {t.name: numpy_helper.to_array(t).shape for t in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        out = shapes[node.output[0]]
        if node.op_type == "Conv":  # each output value: in / groups x kh x kw multiply-adds
            total += 2 * int(np.prod(out)) * int(np.prod(weights[node.input[1]][1:]))
        elif node.op_type in ("MatMul", "Gemm"):  # each input value meets each output column
            total += 2 * int(np.prod(shapes[node.input[0]])) * out[-1]
    return float(total)


def genre_scores(tags: np.ndarray) -> np.ndarray:
    """The graph's (n, 101) ``tags`` -> (n, 16) genre scores, as the default maps its own."""
    return mapping.spoken_gate(genres.tags_to_genre_scores(tags[:, :50], tags[:, 50:100]),
                               tags[:, 100])


class StudentTagger:
    """The distilled network in onnxruntime (on a GPU when it has one), one call per batch."""

    def __init__(self, info: ModelInfo = FAST_INFO) -> None:
        self.info = info
        self._session = inference_session(graph_bytes())
        self._input = self._session.get_inputs()[0].name
        self._names = [o.name for o in self._session.get_outputs()]
        self._describe = descriptors.Describer(
            musicnn_checkpoints.MSD_LABELS, musicnn_checkpoints.MTT_LABELS)

    def outputs(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        """``tags``: (n, 101) MSD's 50, MTT's 50 and the speech-without-music probability;
        ``emb``: (n, 400), as the teacher's."""
        values = self._session.run(None, {self._input: np.asarray(patches, np.float32)})
        return dict(zip(self._names, values, strict=True))

    def predict(self, inputs: tuple[np.ndarray, ...], descriptors: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
        out = self.outputs(inputs[0])
        scores = genre_scores(out["tags"])
        if descriptors:
            msd, mtt = out["tags"][:, :50], out["tags"][:, 50:100]
            scores = np.concatenate([scores, self._describe(msd, mtt)], axis=1)
        return scores, out["emb"]
