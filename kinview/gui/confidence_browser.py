"""The confidence browser: what the active models think of the survey, and what to label next.

- **Usability histogram** — P(usable) of the active ``vfield-quality`` model over every
  stellar and gas field (binary models store P(usable) as the value; three-class models store
  it as ``extra["p_usable"]``).  Clicking a bar emits :attr:`ConfidenceBrowser.bin_selected`
  with the galaxies that have a field in that bin; :mod:`kinview.gui.model_panels` turns it
  into the galaxy list's content.
- **Spin** — predicted vs catalogue λR_e (dimensionless) of the active ``spin`` model.
- **Photo-z** — predicted vs spectroscopic z of the active ``photoz`` model (its held-out
  test split; every galaxy when it has none).
- **Queues** — *label next*: unlabelled fields whose prediction is least confident
  (uncertainty sampling, :func:`kinview.training.active_learning.most_uncertain`); *likely
  label errors*: labelled fields whose out-of-sample prediction confidently disagrees with
  the expert (:func:`~kinview.training.active_learning.likely_label_errors`).  Double-click a
  row (or *Go*) to show that galaxy.

Everything is read from the survey database in a worker thread (:func:`load_overview`, its
own connections); the widget only draws.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtGui, QtWidgets

from kinview.gui import worker

#: histogram bins of P(usable)
N_BINS = 10

_BAR = QtGui.QColor("#7fb8e6")
_BAR_SELECTED = QtGui.QColor("#e6862e")


# ---------------------------------------------------------------------------------------------
# data (plain functions, run in a worker)
# ---------------------------------------------------------------------------------------------
def _p_usable(value, extra) -> float:
    extra = extra or {}
    if extra.get("mode") == "3class":
        v = extra.get("p_usable")
        return float("nan") if v is None else float(v)
    return float("nan") if value is None else float(value)


def load_overview(survey_dir, expert: Optional[str] = None, n_queue: int = 50) -> Dict[str, Any]:
    """Everything the confidence browser shows, read from a survey's database.

    Returns
    -------
    dict with
        ``vfield``  None, or ``{"model_id", "arch", "mode", "plateifu", "field", "p_usable"
                    (float array), "confidence"}`` of the active vfield-quality model;
        ``spin``    None, or ``{"model_id", "arch", "ids", "pred", "true"}`` (λR_e, galaxies
                    with a catalogue value);
        ``photoz``  None, or :func:`kinview.tasks.photoz.predicted_vs_true` (test split, or
                    every galaxy when the model has no test split here);
        ``uncertain``, ``errors``  DataFrames of the two queues;
        ``by_galaxy``  ``{plateifu: {task: [(field, value, confidence, extra)]}}`` of the
                    active spin and photoz models' predictions (for the on-screen label).
    """
    from kinview.db.connection import DB_NAME, connect
    from kinview.db.galaxies import column_by_plateifu
    from kinview.training.active_learning import likely_label_errors, most_uncertain
    from kinview.training.prediction import predictions
    from kinview.training.trainer import active_model

    root = Path(survey_dir)
    out: Dict[str, Any] = {"vfield": None, "spin": None, "photoz": None, "uncertain": None,
                           "errors": None, "by_galaxy": {}}
    if not (root / DB_NAME).exists():
        return out
    rec = active_model(root, "vfield-quality")
    if rec is not None:
        df = predictions(root, "vfield-quality", rec.id)
        pu = np.array([_p_usable(v, e) for v, e in zip(df["value"], df["extra"])], float)
        mode = (rec.card.get("options") or {}).get("mode") or "binary"
        out["vfield"] = {"model_id": rec.id, "arch": rec.arch, "mode": mode,
                         "plateifu": df["plateifu"].astype(str).tolist(),
                         "field": df["field"].astype(str).tolist(), "p_usable": pu,
                         "confidence": df["confidence"].to_numpy(float),
                         "metrics": rec.metrics}
        out["uncertain"] = most_uncertain(root, "vfield-quality", n=n_queue)
        out["errors"] = likely_label_errors(root, "vfield-quality", n=n_queue)
    rec = active_model(root, "spin")
    if rec is not None:
        df = predictions(root, "spin", rec.id)
        conn = connect(root)
        try:
            cat = column_by_plateifu(conn, "lambda_re")
        finally:
            conn.close()
        ids = [p for p, v in zip(df["plateifu"], df["value"])
               if v is not None and cat.get(p) is not None and np.isfinite(cat[p])]
        pred = dict(zip(df["plateifu"], df["value"]))
        out["spin"] = {"model_id": rec.id, "arch": rec.arch, "ids": ids,
                       "pred": np.array([pred[p] for p in ids], float),
                       "true": np.array([cat[p] for p in ids], float)}
        for p, f, v, c, e in df.itertuples(index=False):
            out["by_galaxy"].setdefault(p, {}).setdefault("spin", []).append((f, v, c, e))
    try:
        from kinview.tasks.photoz import predicted_vs_true

        pz = predicted_vs_true(root, "test")
        if pz is not None and len(pz["ids"]) == 0:
            pz = predicted_vs_true(root, "all")
        out["photoz"] = pz
        if pz is not None:
            df = predictions(root, "photoz", pz["model_id"])
            for p, f, v, c, e in df.itertuples(index=False):
                out["by_galaxy"].setdefault(p, {}).setdefault("photoz", []).append((f, v, c, e))
    except Exception:  # noqa: BLE001 - a catalogue without redshifts: no photo-z plot
        out["photoz"] = None
    return out


def bin_members(plateifus: List[str], p_usable: np.ndarray, lo: float, hi: float) -> List[str]:
    """Plate-ifus with a field whose P(usable) is in [lo, hi) ([lo, 1] for the last bin)."""
    p = np.asarray(p_usable, float)
    with np.errstate(invalid="ignore"):
        inside = (p >= lo) & ((p < hi) | ((hi >= 1.0) & (p <= 1.0)))
    seen, out = set(), []
    for pifu, ok in zip(plateifus, inside):
        if ok and pifu not in seen:
            seen.add(pifu)
            out.append(pifu)
    return out


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


def _scatter_plot(title: str, xlabel: str, ylabel: str) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setTitle(title, color="#222222", size="10pt")
    w.setLabel("bottom", xlabel)
    w.setLabel("left", ylabel)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.setMinimumSize(220, 200)
    for ax in ("left", "bottom"):
        w.getAxis(ax).enableAutoSIPrefix(False)
    return w


class ConfidenceBrowser(QtWidgets.QWidget):
    """Histogram of predicted usability, λR_e and photo-z scatter plots, and the two queues.

    Parameters
    ----------
    survey_dir : path-like
    expert : str

    Signals
    -------
    goto_requested(str plateifu)
    bin_selected(float lo, float hi, list plateifus)   a histogram bar was clicked
    refreshed()                                        new data drawn
    """

    goto_requested = QtCore.pyqtSignal(str)
    bin_selected = QtCore.pyqtSignal(float, float, list)
    refreshed = QtCore.pyqtSignal()

    def __init__(self, survey_dir, expert: str = "expert", parent=None):
        super().__init__(parent)
        self.survey_dir = Path(survey_dir)
        self.expert = expert
        self.data: Dict[str, Any] = {}
        self.counts = np.zeros(N_BINS, int)
        self.selected_bin: Optional[int] = None
        self._job = None
        self._again = False
        self.current: Optional[str] = None   # plate-ifu on screen (set by the window)
        self.setStyleSheet("QLabel { color:#111111; } QPushButton { padding:3px 8px; }")
        self._build()

    def _build(self) -> None:
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QtWidgets.QHBoxLayout()
        self.header = QtWidgets.QLabel("no model predictions yet")
        self.header.setWordWrap(True)
        top.addWidget(self.header, 1)
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.setFocusPolicy(QtCore.Qt.NoFocus)
        self.refresh_button.clicked.connect(self.refresh)
        top.addWidget(self.refresh_button)
        lay.addLayout(top)
        split = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        lay.addWidget(split, 1)

        plots = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(plots)
        grid.setContentsMargins(0, 0, 0, 0)
        self.hist = _scatter_plot("Predicted usability of every field — click a bar to list its galaxies",
                                  "P(usable)", "fields")
        self.hist.setMouseEnabled(x=False, y=False)
        self.hist.setXRange(0, 1, padding=0.02)
        self.bars = pg.BarGraphItem(x0=np.arange(N_BINS) / N_BINS, width=1.0 / N_BINS * 0.92,
                                    height=np.zeros(N_BINS), brushes=[_BAR] * N_BINS,
                                    pen=pg.mkPen("#3b6e99"))
        self.hist.addItem(self.bars)
        self.hist.scene().sigMouseClicked.connect(self._hist_clicked)
        self.hist_note = QtWidgets.QLabel("")
        self.spin_plot = _scatter_plot("Spin λR_e", "catalogue λR_e",
                                       "predicted λR_e")
        self.spin_points = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(31, 119, 180, 160))
        self.spin_plot.addItem(self.spin_points)
        self.spin_plot.addItem(pg.InfiniteLine(pos=(0, 0), angle=45, pen=pg.mkPen("#888888", style=QtCore.Qt.DashLine)))
        self.spin_note = QtWidgets.QLabel("no active spin model")
        self.z_plot = _scatter_plot("Photo-z", "spectroscopic z",
                                    "predicted z")
        self.z_points = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(214, 39, 40, 160))
        self.z_plot.addItem(self.z_points)
        self.z_plot.addItem(pg.InfiniteLine(pos=(0, 0), angle=45, pen=pg.mkPen("#888888", style=QtCore.Qt.DashLine)))
        self.z_note = QtWidgets.QLabel("no active photoz model")
        for lab in (self.hist_note, self.spin_note, self.z_note):
            lab.setWordWrap(True)
        grid.addWidget(self.hist, 0, 0, 1, 2)
        grid.addWidget(self.hist_note, 1, 0, 1, 2)
        grid.addWidget(self.spin_plot, 2, 0)
        grid.addWidget(self.z_plot, 2, 1)
        grid.addWidget(self.spin_note, 3, 0)
        grid.addWidget(self.z_note, 3, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(2, 2)
        split.addWidget(plots)

        queues = QtWidgets.QWidget()
        q = QtWidgets.QVBoxLayout(queues)
        q.setContentsMargins(0, 0, 0, 0)
        t1 = QtWidgets.QLabel("<b>Label next</b> — unlabelled fields, least confident first")
        t1.setWordWrap(True)
        q.addWidget(t1)
        self.uncertain = QueueTable(["plate-ifu", "field", "prediction", "confidence"])
        q.addWidget(self.uncertain, 1)
        row = QtWidgets.QHBoxLayout()
        self.next_button = QtWidgets.QPushButton("Label next most uncertain")
        self.next_button.setFocusPolicy(QtCore.Qt.NoFocus)
        self.next_button.clicked.connect(self.goto_next_uncertain)
        row.addWidget(self.next_button)
        q.addLayout(row)
        t2 = QtWidgets.QLabel("<b>Likely label errors</b> — held-out predictions that confidently "
                              "disagree with the expert")
        t2.setWordWrap(True)
        q.addWidget(t2)
        self.errors = QueueTable(["plate-ifu", "field", "expert", "label", "prediction", "confidence"])
        q.addWidget(self.errors, 1)
        self.errors_button = QtWidgets.QPushButton("Go to selected")
        self.errors_button.setFocusPolicy(QtCore.Qt.NoFocus)
        self.errors_button.clicked.connect(
            lambda: self._go(self.errors.selected_plateifu()))
        q.addWidget(self.errors_button)
        queues.setMinimumWidth(400)
        split.addWidget(queues)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.uncertain.activated.connect(self._go)
        self.errors.activated.connect(self._go)

    # ------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the predictions and queues (in a worker); emits ``refreshed`` when drawn."""
        if self._job is not None:
            self._again = True
            return
        self._job = worker.submit(load_overview, str(self.survey_dir), self.expert, pass_state=False)
        self._job.finished.connect(self.set_data)
        self._job.failed.connect(lambda exc, tb: self.header.setText(f"cannot read predictions: {exc}"))
        self._job.done.connect(self._job_done)

    def _job_done(self) -> None:
        self._job = None
        if self._again:
            self._again = False
            self.refresh()

    def set_data(self, data: Dict[str, Any]) -> None:
        self.data = data
        vf = data.get("vfield")
        if vf is None:
            self.header.setText("No active vfield-quality model: train one in the Training panel.")
            self.counts = np.zeros(N_BINS, int)
        else:
            p = vf["p_usable"]
            ok = np.isfinite(p)
            self.counts = np.histogram(np.clip(p[ok], 0, 1), bins=N_BINS, range=(0, 1))[0]
            m = vf.get("metrics") or {}
            acc = m.get("accuracy")
            acc = f" · test accuracy {acc:.3f}" if isinstance(acc, float) else ""
            self.header.setText(f"<b>vfield-quality model #{vf['model_id']}</b> ({vf['arch']}, "
                                f"{vf['mode']}): {int(ok.sum())} fields predicted{acc}")
        self._draw_bars()
        self.hist.setYRange(0, max(1, int(self.counts.max()) if len(self.counts) else 1) * 1.08, padding=0)
        # every bin, the P ≥ 0.9 one included, inside the panel whatever its size
        self.hist.getPlotItem().getViewBox().setLimits(xMin=-0.03, xMax=1.03)
        self.hist.setXRange(0, 1, padding=0.02)
        self.hist_note.setText("" if self.selected_bin is None else self._bin_text(self.selected_bin))

        sp = data.get("spin")
        if sp is None:
            self.spin_points.setData([], [])
            self.spin_note.setText("no active spin model")
        else:
            self.spin_points.setData(sp["true"], sp["pred"])
            r = (float(np.corrcoef(sp["true"], sp["pred"])[0, 1])
                 if len(sp["ids"]) > 2 and np.std(sp["pred"]) > 0 else float("nan"))
            self.spin_note.setText(f"spin model #{sp['model_id']} ({sp['arch']}): {len(sp['ids'])} galaxies"
                                   + (f", Pearson r {r:.2f}" if np.isfinite(r) else ""))
            self.spin_plot.setXRange(0, 1, padding=0.02)
            self.spin_plot.setYRange(0, 1, padding=0.02)
        pz = data.get("photoz")
        if pz is None:
            self.z_points.setData([], [])
            self.z_note.setText("no active photoz model")
        else:
            self.z_points.setData(pz["z_true"], pz["z_pred"])
            m = pz.get("metrics") or {}
            extra = []
            for k in ("r2", "sigma_nmad", "outlier_fraction"):
                v = m.get(k)
                if isinstance(v, float) and np.isfinite(v):
                    extra.append(f"{k} {v:.3f}")
            self.z_note.setText(f"photoz model #{pz['model_id']} ({pz['arch']}), {pz['split']} split: "
                                f"{len(pz['ids'])} galaxies" + (" · " + " · ".join(extra) if extra else ""))
            if len(pz["ids"]):
                hi = float(max(np.nanmax(pz["z_true"]), np.nanmax(pz["z_pred"]))) * 1.05
                self.z_plot.setXRange(0, hi, padding=0.02)
                self.z_plot.setYRange(0, hi, padding=0.02)

        un = data.get("uncertain")
        rows = []
        if un is not None:
            for r in un.itertuples(index=False):
                extra_p = r.value
                rows.append([str(r.plateifu), str(r.field), f"{float(extra_p):.2f}", f"{float(r.confidence):.2f}"])
        self.uncertain.set_rows(rows)
        er = data.get("errors")
        rows = []
        if er is not None:
            for r in er.itertuples(index=False):
                rows.append([str(r.plateifu), str(r.field), str(r.expert), f"{int(r.label)}",
                             f"{float(r.value):.2f}", f"{float(r.confidence):.2f}"])
        self.errors.set_rows(rows)
        self.refreshed.emit()

    def _draw_bars(self) -> None:
        brushes = [_BAR_SELECTED if i == self.selected_bin else _BAR for i in range(N_BINS)]
        self.bars.setOpts(height=self.counts.astype(float), brushes=brushes)

    def _bin_text(self, i: int) -> str:
        lo, hi = i / N_BINS, (i + 1) / N_BINS
        what = f"P(usable) in [{lo:.1f}, {hi:.1f}{']' if i == N_BINS - 1 else ')'}"
        if not self.counts[i]:
            return f"no field has {what}"
        return (f"selected: {what} — {int(self.counts[i])} fields; the galaxy list shows their "
                "galaxies (choose a filter there to go back)")

    def _hist_clicked(self, ev) -> None:
        vb = self.hist.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        pt = vb.mapSceneToView(ev.scenePos())
        x = pt.x()
        if 0.0 <= x <= 1.0:
            self.select_bin(min(int(x * N_BINS), N_BINS - 1))

    def bin_center(self, i: int) -> QtCore.QPoint:
        """Widget coordinates (in the histogram widget) of the middle of bar ``i``."""
        vb = self.hist.getPlotItem().getViewBox()
        y = max(float(self.counts[i]), 1.0) * 0.5 if len(self.counts) else 0.5
        scene = vb.mapViewToScene(QtCore.QPointF((i + 0.5) / N_BINS, y))
        return self.hist.mapFromScene(scene)

    def select_bin(self, i: int) -> List[str]:
        """Select histogram bin ``i`` and emit ``bin_selected`` with its galaxies."""
        vf = self.data.get("vfield")
        lo, hi = i / N_BINS, (i + 1) / N_BINS
        members = [] if vf is None else bin_members(vf["plateifu"], vf["p_usable"], lo, hi)
        self.selected_bin = i
        self._draw_bars()
        self.hist_note.setText(self._bin_text(i))
        self.bin_selected.emit(lo, hi, members)
        return members

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
