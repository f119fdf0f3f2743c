"""Fast global kinematic PA: the symmetrised-field χ² of Krajnović et al. (2006, App. C).

The statistic is the one ``pafit.fit_kinematic_pa`` minimises; this is an independent
implementation written from the paper and that description, much faster:

* For a trial angle θ (counter-clockwise from +y in the (x_west, y) plane, i.e. North
  through East on the sky), the field is *bi-symmetrised*: every point p is averaged with
  the interpolated velocities at its mirror images across the major axis (+v), across the
  minor axis (−v) and through the centre (−v).  Mirror points outside the convex hull of the
  data carry no information and are left out of the average.
* χ²(θ) = Σ ((v − v_sym) / dvel)², over θ in ``linspace(0, 180, nsteps)``; the best angle
  minimises it; the 3σ range is where χ² − χ²_min ≤ 9 + 3 √(2N) (the Δχ² for one
  parameter plus three times the scatter of χ² itself); the error is half that range (never
  below half a step or 0.5°), with the range taken across 0/180 when it wraps.  The 1σ
  error kinview reports is a third of that.
* The systemic-velocity correction is the median of v − v_sym at the best angle.

Why it is fast
    Linear interpolation on the Delaunay triangulation of the data is rotation-invariant,
    so the data are triangulated **once**.  On the regular MaNGA spaxel grid the piecewise
    linear interpolant is sampled once onto the grid nodes (holes inside the hull are bridged
    as the triangulation bridges them) and every mirror point is then evaluated by bilinear
    look-up on that grid, with an exact convex-hull test tabulated per fine row.  The point
    reflection through the centre does not depend on θ and is evaluated once.  All angles
    are evaluated in vectorised batches: a coarse pass (every ~4°), then the full-resolution
    angles only near the minimum and where the Δχ² threshold is crossed (``exhaustive=True``
    evaluates every angle).  Scattered (binned, non-grid) inputs use the triangulation
    directly, still once for all angles.

Why it is also exact
    The reference re-triangulates the rotated points at every angle, and on a regular grid
    the diagonal of each square cell is a floating-point tie-break, so its χ² curve is this
    smooth curve plus a small angle-to-angle jitter that can move a shallow minimum by a
    degree or two.  The last step (:mod:`kinview.kinematics.pa_exact`) re-evaluates the
    few angles that could hold the minimum with the reference's own per-angle
    triangulation (2–12 triangulations, about 3 on average, instead of 361), so the best
    angle, the systemic correction and the symmetrised field are the reference's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from kinview.blas_threads import one_thread
from kinview.kinematics.pa_exact import polish_minimum

__all__ = ["FastResult", "fit_pa_fast", "SymmetricFieldChi2", "MIN_SPAXELS"]

#: Fewer usable spaxels than this and no PA is fitted.
MIN_SPAXELS = 10
#: A 3σ half-range at least this wide (degrees) means the PA is unconstrained.
UNCONSTRAINED_ERR3 = 45.0
_FINE_ROWS = 32          # sub-rows per grid row in the tabulated convex hull
_EPS = 1e-4              # hull tolerance, grid units
_BATCH = 48              # angles per vectorised batch
#: Grid fields with more of their hull in gaps than this use the triangulation directly...
MAX_GAP_FRACTION = 0.08
#: ...when they have at most this many points (it is slower).
MAX_TRI_POINTS = 1500


@dataclass
class FastResult:
    """Raw result of the symmetrised-field χ² fit (pafit-style angle in [0, 180))."""

    angle: float          # degrees, CCW from +y in (x_west, y): North through East
    err3: float           # 3σ half-range, degrees (pafit's ``angErr``)
    vsys_correction: float  # correction to the adopted systemic velocity, km/s
    angles: np.ndarray    # (nsteps,) degrees
    chi2: np.ndarray      # (nsteps,) χ², NaN where not evaluated
    velsym: np.ndarray    # (N,) symmetrised velocity at the best angle
    direction: float      # Σ v_sym · (p·u) at the best angle (> 0: receding side at angle)
    n_used: int
    n_evaluated: int      # how many angles were evaluated
    n_exact: int = 0      # how many of them also with the reference's triangulation


# --------------------------------------------------------------------------- interpolators
def _convex_hull(pts: np.ndarray) -> np.ndarray:
    """Vertices of the convex hull of 2-D points, counter-clockwise."""
    pts = np.unique(pts, axis=0)
    if len(pts) < 3:
        return pts
    from scipy.spatial import ConvexHull, QhullError

    try:
        return pts[ConvexHull(pts).vertices]
    except QhullError:          # collinear: a degenerate hull
        return pts[[0, -1]]


class _GridInterp:
    """Piecewise-linear interpolant of gridded data, sampled on the grid, + hull test.

    The data nodes keep their values; grid nodes inside the convex hull that hold no data
    (holes, the staircase along slanted edges of the footprint) and the ring of nodes just
    outside it get the harmonic (Laplace) interpolant of the data, which is what linear
    interpolation across a gap gives for one-spaxel gaps and a smooth bridge for larger
    ones.  A query is answered by bilinear interpolation of the node values, and is NaN
    outside the convex hull of the data (tabulated per 1/32 row).
    """

    def __init__(self, ii: np.ndarray, jj: np.ndarray, v: np.ndarray):
        from scipy import sparse
        from scipy.ndimage import binary_dilation, distance_transform_edt
        from scipy.sparse.linalg import spsolve

        i0, i1 = int(ii.min()) - 2, int(ii.max()) + 3
        j0, j1 = int(jj.min()) - 2, int(jj.max()) + 3
        self.i0, self.j0 = i0, j0
        nx, ny = i1 - i0, j1 - j0
        self.nx, self.ny = nx, ny
        gi, gj = ii - i0, jj - j0
        grid = np.zeros((ny, nx))
        have = np.zeros((ny, nx), bool)
        grid[gj, gi] = v
        have[gj, gi] = True

        # convex hull from the extreme data node of every row
        rows_any = np.flatnonzero(have.any(axis=1))
        first = np.argmax(have[rows_any], axis=1)
        last = nx - 1 - np.argmax(have[rows_any, ::-1], axis=1)
        cand = np.column_stack([np.concatenate([first, last]),
                                np.concatenate([rows_any, rows_any])]).astype(float)
        hull = _convex_hull(cand)
        jmin, jmax = float(rows_any[0]), float(rows_any[-1])
        nrows = int(round((jmax - jmin) * _FINE_ROWS)) + 1
        rows = jmin + np.arange(nrows) / _FINE_ROWS
        a = hull
        b = np.roll(hull, -1, axis=0)
        dj = b[:, 1] - a[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (rows[:, None] - a[None, :, 1]) / dj[None, :]
            x = a[None, :, 0] + t * (b[None, :, 0] - a[None, :, 0])
        ok = (t >= -1e-9) & (t <= 1 + 1e-9) & (np.abs(dj) > 1e-12)[None, :]
        flat_edge = np.abs(dj) <= 1e-12
        xs = [np.where(ok, x, np.nan)]
        if flat_edge.any():
            on_row = np.abs(rows[:, None] - a[None, flat_edge, 1]) < 0.5 / _FINE_ROWS
            xs += [np.where(on_row, a[None, flat_edge, 0], np.nan),
                   np.where(on_row, b[None, flat_edge, 0], np.nan)]
        x = np.concatenate(xs, axis=1) if len(xs) > 1 else xs[0]
        if len(hull) < 3:  # degenerate (collinear) data: only the points themselves
            x = np.full((nrows, 1), np.nan)
        with np.errstate(invalid="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                lo = np.nanmin(x, axis=1)
                hi = np.nanmax(x, axis=1)
        bad = ~np.isfinite(lo)
        lo[bad], hi[bad] = np.inf, -np.inf
        # stored in absolute grid coordinates (column of the full MAPS grid)
        self.hull_lo = (lo + i0).astype(np.float32)
        self.hull_hi = (hi + i0).astype(np.float32)
        self.hull_j0 = jmin + j0
        self.nrows = nrows

        # nodes to fill: inside the hull without data, plus a one-node ring outside it
        node_rows = np.arange(ny)
        r_idx = np.round((node_rows - jmin) * _FINE_ROWS).astype(int)
        valid_r = (r_idx >= 0) & (r_idx < nrows)
        inside = np.zeros((ny, nx), bool)
        cols = np.arange(nx)
        for r in np.flatnonzero(valid_r):
            k = r_idx[r]
            inside[r] = (cols >= lo[k] - 1e-6) & (cols <= hi[k] + 1e-6)
        #: fraction of the grid nodes inside the hull that hold no data (gaps to bridge)
        self.gap_fraction = float((inside & ~have).sum()) / max(int(inside.sum()), 1)
        need = binary_dilation(inside | have, structure=np.ones((3, 3), bool)) & ~have
        if need.any():
            near_idx = distance_transform_edt(~have, return_distances=False,
                                              return_indices=True)
            nearest = grid[near_idx[0], near_idx[1]]
            uj, ui = np.nonzero(need)
            nu = uj.size
            index = -np.ones((ny, nx), np.intp)
            index[uj, ui] = np.arange(nu)
            diag = np.full(nu, 1e-3)
            rhs = 1e-3 * nearest[uj, ui]
            r_list, c_list = [], []
            for dj_, di_ in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                qj, qi = uj + dj_, ui + di_
                okq = (qj >= 0) & (qj < ny) & (qi >= 0) & (qi < nx)
                qj_c, qi_c = np.clip(qj, 0, ny - 1), np.clip(qi, 0, nx - 1)
                known = okq & have[qj_c, qi_c]
                unk = okq & (index[qj_c, qi_c] >= 0)
                diag += known + unk
                rhs += np.where(known, grid[qj_c, qi_c], 0.0)
                r_list.append(np.flatnonzero(unk))
                c_list.append(index[qj_c, qi_c][unk])
            rr = np.concatenate(r_list + [np.arange(nu)])
            cc = np.concatenate(c_list + [np.arange(nu)])
            vals = np.concatenate([-np.ones(sum(len(r) for r in r_list)), diag])
            mat = sparse.csr_matrix((vals, (rr, cc)), shape=(nu, nu))
            grid[uj, ui] = spsolve(mat, rhs) if nu > 1 else rhs / diag
            far = ~(have | need)
            grid[far] = nearest[far]
        # bilinear coefficients per cell: v = a + b tx + c ty + d tx ty
        g = grid
        v00, v10, v01, v11 = g[:-1, :-1], g[:-1, 1:], g[1:, :-1], g[1:, 1:]
        coef = np.stack([v00, v10 - v00, v01 - v00, v11 - v10 - v01 + v00], axis=-1)
        self.coef = coef.reshape(-1, 4).astype(np.float32)
        self.ncx = nx - 1
        self.grid = grid

    def __call__(self, fi: np.ndarray, fj: np.ndarray) -> np.ndarray:
        """Values at grid coordinates (column, row); NaN outside the convex hull."""
        r = np.rint((fj - self.hull_j0) * _FINE_ROWS).astype(np.intp)
        okr = (r >= 0) & (r < self.nrows)
        np.maximum(r, 0, out=r)
        np.minimum(r, self.nrows - 1, out=r)
        inside = okr & (fi >= self.hull_lo[r] - _EPS) & (fi <= self.hull_hi[r] + _EPS)
        gi = fi - self.i0
        gj = fj - self.j0
        c0 = np.floor(gi)
        q0 = np.floor(gj)
        tx = gi - c0
        ty = gj - q0
        k = q0.astype(np.intp) * self.ncx + c0.astype(np.intp)
        np.maximum(k, 0, out=k)
        np.minimum(k, self.coef.shape[0] - 1, out=k)
        cf = self.coef[k]
        out = cf[..., 0] + tx * (cf[..., 1] + ty * cf[..., 3]) + ty * cf[..., 2]
        out[~inside] = np.nan
        return out


class _TriInterp:
    """Linear interpolation on one Delaunay triangulation (for scattered points)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, v: np.ndarray):
        from scipy.interpolate import LinearNDInterpolator

        self.f = LinearNDInterpolator(np.column_stack([x, y]), v)

    def __call__(self, fi: np.ndarray, fj: np.ndarray) -> np.ndarray:
        shape = fi.shape
        return self.f(np.column_stack([fi.ravel(), fj.ravel()])).reshape(shape)


def _grid_affine(x_west: np.ndarray, y: np.ndarray):
    """Affine map (x_west, y) -> (column, row) of a regular 2-D coordinate grid, or None."""
    ny, nx = x_west.shape
    if nx < 2 or ny < 2 or not (np.isfinite(x_west).all() and np.isfinite(y).all()):
        return None
    # grid steps along a column and along a row
    m = np.array([[x_west[0, 1] - x_west[0, 0], x_west[1, 0] - x_west[0, 0]],
                  [y[0, 1] - y[0, 0], y[1, 0] - y[0, 0]]])      # d(sky)/d(col, row)
    det = np.linalg.det(m)
    if not np.isfinite(det) or abs(det) < 1e-12:
        return None
    inv = np.linalg.inv(m)
    off = -inv @ np.array([x_west[0, 0], y[0, 0]])
    coef_i = np.array([inv[0, 0], inv[0, 1], off[0]])
    coef_j = np.array([inv[1, 0], inv[1, 1], off[1]])
    jj, ii = np.mgrid[0:ny, 0:nx]
    pred_i = coef_i[0] * x_west + coef_i[1] * y + coef_i[2]
    pred_j = coef_j[0] * x_west + coef_j[1] * y + coef_j[2]
    if np.max(np.abs(pred_i - ii)) > 1e-3 or np.max(np.abs(pred_j - jj)) > 1e-3:
        return None  # not a regular grid
    return coef_i, coef_j


# --------------------------------------------------------------------------- the χ² engine
class SymmetricFieldChi2:
    """χ²(θ) of a velocity field against its bi-symmetrised version, for many angles.

    Parameters
    ----------
    x_west, y : ndarray (N,)
        Positions of the usable points, arcsec, x pointing **West** (so angles are North
        through East), centre of rotation at (0, 0).
    vel : ndarray (N,)
        Velocities with an estimate of the systemic velocity subtracted, km/s.
    dvel : float or ndarray (N,)
        Velocity uncertainty used in χ² (pafit's default is a constant 10 km/s).
    grid : tuple (cols, rows, coef_i, coef_j), optional
        Integer grid coordinates of the points and the affine map (x_west, y) -> (col, row);
        when given, the fast grid interpolation is used.
    """

    def __init__(self, x_west, y, vel, dvel=10.0, grid=None):
        self.xw = np.asarray(x_west, float)
        self.y = np.asarray(y, float)
        self.v = np.asarray(vel, float)
        self.dvel = dvel if np.isscalar(dvel) else np.asarray(dvel, float)
        self.n = self.v.size
        interp = None
        if grid is not None:
            cols, rows, ci, cj = grid
            interp = _GridInterp(np.asarray(cols, int), np.asarray(rows, int), self.v)
            # large gaps: the triangulation's straight bridges matter; use it directly
            if interp.gap_fraction > MAX_GAP_FRACTION and self.n <= MAX_TRI_POINTS:
                interp = None
            else:
                self.ci, self.cj = ci, cj
        self.interp = interp
        if interp is None:
            self.interp = _TriInterp(self.xw, self.y, self.v)
            self.ci = np.array([1.0, 0.0, 0.0])
            self.cj = np.array([0.0, 1.0, 0.0])
        # point reflection through the centre: independent of the angle
        fi, fj = self._to_grid(-self.xw, -self.y)
        self.v_point = self.interp(fi, fj)
        vp_ok = np.isfinite(self.v_point)
        self.base = (self.v - np.where(vp_ok, self.v_point, 0.0)).astype(np.float32)
        self.base_count = (1.0 + vp_ok).astype(np.float32)
        self.xw32 = self.xw.astype(np.float32)
        self.y32 = self.y.astype(np.float32)
        self.ci32 = np.asarray(self.ci, np.float32)
        self.cj32 = np.asarray(self.cj, np.float32)
        self.v32 = self.v.astype(np.float32)

    def _to_grid(self, xw, y):
        ci, cj = self.ci, self.cj
        return ci[0] * xw + ci[1] * y + ci[2], cj[0] * xw + cj[1] * y + cj[2]

    def symmetrised(self, angles_deg: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Bi-symmetrised velocities ``(len(angles), N)`` and projections p·u on the axis."""
        th = np.radians(np.atleast_1d(np.asarray(angles_deg, float)))
        ux = (-np.sin(th)).astype(np.float32)[:, None]
        uy = np.cos(th).astype(np.float32)[:, None]
        xw, y = self.xw32[None, :], self.y32[None, :]
        d = xw * ux + y * uy
        d2 = d + d
        xr = d2 * ux - xw
        yr = d2 * uy - y
        ci, cj = self.ci32, self.cj32
        fi = ci[0] * xr + ci[1] * yr + ci[2]
        fj = cj[0] * xr + cj[1] * yr + cj[2]
        v_major = self.interp(fi, fj)
        # the mirror across the minor axis is -p': grid coordinates reflect about the centre
        v_minor = self.interp(2 * ci[2] - fi, 2 * cj[2] - fj)
        fin_major = np.isfinite(v_major)
        fin_minor = np.isfinite(v_minor)
        total = (self.base[None, :] + np.where(fin_major, v_major, 0)
                 - np.where(fin_minor, v_minor, 0))
        count = self.base_count[None, :] + fin_major + fin_minor.astype(np.float32)
        return total / count, d

    def chi2(self, angles_deg: np.ndarray) -> np.ndarray:
        """χ² for each angle (degrees), evaluated in vectorised batches."""
        angles = np.atleast_1d(np.asarray(angles_deg, float))
        out = np.empty(angles.size)
        for s in range(0, angles.size, _BATCH):
            vs, _ = self.symmetrised(angles[s:s + _BATCH])
            r = (self.v32[None, :] - vs) / self.dvel
            out[s:s + _BATCH] = np.einsum("ij,ij->i", r, r, dtype=np.float64)
        return out


# --------------------------------------------------------------------------- the fit
def _coarse_to_fine(engine: SymmetricFieldChi2, angles: np.ndarray, thr: float,
                    exhaustive: bool) -> Tuple[np.ndarray, int]:
    """χ² on the pafit angle grid, evaluating only the angles that decide the answer.

    A coarse pass (about every 5°) finds the basin; every coarse interval with an end
    within 2 Δχ² thresholds of the minimum is evaluated at full resolution; every place
    where χ² − χ²_min crosses the Δχ² threshold between two evaluated angles is bisected
    down to adjacent angles.  Angles not evaluated lie strictly between evaluated
    neighbours on the same side of the threshold; their χ² is filled by linear
    interpolation (never below the evaluated minimum, so the best angle and the 3σ range
    are those of the exhaustive search).
    """
    n = angles.size
    periodic = n > 2 and np.isclose(angles[-1] - angles[0], 180.0)
    m = n - 1 if periodic else n
    if exhaustive or m <= 60 or not periodic:
        return engine.chi2(angles), n
    chi2 = np.full(m, np.nan)
    evaluated = np.zeros(m, bool)

    def run(idx):
        idx = np.unique(np.asarray(idx, np.intp) % m)
        idx = idx[~evaluated[idx]]
        if idx.size:
            chi2[idx] = engine.chi2(angles[idx])
            evaluated[idx] = True

    k = max(2, int(round(m / 36)))          # ~5° for 361 steps
    coarse = np.arange(0, m, k)
    run(coarse)
    # every coarse interval with an end near the minimum is evaluated in full: χ² is not
    # smooth on small scales for noisy fields, so the minimum may sit anywhere in there
    cvals = chi2[coarse]
    near = cvals - cvals.min() <= 2 * thr
    for a, na, nb in zip(coarse, near, np.roll(near, -1)):
        if na or nb:
            run(np.arange(a, a + k + 1))
    for _ in range(64):
        ev = np.flatnonzero(evaluated)
        cmin = chi2[ev].min()
        inside = chi2[ev] - cmin <= thr
        nxt = np.roll(ev, -1)
        gap = (nxt - ev) % m
        todo = []
        for a, g, ia, ib in zip(ev, gap, inside, np.roll(inside, -1)):
            if g > 1 and ia != ib:
                step = max(1, g // 4)
                todo.extend(range(a + step, a + g, step))
        if not todo:
            break
        run(todo)
    ev = np.flatnonzero(evaluated)
    filled = chi2.copy()
    miss = ~evaluated
    if miss.any():
        xp = np.concatenate([ev - m, ev, ev + m])
        fp = np.tile(chi2[ev], 3)
        filled[miss] = np.interp(np.flatnonzero(miss), xp, fp)
    out = np.append(filled, filled[0])
    return out, int(evaluated.sum())


def _angle_error(angles: np.ndarray, chi2: np.ndarray, k: int, thr: float) -> float:
    """Half the range of angles within the Δχ² threshold, taken across 0/180 if needed."""
    f = chi2 - chi2[k] <= thr
    min_err = max(0.5, (angles[1] - angles[0]) / 2.0) if angles.size > 1 else 0.5
    if f.sum() <= 1:
        return min_err
    err = (angles[f].max() - angles[f].min()) / 2.0
    if err >= 45:
        wrapped = np.degrees(np.arctan(np.tan(np.radians(angles[f]))))
        err = (wrapped.max() - wrapped.min()) / 2.0
    return max(err, min_err)


@one_thread
def fit_pa_fast(x_west, y, vel, nsteps: int = 361, dvel=10.0, grid=None,
                exhaustive: bool = False, polish: bool = True) -> FastResult:
    """Symmetrised-field χ² fit of the kinematic PA (pafit-style output).

    Parameters
    ----------
    x_west, y : ndarray (N,)
        Positions, arcsec, x pointing West, centre at (0, 0).
    vel : ndarray (N,)
        Velocities minus an estimate of the systemic velocity, km/s.
    nsteps : int
        Angles in ``linspace(0, 180, nsteps)`` (361 → 0.5° steps).
    dvel : float or ndarray
        Velocity uncertainty in χ², km/s.
    grid : tuple, optional
        ``(cols, rows, coef_i, coef_j)`` for points on a regular grid (see
        :func:`grid_for`); the fast path.  Without it the scattered-point path is used.
    exhaustive : bool
        Evaluate χ² at every angle instead of coarse-to-fine.
    polish : bool
        Re-evaluate the angles that could hold the minimum with the reference's per-angle
        triangulation (:func:`~kinview.kinematics.pa_exact.polish_minimum`), so the best
        angle is the reference's and not only the smooth curve's (a few triangulations;
        skipped when the fast fit leaves the PA unconstrained).

    Returns
    -------
    FastResult
        ``angle`` in [0, 180) North through East along the line of largest |v|, ``err3``
        its 3σ half-range (pafit's ``angErr``), ``vsys_correction`` the correction to the systemic
        velocity, and ``direction`` > 0 when the receding side lies at ``angle``.
    """
    xw = np.asarray(x_west, float)
    yy = np.asarray(y, float)
    v = np.asarray(vel, float)
    n = v.size
    engine = SymmetricFieldChi2(xw, yy, v, dvel=dvel, grid=grid)
    angles = np.linspace(0, 180, nsteps)
    thr = 9 + 3 * np.sqrt(2 * n)
    chi2, n_eval = _coarse_to_fine(engine, angles, thr, exhaustive)
    k = int(np.argmin(chi2))
    err = _angle_error(angles, chi2, k, thr)
    n_exact = 0
    if polish and err < UNCONSTRAINED_ERR3:
        pol = polish_minimum(xw, yy, v, angles, chi2, dvel=dvel)
        k, chi2, vs, d, n_exact = pol.index, pol.chi2, pol.velsym, pol.along, pol.n_exact
        err = _angle_error(angles, chi2, k, thr)
    else:
        vs, d = engine.symmetrised([float(angles[k])])
        vs, d = vs[0], d[0]
    best = float(angles[k])
    vsys_correction = float(np.median(v - vs))
    direction = float(np.sum(vs * d))
    if best >= 180:
        best -= 180
    return FastResult(angle=best, err3=float(err), vsys_correction=vsys_correction, angles=angles,
                      chi2=chi2, velsym=vs, direction=direction, n_used=n, n_evaluated=n_eval,
                      n_exact=n_exact)


def grid_for(x_east_2d: np.ndarray, y_2d: np.ndarray, kept: np.ndarray):
    """Grid description for :func:`fit_pa_fast` from 2-D SKYCOO maps, or None if irregular."""
    xw = -np.asarray(x_east_2d, float)
    aff = _grid_affine(xw, np.asarray(y_2d, float))
    if aff is None:
        return None
    rows, cols = np.nonzero(kept)
    return cols, rows, aff[0], aff[1]
