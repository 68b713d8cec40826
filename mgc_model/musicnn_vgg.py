"""Keras 3 port of musicnn's VGG baseline (``vgg`` in musicnn/models.py), with its checkpoints.

Why: musicnn 0.1.0 also ships ``MSD_vgg`` and ``MTT_vgg`` (ROC-AUC 0.877 and 0.903, against
musicnn's 0.880 and 0.907), trained on the same 3 s log-mel patches and the same 50 tags. A
differently built network makes different mistakes, so averaging its tags with musicnn's is a
candidate for a better teacher (issue 24). Its TF 1 code cannot run under TF 2, so the
network is rebuilt here; as in :mod:`mgc_model.musicnn`, every layer that owns weights has
the name of its TF 1 variable scope (``1CNN``..``5CNN``, ``batch_normalization``..``_5``,
``dense``), so :func:`mgc_model.musicnn.load_checkpoint` maps the weights by name.
``scripts/check_vgg_port.py`` compares the port with the original TF 1 graphs.

Architecture, for a (187, 96) log-mel patch: batch norm; then five blocks of a 3x3 'same'
conv of 128 filters + ReLU, batch norm and a 'valid' max-pool (``POOLS``: the two
checkpoints differ in the first two), leaving (2, 1, 128);
flatten (256, the ``penultimate`` output here), dense -> sigmoid tags. Dropout (0.25 after
pools 1-4, 0.5 after the flatten) is off at inference and therefore left out.
"""

from __future__ import annotations

import keras
from keras import layers

from mgc_model.musicnn import load_checkpoint
from mgc_model.musicnn_checkpoints import MSD_LABELS, MTT_LABELS, checkpoint_dir

__all__ = ["POOLS", "VGG_MODELS", "build_vgg", "load_vgg"]

VGG_MODELS: dict[str, list[str]] = {"MSD_vgg": MSD_LABELS, "MTT_vgg": MTT_LABELS}

_FILTERS = 128  # define_model passes num_filters=128 for both MSD_vgg and MTT_vgg
_LATER_POOLS = (((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))
# (pool size, strides) after each conv block, read from each checkpoint's saved .meta graph.
# MTT_vgg's are those of musicnn's vgg(); MSD_vgg was trained with other first two pools,
# (4, 1) stride (4, 1) then (1, 4) stride (1, 4): the same 46 x 24 map after pool 2 and the
# same 256 flattened features, so its weights also load into vgg()'s layout, but give wrong
# tags there (0.47 off on the check's patches).
POOLS: dict[str, tuple] = {
    "MTT_vgg": (((4, 1), (2, 2)), ((2, 2), (2, 2)), *_LATER_POOLS),
    "MSD_vgg": (((4, 1), (4, 1)), ((1, 4), (1, 4)), *_LATER_POOLS),
}


def build_vgg(num_classes: int = 50, n_frames: int = 187, n_mels: int = 96,
              name: str = "MTT_vgg") -> keras.Model:
    """VGG as a functional Keras model: log-mel (batch, n_frames, n_mels) in, dict out.

    ``name`` picks the pooling (``POOLS``). Outputs ``tags`` (sigmoid probabilities) and
    ``penultimate`` (the flattened last pool, 256 features for 187 x 96). The dense layer's
    input size depends on the patch size, so unlike musicnn the patch length is fixed.
    """
    if name not in POOLS:
        raise ValueError(f"unknown VGG model {name!r}; expected one of {sorted(POOLS)}")
    x = keras.Input(shape=(n_frames, n_mels), dtype="float32", name="log_mel")
    h = layers.Reshape((n_frames, n_mels, 1), name="expand_channels")(x)
    h = layers.BatchNormalization(name="batch_normalization")(h)
    for i, (pool, strides) in enumerate(POOLS[name], start=1):
        h = layers.Conv2D(_FILTERS, (3, 3), padding="same", activation="relu",
                          name=f"{i}CNN")(h)
        h = layers.BatchNormalization(name=f"batch_normalization_{i}")(h)
        h = layers.MaxPooling2D(pool_size=pool, strides=strides, padding="valid",
                                name=f"pool{i}")(h)
    penultimate = layers.Flatten(name="flatten")(h)  # NHWC order, as tf.layers.flatten
    logits = layers.Dense(num_classes, name="dense")(penultimate)
    tags = layers.Activation("sigmoid", name="sigmoid")(logits)
    return keras.Model(x, {"tags": tags, "penultimate": penultimate}, name=name)


def load_vgg(name: str) -> keras.Model:
    """Build the VGG and load the pretrained ``MSD_vgg`` or ``MTT_vgg`` weights."""
    if name not in VGG_MODELS:
        raise ValueError(f"unknown VGG model {name!r}; expected one of {sorted(VGG_MODELS)}")
    # the VGG checkpoints sit beside musicnn's in the installed package
    folder = checkpoint_dir("MSD_musicnn").parent / name
    if not (folder / ".index").is_file():
        raise FileNotFoundError(f"musicnn is installed but has no checkpoint {name}/.index")
    model = build_vgg(num_classes=len(VGG_MODELS[name]), name=name)
    load_checkpoint(model, folder)
    return model
