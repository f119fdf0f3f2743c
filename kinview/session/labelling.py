"""The labelling session: the one model the classification window talks to (no Qt here).

A :class:`LabellingSession` holds what an expert's labelling session is made of — the galaxy
table, the current galaxy (through its :class:`~kinview.viewstate.ViewState`), the expert and
their labels, which galaxies have no gas, the undo stack, the filter and sort, the session's
count and the active model — and offers the operations: go to / next / previous / next
unlabelled, label, undo, filter, sort, switch expert, re-read the PA fits and the predictions.

It is evented: :meth:`LabellingSession.subscribe` registers ``fn(name, value)``, called after a
change from the thread that made it (the GUI changes the session on its own thread only).
Events:

=============== ================================================================================
``order``       the listed galaxies changed (list of plate-ifus, display order)
``index``       the current position changed (int; ``session.current`` is the galaxy)
``filter``      the filter or sort changed: ``(filter_name, k)``; ``order`` follows
``table``       a galaxy table was attached (the table)
``row``         one galaxy's values changed (plate-ifu): labels, a PA, no gas found
``labelled``    a label was committed: ``(plateifu, field, kind, value)``
``undone``      a label was undone: ``(plateifu, field, kind, value now)``
``counts``      the labelled count changed: :meth:`LabellingSession.counts`
``expert``      the expert was switched (name)
``no_gas``      a galaxy turned out to have no valid gas spaxels (plate-ifu)
``pa_fits``     stored PA fits were re-read into the table (None)
``predictions`` the active model's predictions were re-read (model id or None)
``message``     something to tell the user: ``(text, milliseconds to show it)``
``adjudicating`` the expert started (True) or stopped (False) adjudicating; ``counts`` follows
``clip_percentile``, ``toggles.<name>``  view settings (:meth:`kinview.viewstate.ViewState.set`)
=============== ================================================================================

Blind mode (the ``blind`` toggle, on by default): other experts' labels of a galaxy stay hidden
until this expert has labelled it — the ``n_experts`` column counts this expert alone and the
"Experts disagree" filter passes only galaxies this expert has labelled.  Who may see what is
one rule, :mod:`kinview.labels.visibility`; :meth:`LabellingSession.may_see_others` and
:meth:`LabellingSession.revealed_galaxies` apply it to this session.

Adjudicating (:meth:`LabellingSession.set_adjudicating`, the adjudication queue is open): the
expert settles disagreements and is not a rater meanwhile — :meth:`~LabellingSession.label` and
:meth:`~LabellingSession.undo` refuse (with a message), every rater's labels may be seen
(unless the adjudicator is a rater too: then blind mode holds, :attr:`~LabellingSession.is_rater`), and
:meth:`~LabellingSession.counts` reports the adjudication's progress (``adjudicated`` of
``disagreements``) instead of the labelling count.  Switching expert ends adjudicating: the
new expert starts blind, labelling.

Labelling rules (:mod:`kinview.labels.workflow`): a quality label that completes a galaxy
advances to the next unlabelled one (a correction stays); a galaxy whose gas map has no valid
spaxels is labelled by its stellar quality alone, with gas quality 0 and the note "no gas"
recorded first.  Every label is committed and fsynced by the label store before
:meth:`LabellingSession.label` returns.

Conventions: PAs in degrees East of North to the receding side, [0, 360); quality 0/1/2.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set

import numpy as np

from kinview import viewstate as vs
from kinview.data.survey import Survey
from kinview.db.connection import connect, db_path
from kinview.labels.experts import validate_expert
from kinview.labels import visibility
from kinview.labels.adjudication import queue_counts
from kinview.labels.store import LabelStore
from kinview.labels.workflow import has_valid_spaxels, implied_labels, labels_by_galaxy, should_advance
from kinview.session.loading import load_galaxy

Observer = Callable[[str, object], None]


def load_table_job(survey_dir: str, expert: str, blind: bool = False, state=None):
    """Open (ingesting if needed) the survey and read its galaxy table and ``expert``'s labels
    (:func:`kinview.viewstate.load_table`, ``blind`` mode or not); run in a worker thread by
    the GUI."""
    survey = Survey.open(survey_dir, ingest=True)
    conn = survey.connect()
    try:
        table, mine = vs.load_table(conn, expert, blind=blind)
    finally:
        conn.close()
        survey.close()
    return table, mine


def prediction_table_job(survey_dir: str, expert: str, state=None):
    """The galaxy table's prediction columns read afresh (worker;
    :func:`kinview.viewstate.prediction_table`): what :meth:`LabellingSession.apply_predictions`
    takes.  ``expert`` is not needed (predictions are nobody's) and kept for the callers."""
    conn = connect(survey_dir)
    try:
        return vs.prediction_table(conn)
    finally:
        conn.close()


#: Prediction columns of the galaxy table (re-read when the active model changes).
PREDICTION_COLUMNS = ("pred_stellar", "conf_stellar", "pred_gas", "conf_gas", "model_id")


class LabellingSession:
    """One expert labelling one survey.

    Parameters
    ----------
    survey_dir : path-like
        The survey directory (its ``kinview.sqlite`` holds the labels).
    expert : str
        Whose labels are read and written.
    state : kinview.viewstate.ViewState, optional
        The view state to drive (a new one by default); the session forwards its events.

    Attributes
    ----------
    state : ViewState
        Listed galaxies, position, filter, sort, colour clip, toggles.
    table : pandas.DataFrame or None
        The galaxy table (:func:`kinview.viewstate.load_table`), None until attached.
    mine : dict
        ``{plateifu: {(field, kind): value}}``: this expert's current labels.
    no_gas : set of str
        Galaxies whose gas map has no valid spaxels (found when their maps were loaded).
    store : kinview.labels.LabelStore or None
    model_id : int or None
        The active field-quality model whose predictions fill the table.
    undo_stack : list
        ``(plateifu, field, kind, previous value, event id)`` of this session's labels.
    session_done : list of float
        Unix times at which galaxies became labelled in this session.
    n_labelled : int
        Galaxies of the table this expert has labelled.
    """

    def __init__(self, survey_dir, expert: str = "expert", state: Optional[vs.ViewState] = None):
        self.survey_dir = Path(survey_dir).expanduser().resolve()
        self.state = state if state is not None else vs.ViewState(
            survey_dir=str(self.survey_dir), expert=expert)
        self.state.expert = expert
        self.state.toggles.setdefault("blind", True)
        self.table = None
        self.mine: Dict[str, dict] = {}
        self.no_gas: Set[str] = set()
        self.gas_seen: Set[str] = set()
        self.store = None
        self.model_id: Optional[int] = None
        self.undo_stack: list = []
        self.session_done: List[float] = []
        self.session_start = time.time()
        self.n_labelled = 0
        #: the expert is adjudicating (the adjudication queue is open)
        self.adjudicating = False
        #: the adjudication queue's counts (:func:`kinview.labels.adjudication.queue_counts`)
        self.adjudication_counts: Optional[dict] = None
        self._observers: List[Observer] = []
        self.state.subscribe(self._state_changed)

    # events ----------------------------------------------------------------------------------
    def subscribe(self, fn: Observer) -> Callable[[], None]:
        """Call ``fn(name, value)`` after every change (the events in the module docstring);
        returns an unsubscribe function."""
        self._observers.append(fn)
        return lambda: self._observers.remove(fn) if fn in self._observers else None

    def _emit(self, name: str, value=None) -> None:
        for fn in list(self._observers):
            fn(name, value)

    def _message(self, text: str, ms: int = 3000) -> None:
        self._emit("message", (text, ms))

    def _state_changed(self, name: str, value) -> None:
        if name == "toggles.blind" and self.table is not None:
            self._derive()
            self.set_filter(self.state.filter_name, self.state.filter_k)
        self._emit(name, value)

    # opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, survey_dir, expert: str = "expert", keep: Optional[str] = None,
             **state_kw) -> "LabellingSession":
        """Open a survey in this thread (tests, benchmarks, scripts): read the table and go to
        ``keep`` (or the first listed galaxy).  ``state_kw`` sets ViewState attributes first."""
        session = cls(survey_dir, expert)
        for name, value in state_kw.items():
            setattr(session.state, name, value)
        table, mine = load_table_job(str(session.survey_dir), expert, session.blind)
        session.attach(table, mine, table_expert=expert, keep=keep)
        return session

    def attach(self, table, mine: Dict[str, dict], table_expert: Optional[str] = None,
               keep: Optional[str] = None) -> None:
        """Take a galaxy table read for ``table_expert`` (in a worker, say), open the label
        store, list the galaxies passing the filter (all of them if none does) and go to
        ``keep`` if it is in the table.  Emits ``table``, ``counts``, ``filter``, ``order`` and
        ``index``."""

        self.table = table
        self.mine = mine
        mid = table["model_id"].iloc[0] if len(table) and "model_id" in table.columns else np.nan
        self.model_id = int(mid) if np.isfinite(mid) else None
        if self.store is None:
            self.store = LabelStore(self.survey_dir, expert=self.expert)
        if table_expert is not None and table_expert != self.expert:
            # the expert was switched (the first-run prompt) while the table was loading
            self.mine = labels_by_galaxy(self.store.current(self.expert))
            self._derive()
        elif table.attrs.get("blind") != self.hides_others or self.no_gas:
            self._derive()
        self._emit("table", table)
        self.count_labelled()
        st = self.state
        order = vs.ordered_rows(table, st.filter_name, st.filter_k, st.sort_key, st.descending)
        if not order:
            order = list(table.index)
            st.filter_name, st.filter_k = "all", None
        self._emit("filter", (st.filter_name, st.filter_k))
        st.set_order(order, keep=keep if keep is not None and keep in table.index else None)

    def close(self) -> None:
        """Close the label store."""
        if self.store is not None:
            try:
                self.store.close()
            except Exception:  # noqa: BLE001 - closing on the way out
                pass

    # what is known ---------------------------------------------------------------------------
    @property
    def expert(self) -> str:
        return self.state.expert

    @property
    def current(self) -> Optional[str]:
        """Plate-ifu of the current galaxy, or None."""
        return self.state.current

    @property
    def blind(self) -> bool:
        return bool(self.state.toggles.get("blind", True))

    @property
    def is_rater(self) -> bool:
        """Whether this expert has labelled galaxies of the survey (given any quality):
        then adjudicating does not lift blind mode (:mod:`kinview.labels.visibility`)."""
        return visibility.is_rater(self.mine)

    @property
    def hides_others(self) -> bool:
        """Whether other raters' labels are hidden until this expert has labelled a galaxy:
        blind mode on, unless adjudicating as a non-rater
        (:func:`kinview.labels.visibility.hides_others`)."""
        return visibility.hides_others(self.blind, self.adjudicating, self.is_rater)

    def may_see_others(self, plateifu: str) -> bool:
        """May this expert see the other raters' labels of ``plateifu`` now?
        (:func:`kinview.labels.visibility.may_see_others`)"""
        return visibility.may_see_others(self.mine.get(plateifu, {}), plateifu not in self.no_gas,
                                         self.blind, self.adjudicating, self.is_rater)

    def revealed_galaxies(self) -> Optional[Set[str]]:
        """The galaxies whose other raters' labels this expert may see now, or None when
        nothing is hidden (blind mode off, or adjudicating): what views of per-galaxy labels
        filter with (:func:`kinview.labels.visibility.visible_label_rows`)."""
        pifus = list(self.table.index) if self.table is not None else list(self.mine)
        return visibility.revealed_set(pifus, lambda p: self.mine.get(p, {}),
                                       lambda p: p not in self.no_gas, self.blind, self.adjudicating,
                                       self.is_rater)

    def row(self, plateifu: Optional[str]) -> dict:
        """The table row of ``plateifu`` as a dict (safe to hand to a worker), with
        ``_position`` ("i / n" in the list) for the current galaxy."""
        if self.table is None or plateifu is None or plateifu not in self.table.index:
            return {}
        r = self.table.loc[plateifu].to_dict()
        r.pop("quals", None)
        if plateifu == self.current:
            r["_position"] = f"{self.state.index + 1} / {len(self.state.order)}"
        return r

    def labels(self, plateifu: Optional[str]) -> dict:
        """This expert's current labels of ``plateifu`` ({(field, kind): value})."""
        return self.mine.get(plateifu, {}) if plateifu else {}

    def has_gas(self, plateifu: str) -> Optional[bool]:
        """False when the galaxy's gas map has no valid spaxels, True when it has some, None
        while its maps have not been loaded yet."""
        if plateifu in self.no_gas:
            return False
        return True if plateifu in self.gas_seen else None

    def is_labelled(self, plateifu: str) -> bool:
        return visibility.has_labelled(self.mine.get(plateifu, {}), plateifu not in self.no_gas)

    def galaxy_loaded(self, plateifu: str, gas_valid: bool) -> None:
        """Record what a galaxy's loaded maps showed: whether its gas map has valid spaxels.
        A galaxy found to have none emits ``no_gas`` (and ``counts``, ``row``)."""
        if gas_valid:
            self.gas_seen.add(plateifu)
            return
        if plateifu in self.no_gas:
            return
        self.no_gas.add(plateifu)
        if self.table is not None:
            self._derive([plateifu])
            self.count_labelled()
            self._emit("row", plateifu)
        self._emit("no_gas", plateifu)

    def galaxy_data_loaded(self, plateifu: str, data) -> None:
        """Record what a loaded :class:`~kinview.session.loading.GalaxyData` shows about gas:
        a galaxy with a stellar map and no valid gas spaxels has no gas
        (:meth:`galaxy_loaded`)."""
        gas = data.fields.get("gas")
        self.galaxy_loaded(plateifu, has_valid_spaxels(None if gas is None else gas.vel)
                           or data.fields.get("stellar") is None)

    def load(self, plateifu: Optional[str] = None, clean: bool = False):
        """Load a galaxy (default: the current one) in this thread
        (:func:`kinview.session.loading.load_galaxy`, fast PA fits stored) and record its gas;
        returns its GalaxyData.  The GUI loads in worker threads instead."""

        pifu = plateifu or self.current
        data = load_galaxy(self.survey_dir, pifu, self.row(pifu), True,
                           db_path(self.survey_dir), clean)
        self.galaxy_data_loaded(pifu, data)
        return data

    def counts(self) -> dict:
        """``labelled`` (this expert, whole table), ``total``, ``session`` (galaxies labelled
        in this session) and ``per_hour`` (the session's rate, None below two galaxies); while
        adjudicating also ``adjudicating`` (True), ``adjudicated`` and ``disagreements`` (all of
        them, settled or open) from the queue's last read (:meth:`set_adjudication_counts`)."""
        done = len(self.session_done)
        rate = None
        if done >= 2:
            hours = max(self.session_done[-1] - self.session_done[0], 1.0) / 3600.0
            rate = (done - 1) / hours
        out = {"labelled": self.n_labelled, "total": 0 if self.table is None else len(self.table),
               "session": done, "per_hour": rate}
        if self.adjudicating:
            c = self.adjudication_counts or {"open": 0, "resolved": 0}
            out["adjudicating"] = True
            out["adjudicated"] = int(c["resolved"])
            out["disagreements"] = int(c["open"]) + int(c["resolved"])
        return out

    def count_labelled(self) -> int:
        """Recount this expert's labelled galaxies; emits ``counts``."""
        if self.table is None:
            return 0
        index = self.table.index
        self.n_labelled = sum(1 for p, lab in self.mine.items()
                              if p in index and visibility.has_labelled(lab, p not in self.no_gas))
        self._emit("counts", self.counts())
        return self.n_labelled

    def _derive(self, rows=None) -> None:
        vs.refresh_derived(self.table, self.mine, rows, blind=self.hides_others, no_gas=self.no_gas)
        if rows is None:
            self.table.attrs["blind"] = self.hides_others

    # adjudicating ----------------------------------------------------------------------------
    def set_adjudicating(self, on: bool) -> None:
        """Start (the adjudication queue was opened) or stop adjudicating.  While adjudicating
        the expert's labels are not changed (:meth:`label`, :meth:`undo` refuse), every rater's
        labels may be seen and :meth:`counts` reports the queue's progress.  Emits
        ``adjudicating`` and ``counts`` (and re-lists the galaxies: what may be seen changed)."""
        on = bool(on)
        if on == self.adjudicating:
            return
        self.adjudicating = on
        if not on:
            self.adjudication_counts = None
        self._emit("adjudicating", on)
        if self.table is not None:
            self._derive()
            self.count_labelled()
            if self.blind:
                self.set_filter(self.state.filter_name, self.state.filter_k)

    def set_adjudication_counts(self, counts: Optional[dict]) -> None:
        """The adjudication queue's counts as last read (``open``, ``resolved``; e.g. by the
        queue panel after a decision); emits ``counts`` while adjudicating."""
        self.adjudication_counts = dict(counts) if counts is not None else None
        if self.adjudicating:
            self._emit("counts", self.counts())

    def refresh_adjudication_counts(self) -> Optional[dict]:
        """Read the adjudication queue's counts from the store (this thread) and take them."""
        if self.store is None:
            return None
        counts = queue_counts(self.store)
        self.set_adjudication_counts(counts)
        return counts

    def _refuse_while_adjudicating(self, what: str) -> bool:
        if not self.adjudicating:
            return False
        self._message(f"adjudicating as {self.expert}: {what} are off — 0–3 choose the final label; "
                      "Ctrl+J closes the queue to label again", 6000)
        return True

    # navigation ------------------------------------------------------------------------------
    def goto(self, plateifu: str) -> bool:
        """Go to ``plateifu``; a galaxy the filter hides is shown by switching to all galaxies.
        False (and a message) when it is not in the survey."""
        if self.state.goto(plateifu):
            return True
        if self.table is not None and plateifu in self.table.index:
            self.set_filter("all", None)
            return self.state.goto(plateifu)
        self._message(f"{plateifu}: not in this survey", 4000)
        return False

    def next(self) -> Optional[str]:
        return self.state.next()

    def previous(self) -> Optional[str]:
        return self.state.previous()

    def first(self) -> Optional[str]:
        return self.state.go(0)

    def next_unlabelled(self) -> Optional[str]:
        """Go to the next listed galaxy (wrapping) this expert has not labelled."""
        out = self.state.next_where(lambda p: not self.is_labelled(p))
        if out is None:
            self._message("every listed galaxy is labelled", 4000)
        return out

    def set_filter(self, name: str, k=None) -> List[str]:
        """List the galaxies passing filter ``name`` (:data:`kinview.viewstate.FILTERS`), in
        the current sort order, staying on the current galaxy if it passes.  Returns the order."""
        if self.table is None:
            return []
        st = self.state
        order = vs.ordered_rows(self.table, name, k, st.sort_key, st.descending)
        st.filter_name, st.filter_k = name, k
        self._emit("filter", (name, k))
        st.set_order(order)
        if name == "misaligned":
            counts = vs.pa_fit_counts(self.table)
            if counts["unfitted"]:
                self._message(
                    f"Misaligned covers the {counts['fitted']} galaxies with PAs; {counts['unfitted']} "
                    "are not fitted yet (filter \"PA not fitted yet\")", 10000)
        return order

    def sort(self, column: str) -> List[str]:
        """Sort the list by ``column`` (again: reverse it)."""
        st = self.state
        if st.sort_key == column:
            st.descending = not st.descending
        else:
            st.sort_key, st.descending = column, False
        return self.set_filter(st.filter_name, st.filter_k)

    # labelling -------------------------------------------------------------------------------
    def label(self, field: str, kind: str, value, advance: bool = True) -> Optional[int]:
        """Commit one label of the current galaxy (fsynced before returning) and return its
        event id (None when nothing was saved).

        Advances to the next unlabelled galaxy when this label completed the galaxy and the
        ``auto_advance`` toggle is on (a correction stays).  On a galaxy without gas a stellar
        quality first records gas quality 0 and the note "no gas".
        """
        pifu = self.current
        if pifu is None or self.store is None:
            return None
        if self._refuse_while_adjudicating("labels"):
            return None
        labels = self.mine.setdefault(pifu, {})
        for f, k, v in implied_labels(labels, field, kind, value, self.has_gas(pifu)):
            if self.label(f, k, v, advance=False) is None:
                return None
        before = self.is_labelled(pifu)
        prev = labels.get((field, kind))
        mv = mc = None
        if self.table is not None and field in ("stellar", "gas"):
            mv = self.table.at[pifu, f"pred_{field}"]
            mc = self.table.at[pifu, f"conf_{field}"]
            mv = None if mv is None or not np.isfinite(mv) else float(mv)
            mc = None if mc is None or not np.isfinite(mc) else float(mc)
        try:
            event = self.store.add(pifu, field, kind, value, source="gui",
                                   model_id=self.model_id if mv is not None else None,
                                   model_value=mv, model_confidence=mc)
        except Exception as exc:  # noqa: BLE001 - a bad label must not end the session
            self._message(f"label not saved: {exc}", 8000)
            return None
        self.undo_stack.append((pifu, field, kind, prev, event))
        if value is None or (isinstance(value, str) and not value):
            labels.pop((field, kind), None)
        else:
            labels[(field, kind)] = value
        after = self.is_labelled(pifu)
        if after and not before:
            self.session_done.append(time.time())
        self._label_changed(pifu)
        self._emit("labelled", (pifu, field, kind, value))
        self._message(f"saved {pifu} {field} {kind.replace('_', ' ')} = {value}", 3000)
        if advance and should_advance(kind, before, after) and self.state.toggles.get("auto_advance", True):
            self.next_unlabelled()
        return event

    def _label_changed(self, pifu: str) -> None:
        if self.table is not None:
            # every expert's qualities (``quals``) include this expert's, as they are now
            quals = self.table.at[pifu, "quals"]
            labels = self.mine.get(pifu, {})
            for fld in ("stellar", "gas"):
                value = labels.get((fld, "quality"))
                if value is None:
                    quals.pop((fld, self.expert), None)
                else:
                    quals[(fld, self.expert)] = float(value)
            self._derive([pifu])
        self._emit("row", pifu)
        self.count_labelled()

    def undo(self) -> Optional[dict]:
        """Undo this expert's last label (an undo event in the store) and show its galaxy.
        Returns the store's answer (``plateifu``, ``field``, ``kind``, ``value`` now, …)."""
        if self.store is None:
            return None
        if self._refuse_while_adjudicating("undo of labels"):
            return None
        try:
            res = self.store.undo_last(self.expert)
        except Exception as exc:  # noqa: BLE001
            self._message(f"undo failed: {exc}", 8000)
            return None
        if res is None:
            self._message("nothing to undo", 3000)
            return None
        if self.undo_stack and self.undo_stack[-1][4] == res.get("undoes"):
            self.undo_stack.pop()
        pifu, fld, kind, value = res["plateifu"], res["field"], res["kind"], res["value"]
        labels = self.mine.setdefault(pifu, {})
        was = self.is_labelled(pifu)
        if value is None:
            labels.pop((fld, kind), None)
        else:
            labels[(fld, kind)] = value
        if was and not self.is_labelled(pifu) and self.session_done:
            self.session_done.pop()
        if pifu != self.current:
            self.goto(pifu)
        self._label_changed(pifu)
        self._emit("undone", (pifu, fld, kind, value))
        self._message(f"undid {pifu} {fld} {kind.replace('_', ' ')} "
                      f"(now {'unset' if value is None else value})", 5000)
        return res

    def switch_expert(self, name: str) -> str:
        """Label as ``name`` from now on: that expert's labels fill the table, the counts and
        the filters; undo applies to that expert's labels.  Ends adjudicating (emits
        ``adjudicating`` False first): the new expert starts labelling, blind.  Returns the
        validated name."""

        name = validate_expert(name)
        was_adjudicating = self.adjudicating
        if was_adjudicating:
            self.adjudicating = False
            self.adjudication_counts = None
            self._emit("adjudicating", False)
        self.state.expert = name
        self.undo_stack = []
        self.session_done = []
        if self.store is not None:
            self.store.expert = name
            self.mine = labels_by_galaxy(self.store.current(name))
        self._emit("expert", name)
        if self.table is not None:
            self._derive()
            self.count_labelled()
            self.set_filter(self.state.filter_name, self.state.filter_k)
        self._message(f"labelling as {name}" + (" — the adjudication queue was closed (Ctrl+J opens it "
                                                 f"as {name})" if was_adjudicating else ""), 5000)
        return name

    # background results ------------------------------------------------------------------------
    def reload_pa_fits(self) -> None:
        """Re-read the stored PA fits into the table (after background fits landed); the
        listed order is kept (it changes when a filter is next chosen).  Emits ``pa_fits``."""
        if self.table is None or self.store is None:
            return
        vs.refresh_pa_fits(self.table, self.mine, self.store.conn, blind=self.hides_others,
                           no_gas=self.no_gas)
        self._emit("pa_fits")

    def pa_fitted(self, plateifu: str, field: str, pa: float, err: float) -> None:
        """A live ``fast`` fit of one field was made while loading the galaxy."""
        if self.table is None or plateifu not in self.table.index:
            return
        self.table.at[plateifu, f"{field}_pa_fit"] = pa
        self.table.at[plateifu, f"{field}_pa_err"] = err
        self.table.at[plateifu, f"pa_method_{field}"] = "fast"
        self._derive([plateifu])
        self._emit("row", plateifu)

    def apply_predictions(self, fresh) -> None:
        """Take the prediction columns (and active model id) of a freshly read table
        (:func:`prediction_table_job`), then re-run the filter.  Emits ``predictions``."""
        if self.table is None:
            return
        for col in PREDICTION_COLUMNS:
            if col in fresh.columns:
                self.table[col] = fresh[col].reindex(self.table.index).to_numpy(float)
        self.model_id = fresh.attrs.get("model_id")
        self.table.attrs["model_id"] = self.model_id
        self.set_filter(self.state.filter_name, self.state.filter_k)
        self._emit("predictions", self.model_id)   # after the filter: the row's place is current

    def reload_predictions(self) -> None:
        """Re-read the active model's predictions in this thread (the GUI reads them in a
        worker with :func:`prediction_table_job` and calls :meth:`apply_predictions`)."""
        if self.table is not None:
            self.apply_predictions(prediction_table_job(str(self.survey_dir), self.expert))
