"""The model registry in the GUI: one list per task, with Activate and Roll back.

:class:`ModelListPanel` lists the models of the chosen task (newest first): id, whether it is
active, architecture, date, label source, number of labelled samples, and the task's metrics
measured on the *same* held-out samples for every model (the test split of the newest model
trained in this survey, scored against the current labels; see
:func:`kinview.training.promotion.compare_models`).  Scoring runs in a worker thread; the
list itself is one small query.

*Activate* makes the selected model the task's active model; *Roll back* re-activates the one
that was active before; *Remove* takes the selected model out of the list (its row, file and
predictions stay in the survey database for the record).  Each emits :attr:`activated` (or
:attr:`changed`) so the window re-reads the predictions.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
from PyQt5 import QtCore, QtWidgets

from kinview.errors import KinviewError
from kinview.gui import worker
from kinview.tasks import get, names
from kinview.training.promotion import compare_models
from kinview.training.registry import activate_model, list_models, remove_model, rollback

#: metric columns per task kind (shown when the scores have them)
METRIC_COLUMNS = ("roc_auc", "balanced_accuracy", "accuracy", "pearson", "rmse", "r2")
BASE_COLUMNS = ("id", "state", "architecture", "date", "labels", "n")


def _score_job(task: str, workspace: str, ids: List[int], state=None):
    """Worker: :func:`~kinview.training.promotion.compare_models` for the listed models."""
    recs = [r for r in list_models(workspace, task) if r.id in set(ids)]
    return compare_models(task, workspace, recs, state=state)


class ModelListPanel(QtWidgets.QWidget):
    """The models of one task with Activate / Roll back / Remove.

    Signals
    -------
    activated(object record)   a model was made active (Activate or Roll back)
    changed()                  the list changed (a model removed)
    scored(dict)               the same-samples comparison arrived
    """

    activated = QtCore.pyqtSignal(object)
    changed = QtCore.pyqtSignal()
    scored = QtCore.pyqtSignal(dict)

    def __init__(self, workspace=None, workspace_kind: Optional[str] = "survey", parent=None):
        super().__init__(parent)
        self.workspace = None if workspace is None else Path(workspace)
        self.workspace_kind = workspace_kind
        self.records = []
        self.comparison: Dict = {}
        self.job = None
        self.last_status = ""
        self._build()

    def _build(self) -> None:
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("task"))
        self.task_box = QtWidgets.QComboBox()
        for name in names():
            if self.workspace_kind and get(name).workspace != self.workspace_kind:
                continue
            self.task_box.addItem(name, name)
        top.addWidget(self.task_box)
        top.addStretch(1)
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        top.addWidget(self.refresh_button)
        lay.addLayout(top)
        self.table = QtWidgets.QTableWidget(0, len(BASE_COLUMNS) + len(METRIC_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(BASE_COLUMNS) + list(METRIC_COLUMNS))
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(self.table, 1)
        self.held_label = QtWidgets.QLabel("")
        self.held_label.setWordWrap(True)
        lay.addWidget(self.held_label)
        buttons = QtWidgets.QHBoxLayout()
        self.activate_button = QtWidgets.QPushButton("Activate")
        self.activate_button.setToolTip("Make the selected model the task's active model")
        self.rollback_button = QtWidgets.QPushButton("Roll back")
        self.rollback_button.setToolTip("Re-activate the model that was active before the current one")
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.remove_button.setToolTip("Take the selected model out of the list (kept in the database for the record)")
        for b in (self.activate_button, self.rollback_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.task_box.currentIndexChanged.connect(lambda *_: self.refresh())
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.activate_button.clicked.connect(lambda: self.activate_selected())
        self.rollback_button.clicked.connect(lambda: self.rollback())
        self.remove_button.clicked.connect(lambda: self.remove_selected())

    # ------------------------------------------------------------------------------------------
    def task(self) -> str:
        return self.task_box.currentData() or ""

    def set_workspace(self, workspace) -> None:
        self.workspace = None if workspace is None else Path(workspace)
        self.refresh()

    def select_task(self, task: str) -> None:
        i = self.task_box.findData(task)
        if i >= 0:
            self.task_box.setCurrentIndex(i)
            self.refresh()

    def _say(self, text: str, colour: str = "#111111") -> None:
        self.last_status = text
        self.status.setText(text)
        self.status.setStyleSheet(f"color:{colour};")

    def refresh(self, score: bool = True) -> None:
        """Re-read the task's models (one query) and, with ``score``, start the same-samples
        comparison in a worker."""
        self.records = []
        if self.workspace is not None and self.task() and (self.workspace / "kinview.sqlite").exists():
            self.records = list_models(self.workspace, self.task())
        self._fill()
        if score and self.records:
            self.held_label.setText("measuring every model on the same held-out samples…")
            job = worker.submit(_score_job, self.task(), str(self.workspace), [r.id for r in self.records])
            self.job = job
            job.finished.connect(self._scores)
            job.failed.connect(lambda exc, tb: self.held_label.setText(f"cannot compare the models: {exc}"))
        elif not self.records:
            self.held_label.setText("no model of this task in the survey yet (the shipped default is used)")

    def _fill(self) -> None:
        scores = (self.comparison or {}).get("scores", {})
        errors = (self.comparison or {}).get("errors", {})
        self.table.setRowCount(len(self.records))
        for row, r in enumerate(self.records):
            card = r.card or {}
            imported = card.get("source") == "imported"
            labels = card.get("label_source") or ("" if not imported else "imported")
            n = card.get("n_samples") if not imported else (r.metrics or {}).get("n_held_out")
            values = [str(r.id), "active" if r.active else "", r.arch, (r.created or "")[:16].replace("T", " "),
                      str(labels), "" if n is None else str(n)]
            m = scores.get(r.id) or {}
            for key in METRIC_COLUMNS:
                v = m.get(key)
                values.append(f"{v:.3f}" if isinstance(v, (int, float)) and np.isfinite(v) else
                              ("error" if r.id in errors and key == METRIC_COLUMNS[0] else ""))
            for col, text in enumerate(values):
                item = QtWidgets.QTableWidgetItem(text)
                item.setData(QtCore.Qt.UserRole, r.id)
                if r.active:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if r.id in errors:
                    item.setToolTip(errors[r.id])
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()

    def _scores(self, result) -> None:
        self.comparison = dict(result or {})
        n = self.comparison.get("n_held_out", 0)
        self.held_label.setText(f"metrics measured on the same {n} held-out samples: "
                                f"{self.comparison.get('held_out', '')}")
        self._fill()
        self.scored.emit(self.comparison)

    def row_of(self, model_id: int) -> int:
        for i, r in enumerate(self.records):
            if r.id == model_id:
                return i
        return -1

    def selected_id(self) -> Optional[int]:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return None if item is None else int(item.data(QtCore.Qt.UserRole))

    def select_model(self, model_id: int) -> None:
        row = self.row_of(model_id)
        if row >= 0:
            self.table.selectRow(row)

    # ------------------------------------------------------------------------------------------
    def activate_selected(self, model_id: Optional[int] = None):
        """Make the selected (or given) model active; returns its record or None."""
        model_id = model_id if model_id is not None else self.selected_id()
        if model_id is None or self.workspace is None:
            self._say("select a model first", "#b36b00")
            return None
        try:
            rec = activate_model(self.workspace, model_id, note="GUI model list")
        except KinviewError as exc:
            self._say(str(exc), "#b00000")
            return None
        self._say(f"model #{rec.id} is now the active {rec.task} model", "#0a7a0a")
        self.refresh(score=False)
        self.activated.emit(rec)
        return rec

    def rollback(self):
        """Re-activate the model that was active before the current one."""
        if self.workspace is None or not self.task():
            return None
        try:
            rec = rollback(self.workspace, self.task())
        except KinviewError as exc:
            self._say(str(exc), "#b00000")
            return None
        self._say(f"rolled back: model #{rec.id} is the active {rec.task} model again", "#0a7a0a")
        self.refresh(score=False)
        self.activated.emit(rec)
        return rec

    def remove_selected(self, model_id: Optional[int] = None):
        """Remove the selected (or given) model from the list (kept for the record)."""
        model_id = model_id if model_id is not None else self.selected_id()
        if model_id is None or self.workspace is None:
            self._say("select a model first", "#b36b00")
            return None
        try:
            rec = remove_model(self.workspace, model_id, note="GUI model list")
        except KinviewError as exc:
            self._say(str(exc), "#b00000")
            return None
        self._say(f"model #{rec.id} removed from the list (kept in the database)", "#444444")
        self.refresh(score=False)
        self.changed.emit()
        return rec
