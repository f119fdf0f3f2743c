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
DRPALL_PATTERNS = ("drpall-*.fits", "drpall-*.fits.gz")

#: The drpall columns kinview uses (all optional except ``plateifu``).
KNOWN_COLUMNS = (
    "plateifu", "mangaid", "objra", "objdec", "ifudesignsize", "nsa_z", "nsa_elpetro_th50_r",
    "nsa_elpetro_ba", "nsa_elpetro_phi", "nsa_sersic_n", "nsa_elpetro_mass", "lambda_re",
)

#: Multi-dimensional FITS cells with more elements than this are dropped (spectra, images).
MAX_CELL_ELEMENTS = 64


def find_catalogue(survey_dir: Union[str, Path]) -> Optional[Path]:
    """The catalogue file of a survey directory, or None when it has none.

    Looks for ``catalogue.fits``, ``catalogue.fits.gz``, ``catalogue.csv``, ``catalogue.ecsv``,
    ``catalogue.parquet`` and then ``drpall-*.fits[.gz]`` (the last in name order, i.e. the
    newest DRP version), in the top level of ``survey_dir`` only.
    """
    root = Path(survey_dir)
    for name in CATALOGUE_NAMES:
        path = root / name
        if path.is_file():
            return path
    found: List[Path] = []
    for pattern in DRPALL_PATTERNS:
        found.extend(p for p in root.glob(pattern) if p.is_file())
    if found:
        return sorted(found, key=lambda p: p.name)[-1]
    return None


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
        data = table.data
        columns = {}
        if data is None or len(table.columns) == 0:
            return pd.DataFrame()
        for col in table.columns:
            values = np.asarray(data[col.name])
            columns[col.name.lower()] = _fits_column(values)
    return pd.DataFrame({k: v for k, v in columns.items() if v is not None})


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
                              "(nor 'plate' + 'ifudsgn' to build it)")
    pifu = df["plateifu"].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                              else str(v).strip())
    if (pifu == "").any():
        n = int((pifu == "").sum())
        raise SurveyError(f"{path}: {n} row(s) with an empty 'plateifu'")
    bad = ~pifu.str.fullmatch(r"\d+-\d+")
    if bad.any():
        first = pifu[bad].iloc[0]
        hint = (" (a column of numbers: write plate-ifus as text, e.g. 8485-1901)"
                if pd.api.types.is_numeric_dtype(df["plateifu"]) else "")
        raise SurveyError(f"{path}: {int(bad.sum())} row(s) with a 'plateifu' that is not "
                          f"PLATE-IFU, first {first!r}{hint}")
    df["plateifu"] = pifu.astype(object)
    df = df.loc[~df["plateifu"].duplicated()].reset_index(drop=True)
    for name in ("mangaid",):
        if name in df.columns:
            df[name] = df[name].map(lambda v: None if v is None or (isinstance(v, float)
                                                                     and np.isnan(v))
                                    else str(v).strip()).astype(object)
    return df


def catalogue_value(df: pd.DataFrame, *names: str) -> np.ndarray:
    """The first of ``names`` present in ``df`` as float64 (NaN where missing/unparseable)."""
    for name in names:
        if name in df.columns:
            return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.full(len(df), np.nan)
