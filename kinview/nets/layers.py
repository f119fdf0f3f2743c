"""Shared network blocks and batch augmentation in numpy.

Augmentation works on whole batches of images ``(n, h, w)`` or ``(n, h, w, c)`` with one
random affine transform per sample (rotation about the image centre, zoom, shift, flips),
resampled bilinearly in numpy; pixels that come from outside the image take ``fill``.  It
has no Keras or TensorFlow dependency, so it behaves the same under every Keras backend.

Angles are in degrees, counter-clockwise on the array as displayed with ``origin='lower'``;
shifts are fractions of the image size; zoom > 1 magnifies.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def affine_batch(images: np.ndarray, angle_deg: np.ndarray, zoom: Optional[np.ndarray] = None,
                 shift: Optional[np.ndarray] = None, flip_x: Optional[np.ndarray] = None,
                 flip_y: Optional[np.ndarray] = None, fill: float = 0.0) -> np.ndarray:
    """Apply one affine transform per sample, bilinear resampling.

    Parameters
    ----------
    images : ndarray (n, h, w) or (n, h, w, c)
    angle_deg : ndarray (n,)
        Rotation of each sample, degrees.
    zoom : ndarray (n,), optional
        Magnification (1 = none).
    shift : ndarray (n, 2), optional
        Shift (dy, dx) as a fraction of the image height/width.
    flip_x, flip_y : ndarray of bool (n,), optional
        Mirror left-right / up-down (applied before the rotation).
    fill : float
        Value for pixels mapped from outside the image.

    Returns
    -------
    ndarray, same shape and dtype (float32) as ``images``.
    """
    images = np.asarray(images, dtype=np.float32)
    squeeze = images.ndim == 3
    if squeeze:
        images = images[..., None]
    n, h, w, c = images.shape
    a = np.deg2rad(np.asarray(angle_deg, dtype=np.float64))
    z = np.ones(n) if zoom is None else np.asarray(zoom, dtype=np.float64)
    sh = np.zeros((n, 2)) if shift is None else np.asarray(shift, dtype=np.float64)
    fx = np.zeros(n, bool) if flip_x is None else np.asarray(flip_x, bool)
    fy = np.zeros(n, bool) if flip_y is None else np.asarray(flip_y, bool)

    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    yo = (yy - cy)[None] - sh[:, 0, None, None] * h           # output coords about the centre
    xo = (xx - cx)[None] - sh[:, 1, None, None] * w
    cos, sin = np.cos(a)[:, None, None], np.sin(a)[:, None, None]
    zz = z[:, None, None]
    # inverse map: rotate by -angle, divide by zoom
    xs = (cos * xo + sin * yo) / zz
    ys = (-sin * xo + cos * yo) / zz
    xs = np.where(fx[:, None, None], -xs, xs) + cx
    ys = np.where(fy[:, None, None], -ys, ys) + cy

    x0 = np.floor(xs).astype(np.int64)
    y0 = np.floor(ys).astype(np.int64)
    wx = (xs - x0)[..., None].astype(np.float32)
    wy = (ys - y0)[..., None].astype(np.float32)
    flat = images.reshape(n, h * w, c)
    base = (np.arange(n) * h * w)[:, None, None]
    flat_all = flat.reshape(n * h * w, c)

    def tap(yi, xi):
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        idx = base + np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1)
        vals = flat_all[idx.ravel()].reshape(n, h, w, c)
        return np.where(inside[..., None], vals, np.float32(fill))

    out = ((1 - wy) * ((1 - wx) * tap(y0, x0) + wx * tap(y0, x0 + 1))
           + wy * ((1 - wx) * tap(y0 + 1, x0) + wx * tap(y0 + 1, x0 + 1)))
    out = out.astype(np.float32)
    return out[..., 0] if squeeze else out


def random_affine(images: np.ndarray, rng: np.random.Generator, max_angle: float = 180.0,
                  zoom_range: float = 0.0, shift_frac: float = 0.0, flips: bool = True,
                  fill: float = 0.0) -> np.ndarray:
    """Random rotation in ±``max_angle`` deg, zoom in 1±``zoom_range``, shift up to
    ±``shift_frac`` of the size, and random left-right / up-down flips, per sample."""
    n = len(images)
    angle = rng.uniform(-max_angle, max_angle, n)
    zoom = rng.uniform(1 - zoom_range, 1 + zoom_range, n) if zoom_range else None
    shift = rng.uniform(-shift_frac, shift_frac, (n, 2)) if shift_frac else None
    fx = rng.random(n) < 0.5 if flips else None
    fy = rng.random(n) < 0.5 if flips else None
    return affine_batch(images, angle, zoom, shift, fx, fy, fill=fill)


def conv_block(x, filters: int, kernel: int = 3, strides: int = 1, batchnorm: bool = True,
               name: Optional[str] = None):
    """Conv2D → (BatchNorm) → ReLU, 'same' padding (Keras functional API)."""
    import keras

    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same",
                            use_bias=not batchnorm, name=None if name is None else name + "_conv")(x)
    if batchnorm:
        x = keras.layers.BatchNormalization(momentum=0.9, name=None if name is None else name + "_bn")(x)
    return keras.layers.Activation("relu", name=None if name is None else name + "_relu")(x)


def classifier_head(x, n_classes: int, name: str = "out"):
    """Output layer: one sigmoid unit for two classes, softmax otherwise."""
    import keras

    if n_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", name=name)(x)
    return keras.layers.Dense(n_classes, activation="softmax", name=name)(x)


def classifier_compile(model, n_classes: int, learning_rate: float = 1e-3):
    """Compile a classifier with Adam and (binary/sparse categorical) cross-entropy."""
    import keras

    if n_classes == 2:
        loss, metric = "binary_crossentropy", keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        loss = "sparse_categorical_crossentropy"
        metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=[metric],
                  jit_compile=False)
    return model


def random_dihedral(X, rng):
    """Exact square-grid symmetries on the fly: each sample gets one of the 8 rotations by
    multiples of 90° with or without a flip (no interpolation, so nothing is blurred).

    ``X`` is ``(n, H, W)`` or ``(n, H, W, C)`` with H == W (numpy); returns a new array.
    The usability of a velocity field does not depend on its orientation, so these are label-
    preserving, and they cost almost nothing next to arbitrary-angle rotations.
    """
    X = np.asarray(X)
    out = np.empty_like(X)
    which = rng.integers(0, 8, size=len(X))
    for k in range(8):
        idx = np.flatnonzero(which == k)
        if idx.size == 0:
            continue
        block = np.rot90(X[idx], k % 4, axes=(1, 2))
        if k >= 4:
            block = block[:, :, ::-1]
        out[idx] = block
    return out
