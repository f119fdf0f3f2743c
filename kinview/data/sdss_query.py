"""Select spectroscopic galaxies from SDSS ``SpecObj`` (the photo-z training set).

The photo-z seed selected its galaxies with ``astroquery.sdss.SDSS.query_sql`` and these cuts,
which are the defaults here (each can be changed or switched off):

- ``class = 'GALAXY'``
- ``zWarning = 0``                    (no redshift warning flags)
- ``zErr > 0``
- ``z > 1e4 * zErr``                  (``z_over_zerr``: redshift measured to 1 part in 10⁴)
- ``velDisp > 10 * velDispErr``        (``veldisp_over_err``)

plus optional redshift range, magnitude limits (joined from ``PhotoObj`` through
``bestObjID``) and a row limit (``TOP N``).  :func:`build_specobj_sql` turns a
:class:`SpecObjCuts` into SkyServer SQL; every value is validated (numbers are formatted from
floats/ints, names come from fixed lists), so no text from the user reaches the SQL.

:func:`query_specobj` runs the query and writes the result as a survey catalogue
(``DIR/catalogue.csv``) whose rows are named ``sdss-<specObjID>`` in the ``plateifu`` column,
with ``objra``/``objdec``/``nsa_z`` filled so that the rest of kinview (ingest, fetch-images,
the photoz task) reads it like a MaNGA catalogue.  The query and its cuts are recorded in
``DIR/sdss_query.json``; the same cuts are not queried again unless ``refresh`` is given.

Remote SQL, not SQLite
    The SQL built here is SkyServer's (the SDSS CasJobs/SkyServer SQL Server dialect, e.g.
    ``TOP N``), sent over HTTP to SDSS by astroquery's ``query_sql`` (:func:`_run_query`).  It
    never touches a kinview database: the survey's SQLite statements all live in
    :mod:`kinview.db` (``tests/test_sql_ownership.py`` exempts this file for that reason, and
    only this file).  It stays beside the other remote data sources of :mod:`kinview.data`
    because the query text and the client that sends it are one small unit.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Union

from kinview.errors import KinviewError

#: Where the query's description is cached beside the catalogue.
CACHE_NAME = "sdss_query.json"
CATALOGUE_NAME = "catalogue.csv"
#: Environment variable overriding the SkyServer base URL (a mirror, or a test server).
SKYSERVER_ENV = "KINVIEW_SKYSERVER_URL"

CLASSES = ("GALAXY", "QSO", "STAR")
MAG_TYPES = ("petroMag", "modelMag", "cModelMag", "psfMag", "fiberMag", "dered")
BANDS = ("u", "g", "r", "i", "z")


@dataclass
class SpecObjCuts:
    """Cuts of a SpecObj selection.  ``None`` switches a cut off.

    Attributes
    ----------
    spec_class : str
        ``class`` of the spectrum: GALAXY, QSO or STAR.
    zwarning_zero : bool
        Require ``zWarning = 0``.
    zerr_positive : bool
        Require ``zErr > 0``.
    z_over_zerr : float or None
        Require ``z > z_over_zerr * zErr`` (seed: 1e4).
    veldisp_over_err : float or None
        Require ``velDisp > veldisp_over_err * velDispErr`` (seed: 10).
    z_min, z_max : float or None
        Redshift range (inclusive).
    mag_type, mag_band : str
        Magnitude used by ``mag_min``/``mag_max``: ``PhotoObj.<mag_type>_<band>`` (``dered``
        gives the extinction-corrected model magnitude ``dered_<band>``).
    mag_min, mag_max : float or None
        Magnitude limits (AB mag).
    photometry : bool
        Also return ``dered_u .. dered_z`` and ``petroR50_r`` from PhotoObj (forced on by
        magnitude limits).
    limit : int or None
        ``TOP N``.
    """

    spec_class: str = "GALAXY"
    zwarning_zero: bool = True
    zerr_positive: bool = True
    z_over_zerr: Optional[float] = 1e4
    veldisp_over_err: Optional[float] = 10.0
    z_min: Optional[float] = None
    z_max: Optional[float] = None
    mag_type: str = "petroMag"
    mag_band: str = "r"
    mag_min: Optional[float] = None
    mag_max: Optional[float] = None
    photometry: bool = False
    limit: Optional[int] = None

    def validated(self) -> "SpecObjCuts":
        """A copy with every value checked and normalised; KinviewError when one is bad."""
        out = SpecObjCuts(**asdict(self))
        cls = str(out.spec_class).strip().upper()
        if cls not in CLASSES:
            raise KinviewError(f"spec class must be one of {', '.join(CLASSES)}, "
                               f"not {out.spec_class!r}")
        out.spec_class = cls
        for name in ("zwarning_zero", "zerr_positive", "photometry"):
            value = getattr(out, name)
            if not isinstance(value, (bool, int)) or isinstance(value, int) and value not in (0, 1):
                raise KinviewError(f"{name} must be true or false, not {value!r}")
            setattr(out, name, bool(value))
        for name in ("z_over_zerr", "veldisp_over_err", "z_min", "z_max", "mag_min", "mag_max"):
            value = getattr(out, name)
            if value is None:
                continue
            setattr(out, name, _number(name, value))
        for name in ("z_over_zerr", "veldisp_over_err"):
            value = getattr(out, name)
            if value is not None and value < 0:
                raise KinviewError(f"{name} must be >= 0, not {value!r}")
        if out.z_min is not None and out.z_max is not None and out.z_min > out.z_max:
            raise KinviewError(f"z_min ({out.z_min}) is above z_max ({out.z_max})")
        if out.mag_min is not None and out.mag_max is not None and out.mag_min > out.mag_max:
            raise KinviewError(f"mag_min ({out.mag_min}) is above mag_max ({out.mag_max})")
        mag_type = {m.lower(): m for m in MAG_TYPES}.get(str(out.mag_type).strip().lower())
        if mag_type is None:
            raise KinviewError(f"mag type must be one of {', '.join(MAG_TYPES)}, "
                               f"not {out.mag_type!r}")
        out.mag_type = mag_type
        band = str(out.mag_band).strip()
        if band not in BANDS:
            raise KinviewError(f"band must be one of {', '.join(BANDS)}, not {out.mag_band!r}")
        out.mag_band = band
        if out.limit is not None:
            if isinstance(out.limit, bool) or not isinstance(out.limit, int):
                try:
                    as_float = float(out.limit)
                except (TypeError, ValueError):
                    raise KinviewError(f"limit must be a positive integer, not {out.limit!r}") from None
                if not as_float.is_integer():
                    raise KinviewError(f"limit must be a positive integer, not {out.limit!r}")
                out.limit = int(as_float)
            if out.limit < 1:
                raise KinviewError(f"limit must be a positive integer, not {out.limit!r}")
        return out

    @property
    def uses_photometry(self) -> bool:
        return bool(self.photometry or self.mag_min is not None or self.mag_max is not None)


def _number(name: str, value) -> float:
    if isinstance(value, bool):
        raise KinviewError(f"{name} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise KinviewError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise KinviewError(f"{name} must be a finite number, not {value!r}")
    return number


def _sql_number(value: float) -> str:
    """A float as SQL literal text (repr: exact, digits/sign/point/exponent only)."""
    text = repr(float(value))
    assert all(c in "0123456789.-+e" for c in text), text
    return text


def _mag_column(cuts: SpecObjCuts, band: str) -> str:
    if cuts.mag_type == "dered":
        return f"p.dered_{band}"
    return f"p.{cuts.mag_type}_{band}"


def build_specobj_sql(cuts: SpecObjCuts) -> str:
    """SkyServer SQL for a SpecObj selection (see :class:`SpecObjCuts`): remote SDSS SQL for
    :func:`_run_query`, never run on a kinview SQLite database.

    Returned columns: ``specObjID, objid (bestObjID), ra, dec, z, zErr, zWarning, velDisp,
    velDispErr, plate, mjd, fiberID`` and, with photometry, ``dered_u .. dered_z``,
    ``petroR50_r`` and the magnitude used by the limits as ``mag``.

    Raises
    ------
    KinviewError
        A value is not valid (see :meth:`SpecObjCuts.validated`).
    """
    c = cuts.validated()
    top = f"TOP {c.limit} " if c.limit is not None else ""
    columns = ["s.specObjID", "s.bestObjID AS objid", "s.ra", "s.dec", "s.z", "s.zErr",
               "s.zWarning", "s.velDisp", "s.velDispErr", "s.plate", "s.mjd", "s.fiberID"]
    source = "SpecObj AS s"
    if c.uses_photometry:
        columns += [f"p.dered_{b}" for b in BANDS] + ["p.petroR50_r",
                                                      f"{_mag_column(c, c.mag_band)} AS mag"]
        source += " JOIN PhotoObj AS p ON p.objID = s.bestObjID"
    where = [f"s.class = '{c.spec_class}'"]
    if c.zwarning_zero:
        where.append("s.zWarning = 0")
    if c.zerr_positive:
        where.append("s.zErr > 0")
    if c.z_over_zerr is not None:
        where.append(f"s.z > {_sql_number(c.z_over_zerr)} * s.zErr")
    if c.veldisp_over_err is not None:
        where.append(f"s.velDisp > {_sql_number(c.veldisp_over_err)} * s.velDispErr")
    if c.z_min is not None:
        where.append(f"s.z >= {_sql_number(c.z_min)}")
    if c.z_max is not None:
        where.append(f"s.z <= {_sql_number(c.z_max)}")
    if c.mag_min is not None:
        where.append(f"{_mag_column(c, c.mag_band)} >= {_sql_number(c.mag_min)}")
    if c.mag_max is not None:
        where.append(f"{_mag_column(c, c.mag_band)} <= {_sql_number(c.mag_max)}")
    return (f"SELECT {top}{', '.join(columns)}\nFROM {source}\nWHERE "
            + "\n  AND ".join(where))


# ---------------------------------------------------------------------------- command line
def add_cut_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one option per cut (defaults: the photo-z seed's selection)."""
    d = SpecObjCuts()
    g = parser.add_argument_group("cuts (defaults: the photo-z seed's selection)")
    g.add_argument("--class", dest="spec_class", default=d.spec_class, choices=CLASSES,
                   help="spectral class (default GALAXY)")
    g.add_argument("--any-zwarning", dest="zwarning_zero", action="store_false",
                   help="do not require zWarning = 0")
    g.add_argument("--any-zerr", dest="zerr_positive", action="store_false",
                   help="do not require zErr > 0")
    g.add_argument("--z-over-zerr", type=_opt_float, default=d.z_over_zerr, metavar="R",
                   help="require z > R * zErr (default 1e4; 'none' to switch off)")
    g.add_argument("--veldisp-over-err", type=_opt_float, default=d.veldisp_over_err,
                   metavar="R", help="require velDisp > R * velDispErr (default 10; 'none' "
                   "to switch off)")
    g.add_argument("--z-min", type=float, default=None, help="minimum redshift")
    g.add_argument("--z-max", type=float, default=None, help="maximum redshift")
    g.add_argument("--mag-type", default=d.mag_type, choices=MAG_TYPES,
                   help="magnitude for --mag-min/--mag-max (default petroMag)")
    g.add_argument("--band", dest="mag_band", default=d.mag_band, choices=BANDS,
                   help="band of the magnitude limits (default r)")
    g.add_argument("--mag-min", type=float, default=None, help="bright limit (AB mag)")
    g.add_argument("--mag-max", type=float, default=None, help="faint limit (AB mag)")
    g.add_argument("--photometry", action="store_true",
                   help="also return dered ugriz magnitudes and petroR50_r")
    g.add_argument("--limit", type=int, default=None, metavar="N", help="at most N rows (TOP N)")


def _opt_float(text: str) -> Optional[float]:
    if str(text).strip().lower() in ("none", "off", ""):
        return None
    return float(text)


def cuts_from_args(args: argparse.Namespace) -> SpecObjCuts:
    names = {f.name for f in fields(SpecObjCuts)}
    return SpecObjCuts(**{k: v for k, v in vars(args).items() if k in names}).validated()


# ---------------------------------------------------------------------------- running it
@dataclass
class QueryResult:
    """Outcome of :func:`query_specobj`."""

    path: Path
    n_rows: int
    cached: bool
    sql: str
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def _cache_key(sql: str, data_release: int) -> dict:
    return {"sql": sql, "data_release": int(data_release)}


def query_specobj(cuts: SpecObjCuts, out_dir: Union[str, Path], data_release: int = 17,
                  refresh: bool = False, timeout: float = 600.0,
                  base_url: Optional[str] = None, ingest: bool = True) -> QueryResult:
    """Run the SpecObj selection and write ``out_dir/catalogue.csv`` (cached by query).

    Parameters
    ----------
    cuts : SpecObjCuts
    out_dir : path-like
        Survey directory (created if needed).
    data_release : int
        SDSS data release (default 17).
    refresh : bool
        Query again even when ``out_dir`` already holds the result of the same query.
    timeout : float
        Seconds for the HTTP request.
    base_url : str, optional
        SkyServer base URL (default: ``$KINVIEW_SKYSERVER_URL`` or astroquery's
        ``https://skyserver.sdss.org``).
    ingest : bool
        Index the directory afterwards (:meth:`kinview.data.survey.Survey.ingest`).

    Returns
    -------
    QueryResult

    Raises
    ------
    KinviewError
        Bad cuts, a failed request, a SkyServer error message, or an empty result (nothing is
        written then).
    """
    sql = build_specobj_sql(cuts)
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise KinviewError(f"{out}: not a directory")
    out.mkdir(parents=True, exist_ok=True)
    cat_path = out / CATALOGUE_NAME
    cache_path = out / CACHE_NAME
    key = _cache_key(sql, data_release)
    if not refresh and cat_path.is_file() and cache_path.is_file():
        try:
            cached = json.loads(cache_path.read_text())
        except (OSError, ValueError):
            cached = {}
        if {k: cached.get(k) for k in key} == key:
            result = QueryResult(cat_path, int(cached.get("n_rows", 0)), True, sql)
            if ingest:
                _ingest(out)
            return result

    t0 = time.perf_counter()
    table = _run_query(sql, data_release, timeout, base_url)
    frame = _to_catalogue(table)
    tmp = cat_path.with_name(f".{cat_path.name}.{os.getpid()}.part")
    try:
        frame.to_csv(tmp, index=False)
        os.replace(tmp, cat_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    meta = dict(key, n_rows=len(frame), cuts=asdict(cuts.validated()),
                created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    tmp = cache_path.with_name(f".{cache_path.name}.part")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, cache_path)
    if ingest:
        _ingest(out)
    return QueryResult(cat_path, len(frame), False, sql, time.perf_counter() - t0)


def _ingest(out: Path) -> None:
    from kinview.data.survey import Survey

    survey = Survey.open(out, ingest=False)
    try:
        survey.ingest()
    finally:
        survey.close()


def _run_query(sql: str, data_release: int, timeout: float, base_url: Optional[str]):
    from astroquery.sdss import SDSSClass, conf

    url = base_url or os.environ.get(SKYSERVER_ENV) or None
    client = SDSSClass()
    try:
        if url:
            with conf.set_temp("skyserver_baseurl", url.rstrip("/")):
                table = client.query_sql(sql, data_release=data_release, timeout=timeout,
                                         cache=False)
        else:
            table = client.query_sql(sql, data_release=data_release, timeout=timeout,
                                     cache=False)
    except KinviewError:
        raise
    except Exception as exc:  # noqa: BLE001 - network / server errors become one line
        from kinview.data.net_errors import describe_any

        text = describe_any(exc, url or conf.skyserver_baseurl)
        raise KinviewError(f"SDSS query failed: {text}") from None
    if table is None or len(table) == 0:
        raise KinviewError("SDSS query returned no rows; nothing written (loosen the cuts)")
    return table


def _to_catalogue(table):
    """SkyServer rows -> catalogue DataFrame with drpall-style names (see module doc)."""
    import numpy as np
    import pandas as pd

    lower = {name.lower(): name for name in table.colnames}

    def col(name):
        return np.asarray(table[lower[name]]) if name in lower else None

    spec_ids = col("specobjid")
    if spec_ids is None:
        raise KinviewError("SDSS query result has no specObjID column")
    ids = [str(int(v)) for v in spec_ids]
    frame = pd.DataFrame({"plateifu": [f"sdss-{i}" for i in ids], "specobjid": ids})
    objid = col("objid")
    if objid is not None:
        frame["objid"] = [str(int(v)) for v in objid]
    for src, dst in (("ra", "objra"), ("dec", "objdec"), ("z", "nsa_z")):
        if src in lower:
            frame[dst] = np.asarray(col(src), dtype=float)
    for name in [n for n in lower if n not in ("specobjid", "objid", "ra", "dec")]:
        values = col(name)
        frame[name] = values.astype(float) if values.dtype.kind == "f" else values
    return frame
