"""Loading one galaxy for the classification view (no Qt here).

:func:`load_galaxy` is a plain function that reads everything the galaxy view needs for one
galaxy — the MAPS file, the colour image, the cleaned fields, the position angles (stored in
the database, or a quick ``fast`` fit when none is stored) and the IFU footprint — and returns
a :class:`GalaxyData`.  :class:`kinview.gui.prefetch.Prefetcher` runs it in worker threads
ahead of the expert; tests and benchmarks call it directly.  :func:`fit_pas_if_none` resumes
the survey's unfinished PA fits.

Conventions: x = East-positive sky offset, y = North-positive, arcsec; PA degrees E of N to
the receding side, [0, 360); velocities km/s.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from kinview.conventions import IFU_DIAMETER_ARCSEC, IMAGE_SCALE_ARCSEC
from kinview.data.dapbits import bit_value
from kinview.data.images import load_image
from kinview.data.maps import read_maps
from kinview.db.connection import connect
from kinview.db.pa_fits import write_fits
from kinview.kinematics import clean_field, fit_pa
from kinview.kinematics.survey_fit import resume_fits
from kinview.progress import NULL_STATE
from kinview.viewing import colourise, kpc_per_arcsec

FIELDS = ("stellar", "gas")


@dataclass
class FieldView:
    """Display-ready arrays of one velocity field (computed off the GUI thread).

    Attributes
    ----------
    kind : {'stellar', 'gas'}
    vel : float32 (ny, nx)
        v − v_sys in km/s; NaN where masked or uncovered.
    err : float32 (ny, nx)
        1σ velocity error, km/s (inf where unknown).
    maskbits : int64 (ny, nx) or None
    covered : bool (ny, nx)
        Spaxels inside the IFU footprint (not NOCOV).
    masked : bool (ny, nx)
        Covered spaxels whose velocity must not be used (drawn grey).
    removed : bool (ny, nx)
        Valid spaxels the cleaning step removed (drawn with a cross when toggled).
    sigma, flux : float32 (ny, nx) or None
        Dispersion (km/s) and flux, NaN where unusable.
    vsyst : float
        Systemic velocity subtracted from ``vel`` (km/s).
    x0, dx, y0, dy : float
        Sky offset (arcsec) of spaxel [0, 0] and the step per column/row: x = x0 + dx·col,
        y = y0 + dy·row (dx < 0 for the DAP's East-left grid).
    pa, pa_err : float
        Position angle (deg E of N, receding side) and its 1σ error; NaN when unknown.
    pa_source : str
        ``'pafit'``, ``'fast'`` (stored), ``'fast (live)'`` (fitted for display),
        ``'override'`` or ``''``.
    pa_reason : str
        Why the PA is missing.
    """

    kind: str
    vel: np.ndarray
    err: np.ndarray
    maskbits: Optional[np.ndarray]
    covered: np.ndarray
    masked: np.ndarray
    removed: np.ndarray
    sigma: Optional[np.ndarray]
    flux: Optional[np.ndarray]
    vsyst: float
    x0: float
    dx: float
    y0: float
    dy: float
    pa: float = float("nan")
    pa_err: float = float("nan")
    pa_source: str = ""
    pa_reason: str = ""

    def index_of(self, x: float, y: float):
        """Array index (row, col) of the spaxel at sky offset (x East, y North), or None."""
        col = int(round((x - self.x0) / self.dx))
        row = int(round((y - self.y0) / self.dy))
        ny, nx = self.vel.shape
        if 0 <= row < ny and 0 <= col < nx:
            return row, col
        return None

    def vmax(self, percentile: float) -> float:
        """Symmetric colour limit: the ``percentile`` of |v − v_sys| over valid spaxels,
        rounded up to a round number (5 km/s below 50, 10 below 200, then 25 km/s).
        Remembered per percentile (the loader computes the current one ahead of the paint)."""
        cache = self.__dict__.setdefault("_vmax", {})
        key = (float(percentile), id(self.vel))
        if key in cache:
            return cache[key]
        v = self.vel[np.isfinite(self.vel)]
        out = 100.0 if v.size == 0 else nice_limit(float(np.percentile(np.abs(v), percentile)))
        cache[key] = out
        return out

    def rgba(self, lo: float, hi: float, lut_name: str, lut: np.ndarray) -> np.ndarray:
        """The velocity map coloured through ``lut`` (256×4 uint8, the colour map
        ``lut_name``) between ``lo`` and ``hi`` km/s (:func:`kinview.viewing.colourise`);
        remembered, so a loader thread can colour the galaxy before it is shown."""
        cache = self.__dict__.setdefault("_rgba", {})
        key = (float(lo), float(hi), lut_name, id(self.vel))
        out = cache.get(key)
        if out is None:
            if len(cache) > 8:
                cache.clear()
            out = cache[key] = colourise(self.vel, lo, hi, lut, self.masked)
        return out


def nice_limit(value: float) -> float:
    """Round a colour limit (km/s) up to 5, 10 or 25 km/s steps; at least 10 km/s."""
    value = max(float(value), 10.0)
    step = 5.0 if value <= 50 else (10.0 if value <= 200 else 25.0)
    return float(np.ceil(value / step - 1e-9) * step)


@dataclass
class GalaxyData:
    """Everything the galaxy view draws for one galaxy.

    ``image`` is uint8 (H, W, 3), North up / East left, with ``image_scale`` arcsec/px;
    ``footprint`` is an (N, 2) polygon of the IFU footprint in (x East, y North) arcsec;
    ``missing`` lists human-readable notes on what could not be shown and why.
    """

    plateifu: str
    fields: Dict[str, Optional[FieldView]] = field(default_factory=dict)
    image: Optional[np.ndarray] = None
    image_scale: float = 0.25
    footprint: Optional[np.ndarray] = None
    phot_pa: float = float("nan")
    ba: float = float("nan")
    re_arcsec: float = float("nan")
    missing: List[str] = field(default_factory=list)
    load_seconds: float = 0.0
    psf_fwhm: float = float("nan")      # r-band reconstructed PSF FWHM (arcsec), MAPS RFWHM
    kpc_per_arcsec: float = float("nan")  # at the catalogue redshift (Planck 2018)

    def field(self, kind: str) -> Optional[FieldView]:
        return self.fields.get(kind)


# ---------------------------------------------------------------------------------------------
# loading (plain functions, run in worker threads)
# ---------------------------------------------------------------------------------------------
def _footprint(covered: np.ndarray, x: np.ndarray, y: np.ndarray, half: float) -> Optional[np.ndarray]:
    """Convex hull (x, y arcsec) of the covered spaxels, each taken as a square of side 2·half."""
    if covered.sum() < 3:
        return None
    if covered.ndim == 2:
        # only the first and last covered spaxel of each row can put a corner on the hull:
        # a few hundred points instead of four per spaxel (the hull is the same)
        rows = np.nonzero(covered.any(axis=1))[0]
        first = covered[rows].argmax(axis=1)
        last = covered.shape[1] - 1 - covered[rows, ::-1].argmax(axis=1)
        xs = np.concatenate([x[rows, first], x[rows, last]])
        ys = np.concatenate([y[rows, first], y[rows, last]])
    else:
        xs = x[covered]
        ys = y[covered]
    pts = np.concatenate([np.column_stack([xs + sx * half, ys + sy * half])
                          for sx in (-1, 1) for sy in (-1, 1)])
    poly = convex_hull(pts)
    if poly is None:
        return None
    return np.vstack([poly, poly[:1]])


def convex_hull(points: np.ndarray) -> Optional[np.ndarray]:
    """Convex hull (counter-clockwise vertices) of (N, 2) points — Andrew's monotone chain.

    Plain numpy/Python (scipy.spatial is not imported on the start-up path); None when the
    points are collinear or fewer than three.
    """
    pts = np.unique(np.round(np.asarray(points, float), 6), axis=0).tolist()  # plain floats
    if len(pts) < 3:
        return None

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(tuple(p))
    for p in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(tuple(p))
    hull = lower[:-1] + upper[:-1]
    if len(hull) < 3:
        return None
    return np.array(hull)


def hexagon(ifusize: int, vertex_pa: float = 90.0) -> Optional[np.ndarray]:
    """Regular hexagon (x East, y North arcsec) of a MaNGA bundle of ``ifusize`` fibres."""
    diam = IFU_DIAMETER_ARCSEC.get(int(ifusize)) if ifusize and ifusize > 0 else None
    if diam is None:
        return None
    ang = np.radians(vertex_pa + 60.0 * np.arange(7))
    r = diam / 2.0
    return np.column_stack([r * np.sin(ang), r * np.cos(ang)])


def _field_view(vf, cleaned=None) -> FieldView:
    vel = np.asarray(vf.vel, dtype=np.float64)
    valid = np.asarray(vf.valid, bool)
    maskbits = None if vf.maskbits is None else np.asarray(vf.maskbits).astype(np.int64)
    if maskbits is not None:
        covered = (maskbits & bit_value("NOCOV")) == 0
    else:
        covered = valid.copy()
    removed = np.zeros(vel.shape, bool)
    if cleaned is not None:
        kept = getattr(cleaned, "kept", None)
        if kept is None:
            kept = getattr(cleaned, "mask", None)
        if kept is not None:
            kept = np.asarray(kept, bool)
            if kept.shape == vel.shape:
                removed = valid & ~kept
    x = np.asarray(vf.x, float)
    y = np.asarray(vf.y, float)
    ny, nx = vel.shape
    dx = float(x[0, 1] - x[0, 0]) if nx > 1 else -0.5
    dy = float(y[1, 0] - y[0, 0]) if ny > 1 else 0.5
    if dx == 0:
        dx = -0.5
    if dy == 0:
        dy = 0.5
    out_vel = np.where(valid, vel, np.nan).astype(np.float32)

    def _opt(arr, mask=None):
        if arr is None:
            return None
        a = np.asarray(arr, float)
        bad = ~np.isfinite(a) | ~covered
        if mask is not None:
            bad |= np.asarray(mask, bool)
        return np.where(bad, np.nan, a).astype(np.float32)

    sigma = None
    if vf.sigma is not None:
        s = np.asarray(vf.sigma, float)
        if vf.sigma_corr is not None:
            s = np.sqrt(np.clip(s ** 2 - np.asarray(vf.sigma_corr, float) ** 2, 0, None))
        sigma = _opt(s, vf.sigma_mask)
    flux = _opt(vf.flux)
    if flux is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            flux = np.where(flux > 0, np.log10(flux), np.nan).astype(np.float32)
    return FieldView(kind=vf.kind, vel=out_vel, err=np.asarray(vf.vel_err, np.float32),
                     maskbits=maskbits, covered=covered, masked=covered & ~valid,
                     removed=removed, sigma=sigma, flux=flux, vsyst=0.0,
                     x0=float(x[0, 0]), dx=dx, y0=float(y[0, 0]), dy=dy)


def store_fast_fit(conn, plateifu: str, kind: str, fit, seconds: float) -> None:
    """Store a ``fast`` PA fit in ``pa_fits`` (only if no fit by that method is stored)."""
    pa = getattr(fit, "pa", float("nan"))
    err = getattr(fit, "pa_err", float("nan"))
    vsyst = getattr(fit, "vsys_correction", float("nan"))

    def _num(v):
        return None if v is None or not np.isfinite(v) else float(v)

    write_fits(conn, [(plateifu, kind, "fast", _num(pa), _num(err), _num(vsyst),
                       int(getattr(fit, "n_used", 0) or 0), getattr(fit, "nsteps", None),
                       getattr(fit, "reason", None) or None, float(seconds))],
               replace=False, created=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def load_galaxy(root, plateifu: str, row: dict, fit_missing: bool = True,
                db_path=None, clean: bool = False, state=None, paint=None) -> GalaxyData:
    """Read and prepare one galaxy for display (run in a worker thread).

    Parameters
    ----------
    root : path-like
        Survey directory.
    plateifu : str
    row : dict
        The galaxy's row of the view table (:func:`kinview.viewstate.load_table`):
        ``maps_path``, ``image_path``, ``ifusize``, ``phi``, ``ba``, ``re_arcsec``,
        ``stellar_pa_fit``/``gas_pa_fit`` (+ ``_err``), ``pa_method_*``.
    fit_missing : bool
        Fit a ``fast`` PA when none is stored (and store it in ``db_path`` if given).
    clean : bool
        Run :func:`kinview.kinematics.clean_field` to know which spaxels the cleaning
        removes (the "cleaned-away" toggle).  A live PA fit always cleans.  Without it the
        colour scale is centred on the median of the valid velocities.
    paint : (percentile, lut_name, lut) or None
        How the view colours velocity maps now (colour-limit percentile, colour map name and
        its 256×4 uint8 table): the maps are coloured here, off the GUI thread
        (:meth:`FieldView.rgba`).

    Never raises for a missing or unreadable file: the problem is listed in
    ``GalaxyData.missing`` and the rest is still shown.
    """
    t0 = time.perf_counter()
    root = Path(root)
    data = GalaxyData(plateifu=plateifu, phot_pa=_f(row.get("phi")), ba=_f(row.get("ba")),
                      re_arcsec=_f(row.get("re_arcsec")))
    # image -----------------------------------------------------------------------------------
    image_rel = row.get("image_path")
    if isinstance(image_rel, str) and image_rel:
        try:
            data.image = load_image(root / image_rel)
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            data.missing.append(f"image unreadable: {_short(exc)}")
    else:
        data.missing.append("no colour image")
    if data.image is not None:
        data.image_scale = float(row.get("image_scale") or IMAGE_SCALE_ARCSEC)
    # maps ------------------------------------------------------------------------------------
    maps = None
    maps_rel = row.get("maps_path")
    if isinstance(maps_rel, str) and maps_rel:
        try:
            maps = read_maps(root / maps_rel)
        except Exception as exc:  # noqa: BLE001
            data.missing.append(f"MAPS file unreadable: {_short(exc)}")
    else:
        data.missing.append("no MAPS file")
    new_fits = []
    if maps is not None:
        data.psf_fwhm = _f((maps.header or {}).get("RFWHM"))
        if not np.isfinite(data.phot_pa) and np.isfinite(_f(maps.ell_pa)):
            data.phot_pa = float(maps.ell_pa)
        for kind in FIELDS:
            vf = maps.field(kind)
            if vf is None:
                data.fields[kind] = None
                data.missing.append(f"no {'emission-line (gas)' if kind == 'gas' else kind} map")
                continue
            pa = _f(row.get(f"{kind}_pa_fit", row.get(f"{kind}_pa")))
            fit = None
            cleaned = None
            reason = ""
            try:
                stored = isinstance(row.get(f"pa_method_{kind}"), str)
                if not np.isfinite(pa) and fit_missing and not stored:
                    fit = fit_pa(vf, method="fast")
                    cleaned = fit.cleaned
                    if np.isfinite(fit.pa):
                        new_fits.append((kind, fit, fit.seconds))
                    else:
                        reason = str(fit.reason or "PA fit failed")
                if cleaned is None and clean:
                    cleaned = clean_field(vf)
            except Exception as exc:  # noqa: BLE001 - the map is still shown
                reason = reason or f"no PA: {_short(exc)}"
            fv = _field_view(vf, cleaned)
            vsys = _f(getattr(cleaned, "vsyst", None))
            if fit is not None and np.isfinite(_f(fit.vsyst_adopted)):
                vsys = _f(fit.vsyst_adopted) + _f(fit.vsys_correction, 0.0)
            if not np.isfinite(vsys):
                finite = fv.vel[np.isfinite(fv.vel)]
                vsys = float(np.median(finite)) if finite.size else 0.0
            fv.vsyst = vsys
            if np.isfinite(pa):
                fv.pa = pa
                fv.pa_err = _f(row.get(f"{kind}_pa_err"))
                fv.pa_source = str(row.get(f"pa_method_{kind}") or "stored")
            elif fit is not None and np.isfinite(fit.pa):
                fv.pa = float(fit.pa)
                fv.pa_err = _f(fit.pa_err)
                fv.pa_source = "fast (live)"
            else:
                stored_reason = row.get(f"pa_reason_{kind}")
                fv.pa_reason = reason or (f"no PA: {stored_reason}" if isinstance(stored_reason, str)
                                          and stored_reason else "no PA fit")
            if fv.vsyst:
                fv.vel = (fv.vel - fv.vsyst).astype(np.float32)
            if not np.isfinite(fv.vel).any():
                data.missing.append(f"{'gas (Hα)' if kind == 'gas' else 'stellar'} map has no "
                                    "valid spaxels")
            data.fields[kind] = fv
        stel = data.fields.get("stellar")
        if stel is not None:
            ny, nx = stel.vel.shape
            x = stel.x0 + stel.dx * np.arange(nx)[None, :] + 0 * np.arange(ny)[:, None]
            y = stel.y0 + stel.dy * np.arange(ny)[:, None] + 0 * np.arange(nx)[None, :]
            data.footprint = _footprint(stel.covered, x, y, 0.25)
    else:
        data.fields = {"stellar": None, "gas": None}
    if data.footprint is None:
        data.footprint = hexagon(int(row.get("ifusize") or -1))
    if new_fits and db_path is not None:
        try:
            conn = connect(db_path)
            try:
                for kind, fit, secs in new_fits:
                    store_fast_fit(conn, plateifu, kind, fit, secs)
            finally:
                conn.close()
        except Exception:  # noqa: BLE001 - display still works; the fit is redone next time
            pass
    # ready-to-paint numbers, computed here rather than on the GUI thread
    data.kpc_per_arcsec = kpc_per_arcsec(row.get("z"))
    percentile, lut_name, lut = paint if paint is not None else (98.0, None, None)
    for fv in data.fields.values():
        if fv is not None:
            lim = fv.vmax(percentile)
            if lut is not None and np.isfinite(fv.vel).any():
                fv.rgba(-lim, lim, lut_name, lut)
    data.load_seconds = time.perf_counter() - t0
    return data


def _f(value, default=float("nan")) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) < 160 else text[:157] + "…"


def fit_pas_if_none(survey_dir, state=None) -> int:
    """Fit and store ``fast`` PAs of every field that has no stored fit yet (worker): the first
    fit of a new survey, or the rest of an interrupted one
    (:func:`kinview.kinematics.survey_fit.resume_fits`: worker processes, committed as it
    goes, cancellable).  Returns the number of fields fitted now (0 when none was left)."""
    return resume_fits(survey_dir, state=state or NULL_STATE)
