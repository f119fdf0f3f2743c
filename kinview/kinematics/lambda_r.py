"""Spin parameter λR_e (Emsellem et al. 2007) from the MAPS (SPEC §1).

    λR_e = Σ F R |V| / Σ F R √(V² + σ²)

over the spaxels inside the half-light ellipse (``SPX_ELLCOO`` R/Rₑ ≤ 1), with F the flux
weight (``SPX_MFLUX`` for stars), R the semi-major-axis radius (arcsec, ``SPX_ELLCOO``), V
the velocity relative to the systemic velocity (km/s) and σ the dispersion corrected for the
instrumental dispersion where the file provides it (σ² − σ_corr², negative values → 0).
Binned values count once per bin (:meth:`VelocityField.unique_bin_spaxels`).  λR_e → 1 for
pure rotation and → 0 for pure dispersion.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["lambda_r", "lambda_re", "MIN_SPAXELS"]

#: Fewer usable spaxels (bins) than this inside Rₑ and λR_e is NaN.
MIN_SPAXELS = 5


def lambda_r(flux, radius, vel, sigma, sigma_corr=None, mask=None, vsyst: Optional[float] = 0.0
             ) -> float:
    """λR of arrays (any shape): Σ F R |V| / Σ F R √(V² + σ²).

    Parameters
    ----------
    flux, radius, vel, sigma : array
        Flux weight, semi-major-axis radius (arcsec), velocity and observed dispersion (km/s).
    sigma_corr : array, optional
        Instrumental dispersion (km/s) removed in quadrature.
    mask : array of bool, optional
        True where a value must be ignored.
    vsyst : float or None
        Subtracted from ``vel``; None subtracts the flux-weighted median of the used values.

    Returns
    -------
    float
        NaN when fewer than :data:`MIN_SPAXELS` values are usable or the denominator is 0.
    """
    f, r, v, s = (np.asarray(a, float) for a in (flux, radius, vel, sigma))
    s2 = s ** 2
    if sigma_corr is not None:
        s2 = s2 - np.asarray(sigma_corr, float) ** 2
    s2 = np.clip(s2, 0.0, None)
    ok = np.isfinite(f) & np.isfinite(r) & np.isfinite(v) & np.isfinite(s2) & (f > 0) & (r >= 0)
    if mask is not None:
        ok &= ~np.asarray(mask, bool)
    if ok.sum() < MIN_SPAXELS:
        return float("nan")
    f, r, v, s2 = f[ok], r[ok], v[ok], s2[ok]
    if vsyst is None:
        order = np.argsort(v)
        cw = np.cumsum(f[order])
        vsyst = float(v[order][np.searchsorted(cw, 0.5 * cw[-1])])
    v = v - vsyst
    w = f * r
    den = np.sum(w * np.sqrt(v ** 2 + s2))
    if not den > 0:
        return float("nan")
    return float(np.sum(w * np.abs(v)) / den)


def lambda_re(maps, kind: str = "stellar", vsyst: Optional[float] = None,
              r_max_re: float = 1.0) -> float:
    """λR_e of one galaxy from its :class:`~kinview.data.fields.MapsData`.

    Parameters
    ----------
    maps : MapsData
    kind : {'stellar', 'gas'}
        Which kinematics (stellar, as in the spin catalogues, by default).
    vsyst : float, optional
        Systemic velocity (km/s) to subtract; default the flux-weighted median velocity of
        the spaxels used.
    r_max_re : float
        Aperture in units of Rₑ (1 → λR_e).

    Returns
    -------
    float in [0, 1], NaN when it cannot be computed (no field, no flux or σ, too few bins).
    """
    field = maps.field(kind)
    if field is None or field.sigma is None or field.flux is None:
        return float("nan")
    use = field.unique_bin_spaxels()
    if field.sigma_mask is not None:
        use &= ~np.asarray(field.sigma_mask, bool)
    if field.sigma_ivar is not None:
        use &= np.asarray(field.sigma_ivar) > 0
    r_re = np.asarray(maps.r_re, float)
    use &= np.isfinite(r_re) & (r_re <= r_max_re)
    return lambda_r(field.flux, maps.r_arcsec, field.vel, field.sigma,
                    sigma_corr=field.sigma_corr, mask=~use, vsyst=vsyst)
