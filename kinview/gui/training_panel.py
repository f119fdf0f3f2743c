"""The training panel: train a task's model in the background with a live loss plot.

The panel picks a task (:func:`kinview.tasks.names`), an architecture (the task's
``architectures``), the number of epochs and the options the task offers
(:attr:`kinview.tasks.base.Task.training_options`, e.g. the label source: this expert, the
consensus, or every expert's labels).  *Train* runs :func:`kinview.training.train` in a worker thread
(:mod:`kinview.gui.worker`); the GUI thread never trains, never opens the database for the
trainer and stays free for labelling.  The trainer writes the model and every prediction with
its own connection in its own thread.

Live feedback, per epoch: the loss and validation-loss curves (pyqtgraph), a progress bar, the
seconds per epoch and an ETA, the epoch's validation metrics, and the prediction of the
current model for the galaxy (or cluster map) on screen — computed *in the training thread*
from the trainer's ``on_epoch_model`` callback, with the same inputs the task trains on, and
sent back as an event.

*Cancel* stops training after the current batch: nothing is written and the previously
active model stays active (the trainer guarantees it); the panel says ``cancelled``.

No silent downgrades: a finished model becomes active only if it scores at least as well as
the active model on the same held-out samples (:mod:`kinview.training.promotion`).  When it
does not, the panel says so with both figures and shows *Activate anyway*
(:meth:`TrainingPanel.activate_anyway`).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtWidgets

from kinview.gui import worker

PANEL_STYLE = """
QLabel { color:#111111; }
QLabel#status { font-weight:bold; }
QLabel#live { background:#eef4fb; border:1px solid #c5d5ea; padding:3px; }
QPushButton { padding:3px 10px; }
"""


def _fmt_seconds(s: float) -> str:
    if not np.isfinite(s):
        return "?"
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def run_training(task_name: str, workspace: str, arch: Optional[str], epochs: Optional[int],
                 options: Dict[str, Any], live_target: Callable[[], Optional[str]],
                 seed: int = 0, state=None):
    """Worker function: train ``task_name`` on ``workspace`` (runs in a pool thread).

    After every epoch the current model predicts the sample(s) whose id is ``live_target()``
    (a plate-ifu, or a cluster map id such as ``map000012``) — in this thread, with the
    inputs the task trains on — and the rows are sent as the event
    ``("live_prediction", {"epoch", "id", "rows": [(id, field, value, confidence, extra)]})``.

    Returns the new :class:`~kinview.training.registry.ModelRecord`.  Raises
    :class:`~kinview.errors.Cancelled` when cancelled (nothing written).
    """
    from kinview.tasks import get
    from kinview.training import train

    task = get(task_name)
    cache: Dict[str, Any] = {}

    def on_epoch_model(epoch: int, predict_fn) -> None:
        target = live_target()
        if not target:
            return
        try:
            if "data" not in cache:
                # every sample of the workspace, as the trainer will predict them at the end
                # (the survey tasks read their cached arrays: fast after the first build)
                cache["data"] = task.build_dataset(workspace, options, labelled_only=False)
                ids: Dict[str, List[int]] = {}
                for i, (sid, _fld) in enumerate(cache["data"].ids):
                    ids.setdefault(str(sid), []).append(i)
                cache["ids"] = ids
            rows_idx = cache["ids"].get(str(target))
            if not rows_idx:
                state.emit("live_prediction", {"epoch": epoch, "id": target, "rows": []})
                return
            sub = cache["data"].subset(rows_idx)
            pred = predict_fn(sub.X)
            rows = task.to_predictions(pred, sub)
            state.emit("live_prediction", {"epoch": epoch, "id": target, "rows": rows})
        except Exception as exc:  # noqa: BLE001 - a live preview must never stop training
            state.emit("live_prediction", {"epoch": epoch, "id": target, "rows": [],
                                           "error": f"{type(exc).__name__}: {exc}"})

    return train(task_name, workspace, arch=arch, epochs=epochs, seed=seed, options=options,
                 state=state, on_epoch_model=on_epoch_model)


class TrainingPanel(QtWidgets.QWidget):
    """Choose a task and train it in the background, with a live loss plot.

    Parameters
    ----------
    workspace : path-like or None
        The survey directory or cluster dataset (the task's ``workspace`` kind);
        :meth:`set_workspace` changes it.
    expert : str
        Whose labels "my labels" means.
    workspace_kind : {'survey', 'clusters', None}
        Offer only tasks for this kind of workspace (None: every task).

    Signals
    -------
    started(str task)
    epoch(dict)                       the trainer's per-epoch row (loss, val_loss, metrics…)
    live_prediction(dict)             ``{"epoch", "id", "rows", "task"}`` for the sample on screen
    finished(object record)           the new ModelRecord (predictions are in the DB); it is
                                      active unless it scored worse than the active model on
                                      the same held-out samples (``record.activation``)
    activated(object record)          "Activate anyway" made a kept-inactive model active
    cancelled()                       training stopped; the previous model stays active
    failed(str message)
    """

    started = QtCore.pyqtSignal(str)
    epoch = QtCore.pyqtSignal(dict)
    live_prediction = QtCore.pyqtSignal(dict)
    finished = QtCore.pyqtSignal(object)
    activated = QtCore.pyqtSignal(object)
    cancelled = QtCore.pyqtSignal()
    failed = QtCore.pyqtSignal(str)

    def __init__(self, workspace=None, expert: str = "expert", workspace_kind: Optional[str] = None,
                 parent=None):
        super().__init__(parent)
        self.workspace = None if workspace is None else Path(workspace)
        self.expert = expert
        self.workspace_kind = workspace_kind
        self.job: Optional[worker.Worker] = None
        self.history: List[dict] = []
        self.live_id: Optional[str] = None
        self.last_record = None
        self.last_status = ""
        self._t0 = 0.0
        self._task_running = ""
        self.setStyleSheet(PANEL_STYLE)
        self._build()
        self._task_changed()

    # ------------------------------------------------------------------------------------------
    def _build(self) -> None:
        from kinview.tasks import get, names

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        form = QtWidgets.QFormLayout()
        form.setLabelAlignment(QtCore.Qt.AlignRight)
        form.setVerticalSpacing(3)
        self.task_box = QtWidgets.QComboBox()
        for name in names():
            t = get(name)
            if self.workspace_kind and t.workspace != self.workspace_kind:
                continue
            self.task_box.addItem(name, name)
            self.task_box.setItemData(self.task_box.count() - 1, t.title, QtCore.Qt.ToolTipRole)
        self.arch_box = QtWidgets.QComboBox()
        self.epochs_box = QtWidgets.QSpinBox()
        self.epochs_box.setRange(1, 1000)
        for w in (self.task_box, self.arch_box, self.epochs_box):
            w.setFocusPolicy(QtCore.Qt.ClickFocus)
        form.addRow("task", self.task_box)
        form.addRow("architecture", self.arch_box)
        form.addRow("epochs", self.epochs_box)
        # the current task's options (Task.training_options), rebuilt when the task changes
        self.option_boxes: Dict[str, QtWidgets.QComboBox] = {}
        self._option_specs: Dict[str, Any] = {}
        self.options_form = QtWidgets.QFormLayout()
        self.options_form.setLabelAlignment(QtCore.Qt.AlignRight)
        self.options_form.setContentsMargins(0, 0, 0, 0)
        self.options_form.setVerticalSpacing(3)
        form.addRow(self.options_form)
        self.source_note = QtWidgets.QLabel("")
        self.source_note.setWordWrap(True)
        self.source_note.setStyleSheet("color:#444444;")
        form.addRow(self.source_note)
        lay.addLayout(form)
        buttons = QtWidgets.QHBoxLayout()
        self.train_button = QtWidgets.QPushButton("Train")
        self.train_button.setToolTip("Train in the background; labelling goes on meanwhile")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop training; the previously active model stays active")
        for b in (self.train_button, self.cancel_button):
            b.setFocusPolicy(QtCore.Qt.NoFocus)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        self.activate_button = QtWidgets.QPushButton("Activate anyway")
        self.activate_button.setToolTip("Make the model just trained the active one although it "
                                        "scored worse than the active model on the same held-out samples")
        self.activate_button.setFocusPolicy(QtCore.Qt.NoFocus)
        self.activate_button.setVisible(False)
        buttons.addWidget(self.activate_button)
        lay.addLayout(buttons)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        lay.addWidget(self.progress)
        # everything below the buttons lives in one box that takes the space that is left
        # and never claims more: growing text shrinks the plot, it never pushes the buttons
        results = QtWidgets.QWidget()
        results.setSizePolicy(QtWidgets.QSizePolicy.Preferred, QtWidgets.QSizePolicy.Ignored)
        outer, lay = lay, QtWidgets.QVBoxLayout(results)
        lay.setSizeConstraint(QtWidgets.QLayout.SetNoConstraint)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        outer.addWidget(results, 1)
        self.status = QtWidgets.QLabel("no training run yet")
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.eta = QtWidgets.QLabel("")
        lay.addWidget(self.eta)
        self.metrics_label = QtWidgets.QLabel("")
        self.metrics_label.setWordWrap(True)
        lay.addWidget(self.metrics_label)
        from kinview.gui.evaluation_view import EvaluationView

        self.evaluation = EvaluationView(self.workspace)   # held-out and out-of-fold figures
        lay.addWidget(self.evaluation)

        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(120)      # it gives way when the status text wraps
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        for ax in ("left", "bottom"):
            self.plot.getAxis(ax).enableAutoSIPrefix(False)
        self.plot.addLegend(offset=(-8, 8))
        self.loss_curve = self.plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2), symbol="o",
                                         symbolSize=6, symbolBrush="#1f77b4", name="loss")
        self.val_curve = self.plot.plot([], [], pen=pg.mkPen("#d62728", width=2), symbol="s",
                                        symbolSize=6, symbolBrush="#d62728", name="val_loss")
        lay.addWidget(self.plot, 1)

        self.live_label = QtWidgets.QLabel("")
        self.live_label.setObjectName("live")
        self.live_label.setWordWrap(True)
        self.live_label.setVisible(False)
        lay.addWidget(self.live_label)
        # wrapped text must not widen the dock (it would squeeze the galaxy list mid-run)
        for label in (self.source_note, self.status, self.eta, self.metrics_label, self.live_label):
            label.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)

        self.task_box.currentIndexChanged.connect(self._task_changed)
        self.arch_box.currentIndexChanged.connect(self._arch_changed)
        self.train_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)
        self.activate_button.clicked.connect(lambda: self.activate_anyway())

    def _task_changed(self, *_):
        from kinview.tasks import get

        name = self.task_box.currentData()
        if not name:
            return
        t = get(name)
        self.arch_box.clear()
        for a in t.architectures:
            self.arch_box.addItem(a, a)
        i = self.arch_box.findData(t.default_arch)
        if i >= 0:
            self.arch_box.setCurrentIndex(i)
        self._arch_changed()
        self._build_options(t.training_options)
        has_options = bool(t.training_options)
        self.source_note.setText("" if has_options else f"targets: {t.label_source}")
        self.source_note.setVisible(not has_options)
        self.evaluation.set_task(name)

    def _build_options(self, specs) -> None:
        """One drop-down list per option the task offers (:class:`~kinview.tasks.base.TrainingOption`)."""
        while self.options_form.rowCount():
            self.options_form.removeRow(0)
        self.option_boxes, self._option_specs = {}, {}
        for spec in specs:
            box = QtWidgets.QComboBox()
            box.setFocusPolicy(QtCore.Qt.ClickFocus)
            for key, text, _value in spec.choices:
                box.addItem(text, key)
            box.setCurrentIndex(max(0, box.findData(spec.default)))
            self.options_form.addRow(spec.caption, box)
            self.option_boxes[spec.key] = box
            self._option_specs[spec.key] = spec

    def _arch_changed(self, *_):
        """Show the chosen architecture's recipe length (a seed's 50 epochs, the default's 80)."""
        from kinview.tasks import get

        name, arch = self.task_box.currentData(), self.arch_box.currentData()
        if not name or not arch:
            return
        t = get(name)
        config = t.training_config(arch)
        exact = config.get("fit") == "convex"     # fitted exactly: there are no epochs to choose
        self.epochs_box.setSpecialValueText("— (exact fit)" if exact else "")
        self.epochs_box.setValue(1 if exact else int(config.get("epochs") or t.default_epochs))
        self.epochs_box.setEnabled(not exact)
        self.epochs_box.setToolTip("this recipe is fitted exactly, in one pass: no epochs" if exact
                                   else "passes over the training set (the recipe's length)")

    # ------------------------------------------------------------------------------------------
    # public API
    # ------------------------------------------------------------------------------------------
    def set_workspace(self, workspace) -> None:
        self.workspace = None if workspace is None else Path(workspace)
        self.evaluation.survey_dir = self.workspace
        self.evaluation.refresh()

    def set_live_target(self, sample_id: Optional[str]) -> None:
        """The sample (plate-ifu or cluster map id) whose prediction is shown after each epoch.

        Read by the training thread at the end of each epoch (a plain attribute)."""
        self.live_id = sample_id

    def is_running(self) -> bool:
        return self.job is not None

    def options(self) -> Dict[str, Any]:
        """Task options from the controls (the task's ``training_options``)."""
        return {key: self._option_specs[key].value(box.currentData(), self.expert)
                for key, box in self.option_boxes.items()}

    def select(self, task: Optional[str] = None, arch: Optional[str] = None,
               epochs: Optional[int] = None, **choices: str) -> None:
        """Set the controls: task name, architecture, epochs, and a choice key per task option
        (e.g. ``labels="me"``, ``mode="3class"``).

        Raises
        ------
        ValueError
            The task is not offered here, or has no such option or choice.
        """
        if task is not None:
            i = self.task_box.findData(task)
            if i < 0:
                raise ValueError(f"task {task!r} is not offered here")
            self.task_box.setCurrentIndex(i)
            self._task_changed()
        if arch is not None:
            self.arch_box.setCurrentIndex(max(0, self.arch_box.findData(arch)))
        if epochs is not None:
            self.epochs_box.setValue(int(epochs))
        for key, choice in choices.items():
            if choice is None:
                continue
            box = self.option_boxes.get(key)
            i = -1 if box is None else box.findData(choice)
            if i < 0:
                raise ValueError(f"{self.task_box.currentData()}: no option {key}={choice!r} here")
            box.setCurrentIndex(i)

    def start(self, seed: int = 0) -> Optional[worker.Worker]:
        """Start training with the current controls; returns the worker (None if refused)."""
        if self.job is not None:
            self._say("a training run is already going", "#b36b00")
            return None
        if self.workspace is None:
            self._say("no workspace (survey or cluster dataset) to train on", "#b00000")
            return None
        name = self.task_box.currentData()
        arch = self.arch_box.currentData()
        epochs = int(self.epochs_box.value())
        opts = self.options()
        self.history = []
        self.activate_button.setVisible(False)
        self.loss_curve.setData([], [])
        self.val_curve.setData([], [])
        self.plot.setTitle(f"{name} · {arch}", color="#222222", size="10pt")
        self.metrics_label.setText("")
        self.eta.setText("")
        self.live_label.setVisible(False)
        self.progress.setRange(0, epochs)
        self.progress.setValue(0)
        self.progress.setFormat("preparing data…")
        self._t0 = time.perf_counter()
        self._task_running = name
        self._epochs = epochs
        self._say(f"training {name} ({arch}, {epochs} epochs)…", "#1f4e96")
        w = worker.submit(run_training, name, str(self.workspace), arch, epochs, opts,
                          lambda: self.live_id, seed)
        self.job = w
        w.progress.connect(self._progress)
        w.status.connect(self._status_text)
        w.event.connect(self._event)
        w.finished.connect(self._finished)
        w.cancelled.connect(self._cancelled)
        w.failed.connect(self._failed)
        w.done.connect(self._done)
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.task_box.setEnabled(False)
        self.started.emit(name)
        return w

    def cancel(self) -> None:
        """Ask the running training to stop after its current batch."""
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self._say("cancelling…", "#b36b00")

    # ------------------------------------------------------------------------------------------
    # worker signals (GUI thread)
    # ------------------------------------------------------------------------------------------
    def _say(self, text: str, colour: str = "#111111") -> None:
        self.last_status = text
        self.status.setText(text)
        self.status.setStyleSheet(f"color:{colour};")

    def _status_text(self, text: str) -> None:
        if self.job is not None and not self.history:
            self.progress.setFormat(text[:60])

    def _progress(self, done: int, total) -> None:
        if not self.history:     # data preparation: show its own progress
            if total:
                self.progress.setRange(0, int(total))
                self.progress.setValue(int(done))

    def _event(self, kind: str, payload) -> None:
        if kind == "epoch" and isinstance(payload, dict):
            self._epoch(payload)
        elif kind == "live_prediction" and isinstance(payload, dict):
            payload = dict(payload, task=self._task_running)
            self._show_live(payload)
            self.live_prediction.emit(payload)

    def _epoch(self, row: dict) -> None:
        self.history.append(dict(row))
        ep = [h["epoch"] for h in self.history]
        loss = [float(h.get("loss", np.nan)) for h in self.history]
        self.loss_curve.setData(ep, loss)
        self.plot.getAxis("bottom").setTicks(
            [[(e, str(e)) for e in ep[:: max(1, -(-len(ep) // 8))]]])
        val = [(h["epoch"], float(h["val_loss"])) for h in self.history if "val_loss" in h]
        if val:
            self.val_curve.setData([v[0] for v in val], [v[1] for v in val])
        epochs = int(row.get("epochs") or self._epochs)
        self.progress.setRange(0, epochs)
        self.progress.setValue(int(row["epoch"]))
        self.progress.setFormat(f"epoch %v / %m")
        secs = [float(h.get("seconds", np.nan)) for h in self.history]
        per = float(np.nanmedian(secs)) if np.isfinite(secs).any() else np.nan
        left = (epochs - int(row["epoch"])) * per
        self.eta.setText(f"{per:.1f} s / epoch · elapsed {_fmt_seconds(time.perf_counter() - self._t0)}"
                         f" · ETA {_fmt_seconds(left)}" if np.isfinite(per) else "")
        shown = []
        for k in ("loss", "val_loss", "val_accuracy", "val_roc_auc", "val_rmse", "val_pearson", "lr"):
            v = row.get(k)
            if isinstance(v, (int, float)) and np.isfinite(v):
                shown.append(f"{k} {v:.3g}")
        self.metrics_label.setText(f"epoch {row['epoch']}: " + " · ".join(shown))
        self.epoch.emit(dict(row))

    def _show_live(self, payload: dict) -> None:
        rows = payload.get("rows") or []
        if payload.get("error"):
            text = f"live prediction unavailable: {payload['error']}"
        elif not rows:
            text = f"{payload.get('id')}: no input for this task"
        else:
            from kinview.tasks import get

            task = get(self._task_running)
            parts = [task.describe_prediction(f, v, c, e) for _, f, v, c, e in rows]
            text = (f"<b>{payload.get('id')}</b> after epoch {payload.get('epoch')}: "
                    + " · ".join(parts))
        self.live_label.setText(text)
        self.live_label.setVisible(True)

    def _finished(self, record) -> None:
        self.last_record = record
        m = record.metrics or {}
        shown = []
        for k in ("accuracy", "roc_auc", "balanced_accuracy", "pearson", "rmse", "r2", "sigma_nmad"):
            v = m.get(k)
            if isinstance(v, (int, float)) and np.isfinite(v):
                shown.append(f"{k} {v:.3f}")
        decision = dict((record.card or {}).get("activation") or {})
        figures = "test-split " + (" · ".join(shown) if shown else "metrics n/a")
        if record.active:
            why = f" ({decision['reason']})" if decision.get("reason") else ""
            self._say(f"done: model #{record.id} ({record.task}, {record.arch}) is active — {figures}{why}",
                      "#0a7a0a")
        else:
            self._say(f"model #{record.id} NOT made active: "
                      f"{decision.get('reason', 'it scored worse than the active model')}. "
                      "It is kept in the Models tab; “Activate anyway” uses it.", "#b36b00")
            self.activate_button.setVisible(True)
            self.activate_button.setEnabled(True)
        self.progress.setValue(self.progress.maximum())
        self.progress.setFormat(f"done after {len(self.history)} epochs" if self.history else "done")
        self.live_label.setVisible(False)
        self.eta.setText(f"total {_fmt_seconds(time.perf_counter() - self._t0)}; "
                         "predictions for every sample are in the database")
        self.evaluation.refresh()
        self.finished.emit(record)

    def activate_anyway(self):
        """Make the last trained (kept-inactive) model the task's active model; returns its
        record, or None when there is nothing to activate or it failed (the panel says why)."""
        from kinview.errors import KinviewError
        from kinview.training.registry import activate_model

        rec = self.last_record
        if rec is None or rec.id is None or rec.active or self.workspace is None:
            return None
        try:
            rec = activate_model(self.workspace, rec.id, note="activate anyway (training panel)")
        except KinviewError as exc:
            self._say(f"cannot activate model #{rec.id}: {exc}", "#b00000")
            return None
        self.last_record = rec
        self.activate_button.setVisible(False)
        self._say(f"model #{rec.id} ({rec.task}, {rec.arch}) is now active (activated anyway)", "#0a7a0a")
        self.activated.emit(rec)
        return rec

    def _cancelled(self) -> None:
        self._say("cancelled — the previously active model stays active", "#b36b00")
        self.progress.setFormat("cancelled")
        self.cancelled.emit()

    def _failed(self, exc, tb) -> None:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._say(f"training failed: {msg}", "#b00000")
        self.progress.setFormat("failed")
        self.failed.emit(msg)

    def _done(self) -> None:
        self.job = None
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.task_box.setEnabled(True)
