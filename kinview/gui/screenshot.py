"""Render a widget (the main window) to a PNG, offscreen or on screen."""
from __future__ import annotations

from pathlib import Path

from kinview.errors import KinviewError


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
