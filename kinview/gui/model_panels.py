"""Model-facing panels of the classification window, added with one call: :func:`install`.

The panels use the window only through a :class:`WindowHost` (what is on screen, go to a
galaxy, list some galaxies, take freshly read predictions, status messages, where panels and
menus go, and the window's events): they never reach into the window's or its other widgets'
attributes.

``install(window)`` adds to a :class:`kinview.gui.main_window.MainWindow`:

- a **Training** dock (right): what the active models predict for the galaxy on screen (and,
  while a model trains, what the current epoch's model predicts for it), above a
  :class:`~kinview.gui.training_panel.TrainingPanel` on the window's survey;
- a **Model** tab: the :class:`~kinview.gui.confidence_browser.ConfidenceBrowser` (one plot
  per active model as its task draws it — histograms with click-to-filter, predicted-vs-true
  points — and the "label next" and "likely label errors" queues);
- a **Models** tab: the survey's models per task (:class:`~kinview.gui.model_list.ModelListPanel`:
  architecture, date, label source and count, metrics on the same held-out samples) with
  Activate, Roll back and Remove;
- a **Models** menu: show the training panel, jump to the next most uncertain galaxy
  (Ctrl+U), open a cluster dataset (:func:`kinview.gui.cluster_view.open_cluster_view`).

When a training run finishes, the trainer has written predictions for every galaxy (its own
thread and connection); the panels then re-read the prediction columns of the galaxy table in a
worker and refresh the galaxy list (confidence columns, "low confidence" / "disagree with
model" filters), the label panel's model line and the confidence browser — no restart.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional

from PyQt5 import QtCore, QtGui, QtWidgets, sip

from kinview.gui import worker
from kinview.gui.confidence_browser import ConfidenceBrowser
from kinview.gui.model_list import ModelListPanel
from kinview.gui.training_panel import TrainingPanel
from kinview.tasks import get as get_task


def _prediction_table_job(survey_dir: str, expert: str):
    """Worker: the galaxy table as :func:`kinview.viewstate.load_table` builds it (own connection)."""
    from kinview import viewstate as vs
    from kinview.db.connection import connect

    conn = connect(survey_dir)
    try:
        table, _mine = vs.load_table(conn, expert)
    finally:
        conn.close()
    return table


def show_plateifus(window, plateifus: Iterable[str], description: str) -> List[str]:
    """List only ``plateifus`` in the window's galaxy list (in its current sort order).

    Choosing a filter in the list afterwards goes back to the normal filters.  Returns the
    listed plate-ifus.
    """
    from kinview import viewstate as vs

    if window.table is None:
        return []
    wanted = set(plateifus)
    base = vs.ordered_rows(window.table, "all", None, window.state.sort_key, window.state.descending)
    order = [p for p in base if p in wanted]
    window.galaxy_list.set_data(window.table, order)
    window.galaxy_list.count.setText(f"{len(order)} of {len(window.table)} galaxies · {description}")
    window.state.set_order(order)
    if not order:
        window.view.header.setText("<span style='color:#555'>No galaxy in this selection.</span>")
    window.statusBar().showMessage(f"listing {len(order)} galaxies: {description}", 5000)
    return order


class WindowHost:
    """What the model panels need from the classification window, and nothing else.

    The panels talk to the window only through this object (they never read the window's or
    its other widgets' attributes).  It adapts a :class:`kinview.gui.main_window.MainWindow`;
    another host (a test double, a Qt-free labelling session behind a window) provides the
    same members.

    Attributes
    ----------
    survey_dir : Path
    expert : str
    widget : QWidget            parent of dialogs, target of the close filter
    """

    def __init__(self, window):
        self._w = window
        self.widget = window

    @property
    def survey_dir(self) -> Path:
        return Path(self._w.survey_dir)

    @property
    def expert(self) -> str:
        """Who is labelling now (it can change while the window is open)."""
        return self._w.state.expert

    # --- what is on screen -----------------------------------------------------------------
    def current(self) -> Optional[str]:
        """The plate-ifu on screen, or None."""
        return self._w.state.current

    def has_table(self) -> bool:
        return self._w.table is not None

    def goto(self, plateifu: str) -> None:
        """Show ``plateifu`` in the galaxy view (widening the list's filter if needed)."""
        if self._w.goto(plateifu):
            self._w.tabs.setCurrentWidget(self._w.view)

    def show_only(self, plateifus: Iterable[str], description: str) -> List[str]:
        """List only ``plateifus`` in the galaxy list (its current sort order); choosing a
        filter there afterwards goes back to the normal filters.  Returns the listed ones."""
        return show_plateifus(self._w, plateifus, description)

    def apply_predictions(self, fresh) -> None:
        """Take the prediction columns (and active model id) of a freshly read galaxy table:
        :meth:`kinview.session.LabellingSession.apply_predictions` (the window redraws the list
        and the label panel on the session's ``predictions`` event)."""
        self._w.session.apply_predictions(fresh)

    def message(self, text: str, msecs: int = 0) -> None:
        """A status-bar message."""
        self._w.statusBar().showMessage(text, msecs)

    # --- events ----------------------------------------------------------------------------
    def on_current_changed(self, fn) -> None:
        """Call ``fn()`` when another galaxy is shown."""
        self._w.state.subscribe(lambda name, value: fn() if name == "index" else None)

    def on_table_loaded(self, fn) -> None:
        self._w.table_loaded.connect(lambda *_: fn())

    def on_labelled(self, fn) -> None:
        self._w.labelled.connect(lambda *_: fn())

    def revealed_galaxies(self):
        """The galaxies whose other raters' labels the expert may see now, or None for all
        (blind mode: :meth:`kinview.session.LabellingSession.revealed_galaxies`)."""
        return self._w.session.revealed_galaxies()

    def on_expert_changed(self, fn) -> None:
        """Call ``fn(name)`` when another expert takes over (File ▸ Switch expert)."""
        self._w.session.subscribe(lambda name, value: fn(value) if name == "expert" else None)

    def on_visibility_changed(self, fn) -> None:
        """Call ``fn()`` when what the expert may see of other raters' labels changes (blind
        mode toggled, adjudicating started or stopped)."""
        self._w.session.subscribe(
            lambda name, value: fn() if name in ("toggles.blind", "adjudicating") else None)

    def on_close(self, fn) -> None:
        """Call ``fn()`` when the window is about to close."""
        self._close_filter = _CloseFilter(self._w, fn)

    # --- where the panels go ---------------------------------------------------------------
    def add_panel(self, name: str, widget, area: str):
        """``area``: ``'tab'`` or a dock side; returns the dock (or the widget for a tab)."""
        dock = self._w.add_panel(name, widget, area)
        if isinstance(dock, QtWidgets.QDockWidget):
            self._w.resizeDocks([dock], [360], QtCore.Qt.Horizontal)
        return dock

    def show_tab(self, widget) -> None:
        self._w.tabs.setCurrentWidget(widget)

    def on_tab_shown(self, widget, fn) -> None:
        """Call ``fn()`` whenever the central tab ``widget`` becomes the current one."""
        tabs = self._w.tabs
        tabs.currentChanged.connect(lambda *_: fn() if tabs.currentWidget() is widget else None)

    def add_menu(self, title: str) -> QtWidgets.QMenu:
        return self._w.menuBar().addMenu(title)

    def add_window_action(self, action: QtWidgets.QAction) -> None:
        """Make ``action``'s shortcut work anywhere in the window."""
        self._w.addAction(action)


class _CloseFilter(QtCore.QObject):
    def __init__(self, window, fn):
        super().__init__(window)
        self._fn = fn
        window.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt name
        if event.type() == QtCore.QEvent.Close:
            self._fn()
        return False


class PredictionLabel(QtWidgets.QLabel):
    """What the active models (and a model in training) predict for the galaxy on screen."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(QtCore.Qt.RichText)
        self.setStyleSheet("QLabel { background:#ffffff; border:1px solid #c8c8c8; padding:4px; color:#111111; }")
        self.setText("Model predictions appear here once a model is trained.")
        self.setAlignment(QtCore.Qt.AlignLeft | QtCore.Qt.AlignTop)
        # a fixed box: the Train / Cancel buttons below must not move while the text changes
        # (every epoch, every galaxy), or a click aimed at Cancel lands on something else
        self.setFixedHeight(6 * self.fontMetrics().lineSpacing() + 12)
        self.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Fixed)
        self.plateifu: Optional[str] = None
        self.live: Optional[str] = None

    def update_for(self, plateifu: Optional[str], predictions: dict, models: dict) -> None:
        """Show what the active models predict for ``plateifu``.

        Parameters
        ----------
        predictions : dict
            ``{task: [(field, value, confidence, extra)]}`` of the active models' rows for it.
        models : dict
            ``{task: {"model_id", ...}}`` of the active models, in the order shown.
        """
        if plateifu != self.plateifu:
            self.live = None
        self.plateifu = plateifu
        if plateifu is None:
            self.setText("")
            return
        lines = []
        for task in list(models) + [t for t in predictions if t not in models]:
            rows = predictions.get(task) or []
            if not rows:
                continue
            describe = get_task(task).describe_prediction
            mid = (models.get(task) or {}).get("model_id")
            lines.append(f"{task}{'' if mid is None else f' #{mid}'}: "
                         + " · ".join(describe(f, v, c, e) for f, v, c, e in rows))
        if self.live:
            lines.append(f"<span style='color:#1f4e96'>{self.live}</span>")
        head = f"<b>{plateifu}</b>"
        self.setText(head + ("<br>" + "<br>".join(lines) if lines else
                             "<br><span style='color:#555'>no model prediction</span>"))


class ModelPanels(QtCore.QObject):
    """The installed panels and their wiring (``window.model_panels``).

    Parameters
    ----------
    host : WindowHost
        Everything the panels use of the window.

    Attributes
    ----------
    training : TrainingPanel
    browser : ConfidenceBrowser
    prediction : PredictionLabel

    Signals
    -------
    table_reloaded()   the galaxy table's prediction columns, the Model tab and the prediction
                       box were re-read after a model changed
    """

    table_reloaded = QtCore.pyqtSignal()

    def __init__(self, host: WindowHost, parent=None):
        super().__init__(parent)
        self.host = host
        self.cluster_windows = []
        survey = host.survey_dir
        expert = host.expert
        self.training = TrainingPanel(survey, expert=expert, workspace_kind="survey")
        self.prediction = PredictionLabel()
        dock_body = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(dock_body)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.prediction)
        lay.addWidget(self.training, 1)
        self.dock_body = dock_body
        # on a short window the panel scrolls rather than squeezing its boxes below their height
        scroller = QtWidgets.QScrollArea()
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QtWidgets.QFrame.NoFrame)
        scroller.setWidget(dock_body)
        bar = scroller.style().pixelMetric(QtWidgets.QStyle.PM_ScrollBarExtent)
        scroller.setMinimumWidth(dock_body.minimumSizeHint().width() + bar + 2)
        self.dock = host.add_panel("Training", scroller, "right")
        if isinstance(self.dock, QtWidgets.QDockWidget):
            # Classification comes first: the training dock opens from the Models menu (or is
            # shown again when the saved window layout had it open).
            self.dock.hide()
        self.browser = ConfidenceBrowser(survey, expert=expert)
        self.browser.revealed = host.revealed_galaxies     # blind mode applies to the queues
        from kinview.gui.evaluation_view import EvaluationView

        # the Model tab shows the same held-out / out-of-fold figures as the training panel
        self.evaluation = EvaluationView(survey, self.training.task_box.currentData())
        self.browser.set_summary(self.evaluation)
        self.training.task_box.currentIndexChanged.connect(
            lambda *_: self.evaluation.set_task(self.training.task_box.currentData()))
        self.training.evaluation.refreshed.connect(lambda *_: self._sync_evaluation(self.training.evaluation))
        self.evaluation.oof_finished.connect(lambda *_: self.training.evaluation.refresh())
        host.add_panel("Model", self.browser, "tab")
        self.model_list = ModelListPanel(survey, workspace_kind="survey")
        host.add_panel("Models", self.model_list, "tab")
        self._refresh_timer = QtCore.QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(800)
        self._refresh_timer.timeout.connect(self.browser.refresh)
        self._build_menu()

        host.on_current_changed(self._current_changed)
        host.on_table_loaded(self._table_loaded)
        host.on_labelled(self._refresh_timer.start)
        host.on_expert_changed(self._expert_changed)
        host.on_visibility_changed(self._refresh_timer.start)
        # closing the window cancels a running training (nothing half-written)
        host.on_close(lambda: self.training.cancel() if self.training.is_running() else None)
        self.training.finished.connect(self._training_finished)
        self.training.activated.connect(self._model_activated)
        self.model_list.activated.connect(self._model_activated)
        self.model_list.changed.connect(self.reload_predictions)
        # the list (and its scoring worker) is read when the tab is shown, not at start-up
        host.on_tab_shown(self.model_list, self.model_list.refresh)
        self.training.live_prediction.connect(self._live)
        self.training.started.connect(lambda name: host.message(
            f"training {name} in the background — keep labelling", 5000))
        self.browser.goto_requested.connect(host.goto)
        self.browser.bin_selected.connect(self._bin_selected)
        self.browser.refreshed.connect(self._update_label)
        if host.has_table():
            self._table_loaded()

    def _build_menu(self) -> None:
        host = self.host
        menu = host.add_menu("&Models")
        self.menu = menu
        act = self.dock.toggleViewAction() if hasattr(self.dock, "toggleViewAction") else None
        if act is not None:
            act.setText("Training panel")
            menu.addAction(act)
        a = QtWidgets.QAction("Show the model browser", menu)
        a.triggered.connect(lambda: host.show_tab(self.browser))
        menu.addAction(a)
        a = QtWidgets.QAction("Label next most uncertain", menu)
        a.setShortcut(QtGui.QKeySequence("Ctrl+U"))
        a.setShortcutContext(QtCore.Qt.WindowShortcut)
        a.triggered.connect(lambda: self.browser.goto_next_uncertain())
        menu.addAction(a)
        host.add_window_action(a)
        a = QtWidgets.QAction("Refresh predictions", menu)
        a.triggered.connect(self.reload_predictions)
        menu.addAction(a)
        menu.addSeparator()
        a = QtWidgets.QAction("Open cluster dataset…", menu)
        a.triggered.connect(self._open_clusters_dialog)
        menu.addAction(a)

    # ------------------------------------------------------------------------------------------
    def _sync_evaluation(self, source) -> None:
        """Show what the training panel just read in the Model tab too (same figures)."""
        if source.summary is not None and source.summary.get("task") == self.evaluation.task:
            self.evaluation._show(source.summary)

    def goto(self, plateifu: str) -> None:
        self.host.goto(plateifu)

    def _expert_changed(self, name: str) -> None:
        """Another expert labels now: the queues and the training label source follow."""
        self.browser.expert = name
        self.training.expert = name
        self._refresh_timer.start()

    def _current_changed(self) -> None:
        cur = self.host.current()
        self.training.set_live_target(cur)
        self.browser.current = cur
        self._update_label()

    def _table_loaded(self) -> None:
        cur = self.host.current()
        self.training.set_live_target(cur)
        self.browser.current = cur
        self.browser.refresh()
        self._update_label()

    def _update_label(self) -> None:
        cur = self.host.current()
        mine = (self.browser.data.get("by_galaxy") or {}).get(cur, {}) if cur else {}
        self.prediction.update_for(cur, mine, self.browser.data.get("models") or {})

    def _live(self, payload: dict) -> None:
        if payload.get("id") != self.host.current():
            return
        rows = payload.get("rows") or []
        task = payload.get("task", "")
        if rows:
            describe = get_task(task).describe_prediction
            self.prediction.live = (f"training {task}, epoch {payload.get('epoch')}: "
                                    + " · ".join(describe(f, v, c, e) for _, f, v, c, e in rows))
            self._update_label()

    def _bin_selected(self, lo: float, hi: float, plateifus: list, what: str) -> None:
        if not plateifus:   # an empty bar: keep the list as it is
            self.host.message(f"no field has {what}", 5000)
            return
        self.host.show_only(plateifus, what)

    def _training_finished(self, record) -> None:
        if record.active:
            self.host.message(f"model #{record.id} ({record.task}) trained; predictions updated", 6000)
        else:
            self.host.message(
                f"model #{record.id} ({record.task}) trained but kept inactive: it scored worse than "
                "the active model (see the training panel)", 8000)
        self.model_list.select_task(record.task)
        self.reload_predictions()

    def _model_activated(self, record) -> None:
        self.host.message(f"model #{record.id} is now the active {record.task} model", 6000)
        if self.model_list.task() == record.task:
            self.model_list.refresh()
        self.reload_predictions()

    def reload_predictions(self) -> None:
        """Re-read the prediction columns of the galaxy table (worker) and refresh the views."""
        if not self.host.has_table():
            return
        # reloads can overlap (a training run's own, and the database watch noticing the same
        # change): only the latest one is applied, so an older read never overwrites a newer
        self._reload_generation = getattr(self, "_reload_generation", 0) + 1
        generation = self._reload_generation
        job = worker.submit(_prediction_table_job, str(self.host.survey_dir), self.host.expert,
                            pass_state=False)
        job.finished.connect(lambda fresh, g=generation: self._apply_predictions(fresh, g)
                             if g == self._reload_generation else None)
        job.failed.connect(lambda exc, tb: self.host.message(f"cannot re-read predictions: {exc}", 8000))

    def _apply_predictions(self, fresh, generation: int) -> None:
        if sip.isdeleted(self) or not self.host.has_table():   # the window closed meanwhile
            return
        self.host.apply_predictions(fresh)
        self.prediction.live = None
        self._update_label()
        # "reloaded" once the Model tab and the prediction box show the new predictions too,
        # and only for the latest reload (an older one's refresh may finish after it started)
        self.browser.refresh(then=lambda: self.table_reloaded.emit()
                             if not sip.isdeleted(self) and generation == self._reload_generation
                             else None)

    def _open_clusters_dialog(self) -> None:
        d = QtWidgets.QFileDialog.getExistingDirectory(self.host.widget, "Open a cluster dataset directory")
        if d:
            self.open_clusters(d)

    def open_clusters(self, directory):
        """Open a cluster dataset in its own window (kept alive by the panels)."""
        from kinview.errors import KinviewError
        from kinview.gui.cluster_view import open_cluster_view

        try:
            win = open_cluster_view(directory, expert=self.host.expert)
        except KinviewError as exc:
            self.host.message(str(exc), 8000)
            return None
        self.cluster_windows.append(win)
        return win


def install(window) -> ModelPanels:
    """Add the training dock, the model browser tab and the Models menu to ``window``.

    Returns the :class:`ModelPanels` (also stored as ``window.model_panels``).  The main window
    installs them itself; calling this again returns the panels already installed.
    """
    existing = getattr(window, "model_panels", None)
    if isinstance(existing, ModelPanels):
        return existing
    panels = ModelPanels(WindowHost(window), parent=window)
    window.model_panels = panels
    return panels
