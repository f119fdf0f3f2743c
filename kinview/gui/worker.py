"""Run plain ``fn(..., state)`` functions off the GUI thread (the one worker module).

Long or blocking work in kinview is a plain function taking a
:class:`~kinview.progress.TaskState` (see :mod:`kinview.progress`).  :func:`submit` runs such a
function in a ``QThreadPool`` and adapts the state's callbacks to Qt signals, which Qt delivers
on the GUI thread (queued connections).  Workers never touch widgets: they only compute and
return values; widgets are updated by slots connected to :class:`Worker`'s signals.

Example::

    w = submit(fit_survey, survey, pass_state=True)
    w.progress.connect(bar.setValue2)      # (done, total)
    w.finished.connect(on_result)          # result object
    w.failed.connect(show_error)           # (exception, traceback text)
    ...
    w.cancel()                             # asks fn to stop at its next check_cancelled()

After napari's ``thread_worker`` and glue's ``Worker``.
"""
from __future__ import annotations

import traceback
from typing import Any, Callable, Optional

from PyQt5 import QtCore

from kinview.errors import Cancelled
from kinview.progress import TaskState


class Worker(QtCore.QObject):
    """Signals and cancel handle of one background call.

    All signals are emitted on the GUI thread (the thread that created the worker), from its
    event loop, so slots may touch widgets and a slot connected right after :func:`submit`
    never misses a signal.

    Signals
    -------
    started()
    progress(int done, object total)
    status(str)
    event(str kind, object payload)
    finished(object result)      emitted on success
    failed(object exc, str tb)   emitted on an exception (not on cancellation)
    cancelled()                  emitted when the function raised Cancelled
    done()                       always emitted last
    """

    started = QtCore.pyqtSignal()
    progress = QtCore.pyqtSignal(int, object)
    status = QtCore.pyqtSignal(str)
    event = QtCore.pyqtSignal(str, object)
    finished = QtCore.pyqtSignal(object)
    failed = QtCore.pyqtSignal(object, str)
    cancelled = QtCore.pyqtSignal()
    done = QtCore.pyqtSignal()
    _deliver = QtCore.pyqtSignal(object)   # internal: runs a callable on the GUI thread

    def __init__(self, fn: Callable, args=(), kwargs=None, pass_state: bool = True):
        super().__init__()
        self.fn = fn
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.pass_state = pass_state
        self.state = TaskState(on_progress=self._emit_progress,
                               on_status=lambda text: self._deliver.emit(lambda: self.status.emit(text)),
                               on_event=lambda kind, payload: self._deliver.emit(
                                   lambda: self.event.emit(kind, payload)))
        # Every signal is emitted on the GUI thread, from the event loop: a caller that
        # connects right after submit() never misses one, however fast the function is.
        self._deliver.connect(self._on_deliver, QtCore.Qt.QueuedConnection)
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.is_done = False

    def _emit_progress(self, done, total):
        self._deliver.emit(lambda: self.progress.emit(int(done), total))

    def _on_deliver(self, fn) -> None:
        fn()

    def cancel(self) -> None:
        """Ask the function to stop at its next ``state.check_cancelled()``."""
        self.state.cancel()

    def run(self) -> None:
        """Run the function in the calling thread, emitting the signals (used by the pool).

        If the Qt side of this object is gone (the application is shutting down), the
        function still runs to completion but nothing is emitted.
        """
        try:
            self._run()
        except RuntimeError as exc:  # "wrapped C/C++ object ... has been deleted"
            if "deleted" not in str(exc):
                raise

    def _run(self) -> None:
        self._deliver.emit(self.started.emit)
        try:
            if self.pass_state:
                result = self.fn(*self.args, state=self.state, **self.kwargs)
            else:
                result = self.fn(*self.args, **self.kwargs)
        except Cancelled:
            self.is_done = True
            self._deliver.emit(lambda: (self.cancelled.emit(), self.done.emit()))
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI thread
            self.error = exc
            self.is_done = True
            tb = traceback.format_exc()
            self._deliver.emit(lambda e=exc, t=tb: (self.failed.emit(e, t), self.done.emit()))
        else:
            self.result = result
            self.is_done = True
            self._deliver.emit(lambda r=result: (self.finished.emit(r), self.done.emit()))


class _Runnable(QtCore.QRunnable):
    def __init__(self, worker: Worker):
        super().__init__()
        self.worker = worker
        self.setAutoDelete(True)

    def run(self):  # executed in a pool thread
        self.worker.run()


_POOLS: dict = {}
_LIVE: set = set()


def pool(name: str = "default", threads: Optional[int] = None) -> QtCore.QThreadPool:
    """A named thread pool (``default``: general work; ``prefetch``: galaxy loading)."""
    p = _POOLS.get(name)
    if p is None:
        p = QtCore.QThreadPool.globalInstance() if name == "default" else QtCore.QThreadPool()
        if threads is not None:
            p.setMaxThreadCount(threads)
        _POOLS[name] = p
    return p


def submit(fn: Callable, *args, pass_state: bool = True, pool_name: str = "default",
           priority: int = 0, **kwargs) -> Worker:
    """Run ``fn(*args, state=..., **kwargs)`` in a pool thread; return its :class:`Worker`.

    Connect to the worker's signals right after this call: Qt queues signals emitted by the
    pool thread until the GUI event loop runs, so none is missed.  With ``pass_state=False``
    the function is called without a ``state`` argument.
    """
    worker = Worker(fn, args, kwargs, pass_state=pass_state)
    _LIVE.add(worker)  # keep the QObject alive until its signals are delivered
    worker.done.connect(lambda: _LIVE.discard(worker))
    pool(pool_name).start(_Runnable(worker), priority)
    return worker


def wait_all(timeout_ms: int = 30000, drop_queued: bool = False) -> bool:
    """Wait for every pool to drain (tests, shutdown); True if all finished.

    With ``drop_queued`` the calls that have not started yet are dropped first.
    """
    ok = True
    for p in _POOLS.values():
        if drop_queued:
            p.clear()
        ok = p.waitForDone(timeout_ms) and ok
    if drop_queued:
        for w in list(_LIVE):
            if not w.is_done:
                _LIVE.discard(w)
    return ok
