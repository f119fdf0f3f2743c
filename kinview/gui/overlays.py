"""Overlays drawn on the sky panels: PA line, error wedge, zero-velocity axis, IFU footprint.

All coordinates are sky offsets in arcsec, x East-positive, y North-positive; the panels show
them North up, East left (their x axis is inverted).  A PA (degrees E of N to the receding
side) points along the unit vector ``(sin PA, cos PA)`` in (x, y): PA = 0 points up (North),
PA = 90 to the left (East).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtGui, QtWidgets

from kinview.viewing import nice_length


def pa_vector(pa_deg: float) -> np.ndarray:
    """Unit vector (x East, y North) pointing along ``pa_deg`` (degrees E of N)."""
    t = math.radians(pa_deg)
    return np.array([math.sin(t), math.cos(t)])


def pa_of_point(x: float, y: float) -> float:
    """PA (degrees E of N, [0, 360)) of the direction from the centre to (x East, y North)."""
    return math.degrees(math.atan2(x, y)) % 360.0


def _polygon(points) -> QtGui.QPolygonF:
    return QtGui.QPolygonF([QtCore.QPointF(a, b) for a, b in np.asarray(points, float).tolist()])


class PathItem(QtWidgets.QGraphicsPathItem):
    """A polyline in data coordinates (arcsec) drawn with a cosmetic pen (width in pixels).

    Used for the PA lines, the minor axis and the scale bar instead of pyqtgraph's
    ``PlotCurveItem``: its bounds and painting stay in C++, so moving it to the next galaxy
    costs no Python work when the panels repaint (a ``PlotCurveItem`` recomputes its data
    bounds in numpy on every paint).
    """

    def __init__(self, pen, antialias: bool = False):
        super().__init__()
        pen = QtGui.QPen(pen)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setBrush(QtGui.QBrush(QtCore.Qt.NoBrush))
        self._antialias = bool(antialias)
        self._points = None

    def setData(self, xs, ys) -> None:  # noqa: N802 - same name as PlotCurveItem
        """Draw through the points (xs[i], ys[i]) (no work when they are unchanged)."""
        pts = tuple((float(a), float(b)) for a, b in zip(xs, ys))
        if pts == self._points:
            return
        self._points = pts
        path = QtGui.QPainterPath()
        if pts:
            path.moveTo(*pts[0])
            for x, y in pts[1:]:
                path.lineTo(x, y)
        self.setPath(path)

    def getData(self):  # noqa: N802 - same name as PlotCurveItem
        pts = self._points or ()
        return np.array([p[0] for p in pts]), np.array([p[1] for p in pts])

    def paint(self, p, opt, widget=None):
        if self._antialias:
            p.setRenderHint(QtGui.QPainter.Antialiasing, True)
        super().paint(p, opt, widget)


class FootprintItem(QtWidgets.QGraphicsPolygonItem):
    """The IFU footprint outline (hexagon or hull of covered spaxels)."""

    def __init__(self, color="#7a00a8", width=1.6):
        super().__init__()
        pen = pg.mkPen(color, width=width)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setBrush(QtGui.QBrush(QtCore.Qt.NoBrush))
        self.setZValue(20)

    def set_polygon(self, poly: Optional[np.ndarray]) -> None:
        if poly is None or len(poly) < 3:
            self.setVisible(False)
            return
        self.setPolygon(_polygon(poly))
        self.setVisible(True)


class PALine(QtCore.QObject):
    """A kinematic PA line through the centre, its receding-side arrow, the ±1σ wedge and the
    zero-velocity (minor) axis, optionally draggable to override the PA.

    Signals
    -------
    dragging(float pa)           while the handle moves (PA in degrees E of N)
    overridden(float pa)         when the user releases the handle
    """

    dragging = QtCore.pyqtSignal(float)
    overridden = QtCore.pyqtSignal(float)

    def __init__(self, plot: pg.PlotItem, color="#111111", wedge_color=(20, 20, 20, 45),
                 movable: bool = True, minor_axis: bool = True, width: float = 2.4,
                 dash: bool = False, arrow: bool = True):
        super().__init__()
        self.plot = plot
        self.pa = float("nan")
        self.err = float("nan")
        self.radius = 10.0
        self._show_wedge = True
        pen = pg.mkPen(color, width=width, style=QtCore.Qt.DashLine if dash else QtCore.Qt.SolidLine)
        self.line = PathItem(pen, antialias=True)
        self.line.setZValue(30)
        self.minor = PathItem(pg.mkPen(color, width=1.4, style=QtCore.Qt.DashLine), antialias=True)
        self.minor.setZValue(29)
        self.minor.setVisible(minor_axis)
        self._minor_enabled = minor_axis
        self.wedge = QtWidgets.QGraphicsPolygonItem()
        wpen = QtGui.QPen(QtCore.Qt.NoPen)
        self.wedge.setPen(wpen)
        self.wedge.setBrush(pg.mkBrush(wedge_color))
        self.wedge.setZValue(25)
        self.arrow = QtWidgets.QGraphicsPolygonItem()
        self.arrow.setPen(pg.mkPen(color, width=1))
        self.arrow.setBrush(pg.mkBrush(color))
        self.arrow.setZValue(31)
        self._arrow_enabled = arrow
        for item in (self.wedge, self.minor, self.line, self.arrow):
            plot.addItem(item)
        self.handle = None
        if movable:
            self.handle = pg.TargetItem(pos=(0, 0), size=13, symbol="o", movable=True,
                                        pen=pg.mkPen(color, width=2), brush=pg.mkBrush(255, 255, 255, 200),
                                        hoverPen=pg.mkPen("#ff8800", width=3))
            self.handle.setZValue(40)
            self.handle.setToolTip("Drag to override the position angle (stored as a pa_override label)")
            plot.addItem(self.handle)
            self.handle.sigPositionChanged.connect(self._on_drag)
            self.handle.sigPositionChangeFinished.connect(self._on_release)
        self._updating = False
        self.set_pa(float("nan"))

    # public --------------------------------------------------------------------------------
    def set_pa(self, pa: float, err: float = float("nan"), radius: Optional[float] = None) -> None:
        """Draw the line at ``pa`` (deg E of N, receding side) out to ``radius`` arcsec."""
        self.pa = float(pa)
        self.err = float(err)
        if radius is not None and radius > 0:
            self.radius = float(radius)
        self._redraw()

    def set_wedge_visible(self, visible: bool) -> None:
        if bool(visible) == self._show_wedge:
            return                                  # nothing to redraw (this is per galaxy)
        self._show_wedge = bool(visible)
        self._redraw()

    def endpoints(self):
        """((x, y) approaching end, (x, y) receding end) in arcsec, or None."""
        if not np.isfinite(self.pa):
            return None
        u = pa_vector(self.pa) * self.radius
        return (-u[0], -u[1]), (u[0], u[1])

    # drawing -------------------------------------------------------------------------------
    def _redraw(self) -> None:
        ok = bool(np.isfinite(self.pa))
        self.line.setVisible(ok)
        self.arrow.setVisible(ok and self._arrow_enabled)
        self.minor.setVisible(ok and self._minor_enabled)
        self.wedge.setVisible(bool(ok and self._show_wedge and np.isfinite(self.err) and self.err > 0))
        if self.handle is not None:
            self.handle.setVisible(ok)
        if not ok:
            return
        r = self.radius
        u = pa_vector(self.pa)
        self.line.setData([-u[0] * r, u[0] * r], [-u[1] * r, u[1] * r])
        m = pa_vector(self.pa + 90.0) * r * 0.8
        self.minor.setData([-m[0], m[0]], [-m[1], m[1]])
        # arrow head at the receding end, in data coordinates
        head = r * 0.16
        tip = u * (r + head * 0.6)
        base = u * (r - head * 0.5)
        side = pa_vector(self.pa + 90.0) * head * 0.45
        self.arrow.setPolygon(_polygon([tip, base + side, base - side]))
        if np.isfinite(self.err) and self.err > 0:
            e = min(self.err, 60.0)
            t = np.radians(np.linspace(self.pa - e, self.pa + e, 16))
            arc = np.column_stack([np.sin(t), np.cos(t)]) * r      # (x East, y North)
            zero = np.zeros((1, 2))
            self.wedge.setPolygon(_polygon(np.concatenate([zero, arc, zero, -arc])))
        if self.handle is not None and not self._updating:
            self._updating = True
            try:
                self.handle.setPos(*(u * r * 0.92))
            finally:
                self._updating = False

    def _on_drag(self, *_):
        if self._updating or self.handle is None:
            return
        pos = self.handle.pos()
        if math.hypot(pos.x(), pos.y()) < 1e-6:
            return
        pa = pa_of_point(pos.x(), pos.y())
        self.pa = pa
        self._updating = True
        try:
            r = self.radius
            u = pa_vector(pa)
            self.line.setData([-u[0] * r, u[0] * r], [-u[1] * r, u[1] * r])
            m = pa_vector(pa + 90.0) * r * 0.8
            self.minor.setData([-m[0], m[0]], [-m[1], m[1]])
            self.wedge.setVisible(False)
            head = r * 0.16
            tip = u * (r + head * 0.6)
            base = u * (r - head * 0.5)
            side = pa_vector(pa + 90.0) * head * 0.45
            self.arrow.setPolygon(_polygon([tip, base + side, base - side]))
        finally:
            self._updating = False
        self.dragging.emit(pa)

    def _on_release(self, *_):
        if self.handle is None or not np.isfinite(self.pa):
            return
        self.err = float("nan")
        self._redraw()
        self.overridden.emit(round(self.pa, 1) % 360.0)


class Crosshair:
    """A small marker showing the hovered sky position on every linked panel."""

    def __init__(self, plot: pg.PlotItem, color="#00a000"):
        self.item = pg.ScatterPlotItem(size=14, symbol="+", pen=pg.mkPen(color, width=2),
                                       brush=None)
        self.item.setZValue(50)
        self.item.setVisible(False)
        plot.addItem(self.item)

    def show_at(self, x: Optional[float], y: Optional[float]) -> None:
        if x is None:
            if self.item.isVisible():
                self.item.setVisible(False)       # an empty scatter item still costs a paint
        else:
            self.item.setData([x], [y])
            self.item.setVisible(True)


class PixelText(QtWidgets.QGraphicsSimpleTextItem):
    """A text label at a sky position, drawn upright at a fixed pixel size and anchored by
    ``anchor`` = (fraction of its width, fraction of its height), like pyqtgraph's TextItem
    but much cheaper to move and paint (no re-layout when the view changes)."""

    def __init__(self, color="#222222", anchor=(0.5, 1.0)):
        super().__init__()
        self.setBrush(pg.mkBrush(color))
        self.setFlag(QtWidgets.QGraphicsItem.ItemIgnoresTransformations, True)
        self.anchor = anchor

    def setText(self, text: str) -> None:  # noqa: N802 - Qt name
        super().setText(text)
        r = super().boundingRect()
        self._offset = QtCore.QPointF(-self.anchor[0] * r.width(), -self.anchor[1] * r.height())

    _offset = QtCore.QPointF(0, 0)

    def boundingRect(self):  # noqa: N802 - Qt name
        return super().boundingRect().translated(self._offset)

    def paint(self, p, opt, widget=None):
        p.translate(self._offset)
        super().paint(p, opt, widget)

    def toPlainText(self) -> str:  # noqa: N802 - same name as QGraphicsTextItem
        return self.text()


class CornerMarks:
    """A physical scale bar (bottom right, "5 kpc") and the PSF FWHM (a circle, bottom left)
    kept in the corners of a sky panel as it zooms and pans.

    The bar's length is a round number of kpc (:func:`kinview.viewing.scale_bar`) about a
    quarter of the view's width, so it follows the zoom; the PSF circle's diameter is the FWHM
    in arcsec, drawn to scale.
    """

    def __init__(self, plot: pg.PlotItem, color="#222222"):
        self.plot = plot
        self.vb = plot.getViewBox()
        pen = pg.mkPen(color, width=3)
        pen.setCosmetic(True)
        self.bar = PathItem(pen)
        self.bar.setZValue(45)
        self.bar_text = PixelText(color, anchor=(0.5, 1.0))
        self.bar_text.setZValue(45)
        self.psf = QtWidgets.QGraphicsEllipseItem()
        ppen = pg.mkPen(color, width=1.5)
        ppen.setCosmetic(True)
        self.psf.setPen(ppen)
        self.psf.setBrush(pg.mkBrush(128, 128, 128, 60))
        self.psf.setZValue(45)
        self.psf.setToolTip("PSF FWHM")
        self.psf_text = PixelText(color, anchor=(0.0, 1.0))
        self.psf_text.setZValue(45)
        for item in (self.bar, self.bar_text, self.psf, self.psf_text):
            item.setVisible(False)
            plot.addItem(item)
        self.kpc_per_arcsec = float("nan")
        self.fwhm = float("nan")
        self.psf_label = ""
        self.enabled = True
        self._placed = None
        self.vb.sigRangeChanged.connect(lambda *_: self._place())
        self.vb.sigResized.connect(lambda *_: self._place())

    def set(self, kpc_per_arcsec: float, fwhm: float = float("nan"), psf_label: str = "",
            place: bool = True) -> None:
        """Scale (kpc/arcsec, NaN: no bar) and PSF FWHM (arcsec, NaN: no circle).  With
        ``place=False`` the marks move at the next range change or :meth:`place` (drawing a
        galaxy sets the range right after: one placement instead of two)."""
        self.kpc_per_arcsec = float(kpc_per_arcsec)
        self.fwhm = float(fwhm)
        self.psf_label = psf_label
        if place:
            self._place()

    def place(self) -> None:
        """Put the marks where the current range wants them (no work when they are there)."""
        self._place()

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        self._placed = None
        self._place()

    def describe(self) -> dict:
        """What is drawn: {'bar_arcsec', 'bar_label', 'psf_fwhm'} (None where hidden)."""
        return {"bar_arcsec": self._bar_len if self.bar.isVisible() else None,
                "bar_label": self.bar_text.toPlainText() if self.bar.isVisible() else None,
                "psf_fwhm": self.fwhm if self.psf.isVisible() else None}

    _bar_len = float("nan")
    _bar_text = None
    _psf_text = None

    def _place(self) -> None:
        (x0, x1), (y0, y1) = self.vb.viewRange()
        pixels = self.vb.width()
        room = pixels >= 140 or pixels == 0      # too narrow a panel: the marks would collide
        key = (round(x0, 3), round(x1, 3), round(y0, 3), round(y1, 3), self.kpc_per_arcsec,
               self.fwhm, self.enabled and room)
        if key == self._placed:
            return
        self._placed = key
        w = abs(x1 - x0)
        h = abs(y1 - y0)
        xmin, xmax = min(x0, x1), max(x0, x1)
        ymin = min(y0, y1)
        show_bar = self.enabled and room and np.isfinite(self.kpc_per_arcsec) and w > 0
        if show_bar:
            kpc = nice_length(w * 0.28 * self.kpc_per_arcsec)
            length = kpc / self.kpc_per_arcsec
            # East is left: the bottom-right corner of the panel is the smallest x
            right = xmin + 0.05 * w
            yb = ymin + 0.06 * h
            self.bar.setData([right, right + length], [yb, yb])
            text = f"{kpc:g} kpc"
            if text != self._bar_text:
                self._bar_text = text
                self.bar_text.setText(text)
            self.bar_text.setPos(right + length / 2.0, yb)
            self._bar_len = length
        for item in (self.bar, self.bar_text):
            if item.isVisible() != bool(show_bar):
                item.setVisible(bool(show_bar))
        show_psf = self.enabled and room and np.isfinite(self.fwhm) and self.fwhm > 0 and w > 2 * self.fwhm
        if show_psf:
            r = self.fwhm / 2.0
            cx = xmax - 0.05 * w - r
            cy = ymin + 0.06 * h + r
            self.psf.setRect(cx - r, cy - r, 2 * r, 2 * r)
            text = self.psf_label or f"PSF {self.fwhm:.1f}″"
            if text != self._psf_text:
                self._psf_text = text
                self.psf_text.setText(text)
            self.psf_text.setPos(cx + r, cy + r)   # x inverted: cx + r is the left edge
        for item in (self.psf, self.psf_text):
            if item.isVisible() != bool(show_psf):
                item.setVisible(bool(show_psf))
