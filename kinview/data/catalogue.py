"""Reading a survey's galaxy catalogue (SPEC §2).

A survey directory holds one catalogue, one row per galaxy, with MaNGA ``drpall`` column
names: ``plateifu`` (or ``plate`` + ``ifudsgn`` to build it), ``mangaid``, ``objra``,
``objdec`` (degrees), ``ifudesignsize`` (fibres), ``nsa_z``, ``nsa_elpetro_th50_r`` (arcsec),
``nsa_elpetro_ba``, ``nsa_elpetro_phi`` (degrees E of N), ``nsa_sersic_n``,
``nsa_elpetro_mass`` and optionally ``lambda_re``.  Every other column is kept.

Formats: FITS binary tables (``catalogue.fits``, ``drpall-*.fits``, optionally gzipped), CSV,
ECSV and Parquet, chosen from the file name.  Column names are lower-cased; FITS strings are
decoded and stripped; multi-dimensional FITS columns (e.g. ``nsa_elpetro_absmag``, 7 bands)
are kept as an object column holding one Python list per row.

Real SDSS files
---------------
- **drpall** (``drpall-v3_1_1.fits``, ``drpall-v2_4_3.fits``): the ``MANGA`` extension; it
  has one row per data cube, so a galaxy (``mangaid``) observed on several plates has several
  rows, each its own plate-IFU (all kept).  Columns with a FITS ``TUNIT`` in an angle unit
  (``nsa_elpetro_th50_r``, ``nsa_elpetro_phi``, ``objra`` ...) are converted to the units
  kinview stores (arcsec for sizes, degrees for angles); the units seen are kept in
  ``DataFrame.attrs['units']``.  Found in the survey's top level or at its SAS path
  (``*/manga/spectro/redux/<drpver>/drpall-*.fits``, as ``kinview fetch-catalogue`` writes it).
- **DAPall** (``dapall-<drpver>-<dapver>.fits``): one table per DAPTYPE (DR17: extensions
  named by DAPTYPE; DR15: one ``DAPALL`` extension with a ``DAPTYPE`` column).
  :func:`join_dapall` adds its columns to the catalogue row of each plate-IFU, taken from the
  row of the DAPTYPE of the galaxy's MAPS file.
- The DAP's **DRPComplete** table (``drpcomplete_<drpver>.fits``, extension ``DRPC``):
  ``plate`` + ``ifudesign`` give the plate-IFU, ``vel`` (cz, km/s) gives ``z = cz / c``,
  ``ell`` gives ``ba = 1 - ell``, ``pa`` gives ``phi`` (degrees E of N) and ``reff`` gives
  ``re_arcsec`` (arcsec); ``ifudesignsize`` is the IFU design's fibre count (3702 -> 37).
  -9999 sentinels become NaN.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Union

import numpy as np
import pandas as pd

from kinview.errors import SurveyError

#: Catalogue file names looked for in a survey directory, in priority order (SPEC §2).
#: ``drpall-*.fits`` comes last; when several exist the highest version (name) wins.
CATALOGUE_NAMES = (
    "catalogue.fits", "catalogue.fits.gz", "catalogue.csv", "catalogue.ecsv",
    "catalogue.parquet",
)
DRPALL_PATTERNS = ("drpall-*.fits", "drpall-*.fits.gz", "drpcomplete_*.fits")
#: Where drpall and DAPall sit in a SAS tree below a survey directory.
SAS_DRPALL_GLOB = "*/manga/spectro/redux/*/drpall-*.fits*"
SAS_DAPALL_GLOB = "*/manga/spectro/analysis/*/*/dapall-*.fits*"
DAPALL_PATTERNS = ("dapall-*.fits", "dapall-*.fits.gz")
#: Speed of light, km/s (cz -> z for the DRPComplete table).
C_KMS = 299792.458
#: Units kinview stores catalogue angles in (a TUNIT in another angle unit is converted).
ANGLE_UNITS = {"nsa_elpetro_th50_r": "arcsec", "nsa_sersic_th50": "arcsec",
               "nsa_petro_th50": "arcsec", "nsa_elpetro_phi": "deg", "nsa_sersic_phi": "deg",
               "objra": "deg", "objdec": "deg", "ifura": "deg", "ifudec": "deg"}

#: The drpall columns kinview uses (all optional except ``plateifu``).
KNOWN_COLUMNS = (
    "plateifu", "mangaid", "objra", "objdec", "ifudesignsize", "nsa_z", "nsa_elpetro_th50_r",
    "nsa_elpetro_ba", "nsa_elpetro_phi", "nsa_sersic_n", "nsa_elpetro_mass", "lambda_re",
)

#: Values at or below this are SDSS "missing" sentinels (-999, -9999).
SENTINEL = -999.0

#: Multi-dimensional FITS cells with more elements than this are dropped (spectra, images).
MAX_CELL_ELEMENTS = 64


def find_catalogue(survey_dir: Union[str, Path]) -> Optional[Path]:
    """The catalogue file of a survey directory, or None when it has none.

    Looks for ``catalogue.fits``, ``catalogue.fits.gz``, ``catalogue.csv``, ``catalogue.ecsv``,
    ``catalogue.parquet`` and then ``drpall-*.fits[.gz]`` or the DAP's ``drpcomplete_*.fits``
    (the last in name order, i.e. the newest DRP version) in the top level of ``survey_dir``,
    and last a drpall at its SAS path below it.
    """
    root = Path(survey_dir)
    for name in CATALOGUE_NAMES:
        path = root / name
        if path.is_file():
            return path
    found: List[Path] = []
    for pattern in DRPALL_PATTERNS:
        found.extend(p for p in root.glob(pattern) if p.is_file())
    if not found:
        found.extend(p for p in root.glob(SAS_DRPALL_GLOB) if p.is_file()
                     and not p.name.startswith("."))
    if found:
        return sorted(found, key=lambda p: p.name)[-1]
    return None


def find_dapall(survey_dir: Union[str, Path]) -> Optional[Path]:
    """The DAPall file of a survey (top level, else its SAS path), or None."""
    root = Path(survey_dir)
    found: List[Path] = []
    for pattern in DAPALL_PATTERNS:
        found.extend(p for p in root.glob(pattern) if p.is_file())
    if not found:
        found.extend(p for p in root.glob(SAS_DAPALL_GLOB) if p.is_file()
                     and not p.name.startswith("."))
    return sorted(found, key=lambda p: p.name)[-1] if found else None


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def read_catalogue(path: Union[str, Path]) -> pd.DataFrame:
    """Read a galaxy catalogue into a DataFrame with a ``plateifu`` column.

    Parameters
    ----------
    path : path-like
        ``.fits``/``.fit``/``.fits.gz`` (first binary table, or the one named ``MANGA`` in a
        drpall file), ``.csv``, ``.ecsv`` or ``.parquet``.

    Returns
    -------
    pandas.DataFrame
        One row per galaxy in file order (duplicated plate-ifus keep their first row), a
        default RangeIndex, lower-case column names, ``plateifu`` as stripped strings.  A
        column named ``Unnamed: 0`` (a CSV written with its pandas index) is dropped.

    Raises
    ------
    SurveyError
        The file cannot be read, or it has neither ``plateifu`` nor ``plate`` + ``ifudsgn``.
    """
    path = Path(path)
    if not path.is_file():
        raise SurveyError(f"{path}: catalogue not found")
    suffix = _suffix(path)
    try:
        if suffix in (".fits", ".fit", ".fts"):
            df = _read_fits(path)
        elif suffix == ".csv":
            df = pd.read_csv(path, low_memory=False)
        elif suffix == ".ecsv":
            from astropy.table import Table

            df = _table_to_frame(Table.read(path, format="ascii.ecsv"))
        elif suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            raise SurveyError(f"{path}: unknown catalogue format {suffix!r} "
                              "(use .fits, .csv, .ecsv or .parquet)")
    except SurveyError:
        raise
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SurveyError(f"{path}: cannot read catalogue ({msg})") from None
    return _normalise(df, path)


def _read_fits(path: Path) -> pd.DataFrame:
    from astropy.io import fits

    with fits.open(path, memmap=False) as hdus:
        table = None
        for hdu in hdus:
            if isinstance(hdu, fits.BinTableHDU) and (hdu.name or "").upper() == "MANGA":
                table = hdu
                break
        if table is None:
            table = next((h for h in hdus if isinstance(h, (fits.BinTableHDU, fits.TableHDU))),
                         None)
        if table is None:
            raise SurveyError(f"{path}: no table extension in this FITS file")
        return _hdu_frame(table)


def _hdu_frame(table) -> pd.DataFrame:
    """A FITS table HDU as a DataFrame; angle columns converted (see :data:`ANGLE_UNITS`)."""
    data = table.data
    columns = {}
    units = {}
    if data is None or len(table.columns) == 0:
        return pd.DataFrame()
    for col in table.columns:
        name = col.name.lower()
        values = _fits_column(np.asarray(data[col.name]))
        if values is None:
            continue
        unit = (col.unit or "").strip()
        if unit:
            units[name] = unit
            if name in ANGLE_UNITS and values.dtype.kind == "f":
                values = _to_unit(values, unit, ANGLE_UNITS[name])
                units[name] = ANGLE_UNITS[name]
        columns[name] = values
    frame = pd.DataFrame(columns)
    frame.attrs["units"] = units
    return frame


def _to_unit(values: np.ndarray, unit: str, target: str) -> np.ndarray:
    """``values`` in ``unit`` converted to ``target``; sentinels (<= -999) kept as they are."""
    import astropy.units as u

    try:
        factor = u.Unit(unit.replace("degrees", "deg").replace("arcsecs", "arcsec")).to(target)
    except (ValueError, u.UnitsError, TypeError):
        return values  # a unit astropy does not know, or not an angle: keep the numbers
    out = values.astype(float)
    ok = out > -999
    out[ok] *= factor
    return out


def _fits_column(values: np.ndarray):
    """Native-endian 1-D array, decoded strings, or an object column of lists."""
    if values.dtype.kind == "S":
        return np.char.strip(np.char.decode(values, "ascii", errors="replace")).astype(object)
    if values.dtype.kind == "U":
        return np.char.strip(values).astype(object)
    if values.dtype.byteorder not in ("=", "|"):
        values = values.astype(values.dtype.newbyteorder("="))
    if values.ndim == 1:
        return values
    cell = int(np.prod(values.shape[1:]))
    if cell > MAX_CELL_ELEMENTS or values.dtype.kind not in "biuf":
        return None
    out = np.empty(len(values), dtype=object)
    for i, row in enumerate(values.tolist()):
        out[i] = row
    return out


def _table_to_frame(table) -> pd.DataFrame:
    columns = {}
    for name in table.colnames:
        col = table[name]
        values = np.asarray(col.filled(np.nan) if getattr(col, "mask", None) is not None
                            and col.dtype.kind == "f" else col)
        conv = _fits_column(values)
        if conv is not None:
            columns[name.lower()] = conv
    return pd.DataFrame(columns)


def _normalise(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    df = df.copy()
    df.columns = [str(c).strip().lower() for c in df.columns]
    df = df.loc[:, [c for c in df.columns if not c.startswith("unnamed: ")]]
    df = df.loc[:, ~pd.Index(df.columns).duplicated()]
    if "plateifu" not in df.columns and "ifudesign" in df.columns and "ifudsgn" not in \
            df.columns:
        df = _from_drpcomplete(df, path)
    if "plateifu" not in df.columns:
        if "plate" in df.columns and "ifudsgn" in df.columns:
            plate = pd.to_numeric(df["plate"], errors="coerce")
            if plate.isna().any():
                raise SurveyError(f"{path}: column 'plate' has non-integer values")
            ifu = df["ifudsgn"].map(lambda v: str(int(v)) if isinstance(v, (int, np.integer,
                                    float, np.floating)) else str(v).strip())
            df.insert(0, "plateifu", [f"{int(p)}-{i}" for p, i in zip(plate, ifu)])
        else:
            raise SurveyError(f"{path}: catalogue has no 'plateifu' column "
                              "(nor 'plate' + 'ifudsgn' or 'ifudesign' to build it)")
    pifu = df["plateifu"].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                              else str(v).strip())
    if (pifu == "").any():
        n = int((pifu == "").sum())
        raise SurveyError(f"{path}: {n} row(s) with an empty 'plateifu'")
    df["plateifu"] = pifu.astype(object)
    df = df.loc[~df["plateifu"].duplicated()].reset_index(drop=True)
    for name in ("mangaid",):
        if name in df.columns:
            df[name] = df[name].map(lambda v: None if v is None or (isinstance(v, float)
                                                                     and np.isnan(v))
                                    else str(v).strip()).astype(object)
    return df


def _from_drpcomplete(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The DAP's DRPComplete columns mapped to kinview's (see the module docstring)."""
    plate = pd.to_numeric(df["plate"], errors="coerce")
    ifu = pd.to_numeric(df["ifudesign"], errors="coerce")
    if plate.isna().any() or ifu.isna().any():
        raise SurveyError(f"{path}: columns 'plate'/'ifudesign' have non-integer values")
    df.insert(0, "plateifu", [f"{int(p)}-{int(i)}" for p, i in zip(plate, ifu)])

    def col(name):
        v = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float) \
            if name in df.columns else np.full(len(df), np.nan)
        return np.where(v <= SENTINEL, np.nan, v)

    if "vel" in df.columns and "z" not in df.columns:
        df["z"] = col("vel") / C_KMS
    if "ell" in df.columns and "ba" not in df.columns:
        df["ba"] = 1.0 - col("ell")
    if "pa" in df.columns and "phi" not in df.columns:
        df["phi"] = np.mod(col("pa"), 180.0)
    if "reff" in df.columns and "re_arcsec" not in df.columns:
        df["re_arcsec"] = col("reff")
    if "ifudesignsize" not in df.columns:
        df["ifudesignsize"] = [int(i) // 100 for i in ifu]
    return df


def read_dapall(path: Union[str, Path]) -> pd.DataFrame:
    """Read a DAPall file: one row per (plate-IFU, DAPTYPE), lower-case column names.

    DR17 files have one table extension per DAPTYPE (named by it); DR15 files one ``DAPALL``
    extension with a ``DAPTYPE`` column.  Rows the DAP did not finish (``dapdone`` false)
    are kept; multi-element columns become lists as in :func:`read_catalogue`.
    """
    from astropy.io import fits

    path = Path(path)
    frames = []
    try:
        with fits.open(path, memmap=False) as hdus:
            for hdu in hdus:
                if not isinstance(hdu, fits.BinTableHDU) or hdu.data is None:
                    continue
                frame = _hdu_frame(hdu)
                if "plateifu" not in frame.columns:
                    continue
                if "daptype" not in frame.columns:
                    frame["daptype"] = (hdu.name or "").upper()
                frames.append(frame)
    except Exception as exc:  # noqa: BLE001 - a bad file is one line
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise SurveyError(f"{path}: cannot read DAPall ({msg})") from None
    if not frames:
        raise SurveyError(f"{path}: no DAPall table (with PLATEIFU) in this file")
    out = pd.concat(frames, ignore_index=True)
    out["plateifu"] = out["plateifu"].map(lambda v: str(v).strip()).astype(object)
    out["daptype"] = out["daptype"].map(lambda v: str(v).strip().upper()).astype(object)
    return out


def join_dapall(cat: pd.DataFrame, dapall: pd.DataFrame, daptypes: dict,
                preference=()) -> pd.DataFrame:
    """Add DAPall columns to catalogue rows, joined on plate-IFU and DAPTYPE.

    Parameters
    ----------
    cat : DataFrame
        The catalogue (one row per plate-IFU).
    dapall : DataFrame
        From :func:`read_dapall`.
    daptypes : dict plateifu -> DAPTYPE
        The DAPTYPE of each galaxy's MAPS file; galaxies without one take the first DAPTYPE
        of ``preference`` that DAPall has for them.
    preference : sequence of str

    Returns
    -------
    DataFrame
        ``cat`` with the DAPall columns it does not already have (the catalogue's values
        win), plus ``dapall_daptype`` naming the DAPall row used (empty when none).
    """
    rank = {d: i for i, d in enumerate(preference)}
    keyed = {}
    for i, (p, d) in enumerate(zip(dapall["plateifu"], dapall["daptype"])):
        keyed.setdefault(p, {})[d] = i
    rows = []
    used = []
    for p in cat["plateifu"]:
        options = keyed.get(p, {})
        d = daptypes.get(p)
        if d not in options:
            d = min(options, key=lambda k: (rank.get(k, len(rank)), k)) if options else None
        rows.append(options[d] if d is not None else -1)
        used.append(d or "")
    new_cols = [c for c in dapall.columns if c not in cat.columns and c != "daptype"]
    out = cat.copy()
    idx = np.asarray(rows, dtype=np.int64)
    have = idx >= 0
    for c in new_cols:
        src = dapall[c].to_numpy()
        if src.dtype.kind in "biuf":
            values = np.full(len(cat), np.nan)
            values[have] = src[idx[have]]
        else:
            values = np.empty(len(cat), dtype=object)
            values[have] = src[idx[have]]
        out[c] = values
    out["dapall_daptype"] = pd.Series(used, dtype=object).to_numpy()
    out.attrs = dict(cat.attrs)
    return out


def catalogue_value(df: pd.DataFrame, *names: str) -> np.ndarray:
    """The first of ``names`` present in ``df`` as float64 (NaN where missing/unparseable)."""
    for name in names:
        if name in df.columns:
            return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.full(len(df), np.nan)
