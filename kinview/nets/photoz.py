"""Photometric-redshift regressors from SDSS colour images: 128×128×3 in [0, 1] → z.

Input: ``kinview.kinematics.inputs.image_input(rgb, 128)``, float32 (128, 128, 3) in [0, 1].
Output: redshift z (dimensionless).  Both architectures end in a fixed ``Rescaling`` layer
(``z = z_mean + z_std * u``, the training set's mean and standard deviation stored in the
model), so the network learns a unit-variance target while ``predict`` returns z itself.
Trained with mean squared error.

Architectures
-------------
``seed-vgg``
    The seed's network ("Inferring Photometric Redshifts from Multichannel Images"), rebuilt
    from its description: VGG-style stages of 3×3 convolution + batch-norm + ReLU with 2×2
    max-pooling — 64 | 128 | 256, 256 | 512, 512 | 512, 512 filters (the VGG-11 layout) —
    global average pooling, Dense 256 (ReLU, dropout 0.3), linear output; MSE, Adam 1e-3,
    50 epochs, batch 32.  About 2.5 G multiply-adds per 128×128 image.
``default``
    kinview's own, ~1000× cheaper: 2×2 average-pool to 64×64, four 3×3 convolutions with
    batch-norm + ReLU (16, 32, 64 filters with stride 2, then 64 with stride 1), global average
    *and* max pooling (light profile and size), concatenated with the mean colour of the whole
    cutout and of its central 16×16 pixels (colour and surface brightness: the features a
    photo-z relies on), Dense 64 (ReLU, dropout 0.1), linear output; MSE, Adam 3e-3 reduced on
    plateau, 40 epochs, batch 32.
"""
from __future__ import annotations

from typing import Any, Dict

from kinview.nets.layers import conv_block

ARCHITECTURES = ("default", "seed-vgg")
SIZE = 128

RECIPES: Dict[str, Dict[str, Any]] = {
    "seed-vgg": dict(epochs=50, batch_size=32, learning_rate=1e-3, reduce_lr=None),
    "default": dict(epochs=40, batch_size=32, learning_rate=3e-3,
                    reduce_lr=dict(factor=0.3, patience=4, min_lr=1e-5)),
}

#: VGG-11 filter layout: one list per stage, max-pooling after each stage but the last.
SEED_STAGES = ((64,), (128,), (256, 256), (512, 512), (512, 512))


def build(arch: str, size: int = SIZE, z_mean: float = 0.0, z_std: float = 1.0,
          learning_rate: float = None):
    """A compiled Keras regressor for ``arch`` ('default' or 'seed-vgg').

    Parameters
    ----------
    size : int
        Input side in pixels (128 in the task; tests use smaller).
    z_mean, z_std : float
        Target scaling stored in the final ``Rescaling`` layer.
    """
    import keras

    if arch not in RECIPES:
        raise ValueError(f"unknown photoz architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    lr = learning_rate or RECIPES[arch]["learning_rate"]
    inp = keras.Input((size, size, 3), name="image")
    if arch == "seed-vgg":
        x = inp
        for i, stage in enumerate(SEED_STAGES):
            for j, filters in enumerate(stage):
                x = conv_block(x, filters, 3, name=f"vgg{i + 1}_{j + 1}")
            if i < len(SEED_STAGES) - 1:
                x = keras.layers.MaxPooling2D(2, name=f"vgg{i + 1}_pool")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(256, activation="relu")(x)
        x = keras.layers.Dropout(0.3)(x)
    else:
        small = keras.layers.AveragePooling2D(2, name="down")(inp)
        x = conv_block(small, 16, 3, strides=2, name="c1")
        x = conv_block(x, 32, 3, strides=2, name="c2")
        x = conv_block(x, 64, 3, strides=2, name="c3")
        x = conv_block(x, 64, 3, strides=1, name="c4")
        avg = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        mx = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
        colour_all = keras.layers.GlobalAveragePooling2D(name="colour_all")(small)
        side = small.shape[1]
        crop = max((side - max(side // 4, 2)) // 2, 0)
        centre = keras.layers.Cropping2D(crop, name="centre")(small)
        colour_centre = keras.layers.GlobalAveragePooling2D(name="colour_centre")(centre)
        x = keras.layers.Concatenate(name="features")([avg, mx, colour_all, colour_centre])
        x = keras.layers.Dense(64, activation="relu")(x)
        x = keras.layers.Dropout(0.1)(x)
    u = keras.layers.Dense(1, activation="linear", name="u")(x)
    out = keras.layers.Rescaling(scale=float(z_std), offset=float(z_mean), name="z")(u)
    model = keras.Model(inp, out, name=f"photoz_{arch.replace('-', '_')}")
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse",
                  metrics=[keras.metrics.RootMeanSquaredError(name="rmse")], jit_compile=False)
    return model
