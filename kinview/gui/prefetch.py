"""Load galaxies for the view in background threads, ahead of the expert.

:func:`kinview.session.loading.load_galaxy` is a plain function (no Qt) that reads everything
the galaxy view needs for one galaxy and returns a :class:`~kinview.session.loading.GalaxyData`
(the loaders live in the core; their names are re-exported here).  :class:`Prefetcher` runs it
through :mod:`kinview.gui.worker` for the current galaxy and the next few, keeps a small cache,
and tells the window when a galaxy is ready.  The GUI thread never opens a FITS or JPEG file.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
from PyQt5 import QtCore

from kinview.gui import worker as _worker
from kinview.session.loading import (  # noqa: F401 - re-exported: the loaders moved to the core
    FIELDS, FieldView, GalaxyData, _short, convex_hull, fit_pas_if_none, hexagon, load_galaxy,
    nice_limit, store_fast_fit)

# ---------------------------------------------------------------------------------------------
# the prefetcher (GUI thread side)
# ---------------------------------------------------------------------------------------------
class Prefetcher(QtCore.QObject):
    """Keeps the current galaxy and the next ``ahead`` ones loaded.

    Signals
    -------
    loaded(str plateifu, object GalaxyData)   a galaxy finished loading (GUI thread)
    fitted(str plateifu, str field, float pa, float err, float vsyst)  a live fast fit was made
    """

    loaded = QtCore.pyqtSignal(str, object)
    fitted = QtCore.pyqtSignal(str, str, float, float, float)

    def __init__(self, root, row_of, db_path=None, ahead: int = 6, behind: int = 2,
                 capacity: int = 40, threads: int = 2, clean: bool = False, parent=None):
        super().__init__(parent)
        self.clean = clean
        self.root = Path(root)
        self.row_of = row_of            # callable plateifu -> dict
        self.db_path = db_path
        self.ahead = ahead
        self.behind = behind
        self.capacity = capacity
        self.cache: "OrderedDict[str, GalaxyData]" = OrderedDict()
        self.pending: Dict[str, _worker.Worker] = {}
        self._generation = 0
        _worker.pool("prefetch", threads)

    def get(self, plateifu: str) -> Optional[GalaxyData]:
        data = self.cache.get(plateifu)
        if data is not None:
            self.cache.move_to_end(plateifu)
        return data

    def invalidate(self, plateifu: Optional[str] = None) -> None:
        """Forget a cached galaxy (or all) so it is read again (loads under way are ignored)."""
        if plateifu is None:
            self.cache.clear()
            self._generation += 1
            self.pending.clear()
        else:
            self.cache.pop(plateifu, None)

    def set_clean(self, on: bool) -> None:
        """Compute the cleaned-away spaxels from now on (reloads what is cached)."""
        if bool(on) != self.clean:
            self.clean = bool(on)
            self.invalidate()

    def request(self, plateifu: str, priority: int = 10) -> None:
        """Load ``plateifu`` unless cached or already loading."""
        if not plateifu or plateifu in self.cache or plateifu in self.pending:
            return
        row = self.row_of(plateifu)
        w = _worker.submit(load_galaxy, str(self.root), plateifu, row, True, self.db_path,
                           self.clean, pass_state=True, pool_name="prefetch", priority=priority)
        self.pending[plateifu] = w
        gen = self._generation
        w.finished.connect(lambda data, p=plateifu, g=gen: self._done(p, data, g))
        w.failed.connect(lambda exc, tb, p=plateifu, g=gen: self._failed(p, exc, g))

    def around(self, order: List[str], index: int) -> None:
        """Queue the galaxies after (and just before) position ``index`` of ``order``."""
        n = len(order)
        for step in range(1, self.ahead + 1):
            if index + step < n:
                self.request(order[index + step], priority=5 - min(step, 5))
        for step in range(1, self.behind + 1):
            if index - step >= 0:
                self.request(order[index - step], priority=0)

    def busy(self) -> bool:
        return bool(self.pending)

    def _done(self, plateifu: str, data: GalaxyData, generation: int = 0) -> None:
        if generation != self._generation:
            return
        self.pending.pop(plateifu, None)
        self.cache[plateifu] = data
        self.cache.move_to_end(plateifu)
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)
        for kind, fv in data.fields.items():
            if fv is not None and fv.pa_source == "fast (live)" and np.isfinite(fv.pa):
                self.fitted.emit(plateifu, kind, fv.pa, fv.pa_err, fv.vsyst)
        self.loaded.emit(plateifu, data)

    def _failed(self, plateifu: str, exc, generation: int = 0) -> None:
        if generation != self._generation:
            return
        self.pending.pop(plateifu, None)
        data = GalaxyData(plateifu=plateifu, fields={"stellar": None, "gas": None},
                          missing=[f"could not load: {_short(exc)}"])
        self.cache[plateifu] = data
        self.loaded.emit(plateifu, data)
