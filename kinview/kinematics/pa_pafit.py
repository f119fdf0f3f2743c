"""The reference method: ``pafit.fit_kinematic_pa`` (Cappellari; Krajnović et al. 2006).

pafit is a dependency, never vendored: its licence forbids redistribution.  It is imported
inside :func:`fit_pa_pafit` only (it imports matplotlib at module level), called with
``plot=False, quiet=True`` and fed x pointing **West** so that its counter-clockwise-from-+y
angle is North through East.  It returns ``(angBest, angErr, vSyst)``: the angle in
[0, 180) along which |v| is largest, its 3σ error and the systemic-velocity correction.
"""
from __future__ import annotations

import os

import numpy as np

from kinview.blas_threads import one_thread

__all__ = ["fit_pa_pafit", "pafit_available"]


def pafit_available() -> bool:
    """True when the ``pafit`` package can be imported."""
    import importlib.util

    return importlib.util.find_spec("pafit") is not None


@one_thread
def fit_pa_pafit(x_west, y, vel, nsteps: int = 361, dvel=10.0):
    """Run ``pafit.fit_kinematic_pa`` and return ``(angle, err3, vsys_correction)``.

    Parameters
    ----------
    x_west, y : ndarray (N,)
        Positions, arcsec, x pointing West, centre of rotation at (0, 0).
    vel : ndarray (N,)
        Velocities with a systemic-velocity estimate subtracted, km/s.
    nsteps : int
        Number of angles in [0, 180].
    dvel : float or ndarray
        Velocity uncertainty, km/s (pafit's default 10).

    Raises
    ------
    ImportError
        When pafit is not installed (the caller reports it as a failure reason).
    """
    os.environ.setdefault("MPLBACKEND", "Agg")
    from pafit.fit_kinematic_pa import fit_kinematic_pa

    ang, err, vsys = fit_kinematic_pa(np.asarray(x_west, float), np.asarray(y, float),
                                      np.asarray(vel, float), nsteps=nsteps, quiet=True,
                                      plot=False, dvel=dvel)
    return float(ang), float(err), float(vsys)
