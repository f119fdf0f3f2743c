"""Small synthetic rotating disks on a MaNGA-like grid, for tests and benchmarks.

Not the demo survey (that is :mod:`kinview.demo`): just one :class:`VelocityField` with a
known receding-side PA, built in memory in a millisecond.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from kinview.data.fields import VelocityField

__all__ = ["disk_field", "hexagon_mask"]


def hexagon_mask(x: np.ndarray, y: np.ndarray, radius: float) -> np.ndarray:
    """True inside a flat-topped hexagon of circumradius ``radius`` (arcsec)."""
    ax, ay = np.abs(x), np.abs(y)
    return (ay <= radius * np.sqrt(3) / 2) & (np.sqrt(3) * ax + ay <= np.sqrt(3) * radius)


def disk_field(pa: float, inc: float = 60.0, vmax: float = 200.0, rt: float = 3.0,
               noise: float = 10.0, radius: float = 11.0, npix: Optional[int] = None,
               sigma0: float = 80.0, vsys: float = 0.0, center=(0.0, 0.0),
               seed: int = 0, kind: str = "stellar") -> VelocityField:
    """A rotating disk velocity field on a 0.5″ grid, North up, East left.

    Parameters
    ----------
    pa : float
        True PA of the receding side, degrees East of North.
    inc : float
        Inclination, degrees (0 face-on).
    vmax, rt : float
        Rotation curve ``vmax · tanh(r / rt)``, km/s and arcsec.
    noise : float
        Gaussian velocity noise, km/s (also sets ``vel_ivar``).
    radius : float
        Circumradius of the hexagonal IFU footprint, arcsec (outside: NOCOV).
    npix : int, optional
        Grid side; default just larger than the footprint.
    sigma0 : float
        Dispersion map amplitude (exponential decline), km/s.
    vsys : float
        Systemic velocity added, km/s.
    center : (float, float)
        Kinematic centre offset (x_east, y), arcsec.
    """
    rng = np.random.default_rng(seed)
    if npix is None:
        npix = int(2 * np.ceil(radius / 0.5)) + 5
    c = (npix - 1) / 2.0
    jj, ii = np.mgrid[0:npix, 0:npix]
    x = -(ii - c) * 0.5          # East positive, decreasing with column (East left)
    y = (jj - c) * 0.5
    th, inc_r = np.radians(pa), np.radians(inc)
    xe, yn = x - center[0], y - center[1]
    xm = xe * np.sin(th) + yn * np.cos(th)          # along the receding side
    ym = -xe * np.cos(th) + yn * np.sin(th)
    r = np.hypot(xm, ym / max(np.cos(inc_r), 1e-3))
    with np.errstate(invalid="ignore", divide="ignore"):
        vlos = np.where(r > 0, vmax * np.tanh(r / rt) * np.sin(inc_r) * xm / r, 0.0)
    vel = vlos + vsys + rng.normal(0, noise, x.shape) if noise > 0 else vlos + vsys
    inside = hexagon_mask(x, y, radius)
    ivar = np.where(inside, 1.0 / max(noise, 1.0) ** 2, 0.0)
    maskbits = np.where(inside, 0, (1 << 0) | (1 << 30)).astype(np.int32)
    sigma = sigma0 * np.exp(-r / (2 * rt)) + 20
    flux = np.exp(-r / rt)
    return VelocityField(kind=kind, x=x, y=y, vel=np.where(inside, vel, 0.0), vel_ivar=ivar,
                         mask=~inside, maskbits=maskbits, sigma=sigma,
                         sigma_ivar=np.where(inside, 1.0, 0.0), sigma_corr=np.full(x.shape, 10.0),
                         sigma_mask=~inside, flux=flux, binid=np.where(inside, 0, -1) + np.arange(
                             x.size).reshape(x.shape) * inside)
