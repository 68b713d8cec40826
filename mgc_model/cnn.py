"""Seed 001's custom CNN, trained from scratch on mgc's log-mel patches.

The paper's network (Sec. III-B): five blocks of two 3x3 convolutions (32, 64, 128, 256, 512
filters, ReLU) each followed by 2x2 max pooling, dropout 0.3 after the third and fifth pooling,
a 1200-unit dense layer with ReLU and dropout 0.45, then softmax. Two adaptations, because the
input here is the shared (187 frames, 96 mels) patch rather than a resized 256x256 image:

- 'same' padding: with the paper's 'valid' convolutions, 96 mel bands shrink to nothing before
  the fifth block; with 'same' the last feature map is (5, 3, 512) = 7,680 values.
- batch normalisation on the input (log-mel values are not centred; the statistics are learnt,
  as musicnn does) and after every convolution. The paper says batch normalisation is part of
  its training strategy without placing it; here it is what makes training from scratch
  converge in a few epochs at seed 001's learning rate instead of dozens.

Outputs follow mgc's model contract: ``genres`` (softmax, or sigmoid for multi-label datasets)
and ``embedding`` (the 1200-unit dense layer, averaged per track by ``mgc tag``).
"""

from __future__ import annotations

import keras
from keras import layers

FILTERS = (32, 64, 128, 256, 512)
DROPOUT_AFTER_BLOCK = {3: 0.3, 5: 0.3}
DENSE_UNITS = 1200
DENSE_DROPOUT = 0.45
# Keras' default 0.99 needs hundreds of steps before the inference statistics mean anything;
# a small dataset gives a few dozen per epoch, and validation would judge a different network.
BN_MOMENTUM = 0.9


def build_cnn(num_classes: int, patch_frames: int = 187, n_mels: int = 96,
              multi_label: bool = False, name: str = "cnn") -> keras.Model:
    """Seed 001's CNN: (batch, patch_frames, n_mels) log-mel in, dict of outputs out."""
    if num_classes < 2:
        raise ValueError("a genre classifier needs at least two labels")
    x = keras.Input(shape=(patch_frames, n_mels), dtype="float32", name="log_mel")
    h = layers.Reshape((patch_frames, n_mels, 1), name="expand_channels")(x)
    h = layers.BatchNormalization(momentum=BN_MOMENTUM, name="input_norm")(h)
    for block, filters in enumerate(FILTERS, start=1):
        for conv in (1, 2):
            h = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                              name=f"block{block}_conv{conv}")(h)
            h = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{block}_bn{conv}")(h)
            h = layers.ReLU(name=f"block{block}_relu{conv}")(h)
        h = layers.MaxPooling2D(2, name=f"block{block}_pool")(h)
        if block in DROPOUT_AFTER_BLOCK:
            h = layers.Dropout(DROPOUT_AFTER_BLOCK[block], name=f"block{block}_dropout")(h)
    h = layers.Flatten(name="flatten")(h)
    embedding = layers.Dense(DENSE_UNITS, activation="relu", name="dense")(h)
    h = layers.Dropout(DENSE_DROPOUT, name="dense_dropout")(embedding)
    activation = "sigmoid" if multi_label else "softmax"
    genres = layers.Dense(num_classes, activation=activation, name="genres")(h)
    return keras.Model(x, {"genres": genres, "embedding": embedding}, name=name)
