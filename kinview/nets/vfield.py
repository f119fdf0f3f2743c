"""Velocity-field usability classifiers: 32×32 velocity map in [−1, 1] → usable / quality.

Input: ``kinview.kinematics.inputs.vfield_input(field)``, float32 (32, 32) (masked spaxels 0).
Output: one sigmoid unit P(usable) in binary mode, or softmax over quality 0/1/2 in
three-class mode.

Architectures
-------------
``seed-fcn``
    The seed's fully connected classifier: flatten → Dense 512 → Dense 256 (dropout 0.6) →
    Dense 128 (dropout 0.6) → output; Adam 1e-3 (reduced on plateau to 1e-5), class weights,
    flips and rotations, 50 epochs, batch 32.
``seed-cnn``
    The seed's convolutional classifier: Conv 32-32 (3×3) → max-pool → Conv 64-64 → max-pool →
    flatten → Dense 256 → Dense 128 (dropout 0.6) → Dense 64 (dropout 0.6) → output; same
    recipe as ``seed-fcn``.
``default``
    kinview's recipe for a few hundred expert labels: the field's summary statistics
    (:mod:`kinview.nets.field_summary`: point symmetry, agreement with a rotating plane,
    coverage, spaxel-scale roughness, ...; computed inside the network, no weights) feed one
    output layer, fitted *exactly* (L2-regularised, class-balanced logistic regression by
    L-BFGS on the standardised features: :mod:`kinview.training.convex`) on the training and
    validation splits.  11 weights, deterministic, trained in well under a second.  Chosen by
    5-fold out-of-fold ROC AUC on three sets (real MaNGA MPL-8 stellar fields with the MPL-7
    expert labels, the demo survey, and the ``kinview demo --style vor10`` family): on the real
    fields it beats every convolutional recipe we measured, which overfit 150 labels, and it
    ties them on the synthetic sets; see ``benchmarks/vfield_generalise.py`` and the README.
``kinview-cnn``
    kinview's earlier default: 2×2 average pooling (32×32 → 16×16) → three strided 3×3
    convolutions (16, 32, 64 filters, batch-norm, ReLU) → global average pooling → Dense 32
    (dropout 0.3) → output; 25 k parameters, up to 80 epochs (early stop after 20) with batch
    256, Adam 8e-3 halved on a 6-epoch plateau, the square grid's exact symmetries as
    augmentation, no class weights.  Accurate on the demo survey it was designed on, but it
    predicts every real field usable (out-of-fold AUC ≈ 0.7 on the real dev fields).
"""
from __future__ import annotations

from typing import Any, Dict

from kinview.nets.field_summary import register
from kinview.nets.layers import classifier_compile, classifier_head, conv_block

ARCHITECTURES = ("default", "seed-fcn", "seed-cnn", "kinview-cnn")

#: L2 penalty of the default recipe's exact fit (on standardised features)
L2_DEFAULT = 100.0

#: training recipe per architecture (read by the trainer via ``Task.training_config``)
RECIPES: Dict[str, Dict[str, Any]] = {
    "seed-fcn": dict(epochs=50, batch_size=32, learning_rate=1e-3, reduce_lr=dict(factor=0.2, patience=5, min_lr=1e-5),
                     class_weight=True),
    "seed-cnn": dict(epochs=50, batch_size=32, learning_rate=1e-3, reduce_lr=dict(factor=0.2, patience=5, min_lr=1e-5),
                     class_weight=True),
    "default": dict(epochs=1, fit="convex", l2=L2_DEFAULT, class_weight=True, fit_on_val=True,
                    features_layer="summary", head_layer="out", learning_rate=None),
    "kinview-cnn": dict(epochs=80, batch_size=256, learning_rate=8e-3, reduce_lr=dict(factor=0.5, patience=6, min_lr=1e-5),
                    early_stopping=20, class_weight=False, augment="dihedral"),
}


def build(arch: str, n_classes: int = 2, size: int = 32, learning_rate: float = None):
    """A compiled Keras model for ``arch`` (:data:`ARCHITECTURES`)."""
    import keras

    if arch not in RECIPES:
        raise ValueError(f"unknown vfield architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    lr = learning_rate or RECIPES[arch]["learning_rate"] or 1e-3
    inp = keras.Input((size, size), name="vfield")
    if arch == "default":
        x = register()(name="summary")(inp)
    elif arch == "seed-fcn":
        x = keras.layers.Flatten()(inp)
        x = keras.layers.Dense(512, activation="relu")(x)
        x = keras.layers.Dense(256, activation="relu")(x)
        x = keras.layers.Dropout(0.6)(x)
        x = keras.layers.Dense(128, activation="relu")(x)
        x = keras.layers.Dropout(0.6)(x)
    elif arch == "seed-cnn":
        x = keras.layers.Reshape((size, size, 1))(inp)
        x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(256, activation="relu")(x)
        x = keras.layers.Dense(128, activation="relu")(x)
        x = keras.layers.Dropout(0.6)(x)
        x = keras.layers.Dense(64, activation="relu")(x)
        x = keras.layers.Dropout(0.6)(x)
    else:
        x = keras.layers.Reshape((size, size, 1))(inp)
        x = keras.layers.AveragePooling2D(2)(x)          # 32x32 -> 16x16: the shape, not the pixels
        x = conv_block(x, 16, 3, strides=2)
        x = conv_block(x, 32, 3, strides=2)
        x = conv_block(x, 64, 3, strides=2)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(32, activation="relu")(x)
        x = keras.layers.Dropout(0.3)(x)
    out = classifier_head(x, n_classes)
    model = keras.Model(inp, out, name=f"vfield_{arch.replace('-', '_')}")
    return classifier_compile(model, n_classes, lr)
