"""Qt side of the settings: window geometry and dock layout as base64 text.

The values live in :class:`kinview.settings.Settings` (a JSON file); this module converts
``QMainWindow.saveGeometry()``/``saveState()`` to and from base64 so the core never sees Qt.
"""
from __future__ import annotations

import base64

from PyQt5 import QtCore

#: Bump when the dock layout changes incompatibly (old saved states are then ignored).
STATE_VERSION = 1


def _b64(data: QtCore.QByteArray) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


def _qbytes(text) -> QtCore.QByteArray:
    try:
        return QtCore.QByteArray(base64.b64decode(str(text).encode("ascii"), validate=True))
    except (ValueError, TypeError):
        return QtCore.QByteArray()


def store_window(window, settings) -> None:
    """Put the window's geometry and dock/toolbar state into ``settings``."""
    settings.window_geometry = _b64(window.saveGeometry())
    settings.window_state = _b64(window.saveState(STATE_VERSION))


#: The smallest window size kinview is laid out for (pixels).
MIN_SIZE = (1280, 800)
#: The largest first size (pixels); a bigger screen gets this, centred.
MAX_FIRST_SIZE = (1800, 1100)


def first_size(available) -> tuple:
    """The first window size on a screen whose available area is ``available`` (w, h pixels):
    92 % of it, at most :data:`MAX_FIRST_SIZE`, at least :data:`MIN_SIZE` but never larger
    than the screen."""
    aw, ah = int(available[0]), int(available[1])
    w = min(max(int(aw * 0.92), MIN_SIZE[0]), MAX_FIRST_SIZE[0], aw)
    h = min(max(int(ah * 0.92), MIN_SIZE[1]), MAX_FIRST_SIZE[1], ah)
    return w, h


def _available_size(window) -> tuple:
    from PyQt5 import QtWidgets

    screen = window.screen() if hasattr(window, "screen") else None
    screen = screen or QtWidgets.QApplication.primaryScreen()
    if screen is None:
        return MAX_FIRST_SIZE
    geo = screen.availableGeometry()
    return geo.width(), geo.height()


def restore_window(window, settings, default_size=None) -> bool:
    """Restore geometry and dock state from ``settings``; return whether anything was restored.

    Without saved geometry the window gets ``default_size``, or else a size that fits the
    available screen (:func:`first_size`), and sensible dock widths.
    """
    restored = False
    if settings.window_geometry:
        restored = bool(window.restoreGeometry(_qbytes(settings.window_geometry)))
    if not restored:
        window.resize(*(default_size or first_size(_available_size(window))))
    if settings.window_state:
        restored = bool(window.restoreState(_qbytes(settings.window_state), STATE_VERSION)) or restored
    return restored
