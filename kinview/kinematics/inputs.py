"""Network inputs prepared as the seeds prepared them.

Velocity fields (task ``vfield-quality``)
    The valid region of the field is cut out as a square box around its valid spaxels,
    masked spaxels are set to 0, the values are divided by the maximum |v| of the valid
    spaxels (so they lie in [−1, 1]) and the box is resampled to ``size × size`` (32 × 32)
    with a cubic (Keys, a = −0.5) kernel, antialiased when shrinking.  Cubic overshoot is
    clipped back to [−1, 1].  Orientation is the MAPS grid's: row 0 South, East left when
    displayed with ``origin='lower'``.
Colour images (tasks ``spin`` and ``photoz``)
    An ``(H, W, 3)`` uint8 image is cut to its central square, resampled with the same cubic
    kernel to ``size × size × 3`` (80 for spin, 128 for photo-z) and scaled to [0, 1].

Velocity fields as the seed's published network saw them (``seed32``)
    :func:`seed32_input` reproduces ``process_velocity_field`` of the seed's
    ``NN/lib/data_prep.py`` (public repository Chris-Duckworth/kin_mis_classifications),
    which differs from :func:`vfield_input`: the *whole* MAPS grid is used (no cut-out),
    masked spaxels keep their stored values (the seed divides ``masked_array.data``), the scale
    is max|v| over the unmasked spaxels, and the grid is resized with OpenCV's
    ``cv2.resize(..., interpolation=cv2.INTER_CUBIC)`` (Keys kernel a = −0.75, no
    antialiasing, edge pixels replicated), without clipping.  Use it for models imported with
    ``kinview models import ... --input seed32``.

Resampling is done with small cached matrices (``out = A @ img @ Bᵀ``), so one velocity
field takes a few tens of microseconds and the batch forms run at many thousands per
second.  These are pure functions: no file or database access.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["vfield_input", "vfield_inputs", "seed32_input", "image_input", "image_inputs",
           "resample_matrix", "opencv_cubic_matrix", "VFIELD_SIZE", "SPIN_SIZE", "PHOTOZ_SIZE"]

#: Side of the velocity-field input (pixels).
VFIELD_SIZE = 32
#: Side of the colour-image input for the spin task (pixels).
SPIN_SIZE = 80
#: Side of the colour-image input for the photo-z task (pixels).
PHOTOZ_SIZE = 128


def _keys_cubic(t: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys cubic convolution kernel (a = −0.5, as bicubic in PIL/OpenCV)."""
    t = np.abs(t)
    out = np.zeros_like(t)
    m1 = t <= 1
    m2 = (t > 1) & (t < 2)
    out[m1] = (a + 2) * t[m1] ** 3 - (a + 3) * t[m1] ** 2 + 1
    out[m2] = a * t[m2] ** 3 - 5 * a * t[m2] ** 2 + 8 * a * t[m2] - 4 * a
    return out


@lru_cache(maxsize=256)
def resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Matrix ``(n_out, n_in)`` resampling a 1-D signal with the cubic kernel.

    Pixel centres are aligned (``x_in = (k + 0.5) · n_in / n_out − 0.5``); when shrinking,
    the kernel is stretched by the scale factor (antialiasing, as PIL does).  Edge pixels are
    handled by renormalising the weights, so a constant signal stays constant.
    Returned read-only and cached per size pair.
    """
    if n_in < 1 or n_out < 1:
        raise ValueError("sizes must be positive")
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale - 0.5
    src = np.arange(n_in)
    w = _keys_cubic((src[None, :] - centres[:, None]) / support)
    w /= w.sum(axis=1, keepdims=True)
    w = w.astype(np.float32)
    w.setflags(write=False)
    return w


# --------------------------------------------------------------------------- velocity fields
def _field_arrays(field) -> Tuple[np.ndarray, np.ndarray]:
    """Return (vel, valid) from a VelocityField, CleanedField, (vel, valid) pair or an array."""
    if hasattr(field, "kept") and hasattr(field, "field"):          # CleanedField
        return np.asarray(field.field.vel, float), np.asarray(field.kept, bool)
    if hasattr(field, "vel") and hasattr(field, "valid"):           # VelocityField
        return np.asarray(field.vel, float), np.asarray(field.valid, bool)
    if isinstance(field, tuple) and len(field) == 2:
        vel, valid = np.asarray(field[0], float), np.asarray(field[1], bool)
        if vel.shape != valid.shape:
            raise ValueError(f"velocity {vel.shape} and mask {valid.shape} shapes differ")
        return vel, valid & np.isfinite(vel)
    vel = np.ma.asarray(field)
    if vel.ndim != 2:
        raise ValueError(f"a velocity field must be 2-D, not shape {vel.shape}")
    data = np.asarray(vel.filled(np.nan), float)
    return data, np.isfinite(data)


def _square_box(valid: np.ndarray) -> Optional[Tuple[int, int, int]]:
    """(row0, col0, side) of the square box centred on the valid spaxels' bounding box."""
    rows = np.flatnonzero(valid.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(valid.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = max(r1 - r0, c1 - c0)
    return r0 - (side - (r1 - r0)) // 2, c0 - (side - (c1 - c0)) // 2, side


def _cut(img: np.ndarray, r0: int, c0: int, side: int) -> np.ndarray:
    """Cut a side×side box starting at (r0, c0), zero-padding outside the array."""
    out = np.zeros((side, side), img.dtype)
    ny, nx = img.shape
    rs, re_ = max(r0, 0), min(r0 + side, ny)
    cs, ce = max(c0, 0), min(c0 + side, nx)
    if rs < re_ and cs < ce:
        out[rs - r0:re_ - r0, cs - c0:ce - c0] = img[rs:re_, cs:ce]
    return out


def vfield_input(field_or_arrays, size: int = VFIELD_SIZE, subtract: Optional[float] = None
                 ) -> np.ndarray:
    """A velocity field as the ``vfield-quality`` network sees it.

    Parameters
    ----------
    field_or_arrays : VelocityField, CleanedField, (vel, valid) tuple, 2-D array or masked array
        Velocities in km/s on the MAPS grid.  For an array, NaN (or the mask of a masked
        array) marks invalid spaxels; a :class:`~kinview.kinematics.cleaning.CleanedField`
        uses its ``kept`` map.
    size : int
        Output side in pixels (32 for the seeds' network).
    subtract : float, optional
        Systemic velocity (km/s) to subtract first; default none (DAP velocities are already
        relative to the galaxy's redshift).

    Returns
    -------
    ndarray, float32, shape (size, size)
        Values in [−1, 1]: v / max|v| over the valid spaxels, masked spaxels 0, cubic
        resampling of the square box around the valid region.  All zeros when the field has
        no valid spaxel or no non-zero velocity.
    """
    vel, valid = _field_arrays(field_or_arrays)
    box = _square_box(valid)
    if box is None:
        return np.zeros((size, size), np.float32)
    v = np.where(valid, vel - (subtract or 0.0), 0.0)
    vmax = np.abs(v).max()
    if not np.isfinite(vmax) or vmax <= 0:
        return np.zeros((size, size), np.float32)
    cut = _cut((v / vmax).astype(np.float32), *box)
    a = resample_matrix(cut.shape[0], size)
    out = a @ cut @ a.T
    np.clip(out, -1.0, 1.0, out=out)
    return out


@lru_cache(maxsize=64)
def opencv_cubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Matrix ``(n_out, n_in)`` of OpenCV's ``INTER_CUBIC`` resize along one axis.

    As ``cv2.resize`` computes it: source position ``x = (k + 0.5)·n_in/n_out − 0.5``, the
    four pixels ``floor(x) − 1 … floor(x) + 2`` weighted by the Keys kernel with a = −0.75
    (OpenCV's ``interpolateCubic``), indices outside the image clamped to the edge
    (replicated border), and no antialiasing when shrinking.  Float64, read-only, cached.
    """
    if n_in < 1 or n_out < 1:
        raise ValueError("sizes must be positive")
    a = -0.75
    scale = 1.0 / (n_out / n_in)              # OpenCV: scale_x = 1 / inv_scale_x
    w = np.zeros((n_out, n_in))
    for k in range(n_out):
        fx = np.float32((k + 0.5) * scale - 0.5)
        sx = int(np.floor(fx))
        t = float(np.float32(fx - sx))
        c0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
        c1 = ((a + 2) * t - (a + 3)) * t * t + 1
        c2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
        c3 = 1.0 - c0 - c1 - c2
        for j, c in enumerate((c0, c1, c2, c3)):
            w[k, min(max(sx - 1 + j, 0), n_in - 1)] += c
    w.setflags(write=False)
    return w


def seed32_input(field_or_arrays, size: int = VFIELD_SIZE) -> np.ndarray:
    """A velocity field prepared exactly as the seed's published network expects it.

    This is ``process_velocity_field(np.ma.MaskedArray(vel, mask=maskbits > 0), (32, 32))``
    of the seed's ``NN/lib/data_prep.py``: ``vel.data / np.abs(masked_vel).max()`` on the
    whole MAPS grid, then ``cv2.resize(..., dsize=(size, size), interpolation=INTER_CUBIC)``
    (reproduced in numpy with :func:`opencv_cubic_matrix`; equal to OpenCV to float32
    rounding).

    Parameters
    ----------
    field_or_arrays : VelocityField, (vel, masked) tuple or masked array
        Velocities in km/s on the MAPS grid, row 0 South and East left when displayed with
        ``origin='lower'`` (the array as astropy reads the MAPS extension: no flip).  For a
        :class:`~kinview.data.fields.VelocityField` a spaxel is masked when any bit of its
        DAP mask is set (``maskbits > 0``, the seed's ``QUALDATA > 0``), else by ``mask``.
        For a tuple the second array is True where masked.
    size : int
        Output side in pixels (the seed used 32).

    Returns
    -------
    ndarray, float32, shape (size, size)
        Dimensionless, nominally in [−1, 1]: masked spaxels keep their stored value divided
        by the same scale (0 in DAP files outside the IFU), so they may fall outside; cubic
        overshoot is not clipped, as in the seed.  All zeros when no spaxel is unmasked or
        every unmasked velocity is 0 (where the seed would divide by zero).  Non-finite
        stored values count as masked and as 0.
    """
    if hasattr(field_or_arrays, "vel") and hasattr(field_or_arrays, "mask"):
        vel = np.asarray(field_or_arrays.vel)
        bits = getattr(field_or_arrays, "maskbits", None)
        masked = (np.asarray(bits) > 0) if bits is not None else np.asarray(field_or_arrays.mask, bool)
    elif isinstance(field_or_arrays, tuple) and len(field_or_arrays) == 2:
        vel, masked = np.asarray(field_or_arrays[0]), np.asarray(field_or_arrays[1], bool)
    else:
        m = np.ma.asarray(field_or_arrays)
        vel, masked = np.asarray(m.data), np.ma.getmaskarray(m)
    if vel.ndim != 2 or vel.shape != masked.shape:
        raise ValueError(f"a velocity field and its mask must be 2-D and alike, not {vel.shape} and {masked.shape}")
    data = vel.astype(np.float32)                  # MAPS velocities are float32 on disk
    bad = ~np.isfinite(data)
    data[bad] = 0.0
    good = ~(masked | bad)
    if not good.any():
        return np.zeros((size, size), np.float32)
    vmax = np.float32(np.abs(data[good]).max())
    if vmax <= 0:
        return np.zeros((size, size), np.float32)
    norm = (data / vmax).astype(np.float32)
    ay = opencv_cubic_matrix(norm.shape[0], size)
    ax = opencv_cubic_matrix(norm.shape[1], size)
    return (ay @ norm.astype(np.float64) @ ax.T).astype(np.float32)


def vfield_inputs(fields: Iterable, size: int = VFIELD_SIZE) -> np.ndarray:
    """Batch form of :func:`vfield_input`: float32 array ``(n, size, size, 1)``.

    The trailing channel axis is what Keras convolution layers expect.
    """
    items = [vfield_input(f, size) for f in fields]
    if not items:
        return np.zeros((0, size, size, 1), np.float32)
    return np.stack(items)[..., None]


# --------------------------------------------------------------------------- images
def _center_square(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    side = min(h, w)
    r0, c0 = (h - side) // 2, (w - side) // 2
    return rgb[r0:r0 + side, c0:c0 + side]


def image_input(rgb, size: int = SPIN_SIZE) -> np.ndarray:
    """A colour image as the ``spin`` (80) or ``photoz`` (128) network sees it.

    Parameters
    ----------
    rgb : ndarray (H, W, 3)
        uint8 (0–255) or float in [0, 1]; North up, East left as SDSS cutouts are.
    size : int
        Output side in pixels.

    Returns
    -------
    ndarray, float32, shape (size, size, 3), values in [0, 1]
        The central square of the image, cubic-resampled (antialiased when shrinking).
    """
    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] < 3 or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"a colour image must have shape (H, W, 3), not {img.shape}")
    img = _center_square(img[:, :, :3])
    if img.dtype == np.uint8:
        data = img.astype(np.float32) * np.float32(1 / 255)
    else:
        data = img.astype(np.float32)
    side = data.shape[0]
    if side == size:
        return np.clip(data, 0.0, 1.0)
    a = resample_matrix(side, size)
    # (size, side) @ (side, side*3) -> rows; then columns per channel.
    rows = (a @ data.reshape(side, side * 3)).reshape(size, side, 3)
    out = np.einsum("ij,kjc->kic", a, rows, optimize=True)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def image_inputs(images: Sequence, size: int = SPIN_SIZE) -> np.ndarray:
    """Batch form of :func:`image_input`: float32 array ``(n, size, size, 3)``."""
    items = [image_input(im, size) for im in images]
    if not items:
        return np.zeros((0, size, size, 3), np.float32)
    return np.stack(items)


ArrayLike = Union[np.ndarray, Sequence]
