"""The galaxy list: a table model over the view state's filtered, sorted order.

Filtering and sorting are done by :func:`kinview.viewstate.ordered_rows` on the whole table in
numpy/pandas (one pass, a few milliseconds for 10,000 galaxies) and the model shows the
resulting ``ViewState.order``; so the list, "next"/"previous" and the benchmarks all agree on
one order.  Clicking a header sorts by that column (again to reverse).
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np
from PyQt5 import QtCore, QtGui, QtWidgets

from kinview.viewstate import COLUMNS, FILTERS

#: Full names of the compact column headers (their tooltips).
HEADER_TIPS = {"plateifu": "plate-IFU", "z": "redshift (catalogue)", "ifusize": "IFU size (fibres)",
               "stel_qual": "your stellar quality label", "gas_qual": "your gas quality label",
               "stellar_pa": "stellar kinematic PA (° E of N, receding side)",
               "gas_pa": "gas kinematic PA (° E of N, receding side)",
               "dpa": "|PA★ − PAgas| (°)", "pred_stellar": "model: stellar quality",
               "conf_stellar": "model: stellar confidence", "pred_gas": "model: gas quality",
               "conf_gas": "model: gas confidence", "n_experts": "experts who labelled it"}

_QUAL_COLOURS = {0: QtGui.QColor("#f3c4c4"), 1: QtGui.QColor("#f6e7b0"), 2: QtGui.QColor("#c8ecc8")}


class GalaxyTableModel(QtCore.QAbstractTableModel):
    """Rows = plate-ifus of ``order``; columns = :data:`kinview.viewstate.COLUMNS`."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = None
        self.order: List[str] = []
        self.columns = list(COLUMNS)
        self._pos = {}
        self._tpos = {}
        self._arrays = {}

    def set_data(self, table, order: List[str]) -> None:
        """Show ``order`` (plate-ifus) of ``table``; the shown columns are cached as arrays."""
        self.beginResetModel()
        self.table = table
        self.order = list(order)
        self._pos = {p: i for i, p in enumerate(self.order)}
        self._tpos = {p: i for i, p in enumerate(table.index)}
        self._arrays = {c: table[c].to_numpy(copy=True) for c in self.columns
                        if c != "plateifu" and c in table.columns}
        for c in PA_STATUS_COLUMNS:       # tells "not fitted yet" from "no PA"
            if c in table.columns:
                self._arrays[c] = table[c].to_numpy(copy=True)
        self.endResetModel()

    def row_of(self, plateifu: str) -> int:
        return self._pos.get(plateifu, -1)

    def refresh_row(self, plateifu: str) -> None:
        """Re-read one galaxy's values from the table (after a label or a new PA fit)."""
        i = self._tpos.get(plateifu)
        if i is None or self.table is None:
            return
        for c, arr in self._arrays.items():
            arr[i] = self.table.iat[i, self.table.columns.get_loc(c)]
        r = self.row_of(plateifu)
        if r >= 0:
            self.dataChanged.emit(self.index(r, 0), self.index(r, len(self.columns) - 1))

    def _pa_status(self, plateifu: str, col: str) -> str:
        """``'fitted'``, ``'unfitted'`` (no fit stored yet), ``'none'`` (the fit failed) or
        ``'nomaps'`` for a PA column (ΔPA: the worse of the two fields)."""
        if "has_maps" in self._arrays and not self._value(plateifu, "has_maps"):
            return "nomaps"
        fields = _PA_FIELDS[col]
        states = []
        for fld in fields:
            value = self._value(plateifu, f"{fld}_pa")
            if value is not None and np.isfinite(value):
                states.append("fitted")
            elif not isinstance(self._value(plateifu, f"pa_method_{fld}"), str):
                states.append("unfitted")
            else:
                states.append("none")
        for s in ("unfitted", "none"):
            if s in states:
                return s
        return "fitted"

    def _value(self, plateifu: str, col: str):
        arr = self._arrays.get(col)
        if arr is None:
            return None
        return arr[self._tpos[plateifu]]

    # Qt model API ----------------------------------------------------------------------------
    def rowCount(self, parent=QtCore.QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() else len(self.order)

    def columnCount(self, parent=QtCore.QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=QtCore.Qt.DisplayRole):  # noqa: N802
        if role == QtCore.Qt.DisplayRole:
            if orientation == QtCore.Qt.Horizontal:
                return COLUMNS[self.columns[section]]
            return str(section + 1)
        if role == QtCore.Qt.ToolTipRole and orientation == QtCore.Qt.Horizontal:
            name = self.columns[section]
            return HEADER_TIPS.get(name, COLUMNS[name]) + " (click to sort)"
        return None

    def data(self, index, role=QtCore.Qt.DisplayRole):
        if not index.isValid() or self.table is None:
            return None
        pifu = self.order[index.row()]
        col = self.columns[index.column()]
        if role == QtCore.Qt.DisplayRole:
            if col == "plateifu":
                return pifu
            text = _fmt(col, self._value(pifu, col))
            if not text and col in _PA_FIELDS:
                return _PA_MARK.get(self._pa_status(pifu, col), "")
            return text
        if role == QtCore.Qt.ToolTipRole and col in _PA_FIELDS:
            status = self._pa_status(pifu, col)
            return _PA_TIP.get(status)
        if role == QtCore.Qt.ForegroundRole and col in _PA_FIELDS:
            value = self._value(pifu, col)
            if value is None or not np.isfinite(value):
                return QtGui.QColor("#777777")
        if role == QtCore.Qt.BackgroundRole and col in ("stel_qual", "gas_qual"):
            value = self._value(pifu, col)
            if value is not None and np.isfinite(value):
                return _QUAL_COLOURS.get(int(value))
        if role == QtCore.Qt.ForegroundRole and col == "dpa":
            value = self._value(pifu, col)
            if value is not None and np.isfinite(value) and value >= 30:
                return QtGui.QColor("#b00000")
        if role == QtCore.Qt.TextAlignmentRole and col != "plateifu":
            return int(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
        return None


#: Columns needed to tell "not fitted yet" from "no PA" (not shown themselves).
PA_STATUS_COLUMNS = ("pa_method_stellar", "pa_method_gas", "has_maps", "stellar_pa", "gas_pa")
#: PA columns and the fields they depend on.
_PA_FIELDS = {"stellar_pa": ("stellar",), "gas_pa": ("gas",), "dpa": ("stellar", "gas")}
#: What an empty PA cell shows: not fitted yet (…) or no PA (–).
_PA_MARK = {"unfitted": "…", "none": "–"}
_PA_TIP = {"unfitted": "not fitted yet: PA fits resume in the background when kinview starts",
           "none": "no PA: the fit failed (no valid spaxels, no rotation, or no map)",
           "nomaps": "no MAPS file"}


def _fmt(col: str, value) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    if not np.isfinite(v):
        return ""
    if col == "z":
        return f"{v:.4f}"
    if col in ("stellar_pa", "gas_pa", "dpa"):
        return f"{v:.0f}"
    if col in ("pred_stellar", "pred_gas", "conf_stellar", "conf_gas"):
        return f"{v:.2f}"
    if col in ("ifusize", "stel_qual", "gas_qual", "n_experts"):
        return "" if v < 0 else f"{int(v)}"
    return f"{v:g}"


class GalaxyList(QtWidgets.QWidget):
    """Filter bar + table of galaxies.

    Signals
    -------
    activated(str plateifu)          the user picked a row
    filter_changed(str name, object k)
    sort_requested(str column)
    """

    activated = QtCore.pyqtSignal(str)
    filter_changed = QtCore.pyqtSignal(str, object)
    sort_requested = QtCore.pyqtSignal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._selecting = False
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(3)
        bar = QtWidgets.QHBoxLayout()
        self.filter = QtWidgets.QComboBox()
        for key, text in FILTERS.items():
            self.filter.addItem(text, key)
        self.filter.setFocusPolicy(QtCore.Qt.ClickFocus)
        self.k = QtWidgets.QSpinBox()
        self.k.setRange(0, 2)
        self.k.setPrefix("k = ")
        self.k.setEnabled(False)
        self.k.setFocusPolicy(QtCore.Qt.ClickFocus)
        bar.addWidget(self.filter, 1)
        bar.addWidget(self.k)
        lay.addLayout(bar)
        self.search = QtWidgets.QLineEdit()
        self.search.setPlaceholderText("go to plate-ifu…")
        self.search.setFocusPolicy(QtCore.Qt.ClickFocus)
        self.search.returnPressed.connect(self._search)
        lay.addWidget(self.search)
        self.count = QtWidgets.QLabel("")
        self.count.setStyleSheet("color:#333333;")
        lay.addWidget(self.count)
        self.model = GalaxyTableModel(self)
        self.view = QtWidgets.QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.view.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.view.setFocusPolicy(QtCore.Qt.ClickFocus)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(20)
        self.view.horizontalHeader().setSectionsClickable(True)
        self.view.horizontalHeader().sectionClicked.connect(
            lambda i: self.sort_requested.emit(self.model.columns[i]))
        self.view.setStyleSheet("QTableView { color:#111111; font-size:9pt; }")
        self.view.ensurePolished()
        self.fit_columns()
        # the clipping check (kinview.gui.screenshot) wants these leading columns on screen
        self.view.setProperty("essential_columns", len(self.ESSENTIAL_COLUMNS))
        self.view.setAlternatingRowColors(True)
        self.view.clicked.connect(self._clicked)
        # moving through the list with the keyboard (when it has focus) follows too
        self.view.selectionModel().currentRowChanged.connect(
            lambda cur, _prev: self._clicked(cur))
        lay.addWidget(self.view, 1)
        self.filter.currentIndexChanged.connect(self._filter_changed)
        self.k.valueChanged.connect(self._filter_changed)

    #: Columns that must be on screen without scrolling (through ΔPA); the rest scroll.
    ESSENTIAL_COLUMNS = ("plateifu", "z", "ifusize", "stel_qual", "gas_qual", "stellar_pa",
                         "gas_pa", "dpa")
    #: Widest cell text of each column (9 pt table font), for the column widths.
    _SAMPLE = {"plateifu": "10414-12703", "z": "0.0000", "ifusize": "127", "stel_qual": "2",
               "gas_qual": "2", "stellar_pa": "359°", "gas_pa": "359°", "dpa": "179°",
               "pred_stellar": "1.00", "conf_stellar": "1.00", "pred_gas": "1.00",
               "conf_gas": "1.00", "n_experts": "10"}

    def fit_columns(self) -> None:
        """Each column as wide as its header (as the header's style draws it) or its widest
        cell, whichever is wider: no header is cut, and no column is wider than it needs
        (the PA columns fit a 1280 px window)."""
        head = self.view.horizontalHeader()
        head.ensurePolished()
        cell = self.view.fontMetrics()
        style = head.style()
        for c, name in enumerate(self.model.columns):
            opt = QtWidgets.QStyleOptionHeader()
            opt.initFrom(head)
            opt.section = c
            opt.text = COLUMNS[name]
            opt.fontMetrics = head.fontMetrics()
            need = style.sizeFromContents(QtWidgets.QStyle.CT_HeaderSection, opt, QtCore.QSize(),
                                          head).width()
            sample = self._SAMPLE.get(name, "0.000")
            self.view.setColumnWidth(c, max(need + 2, cell.horizontalAdvance(sample) + 8))

    def essential_width(self) -> int:
        """Width (px) the list needs to show :data:`ESSENTIAL_COLUMNS` without scrolling."""
        cols = [c for c, name in enumerate(self.model.columns) if name in self.ESSENTIAL_COLUMNS]
        frame = 2 * self.view.frameWidth() + self.view.verticalScrollBar().sizeHint().width()
        margins = self.layout().contentsMargins()
        return sum(self.view.columnWidth(c) for c in cols) + frame + margins.left() + margins.right() + 2

    def set_filter(self, name: str, k: Optional[int]) -> None:
        """Show ``name``/``k`` in the controls without emitting."""
        self.filter.blockSignals(True)
        self.k.blockSignals(True)
        i = self.filter.findData(name)
        if i >= 0:
            self.filter.setCurrentIndex(i)
        if k is not None:
            self.k.setValue(int(k))
        self.k.setEnabled(name == "quality")
        self.filter.blockSignals(False)
        self.k.blockSignals(False)

    def _filter_changed(self, *_):
        name = self.filter.currentData()
        self.k.setEnabled(name == "quality")
        self.filter_changed.emit(name, self.k.value() if name == "quality" else None)

    def set_data(self, table, order: List[str]) -> None:
        self.model.set_data(table, order)
        self.count.setText(f"{len(order)} of {len(table)} galaxies")

    def select(self, plateifu: Optional[str]) -> None:
        if plateifu is None:
            return
        r = self.model.row_of(plateifu)
        if r < 0:
            return
        idx = self.model.index(r, 0)
        sel = self.view.selectionModel()
        # the selection model's signals must reach the view (blocking them left the rows
        # selected before painted as selected: eight highlighted rows after fast → presses);
        # only our own "activated" is held back while the program moves the selection
        self._selecting = True
        try:
            sel.setCurrentIndex(idx, QtCore.QItemSelectionModel.ClearAndSelect
                                | QtCore.QItemSelectionModel.Rows)
        finally:
            self._selecting = False
        self.view.scrollTo(idx, QtWidgets.QAbstractItemView.EnsureVisible)

    def selected_rows(self) -> List[int]:
        """Rows selected in the table (one at most)."""
        return sorted({i.row() for i in self.view.selectionModel().selectedIndexes()})

    def _clicked(self, index) -> None:
        if index.isValid() and not self._selecting:
            self.activated.emit(self.model.order[index.row()])

    def _search(self) -> None:
        text = self.search.text().strip()
        if text:
            self.activated.emit(text)
        self.search.clearFocus()
