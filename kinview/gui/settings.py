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


def restore_window(window, settings, default_size=(1600, 1000)) -> bool:
    """Restore geometry and dock state from ``settings``; return whether anything was restored.

    Without saved geometry the window gets ``default_size`` and sensible dock widths.
    """
    restored = False
    if settings.window_geometry:
        restored = bool(window.restoreGeometry(_qbytes(settings.window_geometry)))
    if not restored:
        window.resize(*default_size)
    if settings.window_state:
        restored = bool(window.restoreState(_qbytes(settings.window_state), STATE_VERSION)) or restored
    return restored
