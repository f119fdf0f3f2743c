"""Import and export label catalogues (SPEC §4).

Format
------
Columns first, in this order, as in the MPL-7 catalogue of Duckworth et al.
(``mpl7-pa-classifications-v0_1-drpall.csv``)::

    plateifu, stellar_pa, halpha_pa, pa_offset, stel_qual, stel_feature, halpha_qual,
    halpha_feature, halpha_notes

then kinview's own: ``notes`` (free text), ``experts`` (who labelled the galaxy, ``;``-joined),
``n_labels`` (current labels behind the row), ``agreement`` (mean share of experts agreeing
with the majority over the galaxy's flags rated by ≥ 2 experts; NaN when none), ``disputed``
(flag columns on which experts disagree, ``;``-joined), ``stellar_pa_err``, ``halpha_pa_err``
(1σ, degrees, from the PA fit), ``stellar_pa_src``, ``halpha_pa_src`` (where the PA comes from:
``expert``, ``consensus``, ``pafit``, ``fast`` or empty), ``adjudicated`` (consensus exports:
the flags an adjudicator settled, ``column=value by name``, ``;``-joined; the flag columns then
hold the adjudicator's final label instead of the majority), and for each active model
its value and confidence per field, named by the task
(:meth:`kinview.tasks.base.Task.export_columns`: by default ``pred_<task>_<field>`` with
``pred_<task>_<field>_conf``; the caller passes the naming, as this layer sits below the tasks).

PAs are degrees East of North to the receding side; ``pa_offset`` is the smallest angle
between them, [0, 180].  Missing PAs are empty (NaN), missing flags are −99.  The format is
chosen from the file suffix: ``.csv``, ``.fits`` (``.fit``, ``.fits.gz``), ``.ecsv``,
``.vot`` (``.votable``, ``.xml``) or ``.parquet``.

PA of a field
    The expert's ``pa_override`` label if any (consensus: the circular mean of the experts'
    overrides), else kinview's fit from ``pa_fits``, preferring method ``pafit`` (the
    reference algorithm, which the user ran deliberately) over ``fast``.

Import
    Every row becomes label events of the importing expert with ``source='import:<file
    name>'``: PAs as ``pa_override`` (from a kinview export only those whose ``*_pa_src`` is
    ``expert`` or ``consensus``: fitted PAs are not labels), flags as quality/feature/gas_note, ``notes`` (kinview's
    own exports) as a galaxy note.  Empty PAs and −99 flags mean "not given" and store nothing
    (the expert's existing labels stay); ``pa_offset`` is derived, never stored (rows where it
    disagrees with the PAs are counted in the report).  Values equal to the expert's current
    label are skipped, so importing a file twice changes nothing.  Plate-ifus that are not in
    the survey's galaxies table are *not* imported: they are listed in the report (count and
    the first few) and the command line prints them.  Flag codes outside the documented
    vocabulary (the MPL-7 file has two ``stel_qual = 3``) refuse the whole file, naming the
    first one, unless ``allow_codes`` (``--allow-codes``) is given: then they are imported
    as they are, so the catalogue round-trips, and reported.  Codes above ``MAX_CODE``
    (e.g. ``1e300``) are never flags.  A malformed file (missing column, bad number,
    duplicate plate-ifu) raises :class:`~kinview.errors.LabelFormatError` with a one-line
    reason; the import is one transaction, so the database is untouched.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

import numpy as np
import pandas as pd

from kinview import __version__
from kinview.conventions import MISSING, VOCABULARIES, delta_pa, parse_plateifu
from kinview.db import models as db_models
from kinview.db.connection import check_integrity
from kinview.db.pa_fits import PA_METHOD_PREFERENCE, preferred_fits
from kinview.errors import LabelFormatError
from kinview.labels.adjudication import apply_final, final_labels
from kinview.labels.consensus import consensus_table
from kinview.labels.store import utc_now
from kinview.progress import NULL_STATE, TaskState

#: The nine columns of the MPL-7 catalogue, in order.
CATALOGUE_COLUMNS = ["plateifu", "stellar_pa", "halpha_pa", "pa_offset", "stel_qual", "stel_feature",
                     "halpha_qual", "halpha_feature", "halpha_notes"]
#: kinview's own columns that follow them (model prediction columns come after these).
KINVIEW_COLUMNS = ["notes", "experts", "n_labels", "agreement", "disputed", "stellar_pa_err",
                   "halpha_pa_err", "stellar_pa_src", "halpha_pa_src", "adjudicated"]
#: Flag column -> (field, kind) of the label it holds.
FLAG_COLUMNS = {
    "stel_qual": ("stellar", "quality"),
    "stel_feature": ("stellar", "feature"),
    "halpha_qual": ("gas", "quality"),
    "halpha_feature": ("gas", "feature"),
    "halpha_notes": ("gas", "gas_note"),
}
PA_COLUMNS = {"stellar_pa": "stellar", "halpha_pa": "gas"}
#: Largest flag code a file may hold (with ``allow_codes``); any vocabulary is far smaller.
MAX_CODE = 99
#: Preference order of PA fit methods when no expert PA is given (kinview.db.pa_fits).
PA_METHODS = PA_METHOD_PREFERENCE

#: ``pa_offset`` is written with this many decimals, like the MPL-7 catalogue (PAs in 0.5° steps).
PA_OFFSET_DECIMALS = 1
#: Units of the exported columns (FITS TUNIT, ECSV and VOTable unit).
COLUMN_UNITS = {"stellar_pa": "deg", "halpha_pa": "deg", "pa_offset": "deg",
                "stellar_pa_err": "deg", "halpha_pa_err": "deg"}

SUFFIX_FORMATS = {".csv": "csv", ".fits": "fits", ".fit": "fits", ".fits.gz": "fits",
                  ".ecsv": "ecsv", ".vot": "votable", ".votable": "votable", ".xml": "votable",
                  ".parquet": "parquet"}
_ASTROPY_FORMATS = {"fits": "fits", "ecsv": "ascii.ecsv", "votable": "votable"}


def table_format(path: Union[str, Path]) -> str:
    """The table format implied by the file suffix (csv, fits, ecsv, votable, parquet)."""
    name = Path(path).name.lower()
    for suffix in sorted(SUFFIX_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return SUFFIX_FORMATS[suffix]
    raise LabelFormatError(f"{path}: unknown catalogue format; use one of "
                           f"{', '.join(sorted(set(SUFFIX_FORMATS)))}")


# ---------------------------------------------------------------------------------------------
# reading and writing tables
# ---------------------------------------------------------------------------------------------
def write_table(df: pd.DataFrame, path: Union[str, Path], meta: Optional[dict] = None) -> Path:
    """Write ``df`` in the format given by the suffix of ``path``, replacing it atomically.

    FITS, ECSV and VOTable files carry the units of :data:`COLUMN_UNITS` and ``meta`` (short
    upper-case keys: they become FITS header cards); Parquet carries ``meta`` as schema metadata.
    """
    path = Path(path)
    fmt = table_format(path)
    if not path.parent.is_dir():
        raise LabelFormatError(f"{path}: no such directory {path.parent}")
    if path.is_dir():
        raise LabelFormatError(f"{path}: is a folder; give a file name ending in .{fmt}")
    if not os.access(path.parent, os.W_OK):
        raise LabelFormatError(f"{path}: the folder {path.parent} is not writable")
    tmp = path.with_name(f".tmp{os.getpid()}-{path.name}")  # same suffix: .fits.gz stays gzipped
    try:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        elif fmt == "parquet":
            df.attrs = {"kinview": dict(meta or {})}
            df.to_parquet(tmp, index=False)
        else:
            table = _to_astropy(df, fmt)
            table.meta.update(meta or {})
            table.write(tmp, format=_ASTROPY_FORMATS[fmt], overwrite=True)
        os.replace(tmp, path)
    except OSError as exc:
        raise LabelFormatError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
    return path


def _to_astropy(df: pd.DataFrame, fmt: str):
    """An astropy Table of ``df``; FITS text columns hold UTF-8 bytes (FITS strings are bytes)."""
    from astropy.table import Table

    table = Table()
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_bool_dtype(col):
            table[name] = col.to_numpy(dtype=bool)
        elif pd.api.types.is_integer_dtype(col):
            table[name] = col.to_numpy(dtype=np.int64)
        elif pd.api.types.is_float_dtype(col):
            table[name] = col.to_numpy(dtype=np.float64)
        else:
            text = ["" if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v) for v in col]
            if fmt == "fits":
                raw = [t.encode("utf-8") for t in text]
                table[name] = np.array(raw, dtype=f"S{max([1] + [len(b) for b in raw])}")
            else:
                table[name] = np.array(text, dtype=f"U{max([1] + [len(t) for t in text])}")
        if name in COLUMN_UNITS:
            table[name].unit = COLUMN_UNITS[name]
    return table


def read_table(path: Union[str, Path]) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (or any CSV/FITS/ECSV/VOTable/Parquet).

    CSV is read with every column as text (empty cells stay ``""``) so that numbers keep their
    spelling; the other formats keep their column types, with missing strings as ``""``.

    Raises
    ------
    LabelFormatError
        When the file is missing or cannot be parsed.
    """
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise LabelFormatError(f"{path}: no such file")
    try:
        if fmt == "csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
        if fmt == "parquet":
            df = pd.read_parquet(path)
        else:
            from astropy.table import Table

            table = Table.read(path, format=_ASTROPY_FORMATS[fmt])
            df = _from_astropy(table)
    except LabelFormatError:
        raise
    except Exception as exc:  # pandas/astropy/pyarrow raise many kinds of parse errors
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LabelFormatError(f"{path}: not a readable {fmt} table ({reason})") from None
    for name in df.columns:
        if df[name].dtype == object or pd.api.types.is_string_dtype(df[name]):
            df[name] = df[name].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                                    else (v.decode() if isinstance(v, bytes) else str(v)))
    return df


def _from_astropy(table) -> pd.DataFrame:
    data = {}
    for name in table.colnames:
        col = table[name]
        masked = getattr(col, "mask", None)
        kind = col.dtype.kind
        if kind in "US":
            values = np.asarray(col.filled("") if masked is not None else col)
            if kind == "S":  # FITS text: UTF-8 bytes
                values = [v.decode("utf-8", errors="replace") for v in values.tolist()]
            else:
                values = values.astype(str).tolist()
            data[name] = pd.Series(values, dtype=object)
        elif kind == "f":
            data[name] = np.asarray(col.filled(np.nan) if masked is not None else col, dtype=float)
        elif kind in "iu":
            if masked is not None and np.any(masked):
                data[name] = np.asarray(col.filled(MISSING), dtype=np.int64)
            else:
                data[name] = np.asarray(col, dtype=np.int64)
        elif kind == "b":
            data[name] = np.asarray(col, dtype=bool)
        else:
            data[name] = list(col)
    return pd.DataFrame(data)


# ---------------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------------
@dataclass
class ImportReport:
    """What :func:`import_catalogue` did.

    Attributes
    ----------
    path, expert, source : the file, the importing expert, the ``source`` of the events
    kind : 'mpl7' (leading index column) or 'kinview'
    rows : data rows in the file
    imported_rows : rows of known galaxies (their labels are stored)
    events : label events written
    unchanged : values skipped because they equal the expert's current label
    unknown : plate-ifus not in the survey (not imported)
    out_of_vocabulary : ``(line, column, value)`` of codes outside the documented vocabulary
    offset_mismatch : rows whose ``pa_offset`` differs from the one their PAs give
    """

    path: Path
    expert: str
    source: str
    kind: str = "kinview"
    rows: int = 0
    imported_rows: int = 0
    events: int = 0
    unchanged: int = 0
    unknown: List[str] = dc_field(default_factory=list)
    out_of_vocabulary: List[Tuple[int, str, int]] = dc_field(default_factory=list)
    offset_mismatch: int = 0

    def summary(self) -> str:
        """Human-readable lines for the command line."""
        lines = [f"{self.path}: {self.rows} rows ({self.kind} format); imported {self.imported_rows} "
                 f"galaxies as expert {self.expert!r}: {self.events} label events written, "
                 f"{self.unchanged} values already current"]
        if self.unknown:
            first = ", ".join(self.unknown[:5])
            lines.append(f"warning: {len(self.unknown)} plate-ifus are not in the survey and were "
                         f"not imported (first: {first})")
        if self.out_of_vocabulary:
            first = ", ".join(f"line {ln} {col}={v}" for ln, col, v in self.out_of_vocabulary[:5])
            lines.append(f"warning: {len(self.out_of_vocabulary)} codes outside the documented "
                         f"vocabulary were imported as given ({first})")
        if self.offset_mismatch:
            lines.append(f"warning: {self.offset_mismatch} rows have a pa_offset that does not match "
                         "their PAs (pa_offset is recomputed on export)")
        return "\n".join(lines)


def _as_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)) and np.isnan(v):
        return ""
    if isinstance(v, bytes):
        v = v.decode()
    return str(v).strip()


def _parse_pa(path, line, col, v) -> float:
    text = _as_text(v)
    if text == "" or text.lower() == "nan":
        return float("nan")
    try:
        pa = float(text)
    except ValueError:
        raise LabelFormatError(f"{path}: line {line}: {col} {text!r} is not a number") from None
    if not np.isfinite(pa) or not 0.0 <= pa <= 360.0:
        raise LabelFormatError(f"{path}: line {line}: {col} {text!r} is not a PA in [0, 360] degrees")
    return pa


def _parse_flag(path, line, col, v) -> Optional[int]:
    text = _as_text(v)
    if text == "" or text.lower() == "nan":
        return None
    try:
        number = float(text)
    except ValueError:
        raise LabelFormatError(f"{path}: line {line}: {col} {text!r} is not an integer flag") from None
    if not np.isfinite(number) or number != int(number):
        raise LabelFormatError(f"{path}: line {line}: {col} {text!r} is not an integer flag")
    if abs(number) > MAX_CODE:
        raise LabelFormatError(f"{path}: line {line}: {col} {text!r} is not a flag code "
                               f"(codes are small integers; missing is {MISSING})")
    code = int(number)
    if code == MISSING:
        return None
    if code < 0:
        raise LabelFormatError(f"{path}: line {line}: {col} {code} is negative (missing is {MISSING})")
    return code


def read_catalogue(path: Union[str, Path]) -> Tuple[pd.DataFrame, str]:
    """Read and check a label catalogue; return ``(rows, kind)``.

    ``rows`` has one row per galaxy with ``plateifu``, ``line`` (line number in the file for
    CSV, row number otherwise), the two PAs (float, NaN = missing), ``pa_offset``, the five
    flags (Int64 with <NA> = missing) and ``notes`` (str).  ``kind`` is ``'mpl7'`` when the file
    has the MPL-7 leading unnamed index column, else ``'kinview'``.

    Raises
    ------
    LabelFormatError
        Missing columns, unparsable numbers, bad plate-ifus or duplicate plate-ifus.
    """
    path = Path(path)
    df = read_table(path)
    columns = [str(c) for c in df.columns]
    kind = "mpl7" if columns and (columns[0] == "" or columns[0].startswith("Unnamed")) else "kinview"
    missing = [c for c in CATALOGUE_COLUMNS if c not in columns]
    if missing:
        raise LabelFormatError(f"{path}: not a label catalogue: missing column(s) {', '.join(missing)}")
    first_line = 2 if table_format(path) == "csv" else 1
    out = {"plateifu": [], "line": [], "stellar_pa": [], "halpha_pa": [], "pa_offset": [], "notes": []}
    flags = {c: [] for c in FLAG_COLUMNS}
    seen = {}
    has_notes = "notes" in columns
    src_columns = [f"{c}_src" for c in PA_COLUMNS if f"{c}_src" in columns]
    wanted = CATALOGUE_COLUMNS + (["notes"] if has_notes else []) + src_columns
    records = {c: df[c].tolist() for c in wanted}
    for i in range(len(df)):
        line = first_line + i
        pifu = _as_text(records["plateifu"][i])
        try:
            parse_plateifu(pifu)
        except ValueError:
            raise LabelFormatError(f"{path}: line {line}: {pifu!r} is not a plate-ifu") from None
        if pifu in seen:
            raise LabelFormatError(f"{path}: line {line}: plate-ifu {pifu} repeats line {seen[pifu]}")
        seen[pifu] = line
        out["plateifu"].append(pifu)
        out["line"].append(line)
        for col in ("stellar_pa", "halpha_pa", "pa_offset"):
            out[col].append(_parse_pa(path, line, col, records[col][i]))
        for col in FLAG_COLUMNS:
            flags[col].append(_parse_flag(path, line, col, records[col][i]))
        out["notes"].append(_as_text(records["notes"][i]) if has_notes else "")
        for col in src_columns:
            out.setdefault(col, []).append(_as_text(records[col][i]))
    rows = pd.DataFrame(out)
    for col in FLAG_COLUMNS:
        rows[col] = pd.array(flags[col], dtype="Int64")
    return rows, kind


#: ``*_pa_src`` values of PAs that a person set (imported as ``pa_override``); the others
#: (``pafit``, ``fast``) are kinview's own fits and are not labels.
HAND_SET_PA_SOURCES = ("expert", "consensus")


def _set_by_a_person(row, pa_column: str) -> bool:
    """Whether the PA in ``pa_column`` of ``row`` is a person's: always for files that do not
    say where their PAs come from (the MPL-7 catalogue), else only when ``*_pa_src`` says so."""
    src = getattr(row, f"{pa_column}_src", None)
    return src is None or src in HAND_SET_PA_SOURCES


def import_catalogue(store, path: Union[str, Path], expert: Optional[str] = None,
                     state: TaskState = NULL_STATE, allow_codes: bool = False) -> ImportReport:
    """Import a label catalogue (MPL-7 format or a kinview export) into ``store``.

    Parameters
    ----------
    store : kinview.labels.LabelStore
    path : path-like
        ``.csv`` (MPL-7 or kinview), or a kinview export in any supported format.
    expert : str, optional
        The importing expert (default: the store's expert).
    state : TaskState
        Progress (rows checked); the import itself is one transaction.
    allow_codes : bool
        Import flag codes outside the documented vocabulary (0-:data:`MAX_CODE`) as they
        are, and report them; by default such a file is refused.

    Returns
    -------
    ImportReport

    Raises
    ------
    LabelFormatError
        Malformed file, a code outside the vocabulary (without ``allow_codes``), or none of
        its plate-ifus are in the survey; nothing is written.
    """
    path = Path(path)
    rows, kind = read_catalogue(path)
    who = store._expert(expert)
    source = f"import:{path.name}"
    report = ImportReport(path=path, expert=who, source=source, kind=kind, rows=len(rows))
    known = store.known(rows["plateifu"])
    report.unknown = [p for p in rows["plateifu"] if p not in known]
    if len(rows) and not known:
        raise LabelFormatError(f"{path}: none of its {len(rows)} plate-ifus are galaxies of the survey "
                               f"(first: {', '.join(report.unknown[:3])}); run kinview ingest first?")
    state.set_total(len(rows))
    current = store.current(who)
    have = {(r.plateifu, r.field, r.kind): (r.text if r.kind == "note" else r.value)
            for r in current.itertuples(index=False)}
    events = []
    for r in rows.itertuples(index=False):
        state.check_cancelled()
        if r.plateifu not in known:
            state.advance()
            continue
        report.imported_rows += 1
        wanted = []
        for col, fld in PA_COLUMNS.items():
            pa = getattr(r, col)
            if np.isfinite(pa) and _set_by_a_person(r, col):
                wanted.append((fld, "pa_override", pa))
        if np.isfinite(r.stellar_pa) and np.isfinite(r.halpha_pa) and np.isfinite(r.pa_offset):
            if abs(float(delta_pa(r.stellar_pa, r.halpha_pa)) - r.pa_offset) > 0.01:
                report.offset_mismatch += 1
        for col, (fld, knd) in FLAG_COLUMNS.items():
            code = getattr(r, col)
            if code is pd.NA or code is None:
                continue
            code = int(code)
            if code not in VOCABULARIES[knd]:
                if not allow_codes:
                    allowed = ", ".join(str(k) for k in VOCABULARIES[knd])
                    raise LabelFormatError(
                        f"{path}: line {r.line}: {col} {code} is not a {knd} code ({allowed}); "
                        f"nothing was imported (--allow-codes imports such codes as given)")
                report.out_of_vocabulary.append((r.line, col, code))
            wanted.append((fld, knd, code))
        if r.notes:
            wanted.append(("galaxy", "note", r.notes))
        for fld, knd, value in wanted:
            old = have.get((r.plateifu, fld, knd))
            if old is not None and (old == value if knd == "note" else float(old) == float(value)):
                report.unchanged += 1
                continue
            events.append({"plateifu": r.plateifu, "field": fld, "kind": knd, "value": value,
                           "expert": who, "source": source})
        state.advance()
    if events:
        check_integrity(store.conn, store.path)   # never write into a damaged file
        store.add_many(events, source=source, strict=False)
    report.events = len(events)
    return report


# ---------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", str(text)).strip("_").lower() or "model"


def _pa_fits(conn) -> pd.DataFrame:
    """The successful fit each (plateifu, field) takes its PA from (:mod:`kinview.db.pa_fits`)."""
    rows = [(f.plateifu, f.field, f.method, f.pa, f.pa_err) for f in preferred_fits(conn)
            if f.pa is not None]
    return pd.DataFrame(rows, columns=["plateifu", "field", "method", "pa", "pa_err"])


def default_prediction_columns(task: str, field: str) -> Tuple[str, str]:
    """``(pred_<task>_<field>, pred_<task>_<field>_conf)``, the task name with
    non-alphanumerics as ``_``."""
    name = f"pred_{_slug(task)}_{field}"
    return name, f"{name}_conf"


def _predictions(conn, prediction_columns: Optional[Callable[[str, str], Tuple[str, str]]] = None
                 ) -> pd.DataFrame:
    """Wide table of the active models' predictions, indexed by plateifu; columns named by
    ``prediction_columns(task, field) -> (value column, confidence column)``."""
    naming = prediction_columns or default_prediction_columns
    wide = pd.DataFrame()
    for model_id, task in db_models.active_ids_and_tasks(conn):
        rows = db_models.prediction_rows(conn, model_id)
        if not rows:
            continue
        pred = pd.DataFrame([tuple(r)[:4] for r in rows], columns=["plateifu", "field", "value", "confidence"])
        for fld, part in pred.groupby("field", sort=True):
            name, conf_name = naming(task, fld)
            if name in wide.columns:  # two active models for one task: keep the first (lowest id)
                continue
            part = part.set_index("plateifu")
            add = pd.DataFrame({name: part["value"].astype(float),
                                conf_name: part["confidence"].astype(float)})
            wide = add if wide.empty else wide.join(add, how="outer")
    return wide


def export_table(store, expert: Optional[str] = None, consensus: bool = False,
                 labelled_only: bool = False,
                 prediction_columns: Optional[Callable[[str, str], Tuple[str, str]]] = None) -> pd.DataFrame:
    """Build the export catalogue of one expert (default) or of the consensus.

    Parameters
    ----------
    store : kinview.labels.LabelStore
    expert : str, optional
        Whose labels (default: the store's expert); ignored with ``consensus=True``.
    consensus : bool
        Majority of all experts (ties give −99 and are listed in ``disputed``), replaced by the
        adjudicator's final label where one was recorded
        (:mod:`kinview.labels.adjudication`; listed in ``adjudicated``).
    prediction_columns : callable(task, field) -> (str, str), optional
        Names of an active model's value and confidence columns (the CLI passes
        :func:`kinview.tasks.export_columns`, the tasks' own naming; default
        :func:`default_prediction_columns`).
    labelled_only : bool
        Only galaxies with at least one current label (default: every galaxy of the survey,
        in catalogue order, with −99 flags where unlabelled).

    Returns
    -------
    DataFrame
        The columns described in the module docstring, in that order.
    """
    conn = store.conn
    everyone = store.current()
    cons_all = consensus_table(everyone)
    if consensus:
        mine = apply_final(cons_all, final_labels(store))
    else:
        who = store._expert(expert)
        cur = everyone[everyone["expert"] == who]
        mine = cur[["plateifu", "field", "kind", "value", "text"]]
    galaxies = store.plateifus()
    labelled = sorted(set(everyone["plateifu"]) - set(galaxies))
    order = galaxies + labelled
    if labelled_only:
        has = set((everyone if consensus else mine)["plateifu"])
        order = [p for p in order if p in has]
    out = pd.DataFrame({"plateifu": pd.Series(order, dtype=object)})
    idx = pd.Index(order)

    def value_of(fld, knd):
        sel = mine[(mine["field"] == fld) & (mine["kind"] == knd)].drop_duplicates("plateifu", keep="last")
        return sel.set_index("plateifu")["value"].reindex(idx)

    fits = _pa_fits(conn)
    for col, fld in PA_COLUMNS.items():
        pa = value_of(fld, "pa_override")
        src = pd.Series(np.where(pa.notna(), "consensus" if consensus else "expert", ""), index=idx,
                        dtype=object)
        if len(fits):
            f = fits[fits["field"] == fld].set_index("plateifu").reindex(idx)
            use_fit = pa.isna() & f["pa"].notna()
            pa = pa.where(~use_fit, f["pa"])
            src = src.where(~use_fit, f["method"])
            err = f["pa_err"].astype(float)
        else:
            err = pd.Series(np.nan, index=idx)
        out[col] = pa.to_numpy(dtype=float)
        # a hand-set PA has no fit error: the fit's 1σ belongs to the fitted PA only
        out[f"{col}_err"] = np.where(src.isin(HAND_SET_PA_SOURCES).to_numpy(), np.nan,
                                     err.to_numpy(dtype=float))
        out[f"{col}_src"] = src.to_numpy()
    both = out["stellar_pa"].notna() & out["halpha_pa"].notna()
    offset = np.asarray(delta_pa(out["stellar_pa"].fillna(0), out["halpha_pa"].fillna(0)), dtype=float)
    out["pa_offset"] = np.where(both, np.round(offset, PA_OFFSET_DECIMALS), np.nan)
    for col, (fld, knd) in FLAG_COLUMNS.items():
        v = value_of(fld, knd)
        out[col] = v.fillna(MISSING).to_numpy().astype(np.int64)

    # notes: the galaxy note, then field notes prefixed with their field
    notes = mine[mine["kind"] == "note"]
    note_text = {}
    for fld in ("galaxy", "stellar", "gas"):
        sel = notes[notes["field"] == fld]
        for pifu, body in zip(sel["plateifu"].tolist(), sel["text"].tolist()):
            if body:
                text = body if fld == "galaxy" else f"{fld}: {body}"
                note_text[pifu] = f"{note_text[pifu]} | {text}" if pifu in note_text else text
    out["notes"] = [note_text.get(p, "") for p in order]

    source = everyone if consensus else mine
    experts_of, n_of = {}, {}
    for pifu, name in zip(source["plateifu"].tolist(),
                          (everyone["expert"].tolist() if consensus else [who] * len(mine))):
        experts_of.setdefault(pifu, set()).add(name)
        n_of[pifu] = n_of.get(pifu, 0) + 1
    out["experts"] = [";".join(sorted(experts_of.get(p, ()))) for p in order]
    out["n_labels"] = np.array([n_of.get(p, 0) for p in order], dtype=np.int64)
    flag_of = {v: k for k, v in FLAG_COLUMNS.items()}
    cat = cons_all[cons_all["kind"].isin([k for _, k in FLAG_COLUMNS.values()])
                   & (cons_all["n_experts"] >= 2)]
    cat = cat[np.array([(f, k) in flag_of for f, k in zip(cat["field"].tolist(), cat["kind"].tolist())],
                       dtype=bool)]
    agree = cat.groupby("plateifu")["share"].mean()
    dis = cat[cat["share"] < 1.0]
    disputed = {}
    for p, f, k in zip(dis["plateifu"].tolist(), dis["field"].tolist(), dis["kind"].tolist()):
        disputed.setdefault(p, []).append(flag_of[(f, k)])
    out["agreement"] = agree.reindex(idx).to_numpy(dtype=float)
    out["disputed"] = [";".join(sorted(disputed.get(p, []), key=CATALOGUE_COLUMNS.index)) for p in order]
    settled = {}
    if consensus:
        adj = mine[mine["adjudicator"] != ""]
        for p, f, k, v, a in zip(adj["plateifu"].tolist(), adj["field"].tolist(), adj["kind"].tolist(),
                                 adj["value"].tolist(), adj["adjudicator"].tolist()):
            if (f, k) in flag_of:
                settled.setdefault(p, []).append((CATALOGUE_COLUMNS.index(flag_of[(f, k)]),
                                                  f"{flag_of[(f, k)]}={int(v)} by {a}"))
    out["adjudicated"] = [";".join(t for _, t in sorted(settled.get(p, []))) for p in order]

    columns = CATALOGUE_COLUMNS + KINVIEW_COLUMNS
    out = out[columns]
    preds = _predictions(conn, prediction_columns)
    if not preds.empty:
        out = out.join(preds.reindex(idx).reset_index(drop=True))
    return out.reset_index(drop=True)


def export_catalogue(store, path: Union[str, Path], expert: Optional[str] = None,
                     consensus: bool = False, labelled_only: bool = False,
                     prediction_columns: Optional[Callable[[str, str], Tuple[str, str]]] = None) -> pd.DataFrame:
    """Write :func:`export_table` to ``path`` (format from the suffix); return the table."""
    table_format(path)  # refuse an unknown suffix before doing any work
    df = export_table(store, expert=expert, consensus=consensus, labelled_only=labelled_only,
                      prediction_columns=prediction_columns)
    write_table(df, path, meta=export_meta(store, expert=expert, consensus=consensus))
    return df


def export_meta(store, expert: Optional[str] = None, consensus: bool = False) -> dict:
    """Header metadata of an export: who, when, which kinview and which label set.

    Keys: ``EXPERTS`` (``;``-joined names), ``LABELSRC`` (``consensus`` or ``expert:NAME``),
    ``DATE`` (UTC, ISO 8601), ``KVVERSN`` (kinview version), ``LABHASH`` (hash of the quality
    labels the export is built from, as stored with models trained on them), ``PAUNIT``
    (``deg``, East of North to the receding side).
    """
    if consensus:
        source, experts = "consensus", store.experts()
    else:
        who = store._expert(expert)
        source, experts = f"expert:{who}", [who]
    return {"EXPERTS": ";".join(experts), "LABELSRC": source, "DATE": utc_now(),
            "KVVERSN": __version__, "LABHASH": store.label_hash(source),
            "PAUNIT": "deg E of N, receding side"}
