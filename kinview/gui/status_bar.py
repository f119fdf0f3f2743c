"""A status bar whose messages are elided to the room its permanent widgets leave, never cut.

A message too wide for that room is shortened where it says least: the middle of its longest
path (``/tmp/kinview-…/survey``), else its end ("…"); the full message is the status bar's
tooltip while it shows.  It is elided again when the window is resized.
"""
from __future__ import annotations

import re
import time

from PyQt5 import QtCore, QtWidgets

_PATH = re.compile(r"(?:[A-Za-z]:)?[^\s]*[/\\][^\s]*")


def elide_message(text: str, fm, width: int) -> str:
    """``text`` shortened to ``width`` px in the font metrics ``fm``: the middle of its longest
    path-like word first (keeping at least its last part), then the end."""
    if width <= 0 or fm.horizontalAdvance(text) <= width:
        return text
    paths = sorted(_PATH.finditer(text), key=lambda m: len(m.group()), reverse=True)
    if paths:
        m = paths[0]
        head, path, tail = text[:m.start()], m.group(), text[m.end():]
        room = width - fm.horizontalAdvance(head + tail)
        stripped = path.rstrip("/\\")
        cut = max(stripped.rfind("/"), stripped.rfind("\\"))
        front, last = path[:cut], path[cut:]           # last = "/survey" (the folder's name)
        room_front = room - fm.horizontalAdvance(last)
        if cut > 0 and room_front >= fm.horizontalAdvance("/…"):
            # the start of the path, "…", and its last part whole
            return head + fm.elidedText(front, QtCore.Qt.ElideRight, room_front) + last + tail
        if room >= fm.horizontalAdvance("…"):
            return head + fm.elidedText(path, QtCore.Qt.ElideMiddle, room) + tail
    return fm.elidedText(text, QtCore.Qt.ElideRight, width)


class ElidingStatusBar(QtWidgets.QStatusBar):
    """:meth:`showMessage` elides (see :func:`elide_message`); :attr:`full_message` is the
    message as given, also the tooltip while it shows.

    Signals
    -------
    message_shown(str)   the full text of each message shown (``messageChanged`` carries
                         the elided one)
    """

    message_shown = QtCore.pyqtSignal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.full_message = ""
        self._deadline = None             # time.monotonic() when a timed message goes
        self.messageChanged.connect(self._message_changed)

    def message_width(self) -> int:
        """Room (px) for the message: ``QStatusBar`` draws it from x = 6 to 2 px before the
        first visible permanent widget (or 12 px before the right edge)."""
        right = self.width() - 12
        for child in self.children():
            if isinstance(child, QtWidgets.QWidget) and child.isVisible() and \
                    not isinstance(child, QtWidgets.QSizeGrip) and child.x() > 0:
                right = min(right, child.x() - 2)
        return right - 6

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 - Qt name
        self.full_message = text or ""
        self._deadline = time.monotonic() + timeout / 1000.0 if timeout and timeout > 0 else None
        shown = elide_message(self.full_message, self.fontMetrics(), self.message_width())
        self.setToolTip(self.full_message if shown != self.full_message else "")
        super().showMessage(shown, timeout)
        self.message_shown.emit(self.full_message)

    def _message_changed(self, text: str) -> None:
        if not text:                      # timed out or cleared
            self.full_message = ""
            self.setToolTip("")

    def resizeEvent(self, ev):  # noqa: N802 - Qt name
        super().resizeEvent(ev)
        if self.full_message and self.currentMessage():
            QtCore.QTimer.singleShot(0, self._re_elide)

    def _re_elide(self) -> None:
        if not self.full_message or not self.currentMessage():
            return
        shown = elide_message(self.full_message, self.fontMetrics(), self.message_width())
        if shown != self.currentMessage():
            left = 0
            if self._deadline is not None:           # keep the remaining time of a timed one
                left = max(1, int((self._deadline - time.monotonic()) * 1000))
            super().showMessage(shown, left)
            self.setToolTip(self.full_message if shown != self.full_message else "")
