"""In-memory containers for what a MaNGA DAP MAPS file holds.

These are the contract between the MAPS reader (:mod:`kinview.data.maps`), the demo
generator, the kinematics and the GUI.  All 2-D arrays share the MAPS grid shape ``(ny, nx)``
with array index ``[j, i]`` = ``[row, column]``; row 0 is the South edge when displayed with
``origin='lower'`` (as the DAP writes them: y increases with row index, x decreases with
column index, i.e. East is left).

Units: velocities and dispersions in km/s (relative to the DAP's redshift), coordinates in
arcsec, fluxes in the DAP's units (1e-17 erg/s/cm²/spaxel for emission lines).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np


@dataclass
class VelocityField:
    """One velocity field (stellar or Hα gas) on the MAPS grid.

    Attributes
    ----------
    kind : {'stellar', 'gas'}
    x, y : ndarray (ny, nx)
        Sky offsets from the galaxy centre, arcsec: x = (α−α₀)cos δ₀, **East positive**;
        y = δ−δ₀, North positive (``SPX_SKYCOO``).
    vel : ndarray (ny, nx)
        Line-of-sight velocity, km/s.  Values under ``mask`` are meaningless (may be 0).
    vel_ivar : ndarray (ny, nx)
        Inverse variance of ``vel``, (km/s)⁻².
    mask : ndarray of bool (ny, nx)
        True where the value must not be used (DONOTUSE, NOCOV, UNRELIABLE, … or ivar ≤ 0).
    maskbits : ndarray of int (ny, nx)
        The raw DAPPIXMASK bits of the velocity map (for the GUI's hover read-out).
    sigma : ndarray (ny, nx) or None
        Observed dispersion, km/s (stellar ``STELLAR_SIGMA``; gas ``EMLINE_GSIGMA``).
    sigma_ivar : ndarray or None
    sigma_corr : ndarray (ny, nx) or None
        Instrumental correction, km/s: σ_true² = σ² − σ_corr² (``STELLAR_SIGMACORR`` /
        ``EMLINE_INSTSIGMA``), when the file provides it.
    sigma_mask : ndarray of bool or None
    flux : ndarray (ny, nx) or None
        Flux weight: ``SPX_MFLUX`` for stars (g-band-weighted mean flux), the Hα Gaussian flux
        (``EMLINE_GFLUX``) for gas.
    binid : ndarray of int (ny, nx) or None
        Bin index of every spaxel (-1 = not in a bin).  Binned values are repeated in every
        spaxel of a bin: use :meth:`unique_bin_spaxels` where a value must count once.
    """

    kind: str
    x: np.ndarray
    y: np.ndarray
    vel: np.ndarray
    vel_ivar: np.ndarray
    mask: np.ndarray
    maskbits: Optional[np.ndarray] = None
    sigma: Optional[np.ndarray] = None
    sigma_ivar: Optional[np.ndarray] = None
    sigma_corr: Optional[np.ndarray] = None
    sigma_mask: Optional[np.ndarray] = None
    flux: Optional[np.ndarray] = None
    binid: Optional[np.ndarray] = None

    @property
    def shape(self):
        return self.vel.shape

    @property
    def valid(self) -> np.ndarray:
        """Boolean map of usable velocity spaxels (finite, unmasked, ivar > 0)."""
        return ~self.mask & np.isfinite(self.vel) & (self.vel_ivar > 0)

    @property
    def vel_err(self) -> np.ndarray:
        """1σ velocity error, km/s (inf where ivar ≤ 0)."""
        with np.errstate(divide="ignore"):
            return np.where(self.vel_ivar > 0, 1.0 / np.sqrt(np.abs(self.vel_ivar)), np.inf)

    def unique_bin_spaxels(self) -> np.ndarray:
        """Boolean map selecting one spaxel per bin (all valid spaxels when unbinned)."""
        valid = self.valid
        if self.binid is None:
            return valid
        flat = self.binid.ravel()
        keep = np.zeros(flat.size, bool)
        ids, first = np.unique(flat, return_index=True)
        keep[first[ids >= 0]] = True
        return keep.reshape(self.binid.shape) & valid


@dataclass
class MapsData:
    """What kinview reads from one MAPS file.

    Attributes
    ----------
    plateifu : str
    path : str
    daptype : str
        e.g. ``HYB10-MILESHC-MASTARSSP``.
    stellar : VelocityField
    gas : VelocityField or None
        Hα (``Ha-6564``) from ``EMLINE_GVEL``; None when the file has no emission-line maps.
    r_arcsec, r_re, theta : ndarray (ny, nx)
        ``SPX_ELLCOO``: elliptical (semi-major-axis) radius in arcsec and in units of Rₑ, and
        the azimuth in degrees.
    ell_ba, ell_pa, reff : float
        The ellipse used for ``SPX_ELLCOO`` (header ``ECOOELL``, ``ECOOPA``, ``REFF``; PA in
        degrees E of N of the photometric major axis).
    snr : ndarray or None
        ``SPX_SNR``.
    header : dict
        Selected primary-header keywords (``PLATEIFU``, ``DAPTYPE``, ``DAPVER``, ``SCINPVEL``,
        ``OBJRA``, ``OBJDEC``, ``Z``...).
    missing : dict
        Why a field is None, by kind (e.g. ``{'gas': 'EMLINE_GVEL has no Ha-6564 channel'}``).
    """

    plateifu: str
    path: str
    daptype: str
    stellar: VelocityField
    gas: Optional[VelocityField]
    r_arcsec: np.ndarray
    r_re: np.ndarray
    theta: np.ndarray
    ell_ba: float = float("nan")
    ell_pa: float = float("nan")
    reff: float = float("nan")
    snr: Optional[np.ndarray] = None
    header: Dict[str, object] = field(default_factory=dict)
    missing: Dict[str, str] = field(default_factory=dict)

    def field(self, kind: str) -> Optional[VelocityField]:
        """``'stellar'`` or ``'gas'``."""
        if kind not in ("stellar", "gas"):
            raise ValueError(f"field must be 'stellar' or 'gas', not {kind!r}")
        return self.stellar if kind == "stellar" else self.gas
