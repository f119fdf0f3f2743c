"""One map panel: a MAPS quantity on the sky, North up / East left, arcsec axes.

Velocity maps use a symmetric diverging colour scale (ColorBrewer RdBu reversed: red =
receding, positive v − v_sys) centred on the systemic velocity, with limits at a percentile
of |v − v_sys| the user can change.  Masked spaxels inside the IFU footprint are drawn in a
flat dark grey, distinct from every colour of the scale; spaxels outside the footprint are
left blank.  Hovering reports x, y, v, its error and the DAPPIXMASK bits.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtGui, QtWidgets

from kinview.data.dapbits import decode
from kinview.session.loading import nice_limit
from kinview.viewing import MASKED_RGBA, colourise  # noqa: F401 - re-exported
from kinview.gui.overlays import CornerMarks, Crosshair, FootprintItem, PALine

#: ColorBrewer RdBu (11 classes), reversed: blue (approaching) → white → red (receding).
RDBU_R = ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
          "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f"]
#: A sequential map for dispersion and flux (ColorBrewer YlGnBu-like, light → dark).
SEQUENTIAL = ["#ffffd9", "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8",
              "#253494", "#081d58"]
REMOVED_COLOR = "#000000"
PLOT_BACKGROUND = "#ffffff"


def colormap(colors) -> pg.ColorMap:
    return pg.ColorMap(np.linspace(0.0, 1.0, len(colors)), [pg.mkColor(c) for c in colors])


_CMAPS = {}


def get_cmap(name: str) -> pg.ColorMap:
    """A colour map by name: kinview's ``RdBu_r`` (alias ``diverging``) and ``YlGnBu`` (alias
    ``sequential``), or any map :func:`pyqtgraph.colormap.get` knows (e.g. ``CET-D1``,
    ``viridis``)."""
    if name not in _CMAPS:
        if name in ("diverging", "RdBu_r"):
            _CMAPS[name] = colormap(RDBU_R)
        elif name in ("sequential", "YlGnBu"):
            _CMAPS[name] = colormap(SEQUENTIAL)
        else:
            _CMAPS[name] = pg.colormap.get(name)
    return _CMAPS[name]


def lookup_table(name: str) -> np.ndarray:
    """256×4 uint8 RGBA table of the colour map ``name``."""
    return get_cmap(name).getLookupTable(0.0, 1.0, 256, alpha=True).astype(np.uint8)


def plain_text(rich: str) -> str:
    """The visible text of a rich-text (HTML) string."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", rich or ""))


#: Point size of the sky-panel titles.
TITLE_PT = 10.5

_TITLE_WIDTHS: dict = {}


def _title_width(fm: QtGui.QFontMetrics, rich: str) -> int:
    """Pixels the visible text of the title ``rich`` needs in the (bold) title font;
    remembered, as the same titles come back galaxy after galaxy."""
    width = _TITLE_WIDTHS.get(rich)
    if width is None:
        if len(_TITLE_WIDTHS) > 4096:
            _TITLE_WIDTHS.clear()
        width = _TITLE_WIDTHS[rich] = fm.horizontalAdvance(plain_text(rich))
    return width


class CachedAxisItem(pg.AxisItem):
    """An axis that keeps the pictures of the last few ranges it drew.

    Galaxies share a handful of view ranges (one per IFU size) and of rounded colour limits,
    so going to the next galaxy usually finds its axes already drawn: this saves most of the
    per-galaxy cost of laying out tick labels.
    """

    CACHE_SIZE = 64

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pictures = {}
        # an unchanged axis repaints as a pixmap (no Python paint call)
        self.setCacheMode(QtWidgets.QGraphicsItem.DeviceCoordinateCache)

    def _key(self):
        r = self.range
        # 3 decimals: ranges computed two ways (the view box, :meth:`SkyPlot.warm_jobs`) agree
        # to this, and pictures that differ below it are identical on screen
        return (round(float(r[0]), 3), round(float(r[1]), 3), round(self.width(), 1),
                round(self.height(), 1), self.labelText, bool(self.style.get("showValues", True)))

    def paint(self, p, opt, widget):
        key = self._key()
        if self.picture is None:
            cached = self._pictures.get(key)
            if cached is not None:
                self.picture = cached
        super().paint(p, opt, widget)
        if key not in self._pictures:
            if len(self._pictures) >= self.CACHE_SIZE:
                self._pictures.pop(next(iter(self._pictures)))
            self._pictures[key] = self.picture

    def setStyle(self, **kwargs):  # noqa: N802 - pyqtgraph name
        self._pictures = {}
        return super().setStyle(**kwargs)

    def warm(self, lo: float, hi: float) -> bool:
        """Draw (and keep) the picture of the range ``lo``–``hi`` at the axis's present size
        without showing it: idle-time work so that the galaxy that needs it later finds it
        ready.  Returns False when it was already kept."""
        saved_range, saved_picture = self.range, self.picture
        self.range = [float(lo), float(hi)]
        try:
            key = self._key()
            if key in self._pictures:
                return False
            picture = QtGui.QPicture()
            painter = QtGui.QPainter(picture)
            try:
                if self.style["tickFont"]:
                    painter.setFont(self.style["tickFont"])
                specs = self.generateDrawSpecs(painter)
                if specs is not None:
                    self.drawPicture(painter, *specs)
            finally:
                painter.end()
            if len(self._pictures) >= self.CACHE_SIZE:
                self._pictures.pop(next(iter(self._pictures)))
            self._pictures[key] = picture
            return True
        finally:
            self.range, self.picture = saved_range, saved_picture


def _colour_bar(**kwargs) -> pg.ColorBarItem:
    """A ColorBarItem whose axes are :class:`CachedAxisItem` (it builds its own axes, so the
    class is swapped in while it is constructed)."""
    import importlib

    plot_module = importlib.import_module("pyqtgraph.graphicsItems.PlotItem.PlotItem")

    original = plot_module.AxisItem
    plot_module.AxisItem = CachedAxisItem
    try:
        return pg.ColorBarItem(**kwargs)
    finally:
        plot_module.AxisItem = original


def _elastic_label(label) -> None:
    """Let a pyqtgraph LabelItem (a plot title) be narrower than its text: a long title must
    not push the plot and its colour bar out of the panel (the text is clipped instead)."""
    import types

    original = type(label).updateMin

    def update_min(self):
        original(self)
        h = self._sizeHint[QtCore.Qt.SizeHint.MinimumSize][1]
        self.setMinimumWidth(10)
        self._sizeHint[QtCore.Qt.SizeHint.MinimumSize] = (10, h)
        self._sizeHint[QtCore.Qt.SizeHint.PreferredSize] = (10, h)
        self.updateGeometry()

    label.updateMin = types.MethodType(update_min, label)
    label.updateMin()


def _cached_axes():
    return {name: CachedAxisItem(name) for name in ("left", "bottom")}


def transform(x0: float, dx: float, y0: float, dy: float) -> QtGui.QTransform:
    """Item transform placing pixel (col, row) of a row-major image at (x0+dx·col, y0+dy·row)."""
    return QtGui.QTransform(dx, 0.0, 0.0, dy, x0 - dx / 2.0, y0 - dy / 2.0)


class SkyPlot(pg.GraphicsLayoutWidget):
    """A plot of sky offsets North up, East left, with equal arcsec scales (plot item in
    cell (0, 0) of a graphics layout; a colour bar may sit in cell (0, 1))."""

    hovered = QtCore.pyqtSignal(object, object)  # x, y arcsec (None when leaving)

    def __init__(self, title: str = "", parent=None):
        super().__init__(parent=parent)
        self.setBackground(PLOT_BACKGROUND)
        self.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.plot_item = self.addPlot(row=0, col=0, axisItems=_cached_axes())
        pi = self.plot_item
        _elastic_label(pi.titleLabel)
        pi.hideAxis("top")
        pi.hideAxis("right")
        vb = pi.getViewBox()
        vb.invertX(True)
        vb.setAspectLocked(True)
        vb.setMenuEnabled(False)
        pi.hideButtons()
        font = QtGui.QFont()
        font.setPointSize(9)
        for name in ("bottom", "left"):
            ax = pi.getAxis(name)
            ax.setPen(pg.mkPen("#222222"))
            ax.setTextPen(pg.mkPen("#222222"))
            ax.setStyle(tickFont=font, maxTickLevel=1)
        self._axis_font = QtGui.QFont()
        self._axis_font.setPointSize(9)
        self._x_label = None
        self._set_x_label(self.X_LABELS[0])
        pi.setLabel("left", "Δy  (″, North ↑)", color="#222222", size="9pt")
        for name in ("bottom", "left", "top", "right"):
            # no SI prefixes on arcsec: also saves re-laying out the labels on every range change
            pi.getAxis(name).enableAutoSIPrefix(False)
        self._range = None
        self.base_title = title
        self._titles = [title]
        self._shown_title = None
        self._title_style = None                 # CSS of the title text, once laid out
        self._title_font = QtGui.QFont()
        self._title_font.setPointSizeF(TITLE_PT)
        self._title_font.setBold(True)          # measured bold: an upper bound on any title
        self.bar_width = 0                       # pixels taken by a colour bar beside the plot
        self.loading = False
        self.set_title(title)
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.crosshair = Crosshair(pi)
        self.marks = CornerMarks(pi, color=self.MARK_COLOR)
        pi.titleLabel.geometryChanged.connect(self.fit_title)
        pi.getAxis("bottom").geometryChanged.connect(self.fit_axis_label)

    MARK_COLOR = "#222222"

    def getPlotItem(self) -> pg.PlotItem:  # noqa: N802 - same name as pg.PlotWidget
        return self.plot_item

    def show_range(self, half: float) -> None:
        """Show ±``half`` arcsec around the centre (no work when it is already shown)."""
        half = float(half)
        self.set_view(((-half, half), (-half, half)))

    def set_view(self, rng) -> None:
        """Show the sky range ``((x_min, x_max), (y_min, y_max))`` arcsec (no work when it is
        already shown)."""
        (x0, x1), (y0, y1) = rng
        key = (round(float(x0), 2), round(float(x1), 2), round(float(y0), 2), round(float(y1), 2))
        if self._range == key:
            return
        self._range = key
        self.plot_item.getViewBox().setRange(xRange=key[:2], yRange=key[2:], padding=0)

    #: Half-widths (arcsec) of the framings whose axes are drawn at idle time: the galaxy
    #: view frames each galaxy at a whole number of arcsec (see ``GalaxyView.show_galaxy``).
    WARM_HALVES = tuple(float(h) for h in range(5, 36))

    def warm_jobs(self) -> list:
        """Idle-time work: one callable per framing in :attr:`WARM_HALVES`, drawing and keeping
        the pictures of both sky axes for a square ±half view at the panel's present size
        (the aspect-locked view box widens the longer side as pyqtgraph does)."""
        vb = self.plot_item.getViewBox()
        bottom, left = self.plot_item.getAxis("bottom"), self.plot_item.getAxis("left")
        if not (isinstance(bottom, CachedAxisItem) and isinstance(left, CachedAxisItem)):
            return []

        def job(half):
            rect = vb.rect()                # the size when the job runs (layout settled)
            w, h = float(rect.width()), float(rect.height())
            if w <= 0 or h <= 0:
                return False
            x_inverted = bool(vb.state["xInverted"])
            xh, yh = (half, half * h / w) if h >= w else (half * w / h, half)
            a = bottom.warm(*((xh, -xh) if x_inverted else (-xh, xh)))
            b = left.warm(-yh, yh)
            return a or b
        return [lambda half=half: job(half) for half in self.WARM_HALVES]

    def set_title(self, text: str, *shorter: str) -> None:
        """Set the title; ``shorter`` are shorter forms (rich text) used, in order, when the
        panel is too narrow for ``text``; the last resort is the shortest form elided with "…".
        The full title is always the tooltip."""
        self._titles = [text, *shorter]
        fv = getattr(self, "fv", None)
        full = getattr(fv, "pa_reason", "") if fv is not None else ""
        self.plot_item.titleLabel.item.setToolTip(full or plain_text(text))
        self.fit_title()

    def title_space(self) -> int:
        """Pixels available to the title text (the plot's width less the text margins)."""
        try:
            width = self.plot_item.titleLabel.geometry().width()
            axis = self.plot_item.getAxis("left").width()
        except RuntimeError:                # being deleted
            return 10
        # from the widget's width (never stale in a resize): 2 + 2 px layout margins, the
        # colour bar, the left axis and the text item's own margins
        estimate = int(self.width() - 4 - self.bar_width - axis - 12)
        if width > 20:                      # laid out: the label's own width, if smaller
            return min(estimate, int(width) - 10)
        return estimate

    def fit_title(self) -> None:
        """Show the longest title form that fits :meth:`title_space`."""
        if not hasattr(self, "_title_font") or self.loading:   # being built, or no galaxy yet
            return
        try:
            self.plot_item.titleLabel.geometry()
        except RuntimeError:                        # being deleted
            return
        fm = QtGui.QFontMetrics(self._title_font)
        avail = self.title_space()
        chosen = None
        for rich in self._titles:
            if _title_width(fm, rich) <= avail:
                chosen = rich
                break
        if chosen is None:
            import html

            chosen = html.escape(fm.elidedText(plain_text(self._titles[-1]), QtCore.Qt.ElideRight,
                                               max(avail, 10)))
        if chosen != self._shown_title:
            self._shown_title = chosen
            label = self.plot_item.titleLabel
            if self._title_style is None:
                # the first title lays out the plot's title row (fixed at 30 px by pyqtgraph)
                self.plot_item.setTitle(chosen, color="#111111", size=f"{TITLE_PT}pt")
                self._title_style = "; ".join(
                    ["color: " + pg.mkColor("#111111").name(QtGui.QColor.NameFormat.HexArgb),
                     f"font-size: {TITLE_PT}pt"])
            else:
                # later titles: the same style in the same fixed row, so only the text changes
                # (LabelItem.setText would also re-lay out the whole plot for every galaxy)
                label.text = chosen
                label.item.setHtml(f"<span style='{self._title_style}'>{chosen}</span>")
                label.resizeEvent(None)
        if not self.plot_item.titleLabel.item.isVisible():
            self.plot_item.titleLabel.item.setVisible(True)

    def title_fit(self):
        """(pixels the shown title needs, pixels its label has) — for the layout tests."""
        fm = QtGui.QFontMetrics(self._title_font)
        label = self.plot_item.titleLabel
        return fm.horizontalAdvance(plain_text(label.text)), int(label.geometry().width()) - 8

    #: The x-axis label, and its shorter forms for a narrow axis (where the long one ran into
    #: the colour bar's unit label); East is left in every panel.
    X_LABELS = ("Δx  (″, East ←)", "Δx (″, E ←)", "Δx (″)")

    def _set_x_label(self, text: str) -> None:
        if text != self._x_label:
            self._x_label = text
            self.plot_item.setLabel("bottom", text, color="#222222", size="9pt")

    def _axis_label_span(self):
        """(left, right) scene x of the x-axis label's ink, as it is laid out under its axis,
        and the x its ink may reach: 4 px before a colour bar's unit label ("km/s", centred
        under the narrow bar, reaches left of it) or the panel's right edge."""
        ax = self.plot_item.getAxis("bottom")
        ax.resizeEvent(None)                 # the label centred for its current text
        rect = ax.label.sceneBoundingRect()
        margin = ax.label.document().documentMargin()
        limit = self.width() - 2
        bar = getattr(self, "bar", None)
        if bar is not None:
            unit = bar.getAxis("bottom")
            unit.resizeEvent(None)
            limit = min(limit, unit.label.sceneBoundingRect().left() + margin - 4)
        return rect.left() + margin, rect.right() - margin, limit

    def axis_label_fit(self):
        """(x the x-axis label's ink reaches, x it may reach), in scene px — for the layout
        tests."""
        try:
            _left, right, limit = self._axis_label_span()
        except RuntimeError:                 # being deleted
            return 0, 0
        return int(right), int(limit)

    def fit_axis_label(self) -> None:
        """The long x-axis label where there is room for it, else the short one."""
        if getattr(self, "_x_label", None) is None or self.plot_item.getAxis("bottom").width() <= 1:
            return
        try:
            left, right, limit = self._axis_label_span()
        except RuntimeError:                 # being deleted
            return
        fm = QtGui.QFontMetrics(self._axis_font)
        shown = max(fm.horizontalAdvance(self._x_label), 1)
        centre = (left + right) / 2
        for text in self.X_LABELS:
            # each form's ink, scaled from the shown form's (all in the label's own font)
            half = (right - left) * fm.horizontalAdvance(text) / shown / 2
            if centre + half <= limit:
                break
        self._set_x_label(text)

    def resizeEvent(self, ev):  # noqa: N802 - Qt name
        super().resizeEvent(ev)
        self.fit_title()
        self.fit_axis_label()

    def show_loading(self) -> None:
        """Blank the panel and say "loading…" until the next galaxy is drawn."""
        self.loading = True
        self.crosshair.show_at(None, None)
        self.marks.set(float("nan"))
        self._blank()
        if self._range is None:
            # nothing drawn yet: an empty view box autoscales to ±1e-40 and "loading…" lands
            # on its axis labels; show a plain ±16″ sky until the first galaxy is drawn
            self.set_view(((-16.0, 16.0), (-16.0, 16.0)))
        # the previous galaxy's title (its PA) goes; hiding the text is much cheaper than
        # setting a new title (a re-layout of the plot), which the draw does anyway
        self.plot_item.titleLabel.item.setVisible(False)
        self._shown_title = None

    def _blank(self) -> None:
        """Remove the galaxy's content (subclasses add their own items)."""

    def _mouse_moved(self, pos):
        vb = self.getPlotItem().getViewBox()
        if vb.sceneBoundingRect().contains(pos):
            p = vb.mapSceneToView(pos)
            self.hovered.emit(float(p.x()), float(p.y()))
        else:
            self.hovered.emit(None, None)

    def leaveEvent(self, ev):  # noqa: N802 - Qt name
        self.hovered.emit(None, None)
        super().leaveEvent(ev)


class MapPanel(SkyPlot):
    """A velocity (diverging), dispersion or flux (sequential) map with overlays.

    Parameters
    ----------
    title : str
        Base title, e.g. "Stellar velocity".
    quantity : {'velocity', 'sigma', 'flux'}
    """

    pa_overridden = QtCore.pyqtSignal(float)

    def __init__(self, title: str, quantity: str = "velocity", parent=None):
        super().__init__(title, parent)
        self.base_title = title
        self.quantity = quantity
        pi = self.getPlotItem()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(0)
        pi.addItem(self.image)
        self.removed = pg.ScatterPlotItem(size=5, symbol="x", pen=pg.mkPen(REMOVED_COLOR, width=1.2),
                                          brush=None)
        self.removed.setZValue(10)
        self.removed.setVisible(False)
        pi.addItem(self.removed)
        self.footprint = FootprintItem()
        pi.addItem(self.footprint)
        self.cmap_name = "RdBu_r" if quantity == "velocity" else "YlGnBu"
        cmap = get_cmap(self.cmap_name)
        self.bar = _colour_bar(values=(-100, 100), colorMap=cmap, interactive=False, width=14)
        self.lut = lookup_table(self.cmap_name)
        self.shared_limit: Optional[float] = None   # one velocity scale for both maps
        self.limits = (-100.0, 100.0)
        for name in ("bottom", "left", "top", "right"):
            self.bar.getAxis(name).enableAutoSIPrefix(False)
        self.bar.axis.setWidth(48)
        self.bar.hideAxis("left")          # frame-only axes: one picture less to paint each
        self.bar.getAxis("top").setStyle(showValues=False)
        bottom = self.bar.getAxis("bottom")
        bottom.setLabel("km/s" if quantity != "flux" else "log F", color="#222222", size="9pt")
        self.bar.getAxis("top").setHeight(24)   # the bar starts level with the plot area
        self.addItem(self.bar, row=0, col=1)
        self.bar.getAxis("bottom").geometryChanged.connect(self.fit_axis_label)
        self.ci.layout.setColumnFixedWidth(1, 84)
        self.bar_width = 84 + int(self.ci.layout.horizontalSpacing())
        self.ci.layout.setColumnStretchFactor(0, 1)
        for ax in (self.bar.axis,):
            ax.setPen(pg.mkPen("#222222"))
            ax.setTextPen(pg.mkPen("#222222"))
        self.pa_line: Optional[PALine] = None
        if quantity == "velocity":
            self.pa_line = PALine(pi, movable=True)
            self.pa_line.overridden.connect(self.pa_overridden.emit)
        self.message = pg.TextItem("", color="#222222", anchor=(0.5, 0.5))
        self.message.setZValue(60)
        pi.addItem(self.message)
        self.fv = None
        self.percentile = 98.0

    def set_cmap(self, name: str) -> None:
        """Use the colour map ``name`` (see :func:`get_cmap`) and redraw."""
        if name == self.cmap_name:
            return
        cmap = get_cmap(name)
        self.cmap_name = name
        self.lut = lookup_table(name)
        self.bar.setColorMap(cmap)
        self.set_levels()

    def warm_jobs(self) -> list:
        """Idle-time work that makes later galaxies cheaper to draw: the sky axes'
        (:meth:`SkyPlot.warm_jobs`), then one callable per colour bar range a velocity map can get (the rounded limits of
        :func:`~kinview.session.loading.nice_limit` up to 500 km/s), each drawing and keeping
        that axis picture (:meth:`CachedAxisItem.warm`)."""
        jobs = super().warm_jobs()
        if self.quantity != "velocity" or not isinstance(self.bar.axis, CachedAxisItem):
            return jobs

        limits, v = [], 10.0
        while v <= 500.0:
            limits.append(v)
            v = nice_limit(v + 1e-3)
        axis = self.bar.axis
        return jobs + [lambda v=v: axis.warm(-v, v) for v in limits]

    # drawing -------------------------------------------------------------------------------
    def _blank(self) -> None:
        self.fv = None
        self.image.clear()
        self.removed.setVisible(False)
        self.footprint.set_polygon(None)
        if self.pa_line is not None:
            self.pa_line.set_pa(float("nan"))
        self.message.setText("loading…")
        self.message.setPos(0, 0)
        self.message.setVisible(True)

    def show_missing(self, text: str, view_range=None) -> None:
        """Clear the map and say what is missing."""
        self.loading = False
        self._blank()
        short = {"Stellar velocity": "Stellar v", "Hα velocity": "Hα v"}.get(self.base_title,
                                                                          self.base_title)
        red = f"<span style='color:#b00000'>{text}</span>"
        self.set_title(f"{self.base_title} · {red}", f"{short} · {red}", red)
        self.message.setText(text)
        self.set_view(view_range or ((-10.0, 10.0), (-10.0, 10.0)))

    def set_field(self, fv, footprint=None, percentile: float = 98.0, show_removed: bool = False,
                  show_wedge: bool = True, view_range: Optional[float] = None,
                  pa_override: Optional[float] = None) -> None:
        """Draw one :class:`~kinview.gui.prefetch.FieldView` (and its PA line).

        ``view_range`` is a half-width (arcsec, centred) or a full range
        ``((x_min, x_max), (y_min, y_max))``."""
        self.loading = False
        if view_range is not None and not isinstance(view_range, tuple):
            view_range = ((-float(view_range), float(view_range)),
                          (-float(view_range), float(view_range)))
        self.fv = fv
        self.percentile = percentile
        self.message.setVisible(False)
        if self.quantity == "velocity":
            data = fv.vel
        elif self.quantity == "sigma":
            data = fv.sigma
        else:
            data = fv.flux
        if data is None or not np.isfinite(data).any():
            self.show_missing("no valid spaxels" if self.quantity == "velocity"
                              else f"no {self.quantity} values")
            self.footprint.set_polygon(footprint)
            rgba = np.zeros(fv.masked.shape + (4,), np.ubyte)
            rgba[fv.masked] = MASKED_RGBA
            self.image.setImage(rgba, autoLevels=False)
            self.image.setTransform(transform(fv.x0, fv.dx, fv.y0, fv.dy))
            self.message.setPos(0, 0)
            self.set_view(view_range or ((-15.0, 15.0), (-15.0, 15.0)))
            return
        self.set_levels()
        self.image.setTransform(transform(fv.x0, fv.dx, fv.y0, fv.dy))
        if show_removed and fv.removed.any():
            rows, cols = np.nonzero(fv.removed)
            self.removed.setData(fv.x0 + fv.dx * cols, fv.y0 + fv.dy * rows)
            self.removed.setVisible(True)
        else:
            self.removed.setVisible(False)
        self.footprint.set_polygon(footprint)
        radius = None
        if footprint is not None:
            radius = float(np.max(np.hypot(footprint[:, 0], footprint[:, 1]))) * 0.95
        if radius is None:
            radius = float(np.max(np.abs(fv.vel.shape))) * 0.25
        if self.pa_line is not None:
            if pa_override is not None and np.isfinite(pa_override):
                self.pa_line.set_pa(pa_override, float("nan"), radius)
            else:
                self.pa_line.set_pa(fv.pa, fv.pa_err, radius)
            self.pa_line.set_wedge_visible(show_wedge)
        if view_range is None:
            half = radius / 0.95 * 1.12 if radius else 15.0
            view_range = ((-half, half), (-half, half))
        self.set_view(view_range)
        self.set_title(*self._titles_for(fv, pa_override))

    def set_levels(self, percentile: Optional[float] = None) -> None:
        """Re-apply the colour limits (symmetric for velocities) at ``percentile``."""
        if percentile is not None:
            self.percentile = percentile
        fv = self.fv
        if fv is None:
            return
        data = {"velocity": fv.vel, "sigma": fv.sigma, "flux": fv.flux}[self.quantity]
        if data is None:
            return
        if self.quantity == "velocity":
            lim = self.shared_limit if self.shared_limit else fv.vmax(self.percentile)
            lo, hi = -lim, lim
        else:
            vals = data[np.isfinite(data)]
            if vals.size == 0:
                lo, hi = 0.0, 1.0
            else:
                lo = float(np.percentile(vals, 100 - self.percentile))
                hi = float(np.percentile(vals, self.percentile))
                if hi <= lo:
                    hi = lo + 1.0
        if self.quantity == "velocity":      # usually coloured already by the loader thread
            rgba = fv.rgba(lo, hi, self.cmap_name, self.lut)
        else:
            rgba = colourise(data, lo, hi, self.lut, fv.masked)
        self.image.setImage(rgba, autoLevels=False)
        self.bar.setLevels((lo, hi))
        self.limits = (lo, hi)

    def _title(self, fv, pa_override=None) -> str:
        return self._titles_for(fv, pa_override)[0]

    def _titles_for(self, fv, pa_override=None) -> list:
        """The title, then shorter forms for narrow panels (the PA first, then the name)."""
        base = self.base_title
        short = {"Stellar velocity": "Stellar v", "Hα velocity": "Hα v"}.get(base, base)
        tiny = {"Stellar velocity": "★", "Hα velocity": "Hα"}.get(base, base)
        if self.quantity != "velocity":
            return [base]
        if pa_override is not None and np.isfinite(pa_override):
            return [f"{base} · PA {pa_override:.1f}° <i>(by hand)</i>",
                    f"{short} · PA {pa_override:.1f}° <i>(by hand)</i>",
                    f"{short} · PA {pa_override:.0f}° <i>by hand</i>"]
        if np.isfinite(fv.pa):
            err = f" ± {fv.pa_err:.1f}" if np.isfinite(fv.pa_err) else ""
            src = f" <span style='color:#555555'>({fv.pa_source})</span>" if fv.pa_source else ""
            return [f"{base} · <b>PA {fv.pa:.1f}{err}°</b>{src}",
                    f"{base} · <b>PA {fv.pa:.1f}{err}°</b>",
                    f"{short} · <b>PA {fv.pa:.1f}{err}°</b>",
                    f"{short} · <b>PA {fv.pa:.0f}°</b>",
                    f"{tiny} <b>PA {fv.pa:.0f}°</b>"]
        reason = (fv.pa_reason or "no PA fit").split("(")[0].strip().rstrip(":")
        if not reason.lower().startswith("no pa"):
            reason = f"no PA: {reason}"
        red = "<span style='color:#b00000'>{}</span>"
        return [f"{base} · " + red.format(reason), f"{short} · " + red.format(reason),
                f"{short} · " + red.format("no PA")]

    # hover ---------------------------------------------------------------------------------
    def describe(self, x: float, y: float) -> Optional[str]:
        """Read-out of the spaxel at (x East, y North) arcsec: x, y, value, error, mask bits."""
        fv = self.fv
        if fv is None:
            return None
        idx = fv.index_of(x, y)
        if idx is None:
            return None
        row, col = idx
        sx = fv.x0 + fv.dx * col
        sy = fv.y0 + fv.dy * row
        parts = [f"{fv.kind}", f"x={sx:+.1f}″ y={sy:+.1f}″"]
        if self.quantity == "velocity":
            v = fv.vel[row, col]
            e = fv.err[row, col]
            parts.append(f"v−v_sys={v:+.1f} km/s" if np.isfinite(v) else "v=— (masked)")
            parts.append(f"err={e:.1f}" if np.isfinite(e) else "err=—")
        else:
            data = fv.sigma if self.quantity == "sigma" else fv.flux
            val = data[row, col] if data is not None else np.nan
            parts.append(f"{self.quantity}={val:.2f}" if np.isfinite(val) else f"{self.quantity}=—")
        if fv.maskbits is not None:
            bits = int(fv.maskbits[row, col])
            if bits:
                try:
                    names = ",".join(decode(bits))
                except Exception:  # noqa: BLE001
                    names = ""
                parts.append(f"mask={bits} {names}")
            else:
                parts.append("mask=0")
        if fv.removed[row, col]:
            parts.append("removed by cleaning")
        return "  ".join(parts)
