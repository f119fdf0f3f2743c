"""Render a widget (the main window) to a PNG, offscreen or on screen, and check that the
text of every title and button fits its widget (:func:`clipped_texts`)."""
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

    return html.unescape(re.sub(r"<[^>]+>", "", text or ""))


def _visible(widget) -> bool:
    return widget.isVisible() and widget.width() > 0 and widget.window().isVisible()


def clipped_texts(window) -> List[Tuple[str, str, int, int]]:
    """Titles and button texts of ``window`` that do not fit their widget.

    Checks, with font metrics against the widget's width: every visible push/tool button
    (text plus the style's margins), every visible non-wrapping ``QLabel`` whose text is a
    single line, every visible tab and dock title, and every sky-panel title
    (:class:`kinview.gui.map_panel.SkyPlot`, whose titles are fitted in
    :meth:`~kinview.gui.map_panel.SkyPlot.fit_title`).

    Returns
    -------
    list of (kind, text, needed px, available px)
    """
    from PyQt5 import QtWidgets

    out = []
    style = QtWidgets.QApplication.style()
    for b in window.findChildren(QtWidgets.QAbstractButton):
        if not _visible(b) or not b.text() or isinstance(b, QtWidgets.QToolButton) and \
                b.toolButtonStyle() == 0:
            continue
        text = b.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        fm = b.fontMetrics()
        need = fm.horizontalAdvance(text)
        if isinstance(b, QtWidgets.QPushButton):
            opt = QtWidgets.QStyleOptionButton()
            b.initStyleOption(opt)
            need = style.sizeFromContents(QtWidgets.QStyle.CT_PushButton, opt,
                                          fm.size(0, text), b).width() - 8
        elif isinstance(b, (QtWidgets.QCheckBox, QtWidgets.QRadioButton)):
            need += 20
        if need > b.width():
            out.append(("button", text, need, b.width()))
    for lab in window.findChildren(QtWidgets.QLabel):
        if not _visible(lab) or lab.wordWrap() or not lab.text():
            continue
        text = _plain(lab.text()) if "<" in lab.text() else lab.text()
        if "\n" in text or "<br" in lab.text():
            continue
        if isinstance(lab.parent(), QtWidgets.QStatusBar) or lab.parent() is None:
            continue
        if lab.property("elided_from"):        # already elided by kinview
            continue
        need = lab.fontMetrics().horizontalAdvance(text) + 2 * lab.margin() + lab.indent() * 0
        if need > lab.contentsRect().width() + 1:
            out.append(("label", text, need, lab.contentsRect().width()))
    for plot in window.findChildren(SkyPlot):
        if not _visible(plot):
            continue
        need, avail = plot.title_fit()
        if need > avail:
            out.append(("title", _plain(plot.getPlotItem().titleLabel.text), need, avail))
    for tabs in window.findChildren(QtWidgets.QTabBar):
        if not _visible(tabs):
            continue
        for i in range(tabs.count()):
            need = tabs.fontMetrics().horizontalAdvance(tabs.tabText(i).replace("&", ""))
            if need > tabs.tabRect(i).width():
                out.append(("tab", tabs.tabText(i), need, tabs.tabRect(i).width()))
    return out


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
