"""A catalogue split into row-range partitions that workers read independently.

The client only *plans* (:func:`plan_catalogue`): it reads the file's header or metadata, the
row count and, for CSV, the byte offset where each partition starts.  A worker then reads its
own rows (:func:`read_partition`) without the rest of the file, so neither side ever holds
the whole catalogue:

Parquet  row groups overlapping the partition, streamed in record batches
FITS     the first binary table holding an id column, memory-mapped (uncompressed files;
         a ``.fits.gz`` works but is decompressed for every partition)
CSV      one row per line (no newlines inside quoted fields), a header line first

Columns (names matched case-insensitively): an id, ``plateifu`` (MaNGA) or ``objid`` (SDSS
photometric object; ``specobjid`` also accepted), and the position ``ra``/``dec`` (or drpall's
``objra``/``objdec``), degrees ICRS, carried into the output when present.  Ids become
strings: integers are written in full (``1237648720693755918``), text is stripped.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import pandas as pd

from kinview.errors import KinviewError

__all__ = ["CataloguePlan", "Partition", "plan_catalogue", "read_partition", "ID_COLUMNS",
           "DEFAULT_PARTITION_ROWS", "default_partition_rows"]

#: Id columns, in order of preference.
ID_COLUMNS = ("plateifu", "objid", "specobjid")
RA_COLUMNS = ("ra", "objra")
DEC_COLUMNS = ("dec", "objdec")
#: Largest default partition: ~30 s of work on one core, so an interrupted run loses little
#: and a million-row catalogue makes 100 tasks, 5 million 500 (light for the scheduler).
DEFAULT_PARTITION_ROWS = 10_000
#: Smallest default partition (per-task overhead stays well under 1 %).
MIN_PARTITION_ROWS = 500
#: Smaller catalogues are split into at least this many partitions, so that many workers
#: share them.
MIN_PARTITIONS = 64


def default_partition_rows(n_rows: int) -> int:
    """Rows per partition for a catalogue of ``n_rows``: n/64 clipped to [500, 10,000].

    It depends on the catalogue only (not on the number of workers), so a rerun with other
    workers resumes the same partitions.
    """
    return int(min(DEFAULT_PARTITION_ROWS, max(MIN_PARTITION_ROWS, -(-int(n_rows) // MIN_PARTITIONS))))


class CatalogueError(KinviewError):
    """A catalogue cannot be planned or read (format, columns, a changed file)."""


@dataclass(frozen=True)
class Partition:
    """Rows ``[start, stop)`` of the catalogue (0-based file order); ``offset`` is the byte
    where row ``start`` begins in a CSV file (-1 for other formats)."""

    index: int
    start: int
    stop: int
    offset: int = -1

    @property
    def n_rows(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class CataloguePlan:
    """What a worker needs to read any partition of a catalogue.

    Attributes
    ----------
    path : str            absolute path (the same on every worker)
    format : str          ``parquet``, ``fits`` or ``csv``
    n_rows : int
    id_column : str       the column holding the id, as spelled in the file
    id_name : str         its canonical name in the output (``plateifu``, ``objid``, ...)
    ra_column, dec_column : str or None   as spelled in the file
    fingerprint : str     size and a hash of the file's head and tail (a changed file is noticed)
    partitions : tuple of Partition
    hdu : int             FITS table extension
    header : tuple of str CSV column names
    """

    path: str
    format: str
    n_rows: int
    id_column: str
    id_name: str
    ra_column: Optional[str]
    dec_column: Optional[str]
    fingerprint: str
    partitions: Tuple[Partition, ...]
    hdu: int = 1
    header: Tuple[str, ...] = ()

    @property
    def columns(self) -> List[str]:
        return [c for c in (self.id_column, self.ra_column, self.dec_column) if c]


def _format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".fits", ".fit", ".fts")):
        return "fits"
    if name.endswith(".csv"):
        return "csv"
    raise CatalogueError(f"{path}: unknown catalogue format (use .parquet, .fits or .csv)")


def _fingerprint(path: Path) -> str:
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(size - (1 << 20))
            h.update(fh.read(1 << 20))
    return f"{size}-{h.hexdigest()[:16]}"


def _pick(names, wanted) -> Optional[str]:
    low = {str(n).strip().lower(): n for n in names}
    return next((low[w] for w in wanted if w in low), None)


def _columns(path: Path, names) -> Tuple[str, str, Optional[str], Optional[str]]:
    idc = _pick(names, ID_COLUMNS)
    if idc is None:
        raise CatalogueError(f"{path}: no id column; a catalogue needs one of "
                             f"{', '.join(ID_COLUMNS)} (images are DIR/<id>.jpg)")
    return (idc, str(idc).strip().lower(), _pick(names, RA_COLUMNS), _pick(names, DEC_COLUMNS))


def _ranges(n_rows: int, rows: int) -> List[Tuple[int, int]]:
    return [(s, min(s + rows, n_rows)) for s in range(0, n_rows, rows)]


def _csv_line_starts(path: Path, every: int) -> Tuple[int, List[int]]:
    """(number of data lines, byte offset of data lines 0, every, 2·every, ...).

    Lines are counted by newline bytes, so blank lines count as (empty) rows: the reader
    keeps them as rows without an id rather than shifting later partitions.
    """
    size = path.stat().st_size
    starts: List[int] = []
    n_lines = 0          # line starts seen, header included
    pos = 0
    block = 1 << 24
    with open(path, "rb") as fh:
        while pos < size:
            buf = fh.read(block)
            if not buf:
                break
            nl = np.flatnonzero(np.frombuffer(buf, np.uint8) == 10) + pos + 1
            if pos == 0:
                nl = np.concatenate([[0], nl])
            nl = nl[nl < size]                      # a start must be before end of file
            idx = np.arange(n_lines, n_lines + len(nl))   # line number of each start
            data = idx - 1                          # data-row number (header is line 0)
            sel = (data >= 0) & (data % every == 0)
            starts.extend(int(v) for v in nl[sel])
            n_lines += len(nl)
            pos += len(buf)
    return max(n_lines - 1, 0), starts


def plan_catalogue(path: Union[str, Path], partition_rows: Optional[int] = None) -> CataloguePlan:
    """Plan the partitions of a catalogue file (reads its header/metadata, not its rows).

    Parameters
    ----------
    path : path-like
        ``.parquet``, ``.fits`` (``.fits.gz``) or ``.csv``.
    partition_rows : int, optional
        Rows per partition (the unit of work, of resumption and of output files); default
        :func:`default_partition_rows` of the row count.

    Raises
    ------
    CatalogueError
        Missing or unreadable file, unknown format, no id column, no rows.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise CatalogueError(f"{path}: catalogue not found")
    if partition_rows is not None and int(partition_rows) < 1:
        raise CatalogueError(f"partition size must be at least 1 row, not {partition_rows}")
    fmt = _format(path)
    hdu, header, offsets = 1, (), None
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            names = pf.schema_arrow.names
            n_rows = int(pf.metadata.num_rows)
        elif fmt == "fits":
            from astropy.io import fits

            with fits.open(path, memmap=True) as hl:
                found = [(i, h) for i, h in enumerate(hl)
                         if isinstance(h, fits.BinTableHDU) and _pick(h.columns.names, ID_COLUMNS)]
                if not found:
                    tables = [h for h in hl if isinstance(h, fits.BinTableHDU)]
                    names = tables[0].columns.names if tables else []
                    n_rows = 0
                else:
                    hdu, h = found[0]
                    names = list(h.columns.names)
                    n_rows = int(h.header.get("NAXIS2", 0))
        else:
            with open(path, "r", newline="") as fh:
                first = fh.readline()
            names = list(pd.read_csv(io.StringIO(first), nrows=0).columns)
            header = tuple(str(c) for c in names)
            every = partition_rows
            if not every:                     # count the rows first (a fast byte scan)
                every = default_partition_rows(_csv_line_starts(path, 1 << 62)[0])
            n_rows, offsets = _csv_line_starts(path, int(every))
    except CatalogueError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CatalogueError(f"{path}: cannot read catalogue ({text[:200]})") from None
    idc, idname, rac, decc = _columns(path, names)
    if n_rows == 0:
        raise CatalogueError(f"{path}: the catalogue has no rows")
    rows = int(partition_rows) if partition_rows else default_partition_rows(n_rows)
    parts = tuple(Partition(i, s, e, offsets[i] if offsets is not None else -1)
                  for i, (s, e) in enumerate(_ranges(n_rows, rows)))
    return CataloguePlan(str(path), fmt, n_rows, str(idc), idname, rac, decc, _fingerprint(path),
                         parts, hdu, header)


def _ids(values) -> np.ndarray:
    """Catalogue ids as stripped strings; whole numbers without a decimal point; '' if missing."""
    out = []
    for v in values:
        if isinstance(v, bytes):
            v = v.decode("ascii", "replace")
        if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)):
            out.append("")
        elif isinstance(v, (int, np.integer)):
            out.append(str(int(v)))
        elif isinstance(v, (float, np.floating)):
            out.append(str(int(v)) if float(v).is_integer() else repr(float(v)))
        else:
            s = str(v).strip()
            out.append("" if s.lower() in ("nan", "none", "<na>") else s)
    return np.asarray(out, dtype=object)


def _coord(values, n) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce").to_numpy(float)


def read_partition(plan: CataloguePlan, part: Partition) -> pd.DataFrame:
    """Read one partition's rows (runs on a worker).

    Returns
    -------
    DataFrame with ``row`` (int64, 0-based row in the file), ``id`` (str, '' when missing),
    ``ra`` and ``dec`` (float64 degrees, NaN when absent), ``part.n_rows`` rows.

    Raises
    ------
    CatalogueError
        The file changed since it was planned (size/content) or cannot be read.
    """
    path = Path(plan.path)
    cols = plan.columns
    n = part.n_rows
    try:
        if plan.format == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            md = pf.metadata
            bounds = np.cumsum([0] + [md.row_group(i).num_rows for i in range(md.num_row_groups)])
            groups = [i for i in range(md.num_row_groups)
                      if bounds[i] < part.stop and bounds[i + 1] > part.start]
            pieces, pos = [], int(bounds[groups[0]]) if groups else 0
            for batch in pf.iter_batches(batch_size=65536, row_groups=groups, columns=cols):
                lo, hi = max(part.start - pos, 0), min(part.stop - pos, batch.num_rows)
                if hi > lo:
                    pieces.append(batch.slice(lo, hi - lo).to_pandas())
                pos += batch.num_rows
                if pos >= part.stop:
                    break
            df = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=cols)
            get = (lambda c: df[c].to_numpy() if c else None)
        elif plan.format == "fits":
            from astropy.io import fits

            with fits.open(path, memmap=True) as hl:
                data = hl[plan.hdu].data
                got = {c: np.array(data.field(c)[part.start:part.stop]) for c in cols}
            get = (lambda c: got[c] if c else None)
        else:
            with open(path, "rb") as fh:
                fh.seek(part.offset)
                df = pd.read_csv(fh, header=None, names=list(plan.header), usecols=cols, nrows=n,
                                 dtype={plan.id_column: str}, skip_blank_lines=False,
                                 keep_default_na=True, low_memory=False)
            get = (lambda c: df[c].to_numpy() if c else None)
        ids = get(plan.id_column)
    except Exception as exc:  # noqa: BLE001
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CatalogueError(f"{path}: cannot read rows {part.start}-{part.stop} ({text[:200]})") from None
    if ids is None or len(ids) != n:
        raise CatalogueError(f"{path}: rows {part.start}-{part.stop} gave {0 if ids is None else len(ids)} "
                             f"rows, not {n}; did the file change? (plan it again)")
    return pd.DataFrame({"row": np.arange(part.start, part.stop, dtype=np.int64), "id": _ids(ids),
                         "ra": _coord(get(plan.ra_column), n), "dec": _coord(get(plan.dec_column), n)})


def check_unchanged(plan: CataloguePlan) -> None:
    """Raise :class:`CatalogueError` if the file is not the one that was planned."""
    path = Path(plan.path)
    if not path.is_file() or _fingerprint(path) != plan.fingerprint:
        raise CatalogueError(f"{path}: the catalogue changed while it was being read")
