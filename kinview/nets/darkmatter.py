"""Dark-matter model classifiers from multi-channel cluster maps (darkCNN).

Inputs (a dict, multi-input model):

``maps``        float32 (n, 50, 50, c): the chosen channels of ``mass``, ``xray``, ``stellar``,
                each divided by its own 99.5th percentile (see :mod:`kinview.tasks.darkmatter`);
``attributes``  float32 (n, k): cluster attributes (redshift, log10 M200 − 14.5, xrayConc,
                BCG_e1, BCG_e2 by default); absent when no attributes are chosen.

Output: softmax probabilities over the classes (CDM, SIDM0.1, SIDM0.3, SIDM1); sparse
categorical cross-entropy, Adam.

Architectures
-------------
``simple``
    darkCNN's ``simpleModel``: Conv 16 → max-pool → Conv 32 → max-pool → Conv 64 → max-pool
    (3×3, ReLU, 'same') → flatten → Dense 128 (ReLU) → softmax.  The attributes go through
    Dense 32 (ReLU) and join the flattened maps before Dense 128.
``inception``
    A small inception network after Merten et al. (2019, the network darkCNN's ``inception``
    option follows): two multi-branch modules (1×1, 3×3, double 3×3 and pooled branches, leaky
    ReLU, batch-norm) separated by average pooling, a third module on the 12×12 map, global
    average pooling, Dense 256 (dropout 0.5), attributes joined as above, softmax.
"""
from __future__ import annotations

from typing import Any, Dict

from kinview.nets.layers import classifier_compile

ARCHITECTURES = ("simple", "inception")

RECIPES: Dict[str, Dict[str, Any]] = {
    "simple": dict(epochs=30, batch_size=32, learning_rate=1e-3,
                   reduce_lr=dict(factor=0.3, patience=4, min_lr=1e-5)),
    "inception": dict(epochs=30, batch_size=32, learning_rate=1e-3,
                      reduce_lr=dict(factor=0.3, patience=4, min_lr=1e-5)),
}


def _inception_module(x, filters: int, name: str):
    import keras

    def unit(t, f, k, suffix):
        t = keras.layers.Conv2D(f, k, padding="same", use_bias=False, name=f"{name}_{suffix}_conv")(t)
        t = keras.layers.BatchNormalization(name=f"{name}_{suffix}_bn")(t)
        return keras.layers.LeakyReLU(0.03, name=f"{name}_{suffix}_act")(t)

    b1 = unit(x, filters, 1, "b1")
    b3 = unit(unit(x, filters, 1, "b3a"), filters, 3, "b3b")
    b5 = unit(unit(unit(x, filters, 1, "b5a"), filters, 3, "b5b"), filters, 3, "b5c")
    bp = keras.layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = unit(bp, filters, 1, "bp")
    return keras.layers.Concatenate(name=f"{name}_cat")([b1, b3, b5, bp])


def build(arch: str, size: int = 50, n_channels: int = 3, n_attributes: int = 5,
          n_classes: int = 4, learning_rate: float = None):
    """A compiled multi-input Keras classifier for ``arch`` ('simple' or 'inception').

    The model's inputs are named ``maps`` and (when ``n_attributes > 0``) ``attributes``.
    """
    import keras

    if arch not in RECIPES:
        raise ValueError(f"unknown darkmatter architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    lr = learning_rate or RECIPES[arch]["learning_rate"]
    maps = keras.Input((size, size, n_channels), name="maps")
    inputs = [maps]
    if arch == "simple":
        x = maps
        for i, f in enumerate((16, 32, 64)):
            x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i + 1}")(x)
            x = keras.layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = _inception_module(maps, 8, "inc1")
        x = keras.layers.AveragePooling2D(2, name="down1")(x)
        x = _inception_module(x, 16, "inc2")
        x = keras.layers.AveragePooling2D(2, name="down2")(x)
        x = _inception_module(x, 32, "inc3")
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        x = keras.layers.Dense(256, activation="relu", name="fc1")(x)
        x = keras.layers.Dropout(0.5, name="drop1")(x)
    if n_attributes > 0:
        attrs = keras.Input((n_attributes,), name="attributes")
        inputs.append(attrs)
        a = keras.layers.Dense(32, activation="relu", name="attr_dense")(attrs)
        x = keras.layers.Concatenate(name="join")([x, a])
    x = keras.layers.Dense(128, activation="relu", name="fc_final")(x)
    out = keras.layers.Dense(n_classes, activation="softmax", name="model_class")(x)
    model = keras.Model(inputs if len(inputs) > 1 else maps, out, name=f"darkmatter_{arch}")
    return classifier_compile(model, n_classes, lr)
