"""Global kinematic position angle: one front door, two methods.

``fit_pa(field, method="fast" | "pafit", nsteps=361)`` cleans the field
(:func:`~kinview.kinematics.cleaning.clean_field`), subtracts the systemic-velocity
estimate, fits the symmetrised-field χ² of Krajnović et al. (2006, App. C) over
``linspace(0, 180, nsteps)`` and picks the receding side.

Conventions (SPEC §1)
    ``pa`` is in degrees East of North to the **receding** side, in [0, 360).  Both methods
    see x pointing West (x_west = −x_east of ``SPX_SKYCOO``) so their angle is North through
    East; they return the line of largest |v| in [0, 180) and kinview adds 180° when the
    velocities (minus the fitted systemic velocity) are negative on that side.
Errors
    ``pa_err`` is the 1σ error in degrees: a third of the 3σ half-range where
    χ² − χ²_min ≤ 9 + 3√(2N) (pafit's ``angErr``, kept as ``pa_err_3sigma``).
Binned fields
    Every kept spaxel is one point, so a Voronoi bin of n spaxels (all carrying the bin's
    velocity) weighs n times, by its area.  This reproduces the published MPL-8 PAs on the
    real dev fields far better than one point per bin (|ΔPA| p95 11° against 26°;
    ``benchmarks/pa_binned.py``): the published pipeline fitted the spaxel maps.
Failures
    Never raise on a bad field: ``pa`` is NaN and ``reason`` says why (too few spaxels,
    no clear rotation, pafit missing...).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from kinview.blas_threads import one_thread
from kinview.kinematics.cleaning import CleanedField, clean_field
from kinview.kinematics.pa_exact import exact_chi2
from kinview.kinematics.pa_fast import MIN_SPAXELS, UNCONSTRAINED_ERR3, fit_pa_fast, grid_for
from kinview.kinematics.pa_pafit import fit_pa_pafit

__all__ = ["PAFit", "fit_pa", "METHODS", "receding_pa"]

METHODS = ("fast", "pafit")
#: Rotation must exceed this many times the residual scatter (p90 of |v_sym| / σ_resid).
MIN_ROTATION_SNR = 1.3


@dataclass
class PAFit:
    """Result of one PA fit.

    Attributes
    ----------
    pa : float
        Degrees East of North to the receding side, [0, 360); NaN when the fit failed.
    pa_err : float
        1σ error, degrees (NaN when failed).
    vsys_correction : float
        Correction to the adopted systemic velocity, km/s: ``vsyst_adopted + vsys_correction``
        (:attr:`vsyst_total`) is the systemic velocity relative to the DAP redshift.  Not the
        systemic velocity itself.  Stored in the ``pa_fits.vsyst`` column.
    n_used : int
        Spaxels used.
    reason : str or None
        Why ``pa`` is NaN; None on success.
    method : str
    nsteps : int
    pa_fold : float
        The fitted line of largest |v|, [0, 180) (what pafit returns).
    pa_err_3sigma : float
        pafit's ``angErr`` (3σ half-range), degrees.
    vsyst_adopted : float
        Systemic-velocity estimate subtracted before the fit, km/s.
    seconds : float
        Wall time of the fit (cleaning included).
    angles, chi2 : ndarray or None
        The χ² curve (fast method), NaN where not evaluated.
    velsym : ndarray or None
        Symmetrised velocities of the kept spaxels at the best angle (fast method), km/s.
    cleaned : CleanedField or None
    """

    pa: float
    pa_err: float
    vsys_correction: float
    n_used: int
    reason: Optional[str]
    method: str
    nsteps: int
    pa_fold: float = float("nan")
    pa_err_3sigma: float = float("nan")
    vsyst_adopted: float = float("nan")
    seconds: float = 0.0
    angles: Optional[np.ndarray] = None
    chi2: Optional[np.ndarray] = None
    velsym: Optional[np.ndarray] = None
    cleaned: Optional[CleanedField] = None

    @property
    def ok(self) -> bool:
        return self.reason is None and np.isfinite(self.pa)

    @property
    def vsyst_total(self) -> float:
        """Systemic velocity relative to the DAP redshift, km/s."""
        return self.vsyst_adopted + self.vsys_correction

    def velsym_map(self) -> Optional[np.ndarray]:
        """The symmetrised field on the MAPS grid (NaN off the kept spaxels), km/s."""
        if self.velsym is None or self.cleaned is None:
            return None
        out = np.full(self.cleaned.kept.shape, np.nan)
        out[self.cleaned.kept] = self.velsym + self.vsyst_total
        return out


def receding_pa(pa_fold: float, x_west, y, vel) -> float:
    """Turn a [0, 180) line-of-nodes angle into the receding-side PA in [0, 360).

    The receding side is where the first moment Σ v·(p·u) along the axis u (North through
    East at ``pa_fold``) is positive; ``vel`` must have the systemic velocity removed.
    """
    th = np.radians(pa_fold)
    d = -np.asarray(x_west) * np.sin(th) + np.asarray(y) * np.cos(th)
    s = float(np.sum(np.asarray(vel) * d))
    return float(np.mod(pa_fold if s >= 0 else pa_fold + 180.0, 360.0))


def _failed(method, nsteps, n, reason, t0, vsyst0=float("nan"), cleaned=None) -> PAFit:
    return PAFit(pa=float("nan"), pa_err=float("nan"), vsys_correction=float("nan"), n_used=int(n),
                 reason=reason, method=method, nsteps=nsteps, vsyst_adopted=vsyst0,
                 seconds=time.perf_counter() - t0, cleaned=cleaned)


def _points_from(field, clean: bool, clean_kwargs):
    """(cleaned or None, x_east, y, vel_corr, vsyst0, grid)."""
    if isinstance(field, CleanedField):
        cleaned = field
    elif hasattr(field, "vel") and hasattr(field, "valid"):
        if clean:
            cleaned = clean_field(field, **clean_kwargs)
        else:
            valid = field.valid
            v = field.vel[valid]
            cleaned = CleanedField(field=field, kept=valid.copy(),
                                   removed={"dap_mask": ~valid},
                                   vsyst=float(np.median(v)) if v.size else float("nan"))
    else:
        x, y, vel = (np.asarray(a, float) for a in field)
        ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(vel)
        grid = None
        if x.ndim == 2:
            grid = grid_for(x, y, ok)
        xe, yy, vv = x[ok], y[ok], vel[ok]
        vs0 = float(np.median(vv)) if vv.size else float("nan")
        return None, xe, yy, vv - vs0, vs0, grid
    f = cleaned.field
    xe, yy, vv = cleaned.points(subtract_vsyst=True)
    grid = grid_for(f.x, f.y, cleaned.kept) if cleaned.n_kept else None
    return cleaned, xe, yy, vv, cleaned.vsyst, grid


@one_thread
def fit_pa(field, method: str = "fast", nsteps: int = 361, clean: bool = True,
           dvel=10.0, exhaustive: bool = False, polish: bool = True, **clean_kwargs) -> PAFit:
    """Fit the global kinematic PA of one velocity field.

    Parameters
    ----------
    field : VelocityField, CleanedField or (x_east, y, vel) arrays
        A :class:`~kinview.data.fields.VelocityField` is cleaned first (unless
        ``clean=False``; then only its DAP mask is applied).  Arrays: arcsec with x **East**
        positive (``SPX_SKYCOO``), km/s; NaN marks unusable points; 2-D arrays on the MAPS
        grid use the fast grid path.
    method : {'fast', 'pafit'}
        ``fast``: kinview's implementation (:mod:`kinview.kinematics.pa_fast`);
        ``pafit``: ``pafit.fit_kinematic_pa`` (reference, slow).
    nsteps : int
        Angles sampled in [0, 180] (361 → 0.5°).
    dvel : float or 'auto'
        Velocity uncertainty used in χ², km/s.  The default is pafit's (10 km/s), which is
        what the reference pipeline uses; the error is then calibrated only for fields with
        ~10 km/s noise.  ``'auto'`` uses the median DAP velocity error of the kept spaxels
        (the same scalar is given to pafit, so the two methods stay comparable).
    exhaustive : bool
        ``fast`` only: evaluate every angle instead of coarse-to-fine.
    polish : bool
        ``fast`` only: settle the minimum with the reference's per-angle triangulation
        (:mod:`kinview.kinematics.pa_exact`); without it the answer is the smooth curve's
        minimum, which can differ from pafit's by a degree or two on shallow minima.
    **clean_kwargs
        Passed to :func:`~kinview.kinematics.cleaning.clean_field`.

    Returns
    -------
    PAFit
        Receding-side PA in [0, 360) degrees E of N with its 1σ error, or NaN + reason.

    Notes
    -----
    Runs with one BLAS/OpenMP thread (:func:`kinview.blas_threads.single_threaded`), in any
    process: the fit is many tiny linear-algebra calls that threaded BLAS only slows down.
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    nsteps = int(nsteps)
    if nsteps < 3:
        raise ValueError(f"nsteps must be at least 3, not {nsteps}")
    cleaned, xe, yy, vv, vs0, grid = _points_from(field, clean, clean_kwargs)
    n = vv.size
    if n < MIN_SPAXELS:
        return _failed(method, nsteps, n, f"too few spaxels ({n} < {MIN_SPAXELS})", t0, vs0,
                       cleaned)
    xw = -xe
    if isinstance(dvel, str):
        if dvel != "auto":
            raise ValueError(f"dvel must be a number or 'auto', not {dvel!r}")
        dvel = _auto_dvel(cleaned)
    if np.ptp(vv) <= 0:
        return _failed(method, nsteps, n, "no clear rotation (constant velocity)", t0, vs0,
                       cleaned)
    if np.linalg.matrix_rank(np.column_stack([xw - xw.mean(), yy - yy.mean()])) < 2:
        return _failed(method, nsteps, n, "spaxels are collinear", t0, vs0, cleaned)
    angles = chi2 = velsym = None
    try:
        if method == "fast":
            res = fit_pa_fast(xw, yy, vv, nsteps=nsteps, dvel=dvel, grid=grid,
                              exhaustive=exhaustive, polish=polish)
            fold, err3, corr = res.angle, res.err3, res.vsys_correction
            angles, chi2, velsym = res.angles, res.chi2, res.velsym
        else:
            # pafit itself is imported inside fit_pa_pafit: a missing pafit raises ImportError here
            fold, err3, corr = fit_pa_pafit(xw, yy, vv, nsteps=nsteps, dvel=dvel)
            if np.isfinite(fold):
                # pafit's own symmetrised field at its angle, for the same rotation check
                velsym = exact_chi2(xw, yy, vv, fold, dvel)[1]
    except ImportError as exc:
        return _failed(method, nsteps, n, f"pafit is not available ({exc})", t0, vs0, cleaned)
    except Exception as exc:  # qhull errors on degenerate geometry, etc.
        return _failed(method, nsteps, n, f"fit failed ({type(exc).__name__}: {exc})".split(
            "\n")[0], t0, vs0, cleaned)
    reason = None
    if not np.isfinite(fold):
        reason = "fit failed (no finite χ²)"
    elif err3 >= UNCONSTRAINED_ERR3:
        reason = f"no clear rotation (PA unconstrained: 3σ range ±{err3:.0f}°)"
    else:
        snr = _rotation_snr(vv, velsym)
        if snr < MIN_ROTATION_SNR:
            reason = f"no clear rotation (rotation/noise {snr:.1f} < {MIN_ROTATION_SNR:g})"
    pa = receding_pa(fold, xw, yy, vv - corr) if np.isfinite(fold) else float("nan")
    out = PAFit(pa=pa if reason is None else float("nan"),
                pa_err=err3 / 3.0 if reason is None else float("nan"),
                vsys_correction=corr, n_used=n, reason=reason, method=method, nsteps=nsteps,
                pa_fold=fold, pa_err_3sigma=err3, vsyst_adopted=vs0,
                seconds=time.perf_counter() - t0, angles=angles, chi2=chi2, velsym=velsym,
                cleaned=cleaned)
    return out


def _auto_dvel(cleaned) -> float:
    """Typical velocity error (median over the kept spaxels of 1/sqrt(ivar)), ≥ 1 km/s."""
    if cleaned is None:
        return 10.0
    err = np.asarray(cleaned.field.vel_err, float)[cleaned.kept]
    err = err[np.isfinite(err)]
    return float(max(np.median(err), 1.0)) if err.size else 10.0


def _rotation_snr(vv, velsym) -> float:
    """p90 |v_sym| over the robust scatter of v − v_sym (≈1 for pure noise).

    ``velsym`` is the symmetrised field at the fitted angle: the reference's (per-angle
    triangulation) for ``pafit`` and for polished ``fast`` fits, so the two methods pass or
    fail a field together whenever they agree on the angle."""
    resid = vv - velsym
    sig = 1.4826 * np.median(np.abs(resid - np.median(resid)))
    amp = np.percentile(np.abs(velsym - np.median(velsym)), 90)
    if sig <= 0:
        return float("inf") if amp > 0 else 0.0
    return float(amp / sig)
