"""The galaxy view: colour image, stellar and gas velocity maps side by side (linked), an
optional second row with the flux and the dispersion maps, a header line and a hover read-out.

Linked: every sky panel (the image included) shares one sky range, so zooming or panning one
moves the others, and the hovered sky position is marked on every panel.  By default each
galaxy opens framed on its IFU (the image too); the ``wide_image`` toggle shows the whole
cutout instead, ``keep_zoom`` keeps a hand-set zoom from galaxy to galaxy, and
:meth:`GalaxyView.reset_zoom` (the Home key) returns to the default framing
(:class:`kinview.viewing.ZoomState`).  Each panel carries a kpc scale bar (from z) and the
PSF FWHM (toggle ``marks``).  While a galaxy loads every panel is blank and says so, so a
header never names one galaxy above another's maps.
"""
from __future__ import annotations

import time
from typing import Dict, Optional

import numpy as np
from PyQt5 import QtCore, QtWidgets

from kinview import viewing
from kinview.conventions import delta_pa
from kinview.gui.elided_label import ElidedLabel
from kinview.gui.image_panel import ImagePanel
from kinview.gui.map_panel import MapPanel

#: View toggles the galaxy view understands (see the module docstring).
VIEW_TOGGLES = ("sigma", "flux", "cleaned", "wedge", "wide_image", "keep_zoom", "shared_vscale",
                "marks")


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
        # one line whose height is kept while it is hidden: a galaxy with something missing
        # must not shrink the sky panels (a re-layout and new axis pictures on every change)
        self.missing = ElidedLabel("")
        self.missing.setStyleSheet("color:#b00000; font-weight:bold; padding:0px 4px;")
        policy = self.missing.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.missing.setSizePolicy(policy)
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
        self.hover.setMinimumWidth(10)
        self.hover.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        self.header.setMinimumWidth(10)
        self.header.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        self.header.setWordWrap(True)
        # at least one full line of the largest header text, whatever glyphs a galaxy's header
        # has: a header a pixel shorter would re-lay out (and re-frame) every panel below it
        self.header.setText("<b style='font-size:14pt'>8888-12345</b> z = 0.0000 · ΔPA = —° ★")
        self.header.setMinimumHeight(self.header.heightForWidth(4000))
        self.header.setText("")
        self.empty = QtWidgets.QLabel("")
        self.empty.setAlignment(QtCore.Qt.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color:#555555; font-size:14pt; padding:40px;")
        self.empty.setVisible(False)
        self.sky = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(self.sky)
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
        lay.addWidget(self.sky, 1)
        lay.addWidget(self.empty, 1)
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
        self.toggles = {"sigma": False, "flux": False, "cleaned": False, "wedge": True,
                        "wide_image": False, "keep_zoom": False, "shared_vscale": False,
                        "marks": True}
        self.zoom = viewing.ZoomState()
        self.cmaps = dict(viewing.DEFAULT_CMAPS)
        self._default_view = None       # the framing of the galaxy on screen: maps, image
        self._zoom_for = None           # the galaxy the zoom state belongs to
        self._row = {}
        self._labels = {}
        self._apply_rows()
        # idle-time drawing of axis pictures later galaxies will need (one small job per tick,
        # so a key press waits at most one job)
        self._warm_jobs = []
        self._warm_timer = QtCore.QTimer(self)
        self._warm_timer.setInterval(3)
        self._warm_timer.timeout.connect(self._warm_step)
        self._warmed_size = None

    def _schedule_warm(self) -> None:
        """Queue the idle-time axis drawing for the panels' present sizes (once per size)."""
        panels = (self.image, self.stellar, self.gas)
        size = tuple((p.width(), p.height()) for p in panels)
        if size == self._warmed_size:
            return
        self._warmed_size = size
        self._warm_jobs = [job for panel in panels for job in panel.warm_jobs()]
        self._warm_timer.start()

    def _warm_step(self) -> None:
        while self._warm_jobs:
            try:
                if self._warm_jobs.pop(0)():     # one picture drawn: wait for the next tick
                    return
            except RuntimeError:                 # the panel is being deleted
                self._warm_jobs.clear()
        self._warm_timer.stop()

    def _register(self, panel) -> None:
        self.panels.append(panel)
        panel.hovered.connect(lambda x, y, p=panel: self._hover(p, x, y))
        self.linked.append(panel)
        panel.getPlotItem().getViewBox().sigRangeChangedManually.connect(
            lambda *_, p=panel: self._follow(p))
        if isinstance(panel, MapPanel):
            panel.set_cmap(self.cmaps["velocity" if panel.quantity == "velocity" else "sequential"]
                           if hasattr(self, "cmaps") else panel.cmap_name)

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
        for key in VIEW_TOGGLES:
            if key in toggles and bool(toggles[key]) != self.toggles[key]:
                self.toggles[key] = bool(toggles[key])
                changed = True
        self.zoom.keep = self.toggles["keep_zoom"]
        if changed:
            self._apply_rows()
            for panel in self.panels:
                panel.marks.set_enabled(self.toggles["marks"])
            if self.data is not None:
                self.show_galaxy(self.data, self._row, self._labels)

    def _apply_rows(self) -> None:
        if self.toggles["flux"] or "flux" in self._extra:
            self.flux.setVisible(self.toggles["flux"])
        for name in ("sigma_stellar", "sigma_gas"):
            if self.toggles["sigma"] or name in self._extra:
                self._extra_panel(name).setVisible(self.toggles["sigma"])
        self.grid.setRowStretch(1, 1 if (self.toggles["flux"] or self.toggles["sigma"]) else 0)

    def paint_spec(self):
        """(percentile, colour-map name, 256×4 uint8 table) the velocity maps are coloured
        with now, for the loader threads to colour the next galaxies ahead of the paint."""
        return self.percentile, self.stellar.cmap_name, self.stellar.lut

    def set_percentile(self, percentile: float) -> None:
        self.percentile = float(percentile)
        self._share_limits()
        for panel in self.linked:
            if isinstance(panel, MapPanel):
                panel.set_levels(self.percentile)

    def set_cmap(self, kind: str, name: str) -> None:
        """Colour map for ``kind`` ``'velocity'`` (diverging) or ``'sequential'`` (σ, flux)."""
        name = viewing.valid_cmap(kind, name)
        self.cmaps[kind] = name
        for panel in self.linked:
            if isinstance(panel, MapPanel) and (panel.quantity == "velocity") == (kind == "velocity"):
                panel.set_cmap(name)

    def _share_limits(self) -> None:
        """One velocity scale for both maps (toggle ``shared_vscale``): the larger limit."""
        lim = None
        if self.toggles["shared_vscale"] and self.data is not None:
            lims = [fv.vmax(self.percentile) for fv in self.data.fields.values()
                    if fv is not None and np.isfinite(fv.vel).any()]
            lim = max(lims) if lims else None
        for panel in self.linked:
            if isinstance(panel, MapPanel) and panel.quantity == "velocity":
                panel.shared_limit = lim

    # zoom ----------------------------------------------------------------------------------
    def _views(self):
        """(map range, image range) to show now: the kept hand-set zoom, else the default."""
        maps, image = self._default_view
        if self.zoom.range is not None:
            return self.zoom.range, self.zoom.range
        return maps, image

    def reset_zoom(self) -> None:
        """Back to the galaxy's default framing (the Home key)."""
        self.zoom.reset()
        if self._default_view is None:
            return
        maps, image = self._default_view
        for panel in self.panels:
            if panel.isVisible() or panel is self.image:
                panel.set_view(image if panel is self.image else maps)

    def view_range(self, panel=None):
        """The sky range ((x_min, x_max), (y_min, y_max)) a panel shows (default: stellar)."""
        return (panel or self.stellar).getPlotItem().getViewBox().viewRange()

    # drawing -------------------------------------------------------------------------------
    def show_loading(self, plateifu: str, row: Optional[dict] = None) -> None:
        """Show the galaxy's name while its files load in the background; every panel is
        blanked and says "loading…" (nothing of the previous galaxy stays on screen)."""
        self.plateifu = plateifu
        self._show_sky()
        self.clear_hover()
        self.header.setText(f"<b>{plateifu}</b> &nbsp; <span style='color:#777'>loading…</span>")
        self.missing.setVisible(False)
        for panel in self.panels:
            if panel.isVisible() or panel in (self.image, self.stellar, self.gas):
                panel.show_loading()
        self.drawn_plateifu = None

    def show_empty(self, message: str) -> None:
        """Replace the sky panels by ``message`` (e.g. no galaxy passes the filter)."""
        self.plateifu = None
        self.drawn_plateifu = None
        self.data = None
        self.clear_hover()
        self.header.setText("")
        self.missing.setVisible(False)
        self.empty.setText(message)
        self.sky.setVisible(False)
        self.empty.setVisible(True)

    def _show_sky(self) -> None:
        if self.empty.isVisible():
            self.empty.setVisible(False)
            self.sky.setVisible(True)

    def clear_hover(self) -> None:
        """Forget the hover read-out and the crosshairs (the galaxy changed)."""
        self.hover.setText(" ")
        for panel in self.panels:
            panel.crosshair.show_at(None, None)

    def show_galaxy(self, data, row: Optional[dict] = None, labels: Optional[dict] = None) -> None:
        """Draw a :class:`~kinview.gui.prefetch.GalaxyData` (all panels and overlays)."""
        row = row or {}
        labels = labels or {}
        if data.plateifu != self._zoom_for:
            self._zoom_for = data.plateifu
            self.clear_hover()
            self.zoom.next_galaxy()
        self._show_sky()
        self._row = row
        self._labels = labels
        self.data = data
        self.plateifu = data.plateifu
        over = {k: labels.get((k, "pa_override")) for k in ("stellar", "gas")}
        pas = {}
        view_half = None
        fp = data.footprint
        if fp is not None:
            # rounded up to whole arcsec: galaxies share a handful of framings, so the axes'
            # tick pictures drawn for one are reused for the next (no tick layout per galaxy)
            view_half = float(np.ceil(float(np.max(np.hypot(fp[:, 0], fp[:, 1]))) * 1.12))
        maps_view = viewing.square_range(view_half or 15.0)
        image_view = None if self.toggles["wide_image"] else maps_view
        self._default_view = (maps_view, image_view)
        self._share_limits()
        view, img_view = self._views()
        scale = getattr(data, "kpc_per_arcsec", None)       # computed by the loader
        if scale is None or not np.isfinite(scale):
            scale = viewing.kpc_per_arcsec(row.get("z"))
        fwhm, measured = viewing.psf_fwhm(getattr(data, "psf_fwhm", None))
        psf_label = f"PSF {fwhm:.1f}″" if measured else f"PSF ~{fwhm:.1f}″"
        shown = [p for p in self.panels
                 if p.isVisible() or p in (self.image, self.stellar, self.gas)]
        for panel in shown:      # placed by the range change that follows, or below
            panel.marks.set(scale, float("nan") if panel is self.image else fwhm, psf_label,
                            place=False)
        for kind, panel in self.maps.items():
            fv = data.fields.get(kind)
            if fv is None:
                what = "no MAPS file" if any("MAPS" in m for m in data.missing) else (
                    "no emission-line (gas) map" if kind == "gas" else "no stellar map")
                panel.show_missing(what, view)
                pas[kind] = float("nan")
                continue
            ov = over.get(kind)
            ov = float(ov) if ov is not None else None
            panel.set_field(fv, data.footprint, self.percentile, self.toggles["cleaned"],
                            self.toggles["wedge"], view, ov)
            pas[kind] = ov if ov is not None else fv.pa
        for name, kind in (("sigma_stellar", "stellar"), ("sigma_gas", "gas")):
            if self.toggles["sigma"]:
                panel = self._extra_panel(name)
                fv = data.fields.get(kind)
                if fv is None:
                    panel.show_missing("no map", view)
                else:
                    panel.set_field(fv, data.footprint, self.percentile, False, False, view)
        if self.toggles["flux"]:
            fv = data.fields.get("gas") or data.fields.get("stellar")
            if fv is None:
                self.flux.show_missing("no map", view)
            else:
                self.flux.base_title = "Hα flux (log)" if fv.kind == "gas" else "Stellar flux (log)"
                self.flux.set_field(fv, data.footprint, self.percentile, False, False, view)
        self.image.set_galaxy(data, pas.get("stellar", float("nan")), img_view)
        for panel in shown:
            panel.marks.place()
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
        self._schedule_warm()

    def _follow(self, source) -> None:
        """The user zoomed or panned ``source``: every other panel shows the same sky."""
        xr, yr = source.getPlotItem().getViewBox().viewRange()
        self.zoom.user_zoomed((tuple(xr), tuple(yr)))
        source._range = None
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
