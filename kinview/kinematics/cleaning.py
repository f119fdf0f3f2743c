"""Field cleaning before a PA fit, as the expert pipeline does it.

Steps, in order (each spaxel removed is remembered with the step that removed it, so the GUI
can show what was dropped and why):

1. ``no_coverage`` / ``dap_mask`` — spaxels the DAP flags (``NOCOV`` separately from the
   other "do not use" bits), non-finite values and ``ivar ≤ 0``.
2. ``disconnected`` — connected regions (8-connectivity) of valid spaxels smaller than
   ``min_region_frac`` (10 %) of all valid spaxels; the largest region is always kept.
3. ``outlier`` — spurious high-velocity spaxels, sigma-clipped twice: against their own
   neighbourhood (|v − median of the 3×3 valid neighbours| above ``clip_sigma`` robust σ of
   those residuals and above 3 velocity errors) and against the whole field (|v − median|
   above ``clip_sigma`` robust σ of the field, iterated).
4. systemic velocity — the median of the kept velocities (km/s, relative to the DAP
   redshift), subtracted before a PA fit, which then returns a correction to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Dict, Optional, Tuple

import numpy as np

__all__ = ["CleanedField", "clean_field", "REASONS"]

#: Removal reasons, in the order they are applied; codes are 1-based (0 = kept).
REASONS = ("no_coverage", "dap_mask", "disconnected", "outlier")
#: Human-readable text per reason (for the GUI's legend and hover read-out).
REASON_TEXT = {
    "no_coverage": "outside the IFU (NOCOV)",
    "dap_mask": "masked by the DAP or invalid",
    "disconnected": "small region disconnected from the galaxy",
    "outlier": "sigma-clipped spurious velocity",
}
NOCOV_BIT = 1 << 0

_MAD_TO_SIGMA = 1.4826


@dataclass
class CleanedField:
    """A velocity field with the spaxels kept for fitting and what was removed.

    Attributes
    ----------
    field : VelocityField
        The field as read (untouched).
    kept : ndarray of bool (ny, nx)
        Spaxels used for fitting.
    removed : dict reason -> ndarray of bool (ny, nx)
        Spaxels removed by each step (disjoint), keys from :data:`REASONS`.
    vsyst : float
        Systemic-velocity estimate, km/s (median of the kept velocities; NaN if none kept).
    params : dict
        The cleaning parameters used.
    """

    field: object
    kept: np.ndarray
    removed: Dict[str, np.ndarray]
    vsyst: float
    params: Dict[str, float] = dc_field(default_factory=dict)

    @property
    def n_kept(self) -> int:
        return int(self.kept.sum())

    def n_removed(self) -> Dict[str, int]:
        """Number of spaxels removed per reason."""
        return {k: int(v.sum()) for k, v in self.removed.items()}

    def reason_map(self) -> np.ndarray:
        """int8 map: 0 kept, i+1 for ``REASONS[i]`` (e.g. 3 = disconnected)."""
        out = np.zeros(self.kept.shape, np.int8)
        for code, name in enumerate(REASONS, start=1):
            m = self.removed.get(name)
            if m is not None:
                out[m] = code
        return out

    def points(self, subtract_vsyst: bool = True) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Kept spaxels as 1-D arrays ``(x_east, y, vel)`` (arcsec, arcsec, km/s)."""
        f = self.field
        v = f.vel[self.kept].astype(float)
        if subtract_vsyst and np.isfinite(self.vsyst):
            v = v - self.vsyst
        return f.x[self.kept].astype(float), f.y[self.kept].astype(float), v


def _robust_sigma(values: np.ndarray) -> float:
    if values.size == 0:
        return 0.0
    med = np.median(values)
    return float(_MAD_TO_SIGMA * np.median(np.abs(values - med)))


def _neighbour_median(vel: np.ndarray, valid: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Median of the valid 3×3 neighbours (centre excluded) and how many there are."""
    ny, nx = vel.shape
    padded = np.full((ny + 2, nx + 2), np.nan)
    padded[1:-1, 1:-1] = np.where(valid, vel, np.nan)
    stack = np.stack([padded[1 + dj:1 + dj + ny, 1 + di:1 + di + nx]
                      for dj in (-1, 0, 1) for di in (-1, 0, 1) if (di, dj) != (0, 0)])
    count = np.isfinite(stack).sum(axis=0)
    stack.sort(axis=0)                      # NaN sorts last
    lo = np.clip((count - 1) // 2, 0, 7)
    hi = np.clip(count // 2, 0, 7)
    med = 0.5 * (np.take_along_axis(stack, lo[None], 0)[0]
                 + np.take_along_axis(stack, hi[None], 0)[0])
    med[count == 0] = np.nan
    return med, count


def clean_field(field, min_region_frac: float = 0.10, clip_sigma: float = 5.0,
                clip_local: bool = True, clip_global: bool = True) -> CleanedField:
    """Clean one velocity field for a PA fit.

    Parameters
    ----------
    field : VelocityField
        Velocities in km/s on the MAPS grid (see :mod:`kinview.data.fields`).
    min_region_frac : float
        Connected regions with fewer than this fraction of the valid spaxels are removed
        (the largest region is always kept).  0 disables the step.
    clip_sigma : float
        Threshold of the local and global sigma clipping, in robust σ.
    clip_local, clip_global : bool
        Enable the two clipping passes.

    Returns
    -------
    CleanedField
    """
    from scipy import ndimage

    vel = np.asarray(field.vel, float)
    valid = np.asarray(field.valid, bool)
    shape = vel.shape
    removed: Dict[str, np.ndarray] = {}

    # 1. DAP masks
    invalid = ~valid
    if field.maskbits is not None:
        nocov = invalid & ((np.asarray(field.maskbits).astype(np.int64) & NOCOV_BIT) != 0)
    else:
        nocov = np.zeros(shape, bool)
    removed["no_coverage"] = nocov
    removed["dap_mask"] = invalid & ~nocov
    kept = valid.copy()

    # 2. small disconnected regions
    disc = np.zeros(shape, bool)
    n_valid = int(kept.sum())
    if min_region_frac > 0 and n_valid > 0:
        labels, n_lab = ndimage.label(kept, structure=np.ones((3, 3), bool))
        if n_lab > 1:
            sizes = np.bincount(labels.ravel(), minlength=n_lab + 1)[1:]
            small = sizes < min_region_frac * n_valid
            small[np.argmax(sizes)] = False
            if small.any():
                lut = np.concatenate([[False], small])
                disc = lut[labels]
                kept &= ~disc
    removed["disconnected"] = disc

    # 3. sigma clipping of spurious velocities
    out = np.zeros(shape, bool)
    if clip_local and kept.sum() >= 9:
        med, count = _neighbour_median(vel, kept)
        resid = vel - med
        usable = kept & (count >= 3)
        sig = _robust_sigma(resid[usable])
        if sig > 0:
            err = np.asarray(field.vel_err, float)
            bad = usable & (np.abs(resid) > clip_sigma * sig) & ~(np.abs(resid) <= 3 * err)
            out |= bad
            kept &= ~bad
    if clip_global and kept.sum() >= 5:
        for _ in range(5):
            v = vel[kept]
            med = np.median(v)
            sig = _robust_sigma(v)
            if sig <= 0:
                break
            bad = kept & (np.abs(vel - med) > clip_sigma * sig)
            if not bad.any():
                break
            out |= bad
            kept &= ~bad
    removed["outlier"] = out

    # 4. systemic velocity
    vsyst = float(np.median(vel[kept])) if kept.any() else float("nan")
    params = {"min_region_frac": min_region_frac, "clip_sigma": clip_sigma}
    return CleanedField(field=field, kept=kept, removed=removed, vsyst=vsyst, params=params)
