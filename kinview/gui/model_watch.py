"""Notice when the survey's models or predictions change, whoever changed them (the CLI
included), by polling :mod:`kinview.db.models_state` on a timer.

The poll runs on the GUI thread because it costs one ``PRAGMA data_version`` (no I/O) when
nothing was committed, and a few index look-ups when something was.
"""
from __future__ import annotations

from pathlib import Path

from PyQt5 import QtCore

from kinview.db import models_state
from kinview.db.connection import connect

#: How often (ms) the database is checked.
POLL_MS = 2000


class ModelWatcher(QtCore.QObject):
    """Emits ``changed()`` when the models table or the predictions change.

    Parameters
    ----------
    db_path : path-like
        The survey database (``SURVEY/kinview.sqlite``), opened read-only.
    interval_ms : int
    """

    changed = QtCore.pyqtSignal()

    def __init__(self, db_path, interval_ms: int = POLL_MS, parent=None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self._conn = None
        self._version = None
        self._mark = None
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(int(interval_ms))
        self.timer.timeout.connect(self.check)

    def start(self) -> None:
        """Take the current state as the baseline and start polling."""
        self.check(emit=False)
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001
                pass
            self._conn = None

    def check(self, emit: bool = True) -> bool:
        """Look now; return (and emit ``changed``) when the models or predictions changed."""
        try:
            if self._conn is None:
                self._conn = connect(self.db_path, migrate=False, readonly=True)
            version = models_state.data_version(self._conn)
            if version == self._version and self._mark is not None:
                return False
            self._version = version
            mark = models_state.models_mark(self._conn)
        except Exception:  # noqa: BLE001 - a locked or missing database: try again later
            return False
        if mark == self._mark:
            return False
        first = self._mark is None
        self._mark = mark
        if emit and not first:
            self.changed.emit()
            return True
        return False
