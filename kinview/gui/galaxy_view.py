"""The galaxy view: colour image, stellar and gas velocity maps side by side (linked), an
optional second row with the flux and the dispersion maps, a header line and a hover read-out.

Linked: the two velocity maps (and the dispersion maps) share their sky range, so zooming or
panning one moves the others, and the hovered sky position is marked on every panel.
"""
from __future__ import annotations

import time
from typing import Dict, Optional

import numpy as np
from PyQt5 import QtCore, QtWidgets

from kinview.conventions import delta_pa
from kinview.gui.image_panel import ImagePanel
from kinview.gui.map_panel import MapPanel


class GalaxyView(QtWidgets.QWidget):
    """Three linked sky panels plus optional dispersion/flux panels.

    Signals
    -------
    drawn(str plateifu)                 after a galaxy's panels were updated
    pa_overridden(str plateifu, str field, float pa)   the user dragged a PA line
    """

    drawn = QtCore.pyqtSignal(str)
    pa_overridden = QtCore.pyqtSignal(str, str, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.header = QtWidgets.QLabel("")
        self.header.setTextFormat(QtCore.Qt.RichText)
        f = self.header.font()
        f.setPointSize(12)
        self.header.setFont(f)
        self.header.setStyleSheet("color:#111111; padding:2px 4px;")
        self.missing = QtWidgets.QLabel("")
        self.missing.setStyleSheet("color:#b00000; font-weight:bold; padding:0px 4px;")
        self.missing.setVisible(False)
        self.image = ImagePanel()
        self.stellar = MapPanel("Stellar velocity", "velocity")
        self.gas = MapPanel("Hα velocity", "velocity")
        # the flux and dispersion panels are built the first time they are shown
        self._extra = {}
        self.maps: Dict[str, MapPanel] = {"stellar": self.stellar, "gas": self.gas}
        # the maps are linked: zooming or panning one by hand moves the others (programmatic
        # ranges are set on each panel, so drawing a galaxy costs no cascade of updates)
        self.linked = []
        self.panels = []
        self.hover = QtWidgets.QLabel(" ")
        self.hover.setStyleSheet("color:#222222; font-family:monospace; padding:1px 4px;")
        grid = QtWidgets.QGridLayout()
        grid.setSpacing(4)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.image, 0, 0)
        grid.addWidget(self.stellar, 0, 1)
        grid.addWidget(self.gas, 0, 2)
        for c in range(3):
            grid.setColumnStretch(c, 1)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        self.grid = grid
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        lay.addWidget(self.header)
        lay.addWidget(self.missing)
        lay.addLayout(grid, 1)
        lay.addWidget(self.hover)
        for panel in (self.image, self.stellar, self.gas):
            self._register(panel)
        self.stellar.pa_overridden.connect(lambda pa: self._override("stellar", pa))
        self.gas.pa_overridden.connect(lambda pa: self._override("gas", pa))
        self.data = None
        self.plateifu: Optional[str] = None
        self.drawn_plateifu: Optional[str] = None
        self.drawn_at = 0.0
        self.percentile = 98.0
        self.toggles = {"sigma": False, "flux": False, "cleaned": False, "wedge": True}
        self._apply_rows()

    def _register(self, panel) -> None:
        self.panels.append(panel)
        panel.hovered.connect(lambda x, y, p=panel: self._hover(p, x, y))
        if isinstance(panel, MapPanel):
            self.linked.append(panel)
            panel.getPlotItem().getViewBox().sigRangeChangedManually.connect(
                lambda *_, p=panel: self._follow(p))

    def _extra_panel(self, name: str) -> MapPanel:
        panel = self._extra.get(name)
        if panel is None:
            title, quantity, col = {"flux": ("Hα flux (log)", "flux", 0),
                                    "sigma_stellar": ("Stellar σ", "sigma", 1),
                                    "sigma_gas": ("Hα σ", "sigma", 2)}[name]
            panel = MapPanel(title, quantity)
            self._extra[name] = panel
            self.grid.addWidget(panel, 1, col)
            self._register(panel)
        return panel

    @property
    def flux(self) -> MapPanel:
        return self._extra_panel("flux")

    @property
    def sigma_stellar(self) -> MapPanel:
        return self._extra_panel("sigma_stellar")

    @property
    def sigma_gas(self) -> MapPanel:
        return self._extra_panel("sigma_gas")

    # toggles -------------------------------------------------------------------------------
    def set_toggles(self, toggles: dict) -> None:
        changed = False
        for key in ("sigma", "flux", "cleaned", "wedge"):
            if key in toggles and bool(toggles[key]) != self.toggles[key]:
                self.toggles[key] = bool(toggles[key])
                changed = True
        if changed:
            self._apply_rows()
            if self.data is not None:
                self.show_galaxy(self.data, self._row, self._labels)

    def _apply_rows(self) -> None:
        if self.toggles["flux"] or "flux" in self._extra:
            self.flux.setVisible(self.toggles["flux"])
        for name in ("sigma_stellar", "sigma_gas"):
            if self.toggles["sigma"] or name in self._extra:
                self._extra_panel(name).setVisible(self.toggles["sigma"])
        self.grid.setRowStretch(1, 1 if (self.toggles["flux"] or self.toggles["sigma"]) else 0)

    def set_percentile(self, percentile: float) -> None:
        self.percentile = float(percentile)
        for panel in self.linked:
            panel.set_levels(self.percentile)

    # drawing -------------------------------------------------------------------------------
    def show_loading(self, plateifu: str, row: Optional[dict] = None) -> None:
        """Show the galaxy's name while its files load in the background."""
        self.plateifu = plateifu
        self.header.setText(f"<b>{plateifu}</b> &nbsp; <span style='color:#777'>loading…</span>")

    def show_galaxy(self, data, row: Optional[dict] = None, labels: Optional[dict] = None) -> None:
        """Draw a :class:`~kinview.gui.prefetch.GalaxyData` (all panels and overlays)."""
        row = row or {}
        labels = labels or {}
        self._row = row
        self._labels = labels
        self.data = data
        self.plateifu = data.plateifu
        over = {k: labels.get((k, "pa_override")) for k in ("stellar", "gas")}
        pas = {}
        view_half = None
        fp = data.footprint
        if fp is not None:
            view_half = float(np.max(np.hypot(fp[:, 0], fp[:, 1]))) * 1.12
        for kind, panel in self.maps.items():
            fv = data.fields.get(kind)
            if fv is None:
                what = "no MAPS file" if any("MAPS" in m for m in data.missing) else (
                    "no emission-line (gas) map" if kind == "gas" else "no stellar map")
                panel.show_missing(what)
                pas[kind] = float("nan")
                continue
            ov = over.get(kind)
            ov = float(ov) if ov is not None else None
            panel.set_field(fv, data.footprint, self.percentile, self.toggles["cleaned"],
                            self.toggles["wedge"], view_half, ov)
            pas[kind] = ov if ov is not None else fv.pa
        for name, kind in (("sigma_stellar", "stellar"), ("sigma_gas", "gas")):
            if self.toggles["sigma"]:
                panel = self._extra_panel(name)
                fv = data.fields.get(kind)
                if fv is None:
                    panel.show_missing("no map")
                else:
                    panel.set_field(fv, data.footprint, self.percentile, False, False, view_half)
        if self.toggles["flux"]:
            fv = data.fields.get("gas") or data.fields.get("stellar")
            if fv is None:
                self.flux.show_missing("no map")
            else:
                self.flux.base_title = "Hα flux (log)" if fv.kind == "gas" else "Stellar flux (log)"
                self.flux.set_field(fv, data.footprint, self.percentile, False, False, view_half)
        self.image.set_galaxy(data, pas.get("stellar", float("nan")))
        # header line
        dpa = float(delta_pa(pas.get("stellar", np.nan), pas.get("gas", np.nan)))
        z = row.get("z")
        bits = [f"<b style='font-size:14pt'>{data.plateifu}</b>"]
        if z is not None and np.isfinite(z):
            bits.append(f"z = {z:.4f}")
        ifu = row.get("ifusize")
        if ifu is not None and ifu > 0:
            bits.append(f"IFU {ifu}")
        if np.isfinite(dpa):
            colour = "#b00000" if dpa >= 30 else "#111111"
            bits.append(f"<span style='color:{colour}'>ΔPA = {dpa:.1f}°</span>")
        else:
            bits.append("ΔPA = —")
        pos = row.get("_position")
        if pos:
            bits.append(f"<span style='color:#555'>{pos}</span>")
        self.header.setText(" &nbsp;·&nbsp; ".join(bits))
        if data.missing:
            self.missing.setText("Missing: " + "; ".join(data.missing))
            self.missing.setVisible(True)
        else:
            self.missing.setText("")
            self.missing.setVisible(False)
        self.drawn_plateifu = data.plateifu
        self.drawn_at = time.perf_counter()
        self.drawn.emit(data.plateifu)

    def _follow(self, source) -> None:
        xr, yr = source.getPlotItem().getViewBox().viewRange()
        for panel in self.linked:
            if panel is not source and panel.isVisible():
                panel._range = None
                panel.getPlotItem().getViewBox().setRange(xRange=xr, yRange=yr, padding=0)

    # hover and overrides ---------------------------------------------------------------------
    def _hover(self, source, x, y) -> None:
        for panel in self.panels:
            panel.crosshair.show_at(x, y) if panel is not source else panel.crosshair.show_at(None, None)
        if x is None:
            return
        texts = []
        for panel in (self.stellar, self.gas):
            t = panel.describe(x, y)
            if t:
                texts.append(t)
        if not texts:
            texts.append(f"x={x:+.1f}″ y={y:+.1f}″ (outside the maps)")
        self.hover.setText("   |   ".join(texts))

    def _override(self, kind: str, pa: float) -> None:
        if self.plateifu:
            self.pa_overridden.emit(self.plateifu, kind, float(pa))
