"""Native Keras 3 port of musicnn (Pons & Serra, 2019) that loads the pretrained checkpoints.

musicnn 0.1.0 ships its weights as TF 1 checkpoints and its code needs TF 1 and numpy<1.17,
so we install it with ``--no-deps`` for the checkpoint files only and rebuild the network
here. Every layer that owns weights carries the name of its TF 1 variable scope (``conv2d_5``,
``batch_normalization_9``, ...), so a Keras variable ``<layer>/<weight>`` maps one-to-one
onto a checkpoint tensor of the same name and shape, and :func:`load_checkpoint` needs no
translation table. The port reproduces the original TF 1 graph to <1e-6 on the tag
probabilities and <1e-5 on the penultimate features (``tests/test_musicnn_reference.py``).

Architecture (``build_musicnn`` in musicnn/models.py), for a (time, mel) log-mel patch:

* front-end: batch norm, then timbral convs 7x38 and 7x67 (204 filters, time-padded by 3,
  ``conv2d``/``conv2d_1``) and temporal convs 128x1, 64x1, 32x1 (51 filters, 'same',
  ``conv2d_2``..``conv2d_4``), each ReLU -> batch norm -> max over frequency; 561 features.
* mid-end: three 7-frame convs of 64 filters over all features (``conv2d_5``..``conv2d_7``),
  the last two residual; front-end and mid-end outputs are concatenated (753 features).
* back-end: max and mean over time, interleaved per feature as [max, mean] (1506), batch
  norm, dropout, dense 200 + ReLU, batch norm (the "penultimate" features), dropout,
  dense -> sigmoid tags.
"""

from __future__ import annotations

import os
import re

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from mgc_model.musicnn_checkpoints import MODEL_NAMES, MSD_LABELS, MTT_LABELS, checkpoint_dir

__all__ = [
    "MODEL_NAMES",
    "MSD_LABELS",
    "MTT_LABELS",
    "build_musicnn",
    "checkpoint_dir",
    "layer_flops",
    "load_checkpoint",
    "load_musicnn",
]


# Optimizer state saved alongside the weights by the training script; not model weights.
_OPTIMIZER_GLOBALS = re.compile(r"(^|/)(beta1_power|beta2_power|global_step)$")
_OPTIMIZER_SLOT = re.compile(r"^(?P<base>.+)/(Adam|Adam_1|Momentum|RMSProp|RMSProp_1)$")

# Front-end sizes: musicnn uses num_filt=1.6 and 96 mel bands (int() as in the original).
_TIMBRAL_FILTERS = int(1.6 * 128)  # 204
_TEMPORAL_FILTERS = int(1.6 * 32)  # 51
_TEMPORAL_KERNELS = (128, 64, 32)
_MIDEND_FILTERS = 64
_BACKEND_UNITS = 200


def _max_over_frequency(x: keras.KerasTensor, name: str) -> keras.KerasTensor:
    """(batch, time, freq, ch) -> (batch, time, ch), as max_pooling2d + squeeze in TF 1."""
    pooled = layers.MaxPooling2D(pool_size=(1, x.shape[2]), name=f"{name}_pool")(x)
    return layers.Reshape((-1, x.shape[3]), name=f"{name}_squeeze")(pooled)


def build_musicnn(
    num_classes: int = 50,
    n_frames: int | None = 187,
    n_mels: int = 96,
    name: str = "musicnn",
) -> keras.Model:
    """musicnn as a functional Keras model: log-mel (batch, n_frames, n_mels) in, dict out.

    Outputs ``tags`` (sigmoid probabilities, (batch, num_classes)) and ``penultimate`` (the
    batch-normalised 200-unit dense layer, (batch, 200)). Use ``training=False`` (the default
    of ``predict``/``predict_on_batch``) for inference. ``n_frames=None`` accepts any patch
    length; the checkpoints were trained on 187 frames (3 s at 16 kHz, hop 256).
    """
    # (conv scope, batch-norm scope, kernel width): widths 38 and 67 for 96 mel bands.
    timbral = (
        ("conv2d", "batch_normalization_1", int(0.4 * n_mels)),
        ("conv2d_1", "batch_normalization_2", int(0.7 * n_mels)),
    )
    x = keras.Input(shape=(n_frames, n_mels), dtype="float32", name="log_mel")

    # --- front-end ---
    h = layers.Reshape((-1, n_mels, 1), name="expand_channels")(x)
    h = layers.BatchNormalization(name="batch_normalization")(h)
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)), name="pad_time_timbral")(h)
    features = []
    for conv, norm, width in timbral:
        f = layers.Conv2D(_TIMBRAL_FILTERS, (7, width), activation="relu", name=conv)(padded)
        f = layers.BatchNormalization(name=norm)(f)
        features.append(_max_over_frequency(f, f"timbral_7x{width}"))
    for i, length in enumerate(_TEMPORAL_KERNELS):  # conv2d_2..4 / batch_normalization_3..5
        f = layers.Conv2D(
            _TEMPORAL_FILTERS,
            (length, 1),
            padding="same",
            activation="relu",
            name=f"conv2d_{i + 2}",
        )(h)
        f = layers.BatchNormalization(name=f"batch_normalization_{i + 3}")(f)
        features.append(_max_over_frequency(f, f"temporal_{length}x1"))
    frontend = layers.Concatenate(axis=-1, name="frontend")(features)  # (batch, time, 561)

    # --- mid-end: TF 1 convolves a (time, n_features, 1) image with a 7 x n_features kernel,
    # i.e. a 1-D conv over time. Conv2D keeps the checkpoint's kernel shape (7, n, 1, 64); a
    # Conv1D measured the same speed on CPU (this layer is ~5% of the compute).
    midend = [frontend]
    h = frontend
    for i in range(3):  # conv2d_5..7 / batch_normalization_6..8
        h_in = layers.Reshape((-1, h.shape[-1], 1), name=f"midend_{i + 1}_expand")(h)
        h_in = layers.ZeroPadding2D(((3, 3), (0, 0)), name=f"midend_{i + 1}_pad")(h_in)
        c = layers.Conv2D(
            _MIDEND_FILTERS, (7, h.shape[-1]), activation="relu", name=f"conv2d_{i + 5}"
        )(h_in)
        c = layers.BatchNormalization(name=f"batch_normalization_{i + 6}")(c)
        # (batch, time, 1, 64) -> (batch, time, 64): the TF 1 transpose [0, 1, 3, 2]
        c = layers.Reshape((-1, _MIDEND_FILTERS), name=f"midend_{i + 1}_squeeze")(c)
        h = c if i == 0 else layers.Add(name=f"midend_{i + 1}_residual")([c, h])
        midend.append(h)
    midend_features = layers.Concatenate(axis=-1, name="midend")(midend)  # (batch, time, 753)

    # --- back-end: tf.concat([max, mean], 2) on (batch, 753, 1) then flatten interleaves ---
    n_features = midend_features.shape[-1]
    max_pool = layers.GlobalMaxPooling1D(name="max_pool")(midend_features)
    mean_pool = layers.GlobalAveragePooling1D(name="mean_pool")(midend_features)
    pooled = layers.Concatenate(axis=-1, name="max_mean_pool")(
        [
            layers.Reshape((n_features, 1), name="max_pool_expand")(max_pool),
            layers.Reshape((n_features, 1), name="mean_pool_expand")(mean_pool),
        ]
    )
    h = layers.Flatten(name="flatten")(pooled)  # [max_0, mean_0, max_1, mean_1, ...]
    h = layers.BatchNormalization(name="batch_normalization_9")(h)
    h = layers.Dropout(0.5, name="dropout")(h)
    h = layers.Dense(_BACKEND_UNITS, activation="relu", name="dense")(h)
    penultimate = layers.BatchNormalization(name="batch_normalization_10")(h)
    h = layers.Dropout(0.5, name="dropout_1")(penultimate)
    logits = layers.Dense(num_classes, name="dense_1")(h)
    tags = layers.Activation("sigmoid", name="sigmoid")(logits)
    return keras.Model(x, {"tags": tags, "penultimate": penultimate}, name=name)


def layer_flops(model: keras.Model) -> dict[str, int]:
    """FLOPs (2 x multiply-adds) per patch of each convolution and dense layer of a Keras
    network, from its shapes: a convolution counts every output position times kernel area
    times input channels (padding zeros included, as the hardware computes them), a dense
    layer in x out. Batch norm, pooling and activations are a few MFLOPs and left out."""
    flops = {}
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            flops[layer.name] = 2 * h * w * c_out * kh * kw * layer.input.shape[-1]
        elif isinstance(layer, layers.Dense):
            flops[layer.name] = 2 * layer.input.shape[-1] * layer.units
    return flops


def _model_weights(model: keras.Model) -> dict[str, keras.Variable]:
    """Model weights keyed ``<layer name>/<weight name>``, the TF 1 checkpoint naming."""
    weights: dict[str, keras.Variable] = {}
    for layer in model.layers:
        for weight in layer.weights:
            key = f"{layer.name}/{weight.name}"
            if key in weights:
                raise ValueError(f"two model weights share the checkpoint name {key}")
            weights[key] = weight
    if len(weights) != len(model.weights):  # nested models or shared weights: refuse
        raise ValueError(
            f"found {len(weights)} layer weights but the model has {len(model.weights)}; "
            "load_checkpoint only handles flat functional models"
        )
    return weights


def _is_optimizer_state(name: str, checkpoint_names: set[str]) -> bool:
    """True for optimizer bookkeeping and for slots of a variable that is in the checkpoint."""
    if _OPTIMIZER_GLOBALS.search(name):
        return True
    slot = _OPTIMIZER_SLOT.match(name)
    return slot is not None and slot.group("base") in checkpoint_names


def load_checkpoint(model: keras.Model, checkpoint_prefix: str | os.PathLike[str]) -> None:
    """Assign every model weight from a TF 1 checkpoint, matching by name; all or nothing.

    Raises ValueError, listing the names, if a model weight has no checkpoint value or a
    different shape/dtype, or if a checkpoint variable (other than optimizer state) is left
    unused: a silent partial load would give plausible-looking but wrong tags. Nothing is
    assigned unless everything matches. A directory is taken as the prefix '<dir>/', the
    layout of musicnn's checkpoints (files '<dir>/.index', '<dir>/.data-00000-of-00001').
    """
    prefix = os.fspath(checkpoint_prefix)
    if os.path.isdir(prefix) and not prefix.endswith(os.sep):
        prefix += os.sep
    # tf.train.load_checkpoint would read '<dir>/checkpoint', which points at the author's disk.
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()

    problems: list[str] = []
    values: list[tuple[keras.Variable, np.ndarray]] = []
    weights = _model_weights(model)
    for key, weight in weights.items():
        if key not in shapes:
            problems.append(f"model weight {key} {tuple(weight.shape)} is not in the checkpoint")
            continue
        ckpt_shape, ckpt_dtype = tuple(shapes[key]), dtypes[key].as_numpy_dtype
        if ckpt_shape != tuple(weight.shape) or np.dtype(ckpt_dtype) != np.dtype(weight.dtype):
            problems.append(
                f"model weight {key} {tuple(weight.shape)} {weight.dtype} != "
                f"checkpoint {ckpt_shape} {np.dtype(ckpt_dtype)}"
            )
            continue
        values.append((weight, reader.get_tensor(key)))
    names = set(shapes)
    unused = sorted(n for n in names - weights.keys() if not _is_optimizer_state(n, names))
    problems += [f"checkpoint variable {n} {tuple(shapes[n])} is not used" for n in unused]
    if problems:
        raise ValueError(
            f"checkpoint {prefix!r} does not match model {model.name!r} "
            f"({len(problems)} problems):\n  " + "\n  ".join(problems)
        )
    for weight, value in values:
        weight.assign(value)


def load_musicnn(name: str) -> keras.Model:
    """Build musicnn and load the pretrained ``MSD_musicnn`` or ``MTT_musicnn`` weights."""
    folder = checkpoint_dir(name)  # validates the name first
    model = build_musicnn(num_classes=len(MODEL_NAMES[name]), name=name)
    load_checkpoint(model, folder)
    return model
