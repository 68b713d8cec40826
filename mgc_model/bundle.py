"""Model bundles: what ``mgc train`` writes and ``mgc tag --model BUNDLE`` and ``mgc evaluate``
read. A bundle is a folder, so a model always travels with its labels and its front-end:

- ``model.keras``: log-mel patches (batch, frames, mels) in; ``{"genres": (batch, k)
  probabilities, "embedding": (batch, d)}`` out;
- ``labels.json`` (as the dataset's), ``frontend.json`` (``FrontendConfig.to_dict()``);
- ``training.json``: architecture, hyperparameters, epochs, data, counts, ``name`` and
  ``version``; the version is a short content hash of ``model.keras``, so the provenance
  ``name@version`` that tags record names exactly one set of weights;
- ``metrics.json`` (validation), ``history.csv`` and ``training_curves.png``.

A bundle of kind ``head`` (``training.json`` arch ``head``, written by ``mgc train
--from-tags``) holds ``head.json`` instead of ``model.keras``: a head on a pretrained model's
track embedding (``mgc_model.head``), the name and version of that model, and its labels as
the library spells them; its version is the content hash of ``head.json``.

Bundles are read through fsspec (a bucket works, for Dataflow workers) and written locally,
into a folder beside the target that is renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from fsspec.core import url_to_fs

from mgc_model.contract import ModelInfo, UnknownModel
from mgc_model.frontend import FrontendConfig
from mgc_model.head import LinearHead

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"
FRONTEND_FILE = "frontend.json"
TRAINING_FILE = "training.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "training_curves.png"
HEAD_FILE = "head.json"
HEAD_ARCH = "head"
COMMON_FILES = (LABELS_FILE, FRONTEND_FILE, TRAINING_FILE)
REQUIRED_FILES = (MODEL_FILE, *COMMON_FILES)
HEAD_REQUIRED_FILES = (HEAD_FILE, *COMMON_FILES)


class NotABundle(ValueError):
    """A path given as a bundle that is not one; the message names what is missing."""


def looks_like_path(ref: str) -> bool:
    """True when a ``--model`` value names a folder rather than a built-in model."""
    return "/" in ref or os.sep in ref or ref.startswith(".") or os.path.exists(ref)


def content_version(model_file: str | os.PathLike[str]) -> str:
    """First 12 hex digits of the SHA-256 of the model file."""
    digest = hashlib.sha256()
    with open(model_file, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def _read_json(fs, path: str) -> dict:
    with fs.open(path, "r") as f:
        return json.load(f)


def _open(path: str):
    fs, root = url_to_fs(path)
    if not fs.isdir(root):
        what = "is a file, not a folder" if fs.exists(root) else "does not exist"
        raise NotABundle(f"model bundle {path!r} {what}; give the folder `mgc train --output` "
                         "wrote")
    missing = [name for name in COMMON_FILES if not fs.isfile(posixpath.join(root, name))]
    if not missing:
        kind = _read_json(fs, posixpath.join(root, TRAINING_FILE)).get("arch")
        model_file = HEAD_FILE if kind == HEAD_ARCH else MODEL_FILE
        missing = [model_file] if not fs.isfile(posixpath.join(root, model_file)) else []
    if missing:
        raise NotABundle(f"{path!r} is not a model bundle: it has no {', '.join(missing)} "
                         "(a bundle is the folder `mgc train --output` writes)")
    return fs, root


def describe_bundle(path: str,
                    describe_base: Callable[[str], ModelInfo] | None = None) -> ModelInfo:
    """A bundle's ``ModelInfo`` from its JSON files, without loading the network;
    ``describe_base`` resolves the model a head bundle reads (``registry.describe``); without
    it a head bundle is refused, as a Keras bundle was wanted."""
    fs, root = _open(path)
    labels = _read_json(fs, posixpath.join(root, LABELS_FILE))
    training = _read_json(fs, posixpath.join(root, TRAINING_FILE))
    frontend = FrontendConfig.from_dict(_read_json(fs, posixpath.join(root, FRONTEND_FILE)))
    if training.get("arch") == HEAD_ARCH:
        if describe_base is None:
            raise NotABundle(f"{path!r} is a head learnt from a library's tags (`mgc train "
                             "--from-tags`): its report.json holds its held-out figures, and "
                             "`mgc tag --model` uses it")
        return _describe_head(fs, root, path, labels, training, describe_base)
    try:
        return ModelInfo(name=str(training["name"]), version=str(training["version"]),
                         genres=tuple(labels["labels"]),
                         embedding_dim=int(training["embedding_dim"]), frontend=frontend)
    except KeyError as missing:
        raise NotABundle(f"{path!r}: {missing} is missing from its {LABELS_FILE} or "
                         f"{TRAINING_FILE}") from None


def _describe_head(fs, root: str, path: str, labels: dict, training: dict,
                   describe_base: Callable[[str], ModelInfo]) -> ModelInfo:
    """A head bundle's ``ModelInfo``: the base model's front-ends and embedding, the head's
    genres; refuses a head.json replaced after training, or a base model not installed."""
    with fs.open(posixpath.join(root, HEAD_FILE), "rb") as f:
        raw = f.read()
    version = hashlib.sha256(raw).hexdigest()[:12]
    if version != str(training.get("version")):
        raise NotABundle(f"{path!r}: {HEAD_FILE} has content version {version} but "
                         f"{TRAINING_FILE} records {training.get('version')}; the head was "
                         "replaced after training")
    doc = json.loads(raw)
    try:
        head = LinearHead.from_dict(doc["head"])
        base_name, genres = str(doc["base"]["name"]), tuple(labels["labels"])
    except (KeyError, TypeError, ValueError) as error:
        raise NotABundle(f"{path!r}: {HEAD_FILE} is not a head ({error})") from None
    try:
        base = describe_base(base_name)
    except UnknownModel:
        raise NotABundle(f"{path!r} is a head on the model {base_name!r}, which this mgc "
                         "does not have") from None
    if base.base is not None or head.n_features != base.embedding_dim:
        raise NotABundle(f"{path!r}: its head reads {head.n_features} features but "
                         f"{base.ref}'s embedding has {base.embedding_dim}; train it again")
    if head.coef.shape[0] != len(genres):
        raise NotABundle(f"{path!r}: the head scores {head.coef.shape[0]} genres but "
                         f"{LABELS_FILE} names {len(genres)}")
    return ModelInfo(name=str(training["name"]), version=version, genres=genres,
                     embedding_dim=base.embedding_dim, frontend=base.frontend,
                     extra_frontends=base.extra_frontends, base=base_name, track_head=head,
                     descriptors=base.descriptors,  # the base hears them; the head adds none
                     fitted_on=frozenset(training.get("fitted_on_albums", ())),
                     held_out_min_score=(training.get("held_out_min_score") or {}).get(
                         "min_score"))


def write_head(writer: BundleWriter, head, base: ModelInfo) -> str:
    """Write ``head.json`` (the head and the model it reads) and return its content version."""
    doc = {"base": {"name": base.name, "version": base.version, "ref": base.ref},
           "features": "embedding", "head": head.to_dict()}
    writer.file(HEAD_FILE).write_text(json.dumps(doc) + "\n")
    return content_version(writer.file(HEAD_FILE))


@dataclass
class Bundle:
    path: str
    info: ModelInfo
    model: object  # keras.Model
    labels_doc: dict
    training: dict
    metrics: dict | None
    history: pd.DataFrame | None

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.genres

    @property
    def multi_label(self) -> bool:
        return bool(self.labels_doc.get("multi_label", False))

    @property
    def frontend(self) -> FrontendConfig:
        return self.info.frontend


def load_bundle(path: str) -> Bundle:
    """Load a bundle's network and metadata; refuses a ``model.keras`` whose content does not
    match the version recorded at training time (the provenance tags would carry)."""
    import keras

    info = describe_bundle(path)
    fs, root = _open(path)
    with tempfile.TemporaryDirectory(prefix="mgc-bundle-") as tmp:
        local = posixpath.join(root, MODEL_FILE)
        if "file" not in fs.protocol:
            local = os.path.join(tmp, MODEL_FILE)
            fs.get(posixpath.join(root, MODEL_FILE), local)
        version = content_version(local)
        if version != info.version:
            raise NotABundle(f"{path!r}: {MODEL_FILE} has content version {version} but "
                             f"{TRAINING_FILE} records {info.version}; the model was replaced "
                             "after training")
        model = keras.saving.load_model(local)
    check_outputs(model, len(info.genres), path)
    metrics = history = None
    if fs.isfile(posixpath.join(root, METRICS_FILE)):
        metrics = _read_json(fs, posixpath.join(root, METRICS_FILE))
    if fs.isfile(posixpath.join(root, HISTORY_FILE)):
        with fs.open(posixpath.join(root, HISTORY_FILE), "r") as f:
            history = pd.read_csv(f)
    return Bundle(path=path, info=info, model=model,
                  labels_doc=_read_json(fs, posixpath.join(root, LABELS_FILE)),
                  training=_read_json(fs, posixpath.join(root, TRAINING_FILE)),
                  metrics=metrics, history=history)


def check_outputs(model, n_labels: int, where: str) -> None:
    outputs = model.output if isinstance(model.output, dict) else {}
    if set(outputs) != {"genres", "embedding"} or outputs["genres"].shape[-1] != n_labels:
        raise NotABundle(f"{where!r}: the model must output {{'genres': (batch, {n_labels}), "
                         "'embedding': (batch, d)}")


def gpu_memory_growth() -> None:
    """Let TensorFlow take GPU memory as it needs it rather than all of it up front, so that a
    GPU worker's other processes (onnxruntime's networks, a second SDK process) still get
    some. Only bundles run in TensorFlow: the pretrained networks never import it."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        # RuntimeError: the device is already initialised, and its setting stays
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)


class BundleTagger:
    """The ``GenreTagger`` of a bundle: patches in, genre probabilities and embeddings out."""

    def __init__(self, path: str) -> None:
        import tensorflow as tf

        gpu_memory_growth()
        bundle = load_bundle(path)
        self.info = bundle.info
        self._model = bundle.model
        cfg = self.info.frontend
        spec = tf.TensorSpec([None, cfg.patch_frames, cfg.n_mels], tf.float32)
        self._run = tf.function(lambda x: self._model(x, training=False),
                                input_signature=[spec], reduce_retracing=True)

    def predict(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        out = self._run(np.asarray(inputs[0], dtype=np.float32))
        return out["genres"].numpy(), out["embedding"].numpy()


class BundleWriter:
    """Writes a bundle into ``.<name>.partial-<id>/`` beside ``output``; ``commit`` renames it
    into place (replacing an earlier bundle there), so a reader never sees half a bundle."""

    def __init__(self, output: str | os.PathLike[str]) -> None:
        self.output = Path(output).expanduser().absolute()
        if self.output.exists():
            if not self.output.is_dir():
                raise ValueError(f"--output {str(output)!r} is a file; give a folder for the "
                                 "bundle")
            if any(self.output.iterdir()) and not (self.output / TRAINING_FILE).is_file():
                raise ValueError(f"--output {str(output)!r} exists and is not a model bundle; "
                                 "give a new folder (an existing bundle is replaced)")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.staging = self.output.parent / f".{self.output.name}.partial-{uuid.uuid4().hex[:8]}"
        self.staging.mkdir()

    def file(self, name: str) -> Path:
        return self.staging / name

    def write_json(self, name: str, doc: dict) -> None:
        self.file(name).write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")

    def save_model(self, model) -> str:
        """Save the network and return its content version."""
        model.save(self.file(MODEL_FILE))
        return content_version(self.file(MODEL_FILE))

    def commit(self, required: tuple[str, ...] = REQUIRED_FILES) -> Path:
        missing = [n for n in required if not self.file(n).is_file()]
        if missing:
            raise RuntimeError(f"bundle incomplete, missing {missing}")
        old = None
        if self.output.exists():
            old = self.output.parent / f".{self.output.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(self.output, old)
        os.replace(self.staging, self.output)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.output

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
