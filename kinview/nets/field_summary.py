"""Summary statistics of a velocity-field input, computed inside the network.

A rotating disk seen on the sky has a velocity field that is *point-antisymmetric* about its
centre (v(−r) = −v(r)) and close to a *linear gradient* across its kinematic axis near the
centre; noise, mergers, chaotic and face-on/slow-rotator fields break both.  Those few numbers
decide most of what an expert calls usable, and a network cannot learn them from a few
hundred labels, so the ``default`` architecture of :mod:`kinview.nets.vfield` computes them
exactly, next to its convolutional branch.

:func:`summary_features` (numpy) and :class:`FieldSummary` (a Keras layer, registered as
``kinview>FieldSummary`` so ``.keras`` files load under ``safe_mode``) compute the same
features of a batch of 32×32 inputs (:func:`kinview.kinematics.inputs.vfield_input`: v/max|v|
in [−1, 1], masked spaxels exactly 0, the box centred on the valid region), all invariant to
90° rotations and flips of the grid:

``coverage``      fraction of the 32×32 box holding valid (non-zero) spaxels
``point_sym``     Σ|m + m₁₈₀| / Σ(|m + m₁₈₀| + |m − m₁₈₀|) over spaxels valid in both m and its
                  180° rotation m₁₈₀: 0 for a perfectly antisymmetric (rotating) field, 0.5 for
                  noise
``overlap``       fraction of valid spaxels whose 180° mirror is also valid (ragged masks)
``roughness``     mean |m − 3×3 local mean| / mean |m| over valid spaxels (noise at the
                  spaxel scale relative to the signal: an S/N proxy)
``mean_abs``      mean |m| over valid spaxels (low when a few outliers set max|v|)
``gradient``      √(ρ²(m, x) + ρ²(m, y)): how well a plane (a rotating disk's inner field)
                  describes m (ρ = correlation over valid spaxels; x, y from the box centre)
``high_frac``     fraction of valid spaxels with |m| > 0.5
``offset``        |mean m| over valid spaxels (a field not centred on systemic velocity)
``plane_sign``    fraction of valid spaxels where m − mean m has the sign of the best-fitting
                  plane a·x + b·y (least squares): a rotating field splits cleanly into a
                  receding and an approaching half
``point_sym2``    Σ(m + m₁₈₀)² / Σ((m + m₁₈₀)² + (m − m₁₈₀)²) over spaxels valid in both
                  (``point_sym`` weighted towards large departures)
"""
from __future__ import annotations

import numpy as np

FEATURES = ("coverage", "point_sym", "overlap", "roughness", "mean_abs", "gradient", "high_frac", "offset",
            "plane_sign", "point_sym2")
EPS = 1e-6


def _features(m, v, r, rv, local, xx, yy, total, absolute, sqrt, greater) -> list:
    """The feature columns, in :data:`FEATURES` order: the one definition of the features,
    evaluated on numpy arrays by :func:`summary_features` and on Keras tensors by
    :class:`FieldSummary`.

    Parameters
    ----------
    m, v : (n, H, W)
        Inputs and their validity (1 where m ≠ 0, else 0).
    r, rv : (n, H, W)
        m and v rotated by 180°.
    local : (n, H, W)
        Mean of the valid spaxels in each spaxel's 3×3 neighbourhood.
    xx, yy : (1, H, W)
        Spaxel offsets from the box centre (x along columns, y along rows).
    total, absolute, sqrt, greater : callables
        The array library's sum over the two image axes, ``abs``, ``sqrt``, and
        ``greater(a, t)`` → 1.0 where a > t, else 0.0.
    """
    cnt = total(v) + EPS
    both = v * rv
    sym = total(absolute(m + r) * both)
    anti = total(absolute(m - r) * both)
    mean_abs = total(absolute(m) * v) / cnt
    rough = total(absolute(m - local) * v) / cnt

    def mean(a):
        return total(a * v) / cnt

    mm, xm, ym = mean(m), mean(xx), mean(yy)
    dm = m - mm[:, None, None]
    dx = xx - xm[:, None, None]
    dy = yy - ym[:, None, None]
    cmm, cxx, cyy = mean(dm * dm), mean(dx * dx), mean(dy * dy)
    grad = sqrt(mean(dm * dx) ** 2 / (cmm * cxx + EPS) + mean(dm * dy) ** 2 / (cmm * cyy + EPS))
    cxy, cmx, cmy = mean(dx * dy), mean(dm * dx), mean(dm * dy)
    det = cxx * cyy - cxy ** 2 + EPS
    a = (cmx * cyy - cmy * cxy) / det
    b = (cmy * cxx - cmx * cxy) / det
    plane = a[:, None, None] * dx + b[:, None, None] * dy
    sign = mean(greater(dm * plane, 0.0))
    es = total(((m + r) ** 2) * both)
    ea = total(((m - r) ** 2) * both)
    h, w = int(m.shape[1]), int(m.shape[2])
    return [total(v) / (h * w), sym / (sym + anti + EPS), total(both) / cnt, rough / (mean_abs + EPS),
            mean_abs, grad, total(greater(absolute(m), 0.5) * v) / cnt, absolute(mm), sign,
            es / (es + ea + EPS)]


def _centred_grid(h: int, w: int):
    """(yy, xx) float64 (1, H, W): offsets of each spaxel from the box centre."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return (yy - (h - 1) / 2.0)[None], (xx - (w - 1) / 2.0)[None]


def summary_features(X: np.ndarray) -> np.ndarray:
    """Summary features of a batch of velocity-field inputs (numpy reference).

    Parameters
    ----------
    X : ndarray (n, H, W) or (n, H, W, 1)
        Inputs in [−1, 1], masked spaxels 0.

    Returns
    -------
    ndarray float32 (n, len(FEATURES)), columns in :data:`FEATURES` order.
    """
    m = np.asarray(X, np.float64)
    if m.ndim == 4:
        m = m[..., 0]
    v = (m != 0).astype(np.float64)
    n, h, w = m.shape
    pad_m = np.pad(m, ((0, 0), (1, 1), (1, 1)))
    pad_v = np.pad(v, ((0, 0), (1, 1), (1, 1)))
    sm = sum(pad_m[:, i:i + h, j:j + w] for i in range(3) for j in range(3))
    sv = sum(pad_v[:, i:i + h, j:j + w] for i in range(3) for j in range(3))
    yy, xx = _centred_grid(h, w)
    cols = _features(m, v, m[:, ::-1, ::-1], v[:, ::-1, ::-1], sm / (sv + EPS), xx, yy,
                     total=lambda a: a.sum((1, 2)), absolute=np.abs, sqrt=np.sqrt,
                     greater=lambda a, t: (a > t).astype(np.float64))
    return np.stack(cols, axis=1).astype(np.float32)


_CLASS = None


def register():
    """Define and register the Keras layer (idempotent); return the class."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="kinview", name="FieldSummary")
    class FieldSummary(keras.layers.Layer):
        """Keras layer: ``(n, H, W)`` velocity-field inputs → ``(n, 8)`` summary features
        (:data:`FEATURES`; same values as :func:`summary_features`).  No weights."""

        def call(self, x):
            m = ops.cast(x, "float32")
            if len(m.shape) == 4:
                m = m[..., 0]
            h, w = int(m.shape[1]), int(m.shape[2])
            v = ops.cast(ops.not_equal(m, 0.0), "float32")
            kern = ops.ones((3, 3, 1, 1), "float32")
            sm = ops.conv(m[..., None], kern, padding="same")[..., 0]
            sv = ops.conv(v[..., None], kern, padding="same")[..., 0]
            yy, xx = (ops.convert_to_tensor(g.astype(np.float32)) for g in _centred_grid(h, w))
            cols = _features(m, v, ops.flip(ops.flip(m, axis=1), axis=2), ops.flip(ops.flip(v, axis=1), axis=2),
                             sm / (sv + EPS), xx, yy,
                             total=lambda a: ops.sum(a, axis=(1, 2)), absolute=ops.abs, sqrt=ops.sqrt,
                             greater=lambda a, t: ops.cast(ops.greater(a, t), "float32"))
            return ops.stack(cols, axis=1)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], len(FEATURES))

    _CLASS = FieldSummary
    return _CLASS
