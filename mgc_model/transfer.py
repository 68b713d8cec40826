"""Transfer learning (seeds 000 and 003): the pretrained musicnn network as a feature extractor
and a small MLP head trained on its features.

Seed 000 removes the pretrained network's classification layers, uses what remains as a fixed
feature extractor and trains an MLP on the features ("a very complex classifier is generally
not used"); seed 003 does the same with VGGish embeddings. Here the features are musicnn's
200-unit "penultimate" layer, and the head is one hidden ReLU layer with dropout.

Because a frozen extractor gives the same features every epoch, training can compute them once
and fit the head on arrays (``mgc_model.training`` does, when no input augmentation applies):
on a CPU that is the difference between minutes and hours. Fine-tuning unfreezes the top
blocks of musicnn (mid-end convolutions and the back-end dense layer); batch normalisation
stays in inference mode, so its statistics keep describing the pretraining data.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from mgc_model.musicnn import load_musicnn

DEFAULT_BACKBONE = "MSD_musicnn"
# musicnn's top blocks: the three mid-end convolutions and the back-end dense layer.
FINE_TUNE_LAYERS = ("conv2d_5", "conv2d_6", "conv2d_7", "dense")


@dataclass
class TransferModel:
    extractor: keras.Model  # log-mel patch -> backbone features (frozen unless fine-tuning)
    head: keras.Model  # features -> {"genres", "embedding"}
    model: keras.Model  # patch -> {"genres", "embedding"}: what a bundle saves

    def set_fine_tune(self, enabled: bool) -> None:
        """Freeze the whole extractor, or unfreeze its top blocks only."""
        self.extractor.trainable = True
        for layer in self.extractor.layers:
            layer.trainable = enabled and layer.name in FINE_TUNE_LAYERS


def build_head(input_dim: int, num_classes: int, hidden_units: int = 256,
               dropout: float = 0.5, multi_label: bool = False) -> keras.Model:
    """The MLP: features -> hidden ReLU layer (the embedding) -> dropout -> genre outputs."""
    features = keras.Input(shape=(input_dim,), dtype="float32", name="features")
    embedding = layers.Dense(hidden_units, activation="relu", name="head_hidden")(features)
    h = layers.Dropout(dropout, name="head_dropout")(embedding)
    activation = "sigmoid" if multi_label else "softmax"
    genres = layers.Dense(num_classes, activation=activation, name="genres")(h)
    return keras.Model(features, {"genres": genres, "embedding": embedding}, name="head")


def build_transfer(num_classes: int, backbone: str = DEFAULT_BACKBONE,
                   hidden_units: int = 256, dropout: float = 0.5,
                   multi_label: bool = False) -> TransferModel:
    """Pretrained ``backbone`` (MSD_musicnn or MTT_musicnn) + a new head, frozen backbone."""
    if num_classes < 2:
        raise ValueError("a genre classifier needs at least two labels")
    net = load_musicnn(backbone)
    extractor = keras.Model(net.input, net.output["penultimate"], name=f"{backbone}_features")
    head = build_head(extractor.output.shape[-1], num_classes, hidden_units, dropout,
                      multi_label)
    patches = keras.Input(shape=net.input.shape[1:], dtype="float32", name="log_mel")
    # training=False: dropout off and batch norm on its moving statistics, even when the top
    # blocks are fine-tuned (Keras' transfer-learning recipe)
    out = head(extractor(patches, training=False))
    model = keras.Model(patches, {"genres": out["genres"], "embedding": out["embedding"]},
                        name=f"transfer_{backbone}")
    transfer = TransferModel(extractor, head, model)
    transfer.set_fine_tune(False)
    return transfer
