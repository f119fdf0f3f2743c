"""The cluster-map view of a cluster dataset directory (the workspace of the tasks whose
``workspace`` is ``"clusters"``).

For one map at a time: the channels side by side (total projected mass Σ and stellar mass
Σ★ in M☉ kpc⁻², X-ray surface brightness in arbitrary units; each drawn as log10 with its own
colour bar; axes in kpc from the map centre), the map's attributes (cluster id, projection,
redshift, M200 in M☉, X-ray concentration, BCG ellipticity…), the true class, the active
model's class probabilities (e.g. CDM / SIDM0.1 / SIDM0.3 / SIDM1, σ/m in cm² g⁻¹) as a bar
chart, and the active model's held-out confusion matrix.  *Prev* / *Next* (or PageUp /
PageDown) move through the maps.  The same :class:`~kinview.gui.training_panel.TrainingPanel`
trains the clusters tasks' models with the dataset as workspace; when a run finishes the
probabilities and the confusion matrix update.  The model shown is the active model of the
first clusters task (menu order) that has one.

The dataset is read once in a worker (:func:`load_cluster_state`: maps, attributes, the active
model's stored predictions and confusion matrix); moving between maps is in memory.

``open_cluster_view(dir)`` opens it as a window (``kinview gui --clusters DIR``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtGui, QtWidgets

from kinview.clusters.dataset import (ClusterFormatError, MAPS_FILE, TABLE_FILE, load_clusters,
                                      sample_id)
from kinview.db.connection import DB_NAME
from kinview.gui import worker
from kinview.gui.training_panel import TrainingPanel
from kinview.tasks import get, names
from kinview.training.prediction import predictions
from kinview.training.registry import active_model

#: channel name -> (title, colour-bar label, colour map)
CHANNEL_STYLE = {
    "mass": ("total mass Σ", "log10 Σ  [M☉ kpc⁻²]", "viridis"),
    "xray": ("X-ray surface brightness", "log10 S_X  [arbitrary]", "inferno"),
    "stellar": ("stellar mass Σ★", "log10 Σ★  [M☉ kpc⁻²]", "magma"),
}

#: attributes shown first, with units
ATTRIBUTE_UNITS = {
    "clusterID": "", "projection": "", "redshift": "", "mass": "M☉ (M200)",
    "cross_section": "cm² g⁻¹", "xrayConc": "F(<100 kpc)/F(<400 kpc)", "BCG_e1": "", "BCG_e2": "",
    "core_kpc": "kpc", "r200_kpc": "kpc", "concentration": "", "lensing_norm": "M☉",
    "xray_norm": "arbitrary",
}


def clusters_tasks() -> List[str]:
    """Names of the tasks trained on cluster datasets, in menu order."""
    return [n for n in names() if get(n).workspace == "clusters"]


def confusion_of(rec) -> Optional[Dict[str, Any]]:
    """A model's held-out confusion matrix from its record's metrics, or None.

    Returns
    -------
    dict: ``classes``, ``matrix`` (rows = true class, columns = predicted), ``accuracy``,
    ``n``, ``model_id``, ``arch``, ``source`` (``"test split"``).
    """
    if rec is None or not (rec.metrics or {}).get("confusion"):
        return None
    m = rec.metrics
    return {"classes": m.get("classes") or (rec.card.get("dataset_info") or {}).get("classes"),
            "matrix": m["confusion"], "accuracy": m.get("accuracy"), "n": m.get("n"),
            "model_id": rec.id, "arch": rec.arch, "source": "test split"}


def load_cluster_state(workspace) -> Dict[str, Any]:
    """Worker: the dataset and the active clusters model's predictions and confusion matrix.

    Returns
    -------
    dict: ``set`` (:class:`kinview.clusters.ClusterSet`), ``task`` (the clusters task shown),
    ``pred`` (``{map id: {"class", "confidence", "probs", "split"}}``, empty without an active
    model), ``model`` (None or ``{"id", "arch", "metrics"}``), ``confusion`` (:func:`confusion_of`).
    """
    cs = load_clusters(workspace)
    tasks = clusters_tasks()
    out: Dict[str, Any] = {"set": cs, "task": tasks[0] if tasks else "", "pred": {}, "model": None,
                           "confusion": None}
    if not (Path(workspace) / DB_NAME).exists():
        return out
    rec = None
    for name in tasks:
        rec = active_model(workspace, name)
        if rec is not None:
            out["task"] = name
            break
    if rec is None:
        return out
    out["model"] = {"id": rec.id, "arch": rec.arch, "metrics": rec.metrics}
    df = predictions(workspace, rec.task, rec.id)
    for sid, _f, v, c, extra in df.itertuples(index=False):
        extra = extra or {}
        out["pred"][str(sid)] = {"class": extra.get("class"), "confidence": c,
                                 "probs": extra.get("probs") or {}, "split": extra.get("split")}
    out["confusion"] = confusion_of(rec)
    return out


def _log_image(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, float)
    pos = a[np.isfinite(a) & (a > 0)]
    floor = float(np.percentile(pos, 0.5)) if pos.size else 1.0
    return np.log10(np.where(np.isfinite(a) & (a > floor), a, floor)).astype(np.float32)


class ChannelPanel(QtWidgets.QWidget):
    """One channel: a log-scaled image with its own colour bar, axes in kpc."""

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        title, bar_label, cmap = CHANNEL_STYLE.get(name, (name, f"log10 {name}", "viridis"))
        self.name = name
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setMinimumSize(260, 250)
        self.plot = self.glw.addPlot(title=f"<span style='color:#222222'>{title}</span>")
        self.plot.setAspectLocked(True)
        self.plot.setLabel("bottom", "x [kpc]")
        self.plot.setLabel("left", "y [kpc]")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get(cmap), label=bar_label,
                                   interactive=False, width=14)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        lay.addWidget(self.glw)
        self.data: Optional[np.ndarray] = None

    def set_map(self, data: np.ndarray, pixel_kpc: Optional[float]) -> None:
        self.data = np.asarray(data)
        img = _log_image(data)
        finite = img[np.isfinite(img)]
        lo, hi = (np.percentile(finite, [1.0, 99.8]) if finite.size else (0.0, 1.0))
        if not hi > lo:
            hi = lo + 1.0
        self.image.setImage(img, autoLevels=False)
        self.bar.setLevels((float(lo), float(hi)))
        h, w = img.shape
        px = float(pixel_kpc or 1.0)
        self.image.setRect(QtCore.QRectF(-w * px / 2, -h * px / 2, w * px, h * px))
        self.plot.setLabel("bottom", "x [kpc]" if pixel_kpc else "x [pixels]")
        self.plot.setLabel("left", "y [kpc]" if pixel_kpc else "y [pixels]")
        self.plot.autoRange(padding=0)


class ClusterView(QtWidgets.QWidget):
    """Browse a cluster dataset and train/inspect the clusters tasks' models on it.

    Signals
    -------
    loaded()          the dataset (and the active model's predictions) are in memory
    shown(int)        map ``index`` was drawn
    """

    loaded = QtCore.pyqtSignal()
    shown = QtCore.pyqtSignal(int)

    def __init__(self, workspace, expert: str = "expert", parent=None):
        super().__init__(parent)
        self.workspace = Path(workspace).expanduser().resolve()
        self.state: Dict[str, Any] = {}
        self.index = 0
        self.channels: Dict[str, ChannelPanel] = {}
        self.error: Optional[str] = None
        self.setStyleSheet("QLabel { color:#111111; } QPushButton { padding:3px 10px; }")
        self._build(expert)
        self.reload()

    def _build(self, expert: str) -> None:
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        bar = QtWidgets.QHBoxLayout()
        self.prev_button = QtWidgets.QPushButton("◀ Prev")
        self.next_button = QtWidgets.QPushButton("Next ▶")
        self.index_box = QtWidgets.QSpinBox()
        self.index_box.setRange(0, 0)
        self.index_box.setPrefix("map ")
        self.count_label = QtWidgets.QLabel("")
        self.title = QtWidgets.QLabel(f"loading {self.workspace} …")
        self.title.setTextFormat(QtCore.Qt.RichText)
        for w in (self.prev_button, self.index_box, self.count_label, self.next_button):
            bar.addWidget(w)
        bar.addSpacing(12)
        bar.addWidget(self.title, 1)
        lay.addLayout(bar)
        self.maps_row = QtWidgets.QHBoxLayout()
        lay.addLayout(self.maps_row, 3)

        bottom = QtWidgets.QHBoxLayout()
        self.attributes = QtWidgets.QTableWidget(0, 3)
        self.attributes.setHorizontalHeaderLabels(["attribute", "value", "unit"])
        self.attributes.verticalHeader().setVisible(False)
        self.attributes.verticalHeader().setDefaultSectionSize(19)
        self.attributes.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.attributes.horizontalHeader().setStretchLastSection(True)
        self.attributes.setStyleSheet("QTableWidget { color:#111111; background:#ffffff; font-size:9pt; }")
        self.attributes.setMinimumWidth(280)
        bottom.addWidget(self.attributes, 2)

        mid = QtWidgets.QVBoxLayout()
        self.prob_plot = pg.PlotWidget()
        self.prob_plot.setTitle("Active model: class probabilities", color="#222222", size="10pt")
        self.prob_plot.setLabel("left", "probability")
        self.prob_plot.setYRange(0, 1, padding=0.02)
        self.prob_plot.setMouseEnabled(x=False, y=False)
        self.prob_plot.setMinimumSize(260, 200)
        self.prob_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush="#7fb8e6", pen="#3b6e99")
        self.prob_plot.addItem(self.prob_bars)
        self.pred_label = QtWidgets.QLabel("no active model")
        self.pred_label.setWordWrap(True)
        mid.addWidget(self.prob_plot, 1)
        mid.addWidget(self.pred_label)
        bottom.addLayout(mid, 2)

        right = QtWidgets.QVBoxLayout()
        self.confusion_title = QtWidgets.QLabel("Confusion matrix (held-out test split)")
        self.confusion = QtWidgets.QTableWidget(0, 0)
        self.confusion.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.confusion.setStyleSheet("QTableWidget { color:#111111; background:#ffffff; }")
        self.confusion.setMinimumWidth(300)
        right.addWidget(self.confusion_title)
        right.addWidget(self.confusion, 1)
        bottom.addLayout(right, 2)

        self.training = TrainingPanel(self.workspace, expert=expert, workspace_kind="clusters")
        self.training.setMinimumWidth(300)
        bottom.addWidget(self.training, 2)
        lay.addLayout(bottom, 2)

        self.prev_button.clicked.connect(self.previous)
        self.next_button.clicked.connect(self.next)
        self.index_box.valueChanged.connect(self.show_map)
        self.training.finished.connect(lambda rec: self.reload())
        for seq, fn in (("PgDown", self.next), ("PgUp", self.previous),
                        ("Ctrl+Right", self.next), ("Ctrl+Left", self.previous)):
            act = QtWidgets.QAction(self)
            act.setShortcut(QtGui.QKeySequence(seq))
            act.setShortcutContext(QtCore.Qt.WidgetWithChildrenShortcut)
            act.triggered.connect(lambda _=False, f=fn: f())
            self.addAction(act)

    # ------------------------------------------------------------------------------------------
    def reload(self) -> None:
        """(Re)read the dataset and the active model's predictions in a worker."""
        w = worker.submit(load_cluster_state, str(self.workspace), pass_state=False)
        w.finished.connect(self._loaded)
        w.failed.connect(self._failed)

    def _failed(self, exc, tb) -> None:
        self.error = str(exc)
        self.title.setText(f"<span style='color:#b00000'>{exc}</span>")

    def _loaded(self, state: Dict[str, Any]) -> None:
        self.state = state
        cs = state["set"]
        if not self.channels:
            for name in cs.channels:
                panel = ChannelPanel(name)
                self.channels[name] = panel
                self.maps_row.addWidget(panel, 1)
        self.index_box.blockSignals(True)
        self.index_box.setRange(0, max(0, len(cs) - 1))
        self.index_box.blockSignals(False)
        self.count_label.setText(f"of {len(cs)}")
        self._draw_confusion(state.get("confusion"))
        self.show_map(min(self.index, max(0, len(cs) - 1)))
        self.training.set_live_target(self.sample_id(self.index))
        self.loaded.emit()

    @staticmethod
    def sample_id(index: int) -> str:
        return sample_id(index)

    def next(self) -> None:
        self.index_box.setValue(min(self.index + 1, self.index_box.maximum()))

    def previous(self) -> None:
        self.index_box.setValue(max(self.index - 1, 0))

    def show_map(self, index: int) -> None:
        """Draw map ``index`` (channels, attributes, prediction)."""
        if not self.state:
            return
        cs = self.state["set"]
        if len(cs) == 0:
            return
        index = int(max(0, min(int(index), len(cs) - 1)))
        self.index = index
        if self.index_box.value() != index:
            self.index_box.blockSignals(True)
            self.index_box.setValue(index)
            self.index_box.blockSignals(False)
        px = cs.meta.get("pixel_kpc")
        for c, name in enumerate(cs.channels):
            self.channels[name].set_map(cs.maps[index, :, :, c], px)
        row = cs.table.iloc[index]
        label = row.get("label")
        label = None if label is None or str(label) in ("<NA>", "nan", "") else str(label)
        self.true_label = label
        cid = row.get("clusterID", index)
        self.title.setText(f"<b>{self.workspace.name}</b> · map {index} · cluster {cid}"
                           + (f" · projection {row.get('projection')}" if "projection" in row else "")
                           + f" · true model: <b>{label or 'unlabelled'}</b>")
        self._draw_attributes(row)
        self._draw_prediction(self.state["pred"].get(self.sample_id(index)), cs.classes, label)
        self.training.set_live_target(self.sample_id(index))
        self.shown.emit(index)

    def _draw_attributes(self, row) -> None:
        keys = [k for k in ATTRIBUTE_UNITS if k in row.index]
        keys += [k for k in row.index if k not in ATTRIBUTE_UNITS and k != "label"]
        self.attributes.setRowCount(len(keys))
        for r, k in enumerate(keys):
            v = row[k]
            if isinstance(v, (float, np.floating)):
                text = f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
            else:
                text = str(v)
            for c, t in enumerate((k, text, ATTRIBUTE_UNITS.get(k, ""))):
                item = QtWidgets.QTableWidgetItem(t)
                if c == 1:
                    item.setTextAlignment(int(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter))
                self.attributes.setItem(r, c, item)
        self.attributes.resizeColumnsToContents()

    def _draw_prediction(self, pred: Optional[dict], classes: List[str], label: Optional[str]) -> None:
        ax = self.prob_plot.getAxis("bottom")
        ax.setTicks([[(i, c) for i, c in enumerate(classes)]])
        self.prob_plot.setXRange(-0.6, len(classes) - 0.4, padding=0)
        self.probs = None
        if pred is None:
            self.prob_bars.setOpts(x=[], height=[])
            model = self.state.get("model")
            self.pred_label.setText(f"no active {self.state.get('task') or ''} model — train one on the right"
                                    if model is None
                                    else f"model #{model['id']} has no prediction for this map")
            return
        probs = [float(pred["probs"].get(c, 0.0)) for c in classes]
        self.probs = dict(zip(classes, probs))
        k = int(np.argmax(probs))
        brushes = [pg.mkBrush("#e6862e" if i == k else "#7fb8e6") for i in range(len(classes))]
        self.prob_bars.setOpts(x=np.arange(len(classes)), height=probs, width=0.7, brushes=brushes)
        model = self.state.get("model") or {}
        right = "" if label is None else (" ✔ correct" if classes[k] == label else f" ✘ (true {label})")
        split = pred.get("split")
        if split not in ("train", "val", "test"):
            split = None
        self.pred_label.setText(f"model #{model.get('id')} ({model.get('arch')}): <b>{classes[k]}</b> "
                                f"p = {probs[k]:.2f}{right}" + (f" · {split} split" if split else ""))

    def _draw_confusion(self, conf: Optional[dict]) -> None:
        if not conf or not conf.get("matrix"):
            self.confusion.setRowCount(0)
            self.confusion.setColumnCount(0)
            self.confusion_title.setText(f"Confusion matrix: no active {self.state.get('task') or ''} model")
            return
        classes = list(conf["classes"])
        m = np.asarray(conf["matrix"], float)
        self.confusion.setRowCount(len(classes))
        self.confusion.setColumnCount(len(classes))
        self.confusion.setHorizontalHeaderLabels(list(classes))
        self.confusion.setVerticalHeaderLabels(list(classes))
        rows = m.sum(axis=1, keepdims=True)
        frac = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
        for i in range(len(classes)):
            for j in range(len(classes)):
                item = QtWidgets.QTableWidgetItem(f"{int(m[i, j])}")
                item.setTextAlignment(int(QtCore.Qt.AlignCenter))
                shade = int(255 - 150 * frac[i, j])
                colour = QtGui.QColor(shade, 255, shade) if i == j else QtGui.QColor(255, shade, shade)
                item.setBackground(colour)
                self.confusion.setItem(i, j, item)
        self.confusion.resizeColumnsToContents()
        acc = conf.get("accuracy")
        self.confusion_title.setText(
            f"Confusion matrix of model #{conf.get('model_id')} ({conf.get('arch')}), held-out test split"
            + (f": accuracy {acc:.2f}" if isinstance(acc, float) else "")
            + " — rows: true class, columns: predicted")
        self.confusion_title.setWordWrap(True)


class ClusterWindow(QtWidgets.QMainWindow):
    """A top-level window holding a :class:`ClusterView`; closing it cancels its training."""

    def __init__(self, root: Path, expert: str = "expert"):
        super().__init__()
        self.setWindowTitle(f"kinview clusters — {root.name}")
        self.setStyleSheet("QMainWindow, QWidget { background:#f7f7f7; color:#111111; }")
        self.cluster_view = ClusterView(root, expert=expert)
        self.setCentralWidget(self.cluster_view)
        self.resize(1500, 900)

    def closeEvent(self, ev):  # noqa: N802 - Qt name
        if self.cluster_view.training.is_running():
            self.cluster_view.training.cancel()
        super().closeEvent(ev)


def open_cluster_view(directory, expert: str = "expert", show: bool = True) -> "ClusterWindow":
    """Open a cluster dataset directory in its own window; returns the window
    (``window.cluster_view`` is the :class:`ClusterView`).

    The caller owns the Qt application (``kinview.gui.app.create_app``) and the event loop.
    Raises :class:`kinview.clusters.ClusterFormatError` (one line) when ``directory`` is not a
    cluster dataset.
    """
    root = Path(directory).expanduser().resolve()
    if not (root / MAPS_FILE).is_file() or not (root / TABLE_FILE).is_file():
        raise ClusterFormatError(f"{root}: not a cluster dataset (no {MAPS_FILE} + {TABLE_FILE}); "
                                 "make one with 'kinview demo-clusters --out DIR'")
    win = ClusterWindow(root, expert=expert)
    if show:
        win.show()
    return win
