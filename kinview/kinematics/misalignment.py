"""Kinematic misalignment between the stellar and gas PAs (SPEC §1).

ΔPA is the smallest angle between the two receding-side PAs, in [0, 180] degrees
(:func:`kinview.conventions.delta_pa`).  A galaxy is *misaligned* when ΔPA ≥ 30° and its gas
*counter-rotates* when ΔPA ≥ 150° (:data:`~kinview.conventions.MISALIGNED_DEG`,
:data:`~kinview.conventions.COUNTER_ROTATING_DEG`).  A missing PA (NaN/None) gives NaN and
no flag.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from kinview.conventions import COUNTER_ROTATING_DEG, MISALIGNED_DEG, delta_pa

__all__ = ["Misalignment", "misalignment", "misalignment_arrays"]


@dataclass(frozen=True)
class Misalignment:
    """ΔPA (degrees, [0, 180], NaN if a PA is missing) with its flags and error."""

    dpa: float
    dpa_err: float
    misaligned: Optional[bool]
    counter_rotating: Optional[bool]

    @property
    def category(self) -> str:
        """``'aligned'``, ``'misaligned'``, ``'counter-rotating'`` or ``'unknown'``."""
        if not np.isfinite(self.dpa):
            return "unknown"
        if self.counter_rotating:
            return "counter-rotating"
        return "misaligned" if self.misaligned else "aligned"


def _f(value) -> float:
    return float("nan") if value is None else float(value)


def misalignment(stellar_pa, gas_pa, stellar_err=None, gas_err=None) -> Misalignment:
    """ΔPA between a stellar and a gas PA (degrees E of N to the receding side).

    Errors (1σ, degrees) add in quadrature; flags are None when ΔPA is unknown.

    Examples
    --------
    >>> misalignment(350.0, 10.0).dpa
    20.0
    >>> misalignment(10.0, 200.0).category
    'counter-rotating'
    """
    s, g = _f(stellar_pa), _f(gas_pa)
    if not (np.isfinite(s) and np.isfinite(g)):
        return Misalignment(float("nan"), float("nan"), None, None)
    d = float(delta_pa(s, g))
    err = float(np.hypot(_f(stellar_err), _f(gas_err)))
    return Misalignment(d, err, d >= MISALIGNED_DEG, d >= COUNTER_ROTATING_DEG)


def misalignment_arrays(stellar_pa, gas_pa):
    """Vectorised ΔPA and flags: ``(dpa, misaligned, counter_rotating)`` arrays.

    ΔPA is NaN where either PA is missing; the flags are False there.
    """
    s = np.asarray(stellar_pa, float)
    g = np.asarray(gas_pa, float)
    d = delta_pa(s, g)
    ok = np.isfinite(d)
    return d, ok & (np.nan_to_num(d) >= MISALIGNED_DEG), ok & (np.nan_to_num(d) >= COUNTER_ROTATING_DEG)
