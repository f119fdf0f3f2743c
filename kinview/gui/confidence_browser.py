"""The confidence browser (the Model tab): what the active models think of the survey, and
what to label next.

- **One plot per task with an active model** (a tab each, left), as the task describes it
  (:meth:`kinview.tasks.base.Task.model_plot`): a histogram (e.g. P(usable) of every stellar
  and gas field) or predicted-against-true points (e.g. λR_e, photo-z).  Clicking a bar of a
  histogram emits :attr:`ConfidenceBrowser.bin_selected` with the galaxies that have a
  sample in that bin; :mod:`kinview.gui.model_panels` turns it into the galaxy list's content.
- **Queues** (a tab each, right, under the held-out figures), for the first task (menu order) that learns a per-field expert label
  (:attr:`~kinview.tasks.base.Task.queue_label_kind`) and has an active model: *label
  next*: fields the expert at work has not labelled (whoever else has) whose prediction is
  least confident (uncertainty sampling,
  :func:`kinview.training.active_learning.most_uncertain`); *likely label errors*: labelled
  fields whose out-of-sample prediction confidently disagrees with the expert
  (:func:`~kinview.training.active_learning.likely_label_errors`).  Double-click a row (or
  *Go*) to show that galaxy.

Everything is read from the survey database in a worker thread (:func:`load_overview`, its
own connections); the widget only draws.
"""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtGui, QtWidgets, sip

from kinview.db.connection import DB_NAME
from kinview.gui import worker
from kinview.tasks import get, names
from kinview.training.active_learning import likely_label_errors, most_uncertain
from kinview.training.prediction import predictions
from kinview.training.registry import active_model

_BAR = QtGui.QColor("#7fb8e6")
_BAR_SELECTED = QtGui.QColor("#e6862e")
_POINT_COLOURS = ((31, 119, 180, 160), (214, 39, 40, 160), (44, 160, 44, 160), (148, 103, 189, 160))


# ---------------------------------------------------------------------------------------------
# data (plain functions, run in a worker)
# ---------------------------------------------------------------------------------------------
def load_overview(survey_dir, expert: Optional[str] = None, n_queue: int = 50,
                  revealed: Optional[Set[str]] = None) -> Dict[str, Any]:
    """Everything the confidence browser shows, read from a survey's database.

    The "label next" queue lists the fields ``expert`` has not labelled (None: nobody has),
    least confident first.  ``revealed`` is blind mode (:func:`kinview.labels.visibility.visible_label_rows`): the
    galaxies whose other raters' labels ``expert`` may see (None: every galaxy).  The "likely
    label errors" queue lists ``expert``'s own labels everywhere and the others' (a published
    catalogue's included) only on those galaxies.

    Returns
    -------
    dict with
        ``plots``   ``{task: ModelPlot}`` of every survey task with an active model, in menu
                    order (:meth:`~kinview.tasks.base.Task.model_plot`);
        ``models``  ``{task: {"model_id", "arch"}}`` of those models;
        ``queue_task``  the task the queues are for, or None;
        ``uncertain``, ``errors``  DataFrames of the two queues (None without a queue task);
        ``by_galaxy``  ``{plateifu: {task: [(field, value, confidence, extra)]}}`` of the
                    active models' predictions (for the on-screen label);
        ``failed``  ``{task: message}`` of tasks whose plot could not be read.
    """
    root = Path(survey_dir)
    out: Dict[str, Any] = {"plots": {}, "models": {}, "queue_task": None, "uncertain": None,
                           "errors": None, "by_galaxy": {}, "failed": {}}
    if not (root / DB_NAME).exists():
        return out
    for name in names():
        task = get(name)
        if task.workspace != "survey":
            continue
        rec = active_model(root, name)
        if rec is None:
            continue
        out["models"][name] = {"model_id": rec.id, "arch": rec.arch}
        df = predictions(root, name, rec.id)
        for p, f, v, c, e in df.itertuples(index=False):
            out["by_galaxy"].setdefault(p, {}).setdefault(name, []).append((f, v, c, e))
        try:
            plot = task.model_plot(root, rec, df)
        except Exception as exc:  # noqa: BLE001 - one task's plot must not hide the others
            out["failed"][name] = f"{type(exc).__name__}: {exc}"
            plot = None
        if plot is not None:
            out["plots"][name] = plot
        if task.queue_label_kind and out["queue_task"] is None:
            out["queue_task"] = name
            # "label next" is per expert: the fields *this* expert has not labelled (another
            # expert's label does not make a field done for them; it is not shown either)
            out["uncertain"] = most_uncertain(root, name, n=n_queue, expert=expert or None)
            out["errors"] = likely_label_errors(root, name, n=n_queue,
                                                viewer=expert if expert else None,
                                                revealed=revealed if expert else None)
    return out


def bin_members(plateifus: List[str], values: np.ndarray, lo: float, hi: float,
                top: float = 1.0) -> List[str]:
    """Plate-ifus with a sample whose value is in [lo, hi) ([lo, top] for the last bin, whose
    ``hi`` is ``top``), each once, in order."""
    p = np.asarray(values, float)
    with np.errstate(invalid="ignore"):
        inside = (p >= lo) & ((p < hi) | ((hi >= top) & (p <= top)))
    seen, out = set(), []
    for pifu, ok in zip(plateifus, inside):
        if ok and pifu not in seen:
            seen.add(pifu)
            out.append(pifu)
    return out


def _tab_title(task: str):
    """(short, full) title of a task's plot tab: the task's
    :attr:`~kinview.tasks.base.Task.short_title`, else its title up to " (" or " from "
    (``Velocity-field usability (stellar and gas, 32×32)`` → ``Velocity-field usability``);
    the name for an unknown task."""
    try:
        t = get(task)
    except Exception:  # noqa: BLE001 - a plot of a task no longer registered keeps its name
        return task, task
    full = t.title or task
    return t.short_title or re.split(r" \(| from ", full)[0], full


# ---------------------------------------------------------------------------------------------
# widgets
# ---------------------------------------------------------------------------------------------
class QueueTable(QtWidgets.QTableWidget):
    """A queue of fields; double-click a row to emit ``activated(plateifu)``."""

    activated = QtCore.pyqtSignal(str)

    def __init__(self, headers, parent=None):
        super().__init__(0, len(headers), parent)
        self.setHorizontalHeaderLabels(headers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        self.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setFocusPolicy(QtCore.Qt.ClickFocus)
        self.horizontalHeader().setStretchLastSection(True)
        self.setStyleSheet("QTableWidget { color:#111111; background:#ffffff; "
                           "alternate-background-color:#f0f4fa; font-size:9pt; }")
        self.itemDoubleClicked.connect(lambda item: self.activated.emit(self.plateifu(item.row())))

    def set_rows(self, rows: List[List[str]]) -> None:
        self.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, v in enumerate(values):
                item = QtWidgets.QTableWidgetItem(v)
                if c > 0:
                    item.setTextAlignment(int(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter))
                self.setItem(r, c, item)
        self.resizeColumnsToContents()

    def plateifu(self, row: int) -> str:
        item = self.item(row, 0)
        return "" if item is None else item.text()

    def plateifus(self) -> List[str]:
        return [self.plateifu(r) for r in range(self.rowCount())]

    def selected_plateifu(self) -> Optional[str]:
        rows = self.selectionModel().selectedRows()
        if rows:
            return self.plateifu(rows[0].row())
        return self.plateifu(0) if self.rowCount() else None


def _plot_widget(title: str, xlabel: str, ylabel: str) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setTitle(title, color="#222222", size="10pt")
    w.setLabel("bottom", xlabel)
    w.setLabel("left", ylabel)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.setMinimumSize(220, 200)
    for ax in ("left", "bottom"):
        w.getAxis(ax).enableAutoSIPrefix(False)
    return w


class PlotView(QtWidgets.QWidget):
    """One task's plot in the Model tab (:class:`kinview.tasks.base.ModelPlot`), with its note.

    Attributes
    ----------
    widget : pyqtgraph.PlotWidget
    note : QLabel
    plot : ModelPlot or None     the data drawn
    counts : ndarray of int      histogram: samples per bin
    points : ScatterPlotItem     scatter: the points
    selected_bin : int or None

    Signals
    -------
    bin_selected(float lo, float hi, list plateifus)   a histogram bar was clicked
    """

    bin_selected = QtCore.pyqtSignal(float, float, list)

    def __init__(self, task: str, kind: str, colour=_POINT_COLOURS[0], parent=None):
        super().__init__(parent)
        self.task, self.kind = task, kind
        self.plot = None
        self.selected_bin: Optional[int] = None
        self.counts = np.zeros(0, int)
        self.edges = np.zeros(1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.widget = _plot_widget("", "", "")
        # the title is a wrapped label above the plot: a pyqtgraph title is one line, cut at
        # the panel's edge when the panel is narrow ("… click a bar to l" at 1280 px)
        self.title = QtWidgets.QLabel("")
        self.title.setWordWrap(True)
        self.title.setAlignment(QtCore.Qt.AlignHCenter)
        self.title.setStyleSheet("color:#222222; font-size:10pt;")
        self.note = QtWidgets.QLabel("")
        self.note.setWordWrap(True)
        lay.addWidget(self.title)
        lay.addWidget(self.widget, 1)
        lay.addWidget(self.note)
        self.bars = self.points = None
        if kind == "histogram":
            self.widget.setMouseEnabled(x=False, y=False)
            self.bars = pg.BarGraphItem(x0=[0.0], width=[1.0], height=[0.0], brushes=[_BAR],
                                        pen=pg.mkPen("#3b6e99"))
            self.widget.addItem(self.bars)
            self.widget.scene().sigMouseClicked.connect(self._clicked)
        else:
            self.points = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(*colour))
            self.widget.addItem(self.points)
            self.diagonal = pg.InfiniteLine(pos=(0, 0), angle=45, pen=pg.mkPen("#888888", style=QtCore.Qt.DashLine))
            self.widget.addItem(self.diagonal)

    def set_plot(self, plot) -> None:
        """Draw ``plot`` (a :class:`~kinview.tasks.base.ModelPlot` of this view's kind)."""
        self.plot = plot
        self.title.setText(plot.title)
        self.widget.setLabel("bottom", plot.xlabel)
        self.widget.setLabel("left", plot.ylabel)
        self.note.setText(plot.note)
        x = np.asarray(plot.x, float)
        if self.kind == "histogram":
            lo, hi = plot.x_range or ((float(np.nanmin(x)), float(np.nanmax(x))) if np.isfinite(x).any() else (0.0, 1.0))
            if hi <= lo:
                hi = lo + 1.0
            ok = np.isfinite(x)
            self.counts, self.edges = np.histogram(np.clip(x[ok], lo, hi), bins=int(plot.bins), range=(lo, hi))
            self._draw_bars()
            self.widget.setYRange(0, max(1, int(self.counts.max()) if len(self.counts) else 1) * 1.08, padding=0)
            # every bin, the top one included, inside the panel whatever its size
            pad = 0.03 * (hi - lo)
            self.widget.getPlotItem().getViewBox().setLimits(xMin=lo - pad, xMax=hi + pad)
            self.widget.setXRange(lo, hi, padding=0.02)
            if self.selected_bin is not None:
                self.note.setText(plot.note + "<br>" + self._bin_text(self.selected_bin))
        else:
            y = np.asarray(plot.y, float)
            self.points.setData(x, y)
            self.diagonal.setVisible(bool(plot.diagonal))
            if plot.x_range is not None:
                self.widget.setXRange(*plot.x_range, padding=0.02)
                self.widget.setYRange(*plot.x_range, padding=0.02)

    def _draw_bars(self) -> None:
        n = len(self.counts)
        brushes = [_BAR_SELECTED if i == self.selected_bin else _BAR for i in range(n)]
        width = np.diff(self.edges)
        self.bars.setOpts(x0=self.edges[:-1], width=width * 0.92, height=self.counts.astype(float),
                          brushes=brushes)

    def bin_range(self, i: int):
        return float(self.edges[i]), float(self.edges[i + 1])

    def bin_description(self, i: int) -> str:
        """``P(usable) in [0.2, 0.3)`` (``]`` for the last bin)."""
        lo, hi = self.bin_range(i)
        close = "]" if i == len(self.counts) - 1 else ")"
        return f"{self.plot.xlabel} in [{lo:.3g}, {hi:.3g}{close}"

    def _bin_text(self, i: int) -> str:
        if i >= len(self.counts):
            return ""
        what = self.bin_description(i)
        if not self.counts[i]:
            return f"no sample has {what}"
        return (f"selected: {what} — {int(self.counts[i])} samples; the galaxy list shows their "
                "galaxies (choose a filter there to go back)")

    def _clicked(self, ev) -> None:
        vb = self.widget.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()) or len(self.counts) == 0:
            return
        x = vb.mapSceneToView(ev.scenePos()).x()
        lo, hi = float(self.edges[0]), float(self.edges[-1])
        if lo <= x <= hi:
            self.select_bin(min(int((x - lo) / (hi - lo) * len(self.counts)), len(self.counts) - 1))

    def bin_center(self, i: int) -> QtCore.QPoint:
        """Widget coordinates (in :attr:`widget`) of the middle of bar ``i``."""
        vb = self.widget.getPlotItem().getViewBox()
        y = max(float(self.counts[i]), 1.0) * 0.5 if len(self.counts) else 0.5
        lo, hi = self.bin_range(i)
        scene = vb.mapViewToScene(QtCore.QPointF((lo + hi) / 2, y))
        return self.widget.mapFromScene(scene)

    def select_bin(self, i: int) -> List[str]:
        """Select histogram bin ``i`` and emit ``bin_selected`` with its galaxies."""
        lo, hi = self.bin_range(i)
        members = [] if self.plot is None else bin_members(self.plot.ids, self.plot.x, lo, hi,
                                                           float(self.edges[-1]))
        self.selected_bin = i
        self._draw_bars()
        self.note.setText((self.plot.note + "<br>" if self.plot else "") + self._bin_text(i))
        self.bin_selected.emit(lo, hi, members)
        return members


class ConfidenceBrowser(QtWidgets.QWidget):
    """One plot per active model (as its task describes it) and the two labelling queues.

    Parameters
    ----------
    survey_dir : path-like
    expert : str

    Attributes
    ----------
    plots : dict of str -> PlotView     the task plots on show, in menu order

    Signals
    -------
    goto_requested(str plateifu)
    bin_selected(float lo, float hi, list plateifus, str description)
        a histogram bar was clicked (``description``: e.g. ``P(usable) in [0.2, 0.3)``)
    refreshed()                                        new data drawn
    """

    goto_requested = QtCore.pyqtSignal(str)
    bin_selected = QtCore.pyqtSignal(float, float, list, str)
    refreshed = QtCore.pyqtSignal()

    def __init__(self, survey_dir, expert: str = "expert", parent=None):
        super().__init__(parent)
        self.survey_dir = Path(survey_dir)
        self.expert = expert
        self.data: Dict[str, Any] = {}
        self.plots: Dict[str, PlotView] = {}
        self._job = None
        self._again = False
        self._then: List = []
        self.current: Optional[str] = None   # plate-ifu on screen (set by the window)
        self.n_queue = 50                    # rows per queue
        #: returns the galaxies whose other raters' labels ``expert`` may see, or None for all
        #: (:meth:`kinview.session.LabellingSession.revealed_galaxies`; None: no blind mode)
        self.revealed: Optional[Callable[[], Optional[Set[str]]]] = None
        self.setStyleSheet("QLabel { color:#111111; } QPushButton { padding:3px 8px; }")
        self._build()

    def _build(self) -> None:
        # Two columns side by side, so that everything fits a 1280×800 window without
        # scrolling: the model's plots (the histogram takes the column's whole height) on the
        # left; the held-out figures (:meth:`set_summary`) and the two queues, one tab each,
        # on the right.  A splitter between them.
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.splitter = split = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)

        left = QtWidgets.QWidget()
        lcol = QtWidgets.QVBoxLayout(left)
        lcol.setContentsMargins(0, 0, 0, 0)
        # says what is wrong (no active model, a plot that failed); hidden when all is well
        # (each plot's note says which model and samples it shows)
        self.header = QtWidgets.QLabel("no model predictions yet")
        self.header.setWordWrap(True)
        lcol.addWidget(self.header)
        # one tab per plot: each gets the column's whole height (a histogram squeezed under
        # a scatter plot in a 1280×800 window was half below the fold)
        self.plot_tabs = QtWidgets.QTabWidget()
        self.plot_tabs.setDocumentMode(True)
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.setFocusPolicy(QtCore.Qt.NoFocus)
        self.refresh_button.clicked.connect(self.refresh)
        self.plot_tabs.setCornerWidget(self.refresh_button, QtCore.Qt.TopRightCorner)
        lcol.addWidget(self.plot_tabs, 1)
        split.addWidget(left)

        right = QtWidgets.QWidget()
        self.side = QtWidgets.QVBoxLayout(right)
        self.side.setContentsMargins(0, 0, 0, 0)
        self.queue_tabs = QtWidgets.QTabWidget()
        self.queue_tabs.setDocumentMode(True)
        self.side.addWidget(self.queue_tabs, 1)

        self.next_title, self.uncertain, self.next_button = self._add_queue_tab(
            "Label next", "", ["plate-ifu", "field", "prediction", "confidence"],
            "Label next most uncertain", self.goto_next_uncertain)
        _, self.errors, self.errors_button = self._add_queue_tab(
            "Likely label errors",
            "Held-out (out-of-fold) predictions that confidently disagree with an expert's "
            "label (blind mode: others' labels only of galaxies you have labelled)",
            ["plate-ifu", "field", "expert", "label", "prediction", "confidence"],
            "Go to selected", lambda: self._go(self.errors.selected_plateifu()))
        right.setMinimumWidth(380)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([900, 1100])          # the queues' side a little wider to start with
        self._set_queue_titles(None, None)
        self.uncertain.activated.connect(self._go)
        self.errors.activated.connect(self._go)

    def _add_queue_tab(self, tab: str, title: str, headers: List[str], button: str, on_click):
        """One queue's tab: a wrapped title, the table and a button under it (calls
        ``on_click``).  Returns (title label, :class:`QueueTable`, button)."""
        page = QtWidgets.QWidget()
        q = QtWidgets.QVBoxLayout(page)
        q.setContentsMargins(0, 4, 0, 0)
        label = QtWidgets.QLabel(title)
        label.setWordWrap(True)
        q.addWidget(label)
        table = QueueTable(headers)
        table.setMinimumHeight(80)
        q.addWidget(table, 1)
        push = QtWidgets.QPushButton(button)
        push.setFocusPolicy(QtCore.Qt.NoFocus)
        push.clicked.connect(on_click)
        q.addWidget(push, 0, QtCore.Qt.AlignLeft)
        self.queue_tabs.addTab(page, tab)
        return label, table, push

    def set_summary(self, widget: QtWidgets.QWidget) -> None:
        """Show ``widget`` (the held-out / out-of-fold figures) above the queues."""
        self.side.insertWidget(0, widget)

    def _set_queue_titles(self, n_next: Optional[int], n_errors: Optional[int]) -> None:
        """The queue tabs' titles (with their lengths) and which fields "label next" lists."""
        self.next_title.setText(
            f"Fields <b>{html.escape(self.expert)}</b> has not labelled (others' labels do not "
            "count), least confident first")
        if n_next is not None and n_next >= self.n_queue:
            n_next = f"first {n_next}"
        self.queue_tabs.setTabText(0, "Label next" + ("" if n_next is None else f" ({n_next})"))
        self.queue_tabs.setTabText(1, "Likely label errors" + ("" if n_errors is None else f" ({n_errors})"))

    # ------------------------------------------------------------------------------------------
    def refresh(self, then=None) -> None:
        """Re-read the predictions and queues (in a worker); emits ``refreshed`` when drawn.

        ``then()``, if given, is called once data read after this call has been drawn (a
        refresh already under way is followed by a new one)."""
        if then is not None:
            self._then.append(then)
        if self._job is not None:
            self._again = True
            return
        callbacks, self._then = self._then, []
        revealed = self.revealed() if self.revealed is not None else None
        self._job = worker.submit(load_overview, str(self.survey_dir), self.expert, self.n_queue, revealed,
                                  pass_state=False)
        self._job.finished.connect(self.set_data)
        self._job.failed.connect(lambda exc, tb: self.header.setText(f"cannot read predictions: {exc}"))
        self._job.done.connect(lambda cbs=callbacks: self._job_done(cbs))

    def _job_done(self, callbacks=()) -> None:
        if sip.isdeleted(self):
            return                          # the window closed while the data was read
        self._job = None
        for fn in callbacks:
            fn()
        if self._again:
            self._again = False
            self.refresh()

    def _layout_plots(self, plots: Dict[str, Any]) -> None:
        """(Re)build the plot views when the tasks or their kinds changed; keep them otherwise
        (a selected bar, the view under the mouse, the tab on show)."""
        wanted = [(name, p.kind) for name, p in plots.items()]
        if wanted == [(name, v.kind) for name, v in self.plots.items()]:
            return
        while self.plot_tabs.count():
            view = self.plot_tabs.widget(0)
            self.plot_tabs.removeTab(0)
            view.deleteLater()
        self.plots = {}
        for i, (name, kind) in enumerate(wanted):
            view = PlotView(name, kind, _POINT_COLOURS[i % len(_POINT_COLOURS)])
            view.bin_selected.connect(lambda lo, hi, ids, v=view: self._bin_selected(v, lo, hi, ids))
            short, full = _tab_title(name)
            self.plot_tabs.addTab(view, short)
            self.plot_tabs.setTabToolTip(i, full)
            self.plots[name] = view

    def set_data(self, data: Dict[str, Any]) -> None:
        self.data = data
        plots = data.get("plots") or {}
        self._layout_plots(plots)
        for name, plot in plots.items():
            self.plots[name].set_plot(plot)
        lines = [] if plots else ["No active model: train one in the Training panel."]
        failed = data.get("failed") or {}
        lines += [f"{k}: cannot plot ({v})" for k, v in failed.items()]
        self.header.setText("<br>".join(lines))
        self.header.setVisible(bool(lines))

        un = data.get("uncertain")
        rows = []
        if un is not None:
            for r in un.itertuples(index=False):
                rows.append([str(r.plateifu), str(r.field), f"{float(r.value):.2f}", f"{float(r.confidence):.2f}"])
        self.uncertain.set_rows(rows)
        er = data.get("errors")
        rows = []
        if er is not None:
            for r in er.itertuples(index=False):
                rows.append([str(r.plateifu), str(r.field), str(r.expert), f"{int(r.label)}",
                             f"{float(r.value):.2f}", f"{float(r.confidence):.2f}"])
        self.errors.set_rows(rows)
        self._set_queue_titles(None if un is None else len(un), None if er is None else len(er))
        self.refreshed.emit()

    def _bin_selected(self, view: PlotView, lo: float, hi: float, plateifus: list) -> None:
        self.bin_selected.emit(lo, hi, plateifus, view.bin_description(view.selected_bin))

    def goto_next_uncertain(self, *_) -> Optional[str]:
        """Jump to the least confident unlabelled field's galaxy (not the one on screen,
        :attr:`current`)."""
        for p in self.uncertain.plateifus():
            if p and p != self.current:
                self._go(p)
                return p
        return None

    def _go(self, plateifu: Optional[str]) -> None:
        if plateifu:
            self.goto_requested.emit(plateifu)
