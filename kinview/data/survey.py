"""A survey directory: its catalogue, MAPS files and images, indexed in ``kinview.sqlite``.

Layout (SPEC §2)::

    SURVEY/
      catalogue.fits | catalogue.csv | catalogue.ecsv | drpall-*.fits
      **/manga-<plate>-<ifu>-MAPS-<DAPTYPE>.fits[.gz]     at any depth (the SAS tree as is)
      images/<plateifu>.jpg (or .jpeg, .png)
      kinview.sqlite

:meth:`Survey.ingest` walks the directory once (file names only, never opening a MAPS file),
pairs catalogue rows and files by plate-ifu and writes the ``galaxies`` table in one
transaction.  Everything else (GUI start-up, training, export) reads that table.

Paths stored in the table are relative to the survey root (POSIX separators), so a survey
directory can be moved or copied to another machine.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from kinview.data.catalogue import (catalogue_value, find_catalogue, find_dapall, join_dapall,
                                    read_catalogue, read_dapall)
from kinview.data.images import load_image
from kinview.data.maps import read_maps
from kinview.db import galaxies as db_galaxies
from kinview.db.connection import DB_NAME, check_integrity, connect, transaction
from kinview.errors import KinviewError, SurveyError
from kinview.progress import NULL_STATE, TaskState

#: ``manga-<plate>-<ifu>-MAPS-<DAPTYPE>.fits[.gz]``
MAPS_RE = re.compile(r"^manga-(\d+)-(\d+)-MAPS-([A-Za-z0-9_-]+?)\.fits(\.gz)?$")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
IMAGES_DIR = "images"

#: DAPTYPEs in order of preference when one galaxy has several MAPS files: hybrid binning
#: (stellar kinematics Voronoi-binned to S/N 10, gas per spaxel) over Voronoi over
#: per-spaxel, and within each binning DR17 (MaStar templates) over DR15 (MILES).
DAPTYPE_PREFERENCE = (
    "HYB10-MILESHC-MASTARSSP",
    "HYB10-MILESHC-MASTARHC2",
    "HYB10-GAU-MILESHC",
    "VOR10-MILESHC-MASTARSSP",
    "VOR10-MILESHC-MASTARHC2",
    "VOR10-GAU-MILESHC",
    "SPX-MILESHC-MASTARSSP",
    "SPX-MILESHC-MASTARHC2",
    "SPX-GAU-MILESHC",
)
_BINNING_RANK = {"HYB10": 0, "VOR10": 1, "SPX": 2}

#: Catalogue columns stored in named columns of ``galaxies`` (first present name wins).
COLUMN_SOURCES: Dict[str, Tuple[str, ...]] = {
    "ra": ("objra", "ra", "ifura"),
    "dec": ("objdec", "dec", "ifudec"),
    "ifusize": ("ifudesignsize",),
    "z": ("nsa_z", "z"),
    "re_arcsec": ("nsa_elpetro_th50_r", "re_arcsec"),   # re_arcsec, ba, phi: DRPComplete
    "ba": ("nsa_elpetro_ba", "ba"),
    "phi": ("nsa_elpetro_phi", "phi"),
    "sersic_n": ("nsa_sersic_n",),
    "mass": ("nsa_elpetro_mass",),
    "lambda_re": ("lambda_re",),
}
#: Values at or below this are drpall's "missing" sentinels (-999, -9999) and become NULL.
SENTINEL = -999.0

GALAXY_COLUMNS = ("plateifu", "mangaid", "ra", "dec", "ifusize", "z", "re_arcsec", "ba", "phi",
                  "sersic_n", "mass", "lambda_re", "maps_path", "daptype", "image_path",
                  "row_index", "extra")


def daptype_rank(daptype: str, preference: Sequence[str] = DAPTYPE_PREFERENCE) -> tuple:
    """Sort key: lower is preferred (see :data:`DAPTYPE_PREFERENCE`)."""
    upper = daptype.upper()
    if upper in preference:
        return (0, preference.index(upper), upper)
    binning = upper.split("-", 1)[0]
    return (1, _BINNING_RANK.get(binning, 9), upper)


def _plateifu_sort_key(pifu: str):
    plate, _, ifu = pifu.partition("-")
    if plate.isdigit() and ifu.isdigit():
        return (0, int(plate), int(ifu), "")
    return (1, 0, 0, pifu)


def scan_files(root: Union[str, Path], preference: Sequence[str] = DAPTYPE_PREFERENCE,
               state: TaskState = NULL_STATE) -> Tuple[Dict[str, Tuple[str, str]], Dict[str, str],
                                                       int]:
    """Find MAPS files (any depth) and images (``images/``) under ``root``.

    Returns
    -------
    maps : dict plateifu -> (relative path, DAPTYPE)
        The preferred MAPS file per galaxy (see :func:`daptype_rank`; ``.fits`` before
        ``.fits.gz`` for the same DAPTYPE).
    images : dict plateifu -> relative path
    n_maps_files : int
        How many MAPS files were seen in total (several per galaxy when several DAPTYPEs).
    """
    root = Path(root)
    root_s = os.fspath(root)
    best: Dict[str, Tuple[tuple, str, str]] = {}
    n_files = 0
    stack = [root_s]
    seen_dirs = set()
    while stack:
        state.check_cancelled()
        current = stack.pop()
        try:
            st = os.stat(current)  # follows symlinks: a linked SAS tree is searched too
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop or a second link
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        try:
            it = os.scandir(current)
        except OSError:
            continue
        with it:
            for entry in it:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if is_dir:
                    stack.append(entry.path)
                    continue
                if not name.startswith("manga-"):
                    continue
                m = MAPS_RE.match(name)
                if m is None:
                    continue
                n_files += 1
                pifu = f"{int(m.group(1))}-{int(m.group(2))}"
                daptype = m.group(3)
                key = (daptype_rank(daptype, preference), bool(m.group(4)), entry.path)
                old = best.get(pifu)
                if old is None or key < old[0]:
                    best[pifu] = (key, entry.path, daptype)
    prefix = os.path.join(root_s, "")

    def rel(path: str) -> str:
        out = path[len(prefix):] if path.startswith(prefix) else os.path.relpath(path, root_s)
        return out.replace(os.sep, "/") if os.sep != "/" else out

    maps = {p: (rel(path), daptype) for p, (_, path, daptype) in best.items()}
    images: Dict[str, str] = {}
    img_dir = root / IMAGES_DIR
    if img_dir.is_dir():
        rank = {s: i for i, s in enumerate(IMAGE_SUFFIXES)}
        with os.scandir(img_dir) as it:
            for entry in it:
                stem, dot, ext = entry.name.rpartition(".")
                ext = "." + ext.lower()
                if not dot or ext not in rank or entry.name.startswith("."):
                    continue
                old = images.get(stem)
                if old is None or rank[ext] < rank["." + old.rpartition(".")[2].lower()]:
                    images[stem] = f"{IMAGES_DIR}/{entry.name}"
    return maps, images, n_files


def _json_records(frame: pd.DataFrame) -> List[Optional[str]]:
    """One JSON object per row (NaN -> null), or None for rows when there are no columns."""
    if frame.shape[1] == 0:
        return [None] * len(frame)
    if len(frame) == 0:
        return []
    # One C-speed dump of all records, split between records.  Inside JSON strings every '"'
    # is escaped, so '},{"' only occurs between top-level records as long as no value is
    # itself an object; the count check falls back otherwise.
    text = frame.to_json(orient="records", double_precision=15, default_handler=str)
    lines = text[1:-1].split('},{"')
    if len(lines) == len(frame):
        if len(lines) > 1:
            lines = ([lines[0] + "}"] + ['{"' + line + "}" for line in lines[1:-1]]
                     + ['{"' + lines[-1]])
        return lines
    text = frame.to_json(orient="records", lines=True, double_precision=15,
                         default_handler=str)
    lines = text.splitlines()
    if len(lines) != len(frame):  # pragma: no cover - defensive
        return [json.dumps({k: _py(v) for k, v in row.items()}, default=str)
                for row in frame.to_dict(orient="records")]
    return lines


def _py(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class Survey:
    """One survey directory and its database.

    Create with :meth:`open`.  The object holds no open file or connection that cannot be
    used from another thread: :meth:`connect` opens a new connection for the calling thread,
    and the convenience readers use one connection per thread internally.

    Attributes
    ----------
    root : Path
        The survey directory.
    db_path : Path
        ``root / 'kinview.sqlite'``.
    """

    def __init__(self, root: Union[str, Path], daptype_preference: Sequence[str] = DAPTYPE_PREFERENCE):
        root = Path(root).expanduser()
        if not root.exists():
            raise SurveyError(f"{root}: no such survey directory")
        if not root.is_dir():
            raise SurveyError(f"{root}: not a directory")
        self.root = root.resolve()
        self.db_path = self.root / DB_NAME
        self.daptype_preference = tuple(d.upper() for d in daptype_preference)
        self._local = threading.local()

    # construction --------------------------------------------------------
    @classmethod
    def open(cls, root: Union[str, Path], ingest: bool = True,
             daptype_preference: Sequence[str] = DAPTYPE_PREFERENCE,
             state: TaskState = NULL_STATE) -> "Survey":
        """Open a survey directory, creating its database if needed.

        Parameters
        ----------
        root : path-like
            The survey directory.
        ingest : bool
            Index the directory (:meth:`ingest`) when the database has no galaxies yet.
        daptype_preference : sequence of str
            DAPTYPEs in order of preference when a galaxy has several MAPS files.

        Raises
        ------
        SurveyError
            The directory does not exist, or (with ``ingest``) it holds no catalogue, MAPS
            file or image.
        """
        survey = cls(root, daptype_preference)
        if ingest and survey.n_galaxies() == 0:
            survey.ingest(state=state)
        return survey

    def __repr__(self) -> str:
        return f"Survey({str(self.root)!r})"

    # database ------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """A new connection to the survey database, for the calling thread only."""
        if not self.db_path.exists() and not os.access(self.root, os.W_OK):
            raise SurveyError(f"{self.root}: directory is not writable; kinview needs to "
                              f"create {DB_NAME} there (copy or link the survey elsewhere)")
        return connect(self.db_path, readonly=None)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's internal connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def n_galaxies(self) -> int:
        return db_galaxies.count(self._conn())

    def meta(self) -> Dict[str, str]:
        """The survey's ``meta`` key/value pairs (ingest time, catalogue file, counts)."""
        return db_galaxies.meta(self._conn())

    # ingest --------------------------------------------------------------
    def scan(self, state: TaskState = NULL_STATE) -> pd.DataFrame:
        """Build the galaxies table in memory from the directory (no database write).

        Returns a DataFrame with the columns of the ``galaxies`` table (see
        :mod:`kinview.db.schema`), in catalogue order, then galaxies that have MAPS files
        or images but no catalogue row, in plate-ifu order.
        """
        cat_path = find_catalogue(self.root)
        cat = read_catalogue(cat_path) if cat_path is not None else pd.DataFrame(
            {"plateifu": pd.Series([], dtype=object)})
        maps, images, n_files = scan_files(self.root, self.daptype_preference, state)
        if cat_path is None and not maps and not images:
            raise SurveyError(empty_survey_message(self.root))
        dapall_path = find_dapall(self.root) if cat_path is not None else None
        if dapall_path is not None:
            cat = join_dapall(cat, read_dapall(dapall_path),
                              {p: d for p, (_, d) in maps.items()}, self.daptype_preference)
        known = set(cat["plateifu"])
        orphans = sorted((set(maps) | (set(images) if cat_path is None else set())) - known,
                         key=_plateifu_sort_key)
        n_cat = len(cat)
        pifus = list(cat["plateifu"]) + orphans
        out = pd.DataFrame({"plateifu": pd.Series(pifus, dtype=object)})
        mangaid = (cat["mangaid"].tolist() if "mangaid" in cat.columns else [None] * n_cat)
        out["mangaid"] = pd.Series(mangaid + [None] * len(orphans), dtype=object)
        pad = np.full(len(orphans), np.nan)
        used = {"plateifu", "mangaid"}
        for column, sources in COLUMN_SOURCES.items():
            values = catalogue_value(cat, *sources)
            values = np.where(values <= SENTINEL, np.nan, values)
            out[column] = np.concatenate([values, pad])
            used.update(next(([s] for s in sources if s in cat.columns), []))
        out["ifusize"] = np.round(out["ifusize"]).astype("Int64")
        out["maps_path"] = pd.Series([maps.get(p, (None, None))[0] for p in pifus], dtype=object)
        out["daptype"] = pd.Series([maps.get(p, (None, None))[1] for p in pifus], dtype=object)
        out["image_path"] = pd.Series([images.get(p) for p in pifus], dtype=object)
        out["row_index"] = np.arange(len(pifus), dtype=np.int64)
        extra_cols = [c for c in cat.columns if c not in used]
        out["extra"] = pd.Series(_json_records(cat[extra_cols]) + [None] * len(orphans),
                                 dtype=object)
        out.attrs.update(catalogue=cat_path.name if cat_path is not None else "",
                         dapall=dapall_path.name if dapall_path is not None else "",
                         n_catalogue=n_cat, n_maps_files=n_files)
        return out

    def ingest(self, state: TaskState = NULL_STATE) -> Dict[str, object]:
        """Index the directory into the ``galaxies`` table, in one transaction.

        Rows are written with ``INSERT OR REPLACE``; galaxies no longer found (neither in the
        catalogue nor on disk) are removed from the index.  Labels, PA fits, models and
        predictions are never touched.  The ingest time is recorded in ``meta``.

        Returns
        -------
        dict
            ``galaxies`` (rows written), ``catalogue`` (rows in the catalogue, and its file
            name as ``catalogue_file``), ``with_maps``, ``with_images``, ``maps_only`` (MAPS
            but no catalogue row), ``catalogue_only`` (no MAPS file), ``maps_files`` (MAPS
            files seen, all DAPTYPEs), ``removed`` and ``seconds``.
        """
        t0 = time.perf_counter()
        state.set_status("scanning survey directory")
        state.set_total(None)
        frame = self.scan(state)
        state.check_cancelled()
        rows = list(zip(*[_sql_values(frame[c]) for c in GALAXY_COLUMNS]))
        conn = self._conn()
        check_integrity(conn, self.db_path)   # never write into a damaged file
        state.set_status(f"writing {len(rows)} galaxies")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with transaction(conn):
            before = db_galaxies.plateifu_set(conn)
            gone = before - set(frame["plateifu"])
            if gone:
                db_galaxies.delete(conn, gone)
            db_galaxies.upsert(conn, GALAXY_COLUMNS, rows)
            seconds = time.perf_counter() - t0
            meta = {"ingest_time": now, "ingest_seconds": f"{seconds:.3f}",
                    "catalogue": frame.attrs["catalogue"], "n_galaxies": str(len(rows)),
                    "dapall": frame.attrs.get("dapall", ""),
                    "fingerprint": self._fingerprint()}
            db_galaxies.set_meta(conn, meta)
        state.set_progress(len(rows), len(rows))
        with_maps = int(frame["maps_path"].notna().sum())
        n_cat = int(frame.attrs["n_catalogue"])
        report = {
            "galaxies": len(rows),
            "catalogue": n_cat,
            "catalogue_file": frame.attrs["catalogue"],
            "dapall_file": frame.attrs.get("dapall", ""),
            "with_maps": with_maps,
            "with_images": int(frame["image_path"].notna().sum()),
            "maps_only": len(rows) - n_cat,
            "catalogue_only": int(frame["maps_path"].iloc[:n_cat].isna().sum()),
            "maps_files": int(frame.attrs["n_maps_files"]),
            "removed": len(gone),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        state.set_status(f"indexed {len(rows)} galaxies")
        return report

    def _fingerprint(self) -> str:
        """Cheap signature of what ingest reads: catalogue file and images folder (mtimes)."""
        parts = []
        cat = find_catalogue(self.root)
        for path in (cat, self.root / IMAGES_DIR):
            try:
                st = os.stat(path) if path is not None else None
            except OSError:
                st = None
            parts.append(f"{path.name if path else '-'}:{st.st_mtime_ns if st else 0}:"
                         f"{st.st_size if st and path is cat else 0}")
        return "|".join(parts)

    def is_stale(self) -> bool:
        """True when the catalogue or the images folder changed since the last ingest.

        Two ``stat`` calls, so the GUI can check at start-up.  MAPS files added deep in the
        tree are not detected: run ``kinview ingest`` after adding them.
        """
        meta = self.meta()
        return "ingest_time" not in meta or meta.get("fingerprint") != self._fingerprint()

    # reading -------------------------------------------------------------
    def galaxies(self, extra: bool = True) -> pd.DataFrame:
        """The ``galaxies`` table, index ``plateifu``, in catalogue order.

        ``maps_path`` and ``image_path`` are relative to :attr:`root` (missing = NA; use
        :meth:`maps_path` / :meth:`image_path` for absolute paths); ``extra`` is the JSON text
        of the other catalogue columns (see :meth:`extra`).

        Parameters
        ----------
        extra : bool
            Include the ``extra`` column.  ``False`` is faster on a large drpall catalogue
            (the JSON of ~150 columns per galaxy is not read): use it at GUI start-up.
        """
        conn = self._conn()
        columns = [c for c in GALAXY_COLUMNS if extra or c != "extra"]
        rows = db_galaxies.rows_in_order(conn, columns)
        frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)
        for name in ("ra", "dec", "z", "re_arcsec", "ba", "phi", "sersic_n", "mass",
                     "lambda_re"):
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        frame["ifusize"] = pd.to_numeric(frame["ifusize"], errors="coerce").astype("Int64")
        return frame.set_index("plateifu")

    def plateifus(self) -> List[str]:
        """Plate-ifus in catalogue order."""
        return db_galaxies.plateifus_in_order(self._conn())

    def _row(self, plateifu: str) -> sqlite3.Row:
        row = db_galaxies.row(self._conn(), plateifu)
        if row is None:
            raise KinviewError(f"{plateifu}: no such galaxy in survey {self.root}")
        return row

    def __contains__(self, plateifu: str) -> bool:
        return db_galaxies.exists(self._conn(), plateifu)

    def __len__(self) -> int:
        return self.n_galaxies()

    def info(self, plateifu: str) -> Dict[str, object]:
        """One galaxy's row as a dict (``extra`` decoded)."""
        row = dict(self._row(plateifu))
        row["extra"] = json.loads(row["extra"]) if row.get("extra") else {}
        return row

    def extra(self, plateifu: str) -> Dict[str, object]:
        """The catalogue columns of one galaxy not stored in named columns."""
        text = self._row(plateifu)["extra"]
        return json.loads(text) if text else {}

    def maps_path(self, plateifu: str) -> Optional[Path]:
        """Absolute path of the galaxy's MAPS file, or None when it has none."""
        rel = self._row(plateifu)["maps_path"]
        return self.root / rel if rel else None

    def image_path(self, plateifu: str) -> Optional[Path]:
        """Absolute path of the galaxy's colour image, or None when it has none."""
        rel = self._row(plateifu)["image_path"]
        return self.root / rel if rel else None

    def read_maps(self, plateifu: str):
        """Read the galaxy's MAPS file (:func:`kinview.data.maps.read_maps`).

        Raises
        ------
        KinviewError
            Unknown plate-ifu, or the galaxy has no MAPS file (the message says so).
        MapsFormatError
            The file is not a readable MAPS file.
        """
        path = self.maps_path(plateifu)
        if path is None:
            raise KinviewError(f"{plateifu}: no MAPS file found under {self.root} "
                               "(run 'kinview ingest' after adding it)")
        if not path.exists():
            raise KinviewError(f"{path}: MAPS file has disappeared (run 'kinview ingest "
                               f"{self.root}')")
        return read_maps(path)

    def read_image(self, plateifu: str) -> Optional[np.ndarray]:
        """The galaxy's colour image as uint8 (H, W, 3), North up, East left; None if none."""
        path = self.image_path(plateifu)
        if path is None or not path.exists():
            return None
        return load_image(path)

    def set_image_paths(self, paths: Dict[str, Optional[str]]) -> int:
        """Record image paths (relative to the root, or None) for some galaxies, atomically.

        Returns the number of rows updated.
        """
        conn = self._conn()
        with transaction(conn):
            n = db_galaxies.set_image_paths(conn, paths)
        return n


def _sql_values(series: pd.Series) -> Iterable:
    """Python values for sqlite3: NaN/NA -> None, numpy scalars -> Python scalars."""
    if series.dtype == object:
        return [None if (v is None or (isinstance(v, float) and v != v)) else v
                for v in series.tolist()]
    if str(series.dtype) == "Int64":
        return [None if v is pd.NA else int(v) for v in series.tolist()]
    values = series.to_numpy()
    if values.dtype.kind == "f":
        return [None if v != v else v for v in values.tolist()]
    return values.tolist()


def empty_survey_message(root: Union[str, Path]) -> str:
    """The one line said when ``root`` holds nothing kinview can index (ingest and the label
    commands alike)."""
    return (f"{root}: no catalogue (catalogue.fits, catalogue.csv, drpall-*.fits), MAPS file or "
            "image found")


def has_survey_content(root: Union[str, Path]) -> bool:
    """Whether ``root`` holds a catalogue, a MAPS file or an image (what ingest indexes)."""
    if find_catalogue(Path(root)) is not None:
        return True
    maps, images, _ = scan_files(Path(root), DAPTYPE_PREFERENCE)
    return bool(maps or images)
