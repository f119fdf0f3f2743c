"""The label store: an append-only log of expert labels in the survey database.

Every label is an *event* — a row of the ``labels`` table: who (``expert``), when (``created``,
ISO 8601 UTC), which galaxy (``plateifu``) and map (``field``: stellar, gas or galaxy), what
(``kind``: quality, feature, gas_note, note or pa_override) and the value (``value_num`` for
codes and PAs, ``value_text`` for notes), plus the model prediction and confidence that were on
screen when it was given.  Nothing is ever updated or deleted:

- the **current label** of an expert is the latest event per (plateifu, field, kind, expert);
  an event whose value is NULL means *cleared* (no current label);
- **undo** writes a new event (``source='undo'``, ``undoes`` = the undone event's id) that
  restores the value current before the undone event, or clears it.

Durability: :meth:`LabelStore.add` returns only after the event is committed; connections run
in WAL mode with ``synchronous=FULL``, so the commit is fsynced and an acknowledged label
survives ``kill -9`` or a power cut.  Concurrency: each thread that uses a store gets its own
SQLite connection (created on first use); writes are single short transactions and the busy
timeout is 30 s, so the labelling GUI, a training thread and an exporter work side by side
without "database is locked" errors.

Vocabularies (Duckworth et al. 2020, see :mod:`kinview.conventions`): quality 0 do not use,
1 messy, 2 clean; feature 0 none, 1 KDC, 2 warp, 3 merger/neighbour; gas_note 0 none,
1 depletion, 2 no clear rotation, 3 rotation but biased.  PA overrides are degrees East of
North to the receding side; values in [0, 360] are stored as given (the MPL-7 catalogue writes
some PAs as 360.0, which equals 0), any other finite value is wrapped into [0, 360).
"""
from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from kinview.conventions import FIELDS, KINDS, VOCABULARIES
from kinview.db import connect, transaction
from kinview.db.connection import prompt_write
from kinview.db import galaxies as db_galaxies
from kinview.db import import_batches
from kinview.db.import_batches import VISIBLE
from kinview.db import labels as db_labels
from kinview.db.labels import EVENT_COLUMNS, current_labels_sql  # noqa: F401  (their old home)
from kinview.errors import KinviewError, SurveyError
from kinview.labels.experts import default_expert, validate_expert
from kinview.db import connection
from kinview.labels.agreement import agreement
from kinview.labels.consensus import consensus_table, disagreements

#: Which fields each kind may be given for.
KIND_FIELDS = {
    "quality": ("stellar", "gas"),
    "feature": ("stellar", "gas"),
    "gas_note": ("gas",),
    "pa_override": ("stellar", "gas"),
    "note": ("stellar", "gas", "galaxy"),
}

#: Imports with more events than this are written in chunks of this many, visible all at
#: once when the last chunk is in (a labelling expert never waits for the whole import).
IMPORT_CHUNK_ROWS = 2000
#: Pause between two chunks, seconds: an interactive writer polling every 2 ms gets in.
IMPORT_PAUSE_S = 0.005

CURRENT_COLUMNS = ["plateifu", "field", "kind", "expert", "value", "text", "id", "created", "source",
                   "model_id", "model_value", "model_confidence"]


class LabelValueError(KinviewError):
    """A label cannot be stored: unknown galaxy, field, kind or a value outside its vocabulary."""


def utc_now() -> str:
    """Current time as ISO 8601 UTC with microseconds (the ``created`` column)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def normalize_value(field: str, kind: str, value, strict: bool = True):
    """Check one label and return ``(value_num, value_text)`` as stored.

    Parameters
    ----------
    field : {'stellar', 'gas', 'galaxy'}
    kind : {'quality', 'feature', 'gas_note', 'note', 'pa_override'}
    value : int, float, str or None
        A vocabulary code, a PA in degrees, a note text, or None (= clear the label).
    strict : bool
        Codes must be in their vocabulary.  With ``strict=False`` (catalogue import) any
        non-negative integer code is accepted, so that a catalogue is stored as it is.

    Raises
    ------
    LabelValueError
        For an unknown field or kind, a kind given for the wrong field, or a bad value.
    """
    if field not in FIELDS:
        raise LabelValueError(f"unknown field {field!r}; use one of {', '.join(FIELDS)}")
    if kind not in KINDS:
        raise LabelValueError(f"unknown label kind {kind!r}; use one of {', '.join(KINDS)}")
    if field not in KIND_FIELDS[kind]:
        raise LabelValueError(f"a {kind} label is for the {' or '.join(KIND_FIELDS[kind])} field, "
                              f"not {field!r}")
    if value is None:
        return None, None
    if kind == "note":
        text = str(value)
        return (None, text) if text.strip() else (None, None)
    if isinstance(value, (bool, np.bool_)) or isinstance(value, str):
        raise LabelValueError(f"{field} {kind}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LabelValueError(f"{field} {kind}: {value!r} is not a number") from None
    if not np.isfinite(number):
        if np.isnan(number):
            return None, None  # NaN = missing = cleared
        raise LabelValueError(f"{field} {kind}: {value!r} is not finite")
    if kind == "pa_override":
        if not 0.0 <= number <= 360.0:
            number = float(np.mod(number, 360.0))
        return number, None
    if number != int(number):
        raise LabelValueError(f"{field} {kind}: {value!r} is not an integer code")
    code = int(number)
    vocab = VOCABULARIES[kind]
    if (strict and code not in vocab) or code < 0:
        allowed = ", ".join(f"{k} {v}" for k, v in vocab.items())
        raise LabelValueError(f"{field} {kind}: {code} is not one of {allowed}")
    return float(code), None


def label_hash(df: pd.DataFrame) -> str:
    """A stable SHA-256 (hex) of a training label set.

    Hashes the rows of ``plateifu, field, quality`` (and ``expert`` when present) sorted, so
    the same labels give the same hash whatever their order; a model card stores it to say
    which labels a model was trained on.
    """
    cols = [c for c in ("plateifu", "field", "expert", "quality") if c in df.columns]
    if not {"plateifu", "field", "quality"} <= set(cols):
        raise ValueError("label_hash needs columns plateifu, field, quality")
    rows = sorted("\t".join(str(int(v)) if c == "quality" else str(v) for c, v in zip(cols, row))
                  for row in df[cols].itertuples(index=False, name=None))
    h = hashlib.sha256(("\t".join(cols) + "\n").encode())
    for line in rows:
        h.update(line.encode() + b"\n")
    return h.hexdigest()


def _resolve_db(where) -> Path:
    db_path = getattr(where, "db_path", None)
    path = Path(db_path if db_path is not None else where)
    if path.is_dir():
        path = path / "kinview.sqlite"
    return path



class LabelStore:
    """Append-only label log of one survey (no Qt; shared by the GUI, CLI and training).

    Parameters
    ----------
    survey : path-like or Survey
        The survey directory, its ``kinview.sqlite``, or any object with a ``db_path``.
    expert : str, optional
        Default expert for :meth:`add`, :meth:`undo_last`, ...; otherwise
        :func:`kinview.labels.experts.default_expert` (``$KINVIEW_EXPERT``, settings, login).

    Notes
    -----
    One store may be used from several threads: each thread gets its own SQLite connection.
    Close the store (or use it as a context manager) when done.
    """

    def __init__(self, survey: Union[str, Path, object], expert: Optional[str] = None):
        self.path = _resolve_db(survey)
        if not self.path.parent.is_dir():
            raise SurveyError(f"{self.path.parent}: no such survey directory")
        self.expert = default_expert(expert)
        self._local = threading.local()
        self._state_lock = threading.Lock()
        self._state = _QualityState()
        self.conn  # open (create, migrate) now so errors surface here

    # connections -----------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
        return conn

    @property
    def visible(self) -> str:
        """SQL condition: the event is visible (not part of an import still being written).
        ``"1"`` on a read-only database older than schema version 4 (no import batches)."""
        vis = getattr(self, "_visible", None)
        if vis is None:
            vis = self._visible = VISIBLE if db_labels.has_batch_column(self.conn) else "1"
        return vis

    def n_events(self, expert: Optional[str] = None) -> int:
        """Number of visible label events (of one expert, or all)."""
        return db_labels.count_events(self.conn, self.visible, expert)

    def close(self) -> None:
        """Close this thread's connection (another thread's connection is closed when that thread
        ends and its thread-local storage is released)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> "LabelStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _expert(self, expert: Optional[str]) -> str:
        return self.expert if expert is None else validate_expert(expert)

    # galaxies --------------------------------------------------------------
    def plateifus(self) -> List[str]:
        """Plate-ifus of the survey's galaxies table, in catalogue order."""
        return db_galaxies.plateifus_by_rowid(self.conn)

    def known(self, plateifus: Iterable[str]) -> set:
        """The subset of ``plateifus`` listed in the survey's galaxies table."""
        have = db_galaxies.plateifu_set(self.conn)
        return {p for p in plateifus if p in have}

    def _rows(self, sql: str, args=()) -> list:
        """Run a query on this thread's connection and return plain tuples (fast)."""
        return db_labels.plain_rows(self.conn, sql, args)

    def _check_galaxy(self, plateifu: str) -> None:
        if not db_galaxies.exists(self.conn, plateifu):
            raise LabelValueError(f"{plateifu}: not a galaxy of this survey ({self.path})")

    # writing ---------------------------------------------------------------
    def add(self, plateifu: str, field: str, kind: str, value, expert: Optional[str] = None, *,
            source: str = "gui", model_id: Optional[int] = None, model_value: Optional[float] = None,
            model_confidence: Optional[float] = None) -> int:
        """Append one label event; return its id once it is committed and fsynced.

        Parameters
        ----------
        plateifu : str
            A galaxy of the survey (e.g. ``"8485-1901"``).
        field : {'stellar', 'gas', 'galaxy'}
        kind : {'quality', 'feature', 'gas_note', 'note', 'pa_override'}
        value : int, float, str or None
            Vocabulary code, PA (degrees E of N to the receding side), note text, or None to
            clear the label.
        expert : str, optional
            Defaults to the store's expert.
        source : str
            ``gui``, ``cli``, ``import:<file>``, ...
        model_id, model_value, model_confidence : optional
            The model prediction (and its confidence in [0, 1]) shown when the label was given.

        Returns
        -------
        int
            The event id (use it to cite or undo the label).

        Raises
        ------
        LabelValueError
            Unknown galaxy, field or kind, or a value outside its vocabulary.
        """
        num, text = normalize_value(field, kind, value)
        who = self._expert(expert)
        self._check_galaxy(plateifu)
        with prompt_write(self.conn):   # gets in between two chunks of a running import
            new_id = db_labels.insert_event(
                self.conn, (plateifu, field, kind, num, text, who, utc_now(), source, model_id,
                            _opt_float(model_value), _opt_float(model_confidence)))
        return new_id  # committed (and fsynced) when the block ends

    def clear(self, plateifu: str, field: str, kind: str, expert: Optional[str] = None, *,
              source: str = "gui") -> int:
        """Clear a label (append an event with no value); return the event id."""
        return self.add(plateifu, field, kind, None, expert, source=source)

    def add_many(self, events: Sequence[dict], *, source: str = "cli", strict: bool = True) -> List[int]:
        """Append many events, all or nothing; return their ids.

        Up to :data:`IMPORT_CHUNK_ROWS` events are one transaction; more are written in chunks
        that readers see all at once when the last is in (:meth:`_add_batched`).

        Each event is a dict with ``plateifu, field, kind, value`` and optionally ``expert``,
        ``source``, ``model_id``, ``model_value``, ``model_confidence``.  Every event is checked
        before anything is written.
        """
        rows = []
        now = utc_now()
        known = self.known({e["plateifu"] for e in events})
        for e in events:
            if e["plateifu"] not in known:
                raise LabelValueError(f"{e['plateifu']}: not a galaxy of this survey ({self.path})")
            num, text = normalize_value(e["field"], e["kind"], e.get("value"), strict=strict)
            rows.append((e["plateifu"], e["field"], e["kind"], num, text,
                         self._expert(e.get("expert")), now, e.get("source", source),
                         e.get("model_id"), _opt_float(e.get("model_value")),
                         _opt_float(e.get("model_confidence"))))
        if not rows:
            return []
        if len(rows) > IMPORT_CHUNK_ROWS:
            return self._add_batched(rows, source)
        with transaction(self.conn):
            ids = db_labels.insert_events(self.conn, rows)
        return ids

    def _add_batched(self, rows: List[tuple], source: str) -> List[int]:
        """Write many rows in chunks of :data:`IMPORT_CHUNK_ROWS`, visible all at once.

        Other writers (the labelling GUI) wait at most one chunk; readers see none of the rows
        until the last, tiny commit (:mod:`kinview.db.import_batches`).  On any failure or
        interruption the batch is discarded (or swept by the next import if this process
        is killed).
        """
        conn = self.conn
        import_batches.sweep(conn)
        batch = import_batches.begin(conn, source, rows[0][5], connection.COMMAND)
        ids: List[int] = []
        try:
            for k in range(0, len(rows), IMPORT_CHUNK_ROWS):
                ids.extend(import_batches.insert_chunk(conn, batch, rows[k:k + IMPORT_CHUNK_ROWS]))
                time.sleep(IMPORT_PAUSE_S)
            import_batches.finish(conn, batch)
        except BaseException:
            try:
                import_batches.discard(conn, batch)
            except Exception:  # noqa: BLE001 - the next import sweeps it
                pass
            raise
        return ids

    def undo_last(self, expert: Optional[str] = None) -> Optional[dict]:
        """Undo the expert's latest label that is not undone yet (GUI and CLI labels only).

        Appends an event (``source='undo'``, ``undoes`` = the undone id) that restores the
        value the label had before the undone event, or clears it.  Calling it again undoes
        the label before that, and so on.  Imported labels are not undone this way.

        Returns
        -------
        dict or None
            ``{"id", "undoes", "plateifu", "field", "kind", "value"}`` (``value`` as restored:
            int code, float PA or str note; None when cleared), or None when there is nothing
            to undo.
        """
        who = self._expert(expert)
        conn = self.conn
        with transaction(conn):
            undone = db_labels.undone_ids(conn, who, self.visible)
            target = None
            for row in db_labels.undoable(conn, who, self.visible):
                if row["id"] not in undone:
                    target = row
                    break
            if target is None:
                return None
            prev = db_labels.value_before(conn, target["plateifu"], target["field"], target["kind"],
                                          who, target["id"], self.visible)
            num, text = (prev["value_num"], prev["value_text"]) if prev is not None else (None, None)
            new_id = db_labels.insert_undo(conn, target["plateifu"], target["field"], target["kind"],
                                           num, text, who, utc_now(), target["id"])
        if target["kind"] == "note":
            value = text
        elif num is not None and target["kind"] in VOCABULARIES:
            value = int(num)
        else:
            value = num
        return {"id": new_id, "undoes": int(target["id"]), "plateifu": target["plateifu"],
                "field": target["field"], "kind": target["kind"], "value": value}

    # reading ---------------------------------------------------------------
    def events(self, plateifu: Optional[str] = None, expert: Optional[str] = None) -> pd.DataFrame:
        """The raw label log (oldest first), optionally for one galaxy and/or expert."""
        where, args = [self.visible], []
        if plateifu is not None:
            where.append("plateifu = ?")
            args.append(plateifu)
        if expert is not None:
            where.append("expert = ?")
            args.append(expert)
        return pd.DataFrame(db_labels.events(self.conn, where, args), columns=EVENT_COLUMNS)

    def current(self, expert: Optional[str] = None, kinds: Optional[Iterable[str]] = None,
                plateifu: Optional[str] = None) -> pd.DataFrame:
        """Current labels: the latest non-cleared event per (plateifu, field, kind, expert).

        Parameters
        ----------
        expert : str, optional
            Only this expert (default: every expert).
        kinds : iterable of str, optional
            Only these kinds.
        plateifu : str, optional
            Only this galaxy.

        Returns
        -------
        DataFrame
            ``plateifu, field, kind, expert, value`` (float code or PA; NaN for notes),
            ``text`` (notes), ``id, created, source, model_id, model_value, model_confidence``.
        """
        where, args = [], []
        if expert is not None:
            where.append("expert = ?")
            args.append(expert)
        if plateifu is not None:
            where.append("plateifu = ?")
            args.append(plateifu)
        if kinds is not None:
            kinds = list(kinds)
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        df = pd.DataFrame(self._rows(current_labels_sql(where, self.visible), args),
                          columns=CURRENT_COLUMNS)
        df["value"] = df["value"].astype("float64")
        return df

    def current_for(self, plateifu: str, expert: Optional[str] = None) -> Dict[str, dict]:
        """The expert's current labels of one galaxy, for the GUI.

        Returns
        -------
        dict
            ``{"stellar": {kind: value}, "gas": {...}, "galaxy": {...}}`` holding only the
            labels that are set: codes as int, PAs as float (degrees), notes as str.
        """
        out: Dict[str, dict] = {f: {} for f in FIELDS}
        for r in self.current(self._expert(expert), plateifu=plateifu).itertuples(index=False):
            if r.kind == "note":
                out[r.field][r.kind] = r.text
            elif r.kind == "pa_override":
                out[r.field][r.kind] = float(r.value)
            else:
                out[r.field][r.kind] = int(r.value)
        return out

    def experts(self) -> List[str]:
        """Names of every expert with at least one label event, sorted."""
        return db_labels.experts(self.conn, self.visible)

    def consensus(self) -> pd.DataFrame:
        """Majority labels of all experts (see :func:`kinview.labels.consensus.consensus_table`),
        with an adjudicator's final label in place of the majority where one was recorded
        (column ``adjudicator``; see :mod:`kinview.labels.adjudication`)."""
        from kinview.labels.adjudication import apply_final, final_labels

        return apply_final(consensus_table(self.current()), final_labels(self))

    def disagreements(self) -> pd.DataFrame:
        """Galaxies where experts disagree (see :func:`kinview.labels.consensus.disagreements`)."""
        return disagreements(self.current())

    def agreement(self, field: str = "stellar", kind: str = "quality") -> dict:
        """Cohen's (two experts) or Fleiss' (more) κ on one label; see
        :func:`kinview.labels.agreement.agreement`."""
        cats = sorted(VOCABULARIES[kind]) if kind in VOCABULARIES else None
        current = self.current(kinds=[kind])
        if cats is not None:
            current = current[current["value"].isin(cats)]
        return agreement(current, field, kind, cats)

    def label_state(self, expert: Optional[str] = None) -> pd.DataFrame:
        """Label state of every galaxy, for the galaxy list.

        The first call reads every quality event once (one query); later calls read only the
        events added since (by any connection or process) and update the affected galaxies, so
        a refresh costs a few milliseconds even for 10,000 galaxies.

        Returns
        -------
        DataFrame
            Indexed by plateifu in catalogue order: ``stellar_quality``, ``gas_quality`` (the
            expert's current quality, NaN if none), ``stellar_mine``, ``gas_mine`` (bool: the
            expert labelled that field's quality), ``n_experts`` (experts with a current quality
            label on the galaxy) and ``disagree`` (bool: the experts' current qualities of one
            field differ).
        """
        who = self._expert(expert)
        with self._state_lock:
            return self._state.refresh(self.conn, self.visible).frame(who)

    # training ----------------------------------------------------------------
    def training_labels(self, source: str = "consensus") -> pd.DataFrame:
        """Quality labels to train on.

        Parameters
        ----------
        source : str
            ``"expert:NAME"`` (that expert's current labels), ``"consensus"`` (majority of all
            experts or the adjudicator's final label; tied fields without one are left out) or ``"all"`` (every expert's current labels, one
            row per expert).

        Returns
        -------
        DataFrame
            ``plateifu, field`` ('stellar' or 'gas'), ``quality`` (int 0, 1, 2) and ``expert``
            (the name, ``"consensus"``), sorted by plateifu, field, expert.  Codes outside the
            vocabulary (possible in imported catalogues) are left out.
        """
        cols = ["plateifu", "field", "quality", "expert"]
        if source == "consensus":
            cons = self.consensus()
            sel = cons[(cons["kind"] == "quality") & ~cons["tie"] & cons["value"].notna()]
            df = pd.DataFrame({"plateifu": sel["plateifu"], "field": sel["field"],
                               "quality": sel["value"], "expert": "consensus"})
        elif source == "all" or source.startswith("expert:"):
            who = None if source == "all" else validate_expert(source.split(":", 1)[1])
            cur = self.current(who, kinds=["quality"])
            df = pd.DataFrame({"plateifu": cur["plateifu"], "field": cur["field"],
                               "quality": cur["value"], "expert": cur["expert"]})
        else:
            raise KinviewError(f"label source {source!r}: use 'expert:NAME', 'consensus' or 'all'")
        df = df[df["field"].isin(["stellar", "gas"]) & df["quality"].isin(list(VOCABULARIES["quality"]))]
        df = df.astype({"quality": "int64"})[cols]
        return df.sort_values(["plateifu", "field", "expert"], kind="stable").reset_index(drop=True)

    def label_hash(self, source: str = "consensus") -> str:
        """:func:`label_hash` of :meth:`training_labels` for ``source``."""
        return label_hash(self.training_labels(source))

    # summaries ---------------------------------------------------------------
    def counts(self) -> pd.DataFrame:
        """Current labels per expert, field, kind and value (columns ``expert, field, kind,
        value, n``)."""
        cur = self.current()
        cur = cur[cur["kind"] != "note"]
        if len(cur) == 0:
            return pd.DataFrame(columns=["expert", "field", "kind", "value", "n"])
        cur = cur.assign(value=np.where(cur["kind"] == "pa_override", np.nan, cur["value"]))
        return (cur.groupby(["expert", "field", "kind", "value"], dropna=False).size()
                .rename("n").reset_index())


class _QualityState:
    """Current quality labels of every galaxy, kept up to date incrementally.

    ``values[i, f, e]`` is expert ``e``'s current quality of field ``f`` (0 stellar, 1 gas) of
    galaxy ``i`` (NaN: none).  :meth:`refresh` reads only the events added since the last call
    (ids only grow), so the galaxy list can refresh after every label.
    """

    FIELDS = ("stellar", "gas")

    def __init__(self):
        self.last_id = 0
        self.galaxy_key = None
        self.index = pd.Index([], dtype=object, name="plateifu")
        self.pos: Dict[str, int] = {}
        self.experts: Dict[str, int] = {}
        self.values = np.full((0, 2, 0), np.nan)
        self.n_experts = np.zeros(0, dtype=np.int64)
        self.disagree = np.zeros(0, dtype=bool)

    def _reset(self, conn, key) -> None:
        rows = [(p,) for p in db_galaxies.plateifus_by_rowid(conn)]
        self.__init__()
        self.galaxy_key = key
        self.index = pd.Index([r[0] for r in rows], dtype=object, name="plateifu")
        self.pos = {p: i for i, p in enumerate(self.index)}
        self.values = np.full((len(rows), 2, 0), np.nan)
        self.n_experts = np.zeros(len(rows), dtype=np.int64)
        self.disagree = np.zeros(len(rows), dtype=bool)

    def _expert_codes(self, names) -> np.ndarray:
        new = [n for n in dict.fromkeys(names) if n not in self.experts]
        for n in new:
            self.experts[n] = len(self.experts)
        if new:
            grow = np.full(self.values.shape[:2] + (len(new),), np.nan)
            self.values = np.concatenate([self.values, grow], axis=2)
        return np.array([self.experts[n] for n in names], dtype=np.int64)

    def refresh(self, conn, visible: str = VISIBLE) -> "_QualityState":
        key = db_galaxies.change_key(conn)
        if visible != "1":   # an import that became visible brings events with older ids
            key += import_batches.state_key(conn)
        if key != self.galaxy_key:
            self._reset(conn, key)
        rows = db_labels.quality_events_after(conn, self.last_id, visible)
        if not rows:
            return self
        self.last_id = max(self.last_id, rows[-1][0])
        latest = {}
        for _, pifu, fld, who, value in rows:  # ordered by id: the last event per key wins
            latest[(pifu, fld, who)] = value
        pos = self.pos
        keep = [(pos[p], self.FIELDS.index(f), w, v) for (p, f, w), v in latest.items()
                if p in pos and f in self.FIELDS]
        if not keep:
            return self
        gal = np.array([k[0] for k in keep], dtype=np.int64)
        fld = np.array([k[1] for k in keep], dtype=np.int64)
        exp = self._expert_codes([k[2] for k in keep])
        self.values[gal, fld, exp] = np.array([np.nan if k[3] is None else k[3] for k in keep], float)
        changed = np.unique(gal)
        v = self.values[changed]
        has = ~np.isnan(v)
        self.n_experts[changed] = has.any(axis=1).sum(axis=1)
        lo = np.where(has, v, np.inf).min(axis=2, initial=np.inf)
        hi = np.where(has, v, -np.inf).max(axis=2, initial=-np.inf)
        self.disagree[changed] = (hi > lo).any(axis=1)
        return self

    def frame(self, who: str) -> pd.DataFrame:
        if who in self.experts:
            mine = self.values[:, :, self.experts[who]]
        else:
            mine = np.full((len(self.index), 2), np.nan)
        return pd.DataFrame({"stellar_quality": mine[:, 0].copy(), "gas_quality": mine[:, 1].copy(),
                             "stellar_mine": ~np.isnan(mine[:, 0]), "gas_mine": ~np.isnan(mine[:, 1]),
                             "n_experts": self.n_experts.copy(), "disagree": self.disagree.copy()},
                            index=self.index)


def _opt_float(x) -> Optional[float]:
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None
