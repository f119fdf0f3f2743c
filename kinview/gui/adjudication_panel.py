"""The adjudication queue and the agreement (κ) table, as a panel of the main window.

Binds :func:`kinview.labels.adjudication.adjudication_queue`,
:func:`~kinview.labels.adjudication.adjudicate` and
:func:`~kinview.labels.adjudication.kappa_summary` to widgets; no rule lives here.

Keys, with the queue focused: ↑/↓ choose a disagreement (the galaxy is shown), ``0``–``3``
record that code as the final label and move to the next one, ``Enter`` accepts the majority
(not for a tie), ``Backspace`` withdraws the final label.  While the queue is open the main
window routes ``0``–``3``, ``Backspace`` and ``→ ←`` here from anywhere (its label keys are off
meanwhile: :data:`kinview.gui.label_panel.ADJUDICATION_KEYS`).  A decision applies only when
the selected disagreement's galaxy is the one on screen (:attr:`AdjudicationPanel.on_screen`).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
from PyQt5 import QtCore, QtWidgets

from kinview.labels import adjudication as adj
from kinview.gui.reveal_strip import SHORT, value_text

HEADERS = ["galaxy", "label", "votes", "final"]
#: Tooltips of the queue's (compact) column headers.
HEADER_TIPS = ["plate-IFU", "the label raters disagree on", "each rater's value → the majority",
               "the adjudicator's final label"]
_DIGITS = {QtCore.Qt.Key_0: 0, QtCore.Qt.Key_1: 1, QtCore.Qt.Key_2: 2, QtCore.Qt.Key_3: 3}
_ACCEPT = (QtCore.Qt.Key_Return, QtCore.Qt.Key_Enter)
_WITHDRAW = (QtCore.Qt.Key_Backspace, QtCore.Qt.Key_Delete)


def _fmt(x, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


class QueueTable(QtWidgets.QTableWidget):
    """The queue; digit, Enter and Backspace keys are its own while it has focus (they are
    label shortcuts of the window otherwise)."""

    key_decision = QtCore.pyqtSignal(object)   # int code, "majority" or None (withdraw)

    def event(self, ev):  # noqa: N802 - Qt name
        if ev.type() == QtCore.QEvent.ShortcutOverride and (
                ev.key() in _DIGITS or ev.key() in _ACCEPT or ev.key() in _WITHDRAW):
            ev.accept()
            return True
        return super().event(ev)

    def keyPressEvent(self, ev):  # noqa: N802 - Qt name
        if ev.key() in _DIGITS:
            self.key_decision.emit(_DIGITS[ev.key()])
        elif ev.key() in _ACCEPT:
            self.key_decision.emit("majority")
        elif ev.key() in _WITHDRAW:
            self.key_decision.emit(None)
        else:
            super().keyPressEvent(ev)


class AdjudicationPanel(QtWidgets.QWidget):
    """Disagreements to settle, buttons for the final label, and κ per field and class.

    Signals
    -------
    galaxy_selected(str)   a disagreement was chosen: show its galaxy
    decided(str, str, str, object)   a final label was recorded (plateifu, field, kind, value)
    counts_changed(dict)   the queue was read: ``open``, ``resolved``, ``galaxies_open``
                           (:func:`kinview.labels.adjudication.queue_counts`)

    Attributes
    ----------
    on_screen : callable or None
        Returns the plate-ifu on screen; a decision is refused when it is not the selected
        disagreement's galaxy (a key pressed after moving away must not settle another one).
    visible : callable or None
        Returns the galaxies whose raters' labels the adjudicator may see, or None for all
        (:meth:`kinview.session.LabellingSession.revealed_galaxies`: blind mode holds for an
        adjudicator who is a rater); the queue lists disagreements on those galaxies only.
    """

    galaxy_selected = QtCore.pyqtSignal(str)
    decided = QtCore.pyqtSignal(str, str, str, object)
    counts_changed = QtCore.pyqtSignal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.store = None
        self.adjudicator = ""
        self.queue = None
        self.on_screen = None
        self.visible = None
        self.n_hidden = 0
        # everything scrolls when the dock area is short (it shares it with other docks), so
        # no part is ever squeezed below its size
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll = QtWidgets.QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QtWidgets.QFrame.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        # a click on the panel (its summary, buttons, κ table) must leave the focus on the queue:
        # when the scroll area took it, the next digit became a stellar-feature label of the
        # adjudicator instead of a final label (seen in the xdotool trial)
        self.scroll.setFocusPolicy(QtCore.Qt.NoFocus)
        outer.addWidget(self.scroll)
        body = QtWidgets.QWidget()
        self.scroll.setWidget(body)
        lay = QtWidgets.QVBoxLayout(body)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(4)
        self.summary = QtWidgets.QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(QtCore.Qt.RichText)
        self.summary.setStyleSheet("color:#111111;")
        lay.addWidget(self.summary)
        self.show_resolved = QtWidgets.QCheckBox("show adjudicated ones too")
        self.show_resolved.setFocusPolicy(QtCore.Qt.NoFocus)
        self.show_resolved.toggled.connect(lambda _: self.refresh())
        lay.addWidget(self.show_resolved)
        self.table = QueueTable(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        for j, tip in enumerate(HEADER_TIPS):
            self.table.horizontalHeaderItem(j).setToolTip(tip)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeToContents)
        hh.setSectionResizeMode(2, QtWidgets.QHeaderView.Stretch)
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.key_decision.connect(self._key_decision)
        lay.addWidget(self.table, 3)
        self.choice_box = QtWidgets.QGroupBox("Final label")
        self.choice_box.setStyleSheet("QGroupBox { color:#111111; font-weight:bold; }")
        self.choices = QtWidgets.QGridLayout(self.choice_box)
        self.choices.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.choice_box)
        hint = QtWidgets.QLabel("<b>0</b>–<b>3</b> final label · <b>Backspace</b> withdraw · "
                                "<b>→ ←</b> next/prev · in the list: <b>Enter</b> majority, <b>↑↓</b>")
        hint.setWordWrap(True)
        hint.setStyleSheet("color:#444444;")
        lay.addWidget(hint)
        kbox = QtWidgets.QGroupBox("Agreement κ, per class")
        kbox.setStyleSheet("QGroupBox { color:#111111; font-weight:bold; }")
        kl = QtWidgets.QVBoxLayout(kbox)
        kl.setContentsMargins(4, 4, 4, 4)
        self.kappa = QtWidgets.QTableWidget(0, 6)
        self.kappa.setHorizontalHeaderLabels(["label", "κ", "0", "1", "2", "3"])
        for j in range(2, 6):
            self.kappa.horizontalHeaderItem(j).setToolTip(f"κ of class {j - 2} against the rest "
                                                          "(hover a cell for the class name)")
        self.kappa.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.kappa.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.kappa.verticalHeader().setVisible(False)
        self.kappa.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.kappa.setFocusPolicy(QtCore.Qt.NoFocus)
        self.kappa.setSelectionMode(QtWidgets.QAbstractItemView.NoSelection)
        kh = self.kappa.horizontalHeader()
        # the label column as wide as its names, the five κ columns share the rest: the table
        # fits the panel's width (no column off-screen; a value too long is elided, and every
        # cell's tooltip has it)
        kh.setSectionResizeMode(QtWidgets.QHeaderView.Stretch)
        kh.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeToContents)
        kh.setMinimumSectionSize(self.fontMetrics().horizontalAdvance("-0.00") + 8)
        self.kappa.setWordWrap(False)
        kl.addWidget(self.kappa)
        self.kappa_note = QtWidgets.QLabel("")
        self.kappa_note.setWordWrap(True)
        self.kappa_note.setStyleSheet("color:#444444; font-weight:normal;")
        kl.addWidget(self.kappa_note)
        lay.addWidget(kbox, 0)
        self.setMinimumWidth(260)
        self.table.setMinimumWidth(120)
        self.kappa.setMinimumWidth(120)
        # at least five disagreements visible, whatever shares the dock area
        rows = self.table.verticalHeader().defaultSectionSize()
        self.table.setMinimumHeight(rows * 5 + self.table.horizontalHeader().sizeHint().height() + 4)
        self._rebuild_choices(None)

    # binding ---------------------------------------------------------------------------------
    def bind(self, store, adjudicator: str) -> None:
        """Use ``store`` (a LabelStore) and record decisions as ``adjudicator``."""
        self.store = store
        self.adjudicator = adjudicator

    def refresh(self, kappa: bool = True) -> None:
        """Re-read the queue (and κ) from the store; keeps the selected disagreement if listed.
        A decision does not change the experts' labels, so it refreshes the queue only."""
        if self.store is None:
            return
        keep = self.selected_key()
        prev_row = max(self.table.currentRow(), 0)
        full = adj.adjudication_queue(self.store, include_resolved=True)
        seen = self.visible() if self.visible is not None else None
        self.n_hidden = 0
        if seen is not None and len(full):
            shown = full["plateifu"].isin(seen).to_numpy()
            self.n_hidden = int((~shown & ~full["resolved"].astype(bool).to_numpy()).sum())
            full = full[shown].reset_index(drop=True)
        counts = adj.queue_counts(full)
        resolved = full["resolved"].astype(bool).to_numpy() if len(full) else np.zeros(0, bool)
        self.queue = (full if self.show_resolved.isChecked() else full[~resolved]).reset_index(drop=True)
        self.summary.setText(
            f"<b>{counts['open']}</b> open on <b>{counts['galaxies_open']}</b> "
            f"galax{'ies' if counts['galaxies_open'] != 1 else 'y'} · {counts['resolved']} adjudicated"
            f" · as <b>{self.adjudicator}</b>"
            + (f"<br><span style='color:#7a4b00'>{self.n_hidden} more on galaxies you have not "
               "labelled are hidden (blind mode: you are a rater too; View ▸ Blind mode off "
               "shows them)</span>" if self.n_hidden else ""))
        self.summary.setToolTip("Disagreements between raters on a quality, feature or gas note. "
                                "Your final label is stored as an adjudication event; the consensus "
                                "export (kinview labels export --consensus) and training on the "
                                "consensus use it instead of the majority.")
        t = self.table
        t.blockSignals(True)
        t.setColumnHidden(3, not self.show_resolved.isChecked())   # open ones have no final label
        t.setRowCount(len(self.queue))
        select = None
        for i, r in enumerate(self.queue.itertuples(index=False)):
            pairs = [e.split("=", 1) for e in str(r.experts).split(";") if "=" in e]
            majority = "tie" if r.tie else f"{int(r.majority)}"
            # codes in the raters' name order (names in the tooltip and the reveal strip)
            votes = " ".join(code for _, code in pairs) + f" → {majority}"
            votes_tip = ("<br>".join(f"{name}: {value_text(r.kind, code)}" for name, code in pairs)
                         + "<br>majority: " + ("none (a tie)" if r.tie else value_text(r.kind, r.majority)))
            final = "" if r.final != r.final else f"{int(r.final)} {r.adjudicator}"
            tips = [r.plateifu, f"{r.field} {r.kind.replace('_', ' ')}", votes_tip,
                    "" if r.final != r.final else f"final {value_text(r.kind, r.final)} by {r.adjudicator}"]
            for j, text in enumerate([r.plateifu, SHORT[(r.field, r.kind)], votes, final]):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(tips[j])
                t.setItem(i, j, item)
            if keep == (r.plateifu, r.field, r.kind):
                select = i
        t.clearSelection()
        if len(self.queue):
            t.selectRow(min(prev_row if select is None else select, len(self.queue) - 1))
        t.blockSignals(False)
        self.counts_changed.emit(counts)
        key = self.selected_key()
        self._rebuild_choices(key)
        if key is not None and key != keep:
            self.galaxy_selected.emit(key[0])   # a new disagreement is chosen: show its galaxy
        if kappa:
            self._refresh_kappa()

    def _refresh_kappa(self) -> None:
        rows = adj.kappa_summary(self.store)
        self.kappa.setRowCount(len(rows))
        methods = set()
        for i, s in enumerate(rows):
            methods.add(s["method"])
            names = adj.class_names(s["kind"])
            kappa = _fmt(s["kappa"]) if s["method"] else "—"
            label = f"{s['field']} {s['kind'].replace('_', ' ')}"
            texts = [SHORT[(s["field"], s["kind"])], kappa]
            tips = [label, f"{'Cohen' if s['method'] == 'cohen' else 'Fleiss'} κ of {label} over "
                    f"{s['n_items']} galaxies" if s["method"] else "fewer than two raters"]
            for c in range(4):
                if c in names and s["method"]:
                    texts.append(_fmt(s["per_class"].get(c, float("nan"))))
                    tips.append(f"{label} = {c} ({names[c]}) against the rest: κ = {texts[-1]}")
                else:
                    texts.append("")
                    tips.append("")
            for j, text in enumerate(texts):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(tips[j])
                if j >= 1:
                    item.setTextAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
                self.kappa.setItem(i, j, item)
        kinds = ("Cohen's κ (two raters)" if methods == {"cohen"} else
                 "Fleiss' κ (three or more raters)" if methods == {"fleiss"} else
                 "Cohen's κ for two raters, Fleiss' κ for more")
        self.kappa_note.setText(f"{kinds}; per class: one-vs-rest.")
        self.kappa_note.setToolTip("Over the galaxies labelled by at least two raters. Imported "
                                   "catalogues count as raters. Hover a cell for class names.")
        self.kappa.resizeRowsToContents()
        rows_h = sum(self.kappa.rowHeight(i) for i in range(self.kappa.rowCount()))
        self.kappa.setFixedHeight(rows_h + self.kappa.horizontalHeader().height() + 6)

    # selection and decisions -----------------------------------------------------------------
    def selected_key(self) -> Optional[tuple]:
        if self.queue is None or not len(self.queue):
            return None
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        r = self.queue.iloc[rows[0].row()]
        return (r["plateifu"], r["field"], r["kind"])

    def step(self, delta: int) -> Optional[tuple]:
        """Select the disagreement ``delta`` rows down (up when negative), clamped; its galaxy
        is shown.  Returns the selected key."""
        n = self.table.rowCount()
        if not n:
            return None
        row = self.table.currentRow()
        row = 0 if row < 0 else max(0, min(n - 1, row + int(delta)))
        self.table.selectRow(row)
        key = self.selected_key()
        if key is not None and self.on_screen is not None and self.on_screen() != key[0]:
            self.galaxy_selected.emit(key[0])    # the same row again: show its galaxy anyway
        return key

    def _selection_changed(self) -> None:
        key = self.selected_key()
        self._rebuild_choices(key)
        if key is not None:
            self.galaxy_selected.emit(key[0])

    def _rebuild_choices(self, key) -> None:
        while self.choices.count():
            item = self.choices.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        if key is None:
            lab = QtWidgets.QLabel("Nothing to adjudicate." if self.queue is not None and not len(self.queue)
                                   else "Choose a disagreement.")
            lab.setStyleSheet("color:#555555; font-weight:normal;")
            self.choices.addWidget(lab, 0, 0)
            return
        n = 0
        for code, name in adj.class_names(key[2]).items():
            b = QtWidgets.QPushButton(f"{code} {name}")
            b.setFocusPolicy(QtCore.Qt.NoFocus)
            b.setToolTip(f"Key {code}: the final {key[1]} {key[2].replace('_', ' ')} of {key[0]} is {code}")
            b.clicked.connect(lambda _=False, v=code: self.decide(v))
            self.choices.addWidget(b, n // 2, n % 2)
            n += 1
        w = QtWidgets.QPushButton("withdraw")
        w.setFocusPolicy(QtCore.Qt.NoFocus)
        w.setToolTip("Backspace: withdraw the final label (the majority applies again)")
        w.clicked.connect(lambda: self.decide(None))
        self.choices.addWidget(w, n // 2, n % 2)

    def _key_decision(self, what) -> None:
        if what == "majority":
            key = self.selected_key()
            if key is None:
                return
            r = self.queue.iloc[self.table.currentRow()]
            if bool(r["tie"]) or r["majority"] != r["majority"]:
                self.summary.setText(self.summary.text().split(" <span")[0]
                                     + " <span style='color:#b00000'>a tie has no majority: "
                                     "press 0–3</span>")
                return
            self.decide(int(r["majority"]))
        else:
            self.decide(what)

    def decide(self, value) -> Optional[int]:
        """Record ``value`` (None = withdraw) as the final label of the selected disagreement,
        then select the next open one.  Returns the event id."""
        key = self.selected_key()
        if key is None or self.store is None:
            return None
        shown = self.on_screen() if self.on_screen is not None else key[0]
        if shown != key[0]:
            self.summary.setText(self.summary.text().split(" <span")[0]
                                 + f" <span style='color:#b00000'>not saved: {shown} is on screen, the "
                                 f"selected disagreement is {key[0]} (→ ← or a row)</span>")
            return None
        try:
            event = adj.adjudicate(self.store, *key, value, adjudicator=self.adjudicator)
        except Exception as exc:  # noqa: BLE001 - a bad value must not crash the GUI
            self.summary.setText(f"<span style='color:#b00000'>not saved: {exc}</span>")
            return None
        row = self.table.currentRow()
        self.decided.emit(*key, value)
        self.refresh(kappa=False)              # the settled one leaves the list: the next one is selected
        if self.show_resolved.isChecked() and row + 1 < len(self.queue):
            self.table.selectRow(row + 1)
        return event
