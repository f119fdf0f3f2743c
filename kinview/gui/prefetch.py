"""Load galaxies for the view in background threads, ahead of the expert.

:func:`kinview.session.loading.load_galaxy` is a plain function (no Qt) that reads everything
the galaxy view needs for one galaxy and returns a :class:`~kinview.session.loading.GalaxyData`
(the loaders live in the core; their names are re-exported here).  :class:`Prefetcher` runs it
through :mod:`kinview.gui.worker` for the current galaxy and the next few, keeps a small cache,
and tells the window when a galaxy is ready.  The GUI thread never opens a FITS or JPEG file.
"""
from __future__ import annotations

import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
from PyQt5 import QtCore, sip

from kinview.gui import worker as _worker
from kinview.session.loading import (  # noqa: F401 - re-exported: the loaders moved to the core
    FIELDS, FieldView, GalaxyData, _short, convex_hull, fit_pas_if_none, hexagon, load_galaxy,
    nice_limit, store_fast_fit)

# ---------------------------------------------------------------------------------------------
# the prefetcher (GUI thread side)
# ---------------------------------------------------------------------------------------------
def _load_if_wanted(*args, state=None, **kwargs):
    """:func:`load_galaxy` unless the load was dropped while queued (then None).

    The prefetcher drops a load by cancelling its worker's ``state``
    (:meth:`kinview.gui.worker.Worker.cancel`); :func:`load_galaxy` never checks ``state``,
    so a load already running finishes and is kept.
    """
    if state is not None and state.cancelled:
        return None
    return load_galaxy(*args, state=state, **kwargs)


#: Galaxies per second above which the expert is taken to be travelling (a key held down):
#: the prefetcher then looks twice as far ahead, in the direction of travel only.
TRAVEL_RATE = 4.0

#: GIL switch interval (s) set in the GUI process while galaxies load in threads.
SWITCH_INTERVAL_S = 0.001


class Prefetcher(QtCore.QObject):
    """Keeps the current galaxy and the next ``ahead`` ones loaded.

    Loads still queued for galaxies the expert has left behind are dropped (latest wins), so
    a key held down does not leave a queue of stale reads in front of the galaxy it stops on;
    while the expert travels fast (a key held down) the look-ahead doubles in the direction
    of travel.

    Signals
    -------
    loaded(str plateifu, object GalaxyData)   a galaxy finished loading (GUI thread)
    fitted(str plateifu, str field, float pa, float err, float vsyst)  a live fast fit was made
    """

    loaded = QtCore.pyqtSignal(str, object)
    fitted = QtCore.pyqtSignal(str, str, float, float, float)

    #: priority of a request for the galaxy on screen (see :meth:`request`)
    NOW = 100

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
        self._now: Optional[str] = None         # the galaxy requested for the screen
        self._generation = 0
        self._last = None                       # (index, time) of the last around()
        self.direction = 1
        self.travelling = False
        self.dropped = 0                        # queued loads dropped (for the benchmark)
        #: callable -> (percentile, colour map name, 256×4 table) the view colours velocity
        #: maps with now; the loaders colour each map that way ahead of the paint
        self.paint_of = None
        _worker.pool("prefetch", threads)
        # the loaders run Python (FITS headers, the live PA fit) beside the GUI thread: with
        # the default 5 ms GIL switch interval a draw could wait 5 ms for each hand-over of
        # the lock while galaxies load; 1 ms keeps the draw within its frame
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)

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
            for w in self.pending.values():
                w.cancel()                      # those still queued return at once
            self.pending.clear()
        else:
            self.cache.pop(plateifu, None)

    def set_clean(self, on: bool) -> None:
        """Compute the cleaned-away spaxels from now on (reloads what is cached)."""
        if bool(on) != self.clean:
            self.clean = bool(on)
            self.invalidate()

    def request(self, plateifu: str, priority: int = 10) -> None:
        """Load ``plateifu`` unless cached or already loading.  A request at priority
        :attr:`NOW` (the galaxy to show) drops the previous such request if it has not
        started: the expert has moved on."""
        if not plateifu:
            return
        if priority >= self.NOW:
            if self._now is not None and self._now != plateifu:
                self._drop(self._now)
            self._now = plateifu
        if plateifu in self.cache or plateifu in self.pending:
            return
        row = self.row_of(plateifu)
        paint = self.paint_of() if self.paint_of is not None else None
        w = _worker.submit(_load_if_wanted, str(self.root), plateifu, row, True,
                           self.db_path, self.clean, pass_state=True, pool_name="prefetch",
                           priority=priority, paint=paint)
        self.pending[plateifu] = w
        gen = self._generation
        w.finished.connect(lambda data, p=plateifu, g=gen: self._done(p, data, g))
        w.failed.connect(lambda exc, tb, p=plateifu, g=gen: self._failed(p, exc, g))

    def _drop(self, plateifu: str) -> None:
        """Drop the queued load of ``plateifu`` (a load already running finishes and is kept)."""
        w = self.pending.pop(plateifu, None)
        if w is not None:
            w.cancel()
            self.dropped += 1

    def window(self, order: List[str], index: int) -> List[str]:
        """The galaxies to keep loaded around position ``index``, nearest first."""
        n = len(order)
        ahead, behind = self.ahead, self.behind
        if self.travelling:
            ahead, behind = 2 * self.ahead, 1
        d = self.direction
        out = []
        for step in range(1, ahead + 1):
            if 0 <= index + d * step < n:
                out.append(order[index + d * step])
        for step in range(1, behind + 1):
            if 0 <= index - d * step < n:
                out.append(order[index - d * step])
        return out

    def _moved(self, index: int, now: Optional[float] = None) -> None:
        """Note that the expert is at position ``index`` (at ``now``, monotonic seconds):
        updates :attr:`direction` and :attr:`travelling` (faster than :data:`TRAVEL_RATE`
        galaxies a second since the last call)."""
        import time

        now = time.monotonic() if now is None else float(now)
        if self._last is not None:
            moved = index - self._last[0]
            dt = max(now - self._last[1], 1e-3)
            if moved:
                self.direction = 1 if moved > 0 else -1
            self.travelling = abs(moved) / dt > TRAVEL_RATE
        self._last = (index, now)

    def around(self, order: List[str], index: int) -> None:
        """Queue the galaxies after (and just before) position ``index`` of ``order``, in the
        direction of travel, and drop queued loads outside that window."""
        self._moved(index)
        keep = self.window(order, index)
        current = order[index] if 0 <= index < len(order) else None
        wanted = set(keep)
        wanted.add(current)
        for pifu in list(self.pending):
            if pifu not in wanted:
                self._drop(pifu)
        if current is not None and current not in self.cache:
            self.request(current, priority=self.NOW)
        for rank, pifu in enumerate(keep):
            self.request(pifu, priority=max(50 - rank, 1))

    def busy(self) -> bool:
        return bool(self.pending)

    def _done(self, plateifu: str, data: GalaxyData, generation: int = 0) -> None:
        if sip.isdeleted(self) or generation != self._generation:
            return
        if data is None:                        # dropped while queued
            return
        self.pending.pop(plateifu, None)
        if self._now == plateifu:
            self._now = None
        self.cache[plateifu] = data
        self.cache.move_to_end(plateifu)
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)
        for kind, fv in data.fields.items():
            if fv is not None and fv.pa_source == "fast (live)" and np.isfinite(fv.pa):
                self.fitted.emit(plateifu, kind, fv.pa, fv.pa_err, fv.vsyst)
        self.loaded.emit(plateifu, data)

    def _failed(self, plateifu: str, exc, generation: int = 0) -> None:
        if sip.isdeleted(self) or generation != self._generation:
            return
        self.pending.pop(plateifu, None)
        if self._now == plateifu:
            self._now = None
        data = GalaxyData(plateifu=plateifu, fields={"stellar": None, "gas": None},
                          missing=[f"could not load: {_short(exc)}"])
        self.cache[plateifu] = data
        self.loaded.emit(plateifu, data)
