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

Policies, written once here:

- **Latest wins.**  A refresh that a newer one makes stale (the catalogue card of the galaxy
  just left, an older re-read of the predictions) goes through a :class:`LatestSlot`: a new
  job asks the previous one to stop, and only the newest job's result is delivered.
- **Throttled progress.**  ``progress`` is emitted at most :data:`PROGRESS_HZ` times a second
  (and always for the first and the last step), however often the function reports.
- **Long jobs apart.**  Training, survey-wide PA fits, out-of-fold runs and the like run in the
  :data:`LONG` pool (:func:`submit_long`), so they never occupy the threads that short
  refreshes (the table, a card, predictions) need.
- **Owners.**  A window submits its own jobs and keeps their workers; workers never touch
  widgets.

After napari's ``thread_worker`` and glue's ``Worker``.
"""
from __future__ import annotations

import time
import traceback
from typing import Any, Callable, Optional

from PyQt5 import QtCore, sip

from kinview.errors import Cancelled
from kinview.progress import TaskState

#: Most ``progress`` signals a worker emits per second.
PROGRESS_HZ = 10.0
#: The pool of long jobs (training, survey PA fits, out-of-fold predictions).
LONG = "long"
#: Threads of the long-job pool.
LONG_THREADS = 2


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
        self.ran = False
        self._last_progress = float("-inf")

    def _emit_progress(self, done, total):
        """Deliver a progress report unless one went out less than 1/PROGRESS_HZ s ago (the
        first and the last report always go out)."""
        now = time.monotonic()
        last = bool(total) and int(done) >= int(total)
        if not last and int(done) != 0 and now - self._last_progress < 1.0 / PROGRESS_HZ:
            return
        self._last_progress = now
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
            self._call()
        finally:
            self.ran = True          # (in the pool thread; ``is_done`` follows on the GUI thread)

    def _call(self) -> None:
        try:
            if self.pass_state:
                result = self.fn(*self.args, state=self.state, **self.kwargs)
            else:
                result = self.fn(*self.args, **self.kwargs)
        except Cancelled:
            self._deliver.emit(lambda: self._end(self.cancelled.emit))
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI thread
            self.error = exc
            tb = traceback.format_exc()
            self._deliver.emit(lambda e=exc, t=tb: self._end(lambda: self.failed.emit(e, t)))
        else:
            self.result = result
            self._deliver.emit(lambda r=result: self._end(lambda: self.finished.emit(r)))

    def _end(self, emit_outcome) -> None:
        """On the GUI thread: mark the call done, then emit its outcome and ``done``.  So
        ``is_done`` is never seen True before the outcome's slots ran."""
        self.is_done = True
        emit_outcome()
        self.done.emit()


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
    """A named thread pool (``default``: short work; ``prefetch``: galaxy loading;
    :data:`LONG`: long jobs, :data:`LONG_THREADS` threads)."""
    p = _POOLS.get(name)
    if p is None:
        p = QtCore.QThreadPool.globalInstance() if name == "default" else QtCore.QThreadPool()
        if threads is None and name == LONG:
            threads = LONG_THREADS
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


def submit_long(fn: Callable, *args, pass_state: bool = True, **kwargs) -> Worker:
    """:func:`submit` to the long-job pool (:data:`LONG`): training, survey-wide fits, …"""
    return submit(fn, *args, pass_state=pass_state, pool_name=LONG, **kwargs)


class LatestSlot(QtCore.QObject):
    """One "latest wins" job slot.

    :meth:`submit` asks the job in the slot (if any) to stop and replaces it; only the newest
    job's result (or error) reaches ``on_result`` (``on_error``), on the GUI thread.  Give the
    slot a parent (the widget that shows the result): nothing is delivered once the parent is
    gone.

    Example::

        self.card_job = LatestSlot(self)
        self.card_job.submit(load_card, survey, plateifu, on_result=self.show_card)
    """

    def __init__(self, parent=None, pool_name: str = "default"):
        super().__init__(parent)
        self.pool_name = pool_name
        self.worker: Optional[Worker] = None

    def submit(self, fn: Callable, *args, on_result: Optional[Callable] = None,
               on_error: Optional[Callable] = None, pass_state: bool = False, **kwargs) -> Worker:
        """Run ``fn(*args, **kwargs)`` (with ``state=`` when ``pass_state``) in place of the
        job in the slot; returns the new :class:`Worker`."""
        self.cancel()
        w = submit(fn, *args, pass_state=pass_state, pool_name=self.pool_name, **kwargs)
        self.worker = w
        w.finished.connect(lambda result, w=w: self._deliver_to(w, on_result, result))
        w.failed.connect(lambda exc, tb, w=w: self._deliver_to(w, on_error, exc, tb))
        return w

    def _deliver_to(self, w: Worker, fn: Optional[Callable], *args) -> None:
        if fn is None or w is not self.worker or sip.isdeleted(self):
            return                                  # stale, or its owner is gone
        fn(*args)

    def cancel(self) -> None:
        """Ask the job in the slot to stop; its result will not be delivered."""
        w, self.worker = self.worker, None
        if w is not None and not w.is_done:
            w.cancel()

    @property
    def busy(self) -> bool:
        return self.worker is not None and not self.worker.is_done


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
            if not w.ran:                    # dropped before it started
                _LIVE.discard(w)
    return ok
