"""Position-angle fits in the survey database: which stored fit a field's PA comes from.

The precedence of a field's PA is written here once and used by the GUI's galaxy table and the
catalogue export alike:

1. the expert's ``pa_override`` label (a label, resolved by the caller with :func:`resolve_pa`);
2. a successful ``pafit`` fit (the reference algorithm, which the user ran deliberately);
3. a successful ``fast`` fit.

A failed fit (``pa IS NULL``) never hides a successful one: a field whose ``pafit`` row failed
but whose ``fast`` row succeeded shows the fast PA.  Only when no method succeeded is the failed
row of the most preferred method returned, so its ``reason`` can be shown.
"""
from __future__ import annotations

import sqlite3
from typing import List, NamedTuple, Optional

import numpy as np

#: PA fit methods, most preferred first.
PA_METHOD_PREFERENCE = ("pafit", "fast")


class StoredFit(NamedTuple):
    """One row of ``pa_fits``.

    ``pa`` is degrees East of North to the receding side in [0, 360), or None for a failed
    fit (then ``reason`` says why); ``pa_err`` is 1σ in degrees; ``vsys_correction`` is the
    fit's correction to the systemic velocity it adopted, in km/s (not the systemic velocity;
    the SQL column keeps its old name, ``vsyst``, so that existing databases need no
    migration: rows are read by position).
    """

    plateifu: str
    field: str
    method: str
    pa: Optional[float]
    pa_err: Optional[float]
    vsys_correction: Optional[float]
    reason: Optional[str]


def _rank(fit: StoredFit) -> tuple:
    method_rank = (PA_METHOD_PREFERENCE.index(fit.method) if fit.method in PA_METHOD_PREFERENCE
                   else len(PA_METHOD_PREFERENCE))
    return (fit.pa is None, method_rank)


def preferred_fits(conn: sqlite3.Connection) -> List[StoredFit]:
    """The fit each (plateifu, field) takes its PA from, by the precedence in the module docstring.

    Returns
    -------
    list of StoredFit
        One per (plateifu, field) that has any stored fit, in no particular order.
    """
    best = {}
    for row in conn.execute("SELECT plateifu, field, method, pa, pa_err, vsyst, reason FROM pa_fits"):
        fit = StoredFit(*row)
        key = (fit.plateifu, fit.field)
        if key not in best or _rank(fit) < _rank(best[key]):
            best[key] = fit
    return list(best.values())


def resolve_pa(override, fitted):
    """A field's PA: the expert's override where one is set, else the fitted PA (NaN = none).

    Works elementwise on arrays; both inputs are degrees East of North to the receding side.
    """
    override = np.asarray(override, dtype=float)
    return np.where(np.isfinite(override), override, np.asarray(fitted, dtype=float))


#: Columns a stored fit is written with, in order (``created`` is added by :func:`write_fits`);
#: the SQL column ``vsyst`` holds :attr:`kinview.kinematics.pa.PAFit.vsys_correction`.
FIT_COLUMNS = ("plateifu", "field", "method", "pa", "pa_err", "vsyst", "n_used", "nsteps",
               "reason", "seconds")


def write_fits(conn: sqlite3.Connection, rows, replace: bool, created: str) -> None:
    """Write PA fits to ``pa_fits`` (the caller owns the transaction).

    Parameters
    ----------
    rows : iterable of tuple
        One tuple per fit in :data:`FIT_COLUMNS` order: PA and its 1σ error in degrees East of
        North to the receding side (None for a failed fit), the systemic-velocity correction
        in km/s, spaxels used, grid steps, failure reason, fit seconds.
    replace : bool
        True replaces a stored fit of the same (plateifu, field, method); False keeps it.
    created : str
        ISO-8601 UTC time stamp stored with every row.
    """
    verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
    conn.executemany(
        f"{verb} INTO pa_fits ({', '.join(FIT_COLUMNS)}, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [tuple(r) + (created,) for r in rows])


def fitted_fields(conn: sqlite3.Connection, method: Optional[str] = None) -> set:
    """(plateifu, field) pairs with a stored fit (failed fits included); of ``method`` if given."""
    if method is None:
        return {(r[0], r[1]) for r in conn.execute("SELECT plateifu, field FROM pa_fits")}
    return {(r[0], r[1]) for r in conn.execute(
        "SELECT plateifu, field FROM pa_fits WHERE method = ?", (method,))}


def count_fitted_fields(conn: sqlite3.Connection) -> int:
    """Distinct (plateifu, field) pairs of catalogued galaxies with any stored fit."""
    return int(conn.execute("SELECT COUNT(*) FROM (SELECT DISTINCT plateifu, field FROM pa_fits"
                            " WHERE plateifu IN (SELECT plateifu FROM galaxies))").fetchone()[0])
