"""A one-line label that elides its text to its width (the whole text in its tooltip)."""
from __future__ import annotations

from PyQt5 import QtCore, QtGui, QtWidgets


class ElidedLabel(QtWidgets.QLabel):
    """A plain-text, single-line :class:`QLabel` that shows as much of its text as fits,
    ending in "…", and gives the whole text as its tooltip when it is cut.

    ``text()`` returns the whole text.  Its height never depends on the text, so showing a
    longer or shorter message never moves the widgets below it.
    """

    def __init__(self, text: str = "", parent=None, mode=QtCore.Qt.ElideRight):
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self.setTextFormat(QtCore.Qt.PlainText)
        self.setWordWrap(False)
        self.setMinimumWidth(10)
        self.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Fixed)
        self.setText(text)

    def text(self) -> str:  # noqa: D102 - Qt name
        return self._full

    def setText(self, text: str) -> None:  # noqa: N802 - Qt name
        self._full = text or ""
        self._elide()

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt name
        m = self.contentsMargins()
        height = QtGui.QFontMetrics(self.font()).height() + m.top() + m.bottom() + 2 * self.margin()
        return QtCore.QSize(10, height)          # one line, whatever the text

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt name
        return self.sizeHint()

    def resizeEvent(self, ev):  # noqa: N802 - Qt name
        super().resizeEvent(ev)
        self._elide()

    def changeEvent(self, ev):  # noqa: N802 - Qt name
        super().changeEvent(ev)
        if ev.type() in (QtCore.QEvent.FontChange, QtCore.QEvent.StyleChange):
            self._elide()

    def _elide(self) -> None:
        m = self.contentsMargins()
        avail = max(self.width() - m.left() - m.right() - 2 * self.margin() - 8, 10)
        shown = QtGui.QFontMetrics(self.font()).elidedText(self._full, self._mode, avail)
        super().setText(shown)
        cut = shown != self._full
        self.setToolTip(self._full if cut else "")
        # the clipping check (kinview.gui.screenshot.clipped_texts) measures text(), the whole
        # text: this tells it the label elides it itself (the whole text in the tooltip)
        self.setProperty("elided_from", self._full if cut else "")
