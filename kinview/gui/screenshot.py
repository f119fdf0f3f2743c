"""Render a widget (the main window) to a PNG, offscreen or on screen, and check that no
text of it is clipped (:func:`clipped_texts`): titles, buttons, labels (wrapped ones too),
table headers and the status bar, in the fonts their style sheets give them."""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, Tuple

from kinview.errors import KinviewError
from kinview.gui.map_panel import SkyPlot


def save_window(widget, path) -> Path:
    """Grab ``widget`` (after a full repaint) and write it to ``path`` as PNG.

    Raises KinviewError when the file cannot be written.
    """
    from PyQt5 import QtWidgets

    path = Path(path).expanduser()
    if path.parent and not path.parent.exists():
        raise KinviewError(f"{path}: folder {path.parent} does not exist")
    if not widget.isVisible():
        widget.show()
    app = QtWidgets.QApplication.instance()
    for _ in range(3):
        app.processEvents()
    pixmap = widget.grab()
    if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
        raise KinviewError(f"{path}: could not write the screenshot")
    return path


def _plain(text: str) -> str:
    import html

    text = re.sub(r"<br\s*/?>", "\n", text or "", flags=re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _visible(widget) -> bool:
    """Shown on screen: visible, and not in a dock that is a hidden tab (Qt keeps those
    "visible" but moves them outside the window)."""
    from PyQt5 import QtWidgets

    if not (widget.isVisible() and widget.width() > 0 and widget.window().isVisible()):
        return False
    p = widget
    while p is not None and not p.isWindow():
        if isinstance(p, QtWidgets.QDockWidget) and not p.isFloating() and \
                not p.geometry().intersects(p.parentWidget().rect()):
            return False
        p = p.parentWidget()
    return True


def _short(text: str, n: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 1] + "…"


def _cut_by_ancestor(widget, rect=None) -> bool:
    """Whether ``rect`` (default: the whole widget) is cut by the edge of an ancestor up to its
    window, other than by the viewport of a scroll area that can scroll that way (a scroll
    bar shows)."""
    from PyQt5 import QtCore, QtWidgets

    # a scroll area with the property ``must_fit`` (the label panel's) counts as an edge: what
    # it has to scroll to is cut
    r = widget.rect() if rect is None else rect
    child, parent = widget, widget.parentWidget()
    r = QtCore.QRect(child.mapToParent(r.topLeft()), r.size())
    while parent is not None:
        area = parent.parentWidget()
        if isinstance(area, QtWidgets.QAbstractScrollArea) and parent is area.viewport() and \
                not area.property("must_fit"):
            inside = parent.rect()
            cut_h = r.left() < inside.left() or r.right() > inside.right()
            cut_v = r.top() < inside.top() or r.bottom() > inside.bottom()
            if (cut_h and not area.horizontalScrollBar().isVisible()) or \
                    (cut_v and not area.verticalScrollBar().isVisible()):
                return True
            return False                  # reachable by scrolling
        if not parent.rect().contains(r):
            return True
        if parent.isWindow():
            return False
        r = QtCore.QRect(parent.mapToParent(r.topLeft()), r.size())
        parent = parent.parentWidget()
    return False


def _text_width(widget, text: str, rich: bool) -> float:
    """Width in px of ``text`` drawn in ``widget``'s effective font (style sheet included)."""
    from PyQt5 import QtGui

    if not rich:
        return max(widget.fontMetrics().horizontalAdvance(line) for line in text.split("\n"))
    doc = QtGui.QTextDocument()
    doc.setDefaultFont(widget.font())
    doc.setDocumentMargin(0)
    doc.setHtml(text)
    return doc.idealWidth()


def _button_ink(button) -> Tuple[int, int]:
    """(width of the text as drawn, width of the button's contents rect), both in px.

    The button is painted by its own style (style sheet and pseudo-states such as
    ``:checked`` included, whose fonts ``button.font()`` does not show) into an image far
    wider than the button, once with its text and once without; the columns where the two
    differ are the drawn text, whatever the style draws around it."""
    import numpy as np
    from PyQt5 import QtCore, QtGui, QtWidgets

    style = button.style()
    opt = QtWidgets.QStyleOptionButton()
    button.initStyleOption(opt)
    opt.state &= ~QtWidgets.QStyle.State_HasFocus
    h = max(button.height(), 1)
    wide = button.width() + 600
    opt.rect = QtCore.QRect(0, 0, wide, h)

    def paint(text):
        opt.text = text
        img = QtGui.QImage(wide, h, QtGui.QImage.Format_ARGB32)
        img.fill(QtCore.Qt.transparent)
        p = QtGui.QPainter(img)
        style.drawControl(QtWidgets.QStyle.CE_PushButton, opt, p, button)
        p.end()
        ptr = img.constBits()
        ptr.setsize(img.sizeInBytes())
        return np.frombuffer(ptr, np.uint32).reshape(h, img.bytesPerLine() // 4)[:, :wide].copy()

    text = opt.text
    cols = np.flatnonzero((paint(text) != paint("")).any(axis=0))
    opt.rect = button.rect()
    avail = style.subElementRect(QtWidgets.QStyle.SE_PushButtonContents, opt, button).width()
    if cols.size == 0:
        return 0, avail
    return int(cols[-1] - cols[0] + 1), avail


def clipped_texts(window) -> List[Tuple[str, str, int, int]]:
    """Texts of ``window`` that are clipped rather than shown whole, elided or wrapped.

    Every widget is polished first (:meth:`QWidget.ensurePolished`), so fonts set by style
    sheets are the ones measured.  Checks:

    - push buttons: the text as the button's style draws it (pseudo-state fonts such as a bold
      ``:checked`` included) against the button's contents rect; other buttons (check boxes,
      radio and tool buttons): font metrics plus the indicator against the width;
    - ``QLabel``: a single-line label's text (rich text measured as laid out) against its
      width; a word-wrapped label's height for its width against its height; a label whose
      text ends in "…" needs a tooltip (the full text); and a label cut by the edge of a
      parent that cannot scroll to it;
    - group-box titles, tab titles and sky-panel titles
      (:meth:`kinview.gui.map_panel.SkyPlot.title_fit`);
    - the section texts of every visible horizontal ``QHeaderView`` (tables and trees) against
      the section widths, and sections outside the view's viewport (off-screen columns);
    - the status bar's message against the room left by its permanent widgets.

    Returns
    -------
    list of (kind, text, needed px, available px)
    """
    from PyQt5 import QtWidgets

    out = []
    for wdg in [window] + window.findChildren(QtWidgets.QWidget):
        wdg.ensurePolished()
    for b in window.findChildren(QtWidgets.QAbstractButton):
        if not _visible(b) or not b.text() or isinstance(b, QtWidgets.QToolButton) and \
                b.toolButtonStyle() == 0:
            continue
        text = b.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        if isinstance(b, QtWidgets.QPushButton):
            need, avail = _button_ink(b)
        else:
            need, avail = b.fontMetrics().horizontalAdvance(text), b.width()
            if isinstance(b, (QtWidgets.QCheckBox, QtWidgets.QRadioButton)):
                need += 20
        if need > avail:
            out.append(("button", text, need, avail))
        elif _cut_by_ancestor(b):
            out.append(("button cut by its panel", text, b.height(), 0))
    for lab in window.findChildren(QtWidgets.QLabel):
        if not _visible(lab) or not lab.text() or lab.parent() is None:
            continue
        if lab.property("elided_from"):        # already elided by kinview (full text in tooltip)
            continue
        rich = lab.textFormat() == 1 or (lab.textFormat() == 2 and "<" in lab.text())
        text = _plain(lab.text()) if rich else lab.text()
        if text.rstrip().endswith("…") and not lab.toolTip():
            out.append(("label elided without tooltip", _short(text), 0, 0))
        cr = lab.contentsRect()
        if lab.wordWrap():
            need_h = lab.heightForWidth(lab.width())
            if need_h > lab.height() + 1:
                out.append(("wrapped label", _short(text), need_h, lab.height()))
                continue
        else:
            need = _text_width(lab, lab.text() if rich else text, rich) + 2 * lab.margin()
            if need > cr.width() + 1:
                out.append(("label", _short(text), int(need), cr.width()))
                continue
            need_h = lab.sizeHint().height() - (lab.height() - cr.height())
            if "\n" in text and need_h > cr.height() + 1:     # lines cut at the bottom
                out.append(("label lines", _short(text), need_h, cr.height()))
                continue
        if _cut_by_ancestor(lab):
            out.append(("label cut by its panel", _short(text), lab.height(), 0))
    for box in window.findChildren(QtWidgets.QGroupBox):
        if not _visible(box) or not box.title():
            continue
        need = box.fontMetrics().horizontalAdvance(box.title()) + 12
        if need > box.width():
            out.append(("group title", box.title(), need, box.width()))
    for plot in window.findChildren(SkyPlot):
        if not _visible(plot):
            continue
        need, avail = plot.title_fit()
        if need > avail:
            out.append(("title", _plain(plot.getPlotItem().titleLabel.text), need, avail))
        fit = getattr(plot, "axis_label_fit", None)
        need, avail = fit() if fit is not None else (0, 0)
        if need > avail:
            out.append(("axis label (overlaps the unit)", plot._x_label, need, avail))
    for tabs in window.findChildren(QtWidgets.QTabBar):
        if not _visible(tabs):
            continue
        pad = tabs.style().pixelMetric(QtWidgets.QStyle.PM_TabBarTabHSpace, None, tabs)
        for i in range(tabs.count()):
            need = tabs.fontMetrics().horizontalAdvance(tabs.tabText(i).replace("&", "")) + pad
            if need > tabs.tabRect(i).width():
                out.append(("tab", tabs.tabText(i), need, tabs.tabRect(i).width()))
    out += _squeezed_tables(window)
    out += _clipped_plot_labels(window)
    out += _clipped_headers(window)
    out += _clipped_status(window)
    return out


def _squeezed_tables(window) -> list:
    """Tables with rows of which less than one row shows: cut to their header (or to part of
    a row) by the edge of a panel.  A table scrolled wholly out of its panel is not counted
    (scrolling reaches it)."""
    from PyQt5 import QtWidgets

    out = []
    for view in window.findChildren(QtWidgets.QAbstractItemView):
        model = view.model()
        if not _visible(view) or model is None or model.rowCount() == 0 or \
                not isinstance(view, QtWidgets.QTableView):
            continue
        shown = view.visibleRegion().boundingRect().height()
        head = view.horizontalHeader()
        need = (head.height() if head.isVisible() else 0) + view.rowHeight(0)
        if 0 < shown < need:
            title = model.headerData(0, 1, 0)
            out.append(("table squeezed", f"table ({title!s}, …)", need, shown))
    return out


def _clipped_plot_labels(window) -> list:
    """Titles and axis labels of pyqtgraph plots whose text runs past the plot's widget."""
    import pyqtgraph as pg

    out = []
    for view in window.findChildren(pg.GraphicsView):
        if not _visible(view) or isinstance(view, SkyPlot):     # sky panels: title_fit
            continue
        inside = view.viewport().rect()
        for item in view.scene().items():
            if isinstance(item, pg.LabelItem):
                text_item, text = item.item, _plain(item.text)
            elif isinstance(item, pg.AxisItem) and getattr(item, "label", None) is not None:
                text_item, text = item.label, item.label.toPlainText()
            else:
                continue
            if not item.isVisible() or not text_item.isVisible() or not text.strip():
                continue
            margin = text_item.document().documentMargin() if hasattr(text_item, "document") else 0
            rect = text_item.sceneBoundingRect().adjusted(margin, margin, -margin, -margin)
            r = view.mapFromScene(rect).boundingRect()
            if r.left() < inside.left() - 1 or r.right() > inside.right() + 1:
                out.append(("plot text", _short(text), r.width(), inside.width()))
    return out


def _clipped_headers(window) -> list:
    """Header sections (columns) whose text does not fit, or that lie outside the viewport."""
    from PyQt5 import QtCore, QtWidgets

    out = []
    for head in window.findChildren(QtWidgets.QHeaderView):
        if not _visible(head) or head.orientation() != QtCore.Qt.Horizontal or head.model() is None:
            continue
        model, style = head.model(), head.style()
        view = head.parentWidget()
        while view is not None and not isinstance(view, QtWidgets.QAbstractItemView):
            view = view.parentWidget()
        vp_width = view.viewport().width() if view is not None else head.width()
        scroll = view is not None and view.horizontalScrollBar().isVisible()
        # columns a view scrolls to are reachable, except its leading ``essential_columns``
        essential = int((view.property("essential_columns") if view is not None else 0) or 0)
        for i in range(head.count()):
            if head.isSectionHidden(i):
                continue
            text = model.headerData(i, QtCore.Qt.Horizontal, QtCore.Qt.DisplayRole)
            text = "" if text is None else str(text)
            if not text:
                continue
            opt = QtWidgets.QStyleOptionHeader()
            opt.initFrom(head)
            opt.section = i
            opt.text = text
            opt.fontMetrics = head.fontMetrics()
            if head.isSortIndicatorShown() and head.sortIndicatorSection() == i:
                opt.sortIndicator = (QtWidgets.QStyleOptionHeader.SortDown
                                     if head.sortIndicatorOrder() == QtCore.Qt.AscendingOrder
                                     else QtWidgets.QStyleOptionHeader.SortUp)
            need = style.sizeFromContents(QtWidgets.QStyle.CT_HeaderSection, opt, QtCore.QSize(),
                                          head).width()
            have = head.sectionSize(i)
            if need > have + 1:
                out.append(("column header", text, need, have))
            elif (head.sectionViewportPosition(i) + have > vp_width + 1
                  or head.sectionViewportPosition(i) < 0) and \
                    (not scroll or head.visualIndex(i) < essential):
                out.append(("column off-screen", text, head.sectionViewportPosition(i) + have,
                            vp_width))
    return out


def _clipped_status(window) -> list:
    """The status bar's message, if it is wider than the room its permanent widgets leave
    (``QStatusBar`` draws it between x = 6 and the first visible permanent widget − 2)."""
    from PyQt5 import QtWidgets

    out = []
    for sb in window.findChildren(QtWidgets.QStatusBar):
        msg = sb.currentMessage()
        if not _visible(sb) or not msg:
            continue
        right = sb.width() - 12
        grip = sb.findChild(QtWidgets.QSizeGrip)
        if grip is not None and grip.isVisible():
            right = min(right, grip.x())
        for child in sb.children():
            # while a message shows, only the permanent widgets are visible
            if isinstance(child, QtWidgets.QWidget) and child.isVisible() and \
                    not isinstance(child, QtWidgets.QSizeGrip):
                right = min(right, child.x() - 2)
        avail = right - 6
        need = sb.fontMetrics().horizontalAdvance(msg)
        if need > avail:
            out.append(("status message", _short(msg), need, avail))
    return out


#: The views the screenshots and the clipping tests cover (:func:`show_view`).
VIEWS = ("galaxy", "model", "training", "reveal", "adjudication")


def settle(rounds: int = 6) -> None:
    """Process pending events (layouts, deferred dock moves) a few times."""
    from PyQt5 import QtWidgets

    app = QtWidgets.QApplication.instance()
    for _ in range(rounds):
        app.processEvents()


def show_view(window, view: str, plateifu=None) -> None:
    """Put ``window`` (a :class:`~kinview.gui.main_window.MainWindow`) in one of :data:`VIEWS`.

    ``galaxy``: the Galaxy tab, side docks closed; ``model``: the Model tab; ``training``: the
    Galaxy tab with the training dock open; ``reveal``: the Galaxy tab on ``plateifu`` (a
    galaxy the window's expert and others have labelled) with the reveal strip filled;
    ``adjudication``: the adjudication queue open (Label ▸ Adjudication queue).  The caller
    waits for the galaxy to be drawn where it matters.
    """
    panels = getattr(window, "model_panels", None)
    dock = getattr(panels, "dock", None)
    adj = getattr(window, "adjudication_dock", None)
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, not {view!r}")
    if dock is not None and view != "training" and dock.isVisible():
        dock.hide()
    if adj is not None and view != "adjudication" and adj.isVisible():
        window.toggle_adjudication()
    if view == "model" and panels is not None:
        window.tabs.setCurrentWidget(panels.browser)
        settle()
        return
    window.tabs.setCurrentWidget(window.view)
    if view == "training" and dock is not None:
        dock.show()
    elif view == "reveal" and plateifu is not None:
        window.goto(plateifu)
    elif view == "adjudication" and adj is not None and not adj.isVisible():
        window.toggle_adjudication()
    settle()


def render_set(window, outdir, size, prefix: str = "kinview") -> List[Path]:
    """Write the Galaxy tab, the Model tab and the Galaxy tab with the training dock open at
    ``size`` (w, h) to ``outdir/<prefix>-<view>-<w>x<h>.png``; returns the paths."""
    from PyQt5 import QtWidgets

    app = QtWidgets.QApplication.instance()
    outdir = Path(outdir)
    window.resize(*size)
    w, h = size
    paths = []

    def settle():
        for _ in range(6):
            app.processEvents()

    panels = getattr(window, "model_panels", None)
    dock = getattr(panels, "dock", None)
    if dock is not None:
        dock.hide()
    window.tabs.setCurrentWidget(window.view)
    settle()
    paths.append(save_window(window, outdir / f"{prefix}-galaxy-{w}x{h}.png"))
    if panels is not None:
        window.tabs.setCurrentWidget(panels.browser)
        settle()
        paths.append(save_window(window, outdir / f"{prefix}-model-{w}x{h}.png"))
        window.tabs.setCurrentWidget(window.view)
        if dock is not None:
            dock.show()
            settle()
            paths.append(save_window(window, outdir / f"{prefix}-training-{w}x{h}.png"))
            dock.hide()
            settle()
    return paths
