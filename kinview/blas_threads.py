"""One BLAS/OpenMP thread for the duration of a fit, in any process.

The PA fits make thousands of tiny linear-algebra calls.  A threaded BLAS (OpenBLAS uses one
thread per core by default) gains nothing on them and, when other processes share the cores,
its threads spin waiting for each other: one fast fit took 16.8 s instead of 3.1 s on a busy
2-core machine, one ``exact_chi2`` call 8.8 s instead of 0.012 s.  The process-pool workers
get ``OPENBLAS_NUM_THREADS=1`` from their environment (``kinview pa --jobs 1`` fits in one
such worker); :func:`single_threaded` gives every other caller (the GUI's live fits,
``fit_survey(in_process=True)``, scripts) the same setting through
``threadpoolctl``, only while the fit runs, then restores what was there.

It is re-entrant and thread-safe: nested or concurrent fits (the GUI fits in worker threads)
share one limit, set by the first to enter and restored by the last to leave.  OpenBLAS's
limit is process-wide, and threadpoolctl (>= 3.8) lets only one "controlling" Python thread
change it, silently ignoring the others: without care, once the main thread had set a limit,
a fit in a GUI worker thread ran with threaded BLAS.  This module therefore takes control
(under its own lock) for each change and hands it back at once.
"""
from __future__ import annotations

import contextlib
import functools
import sys
import threading
from typing import Callable, Iterator, TypeVar

__all__ = ["single_threaded", "one_thread"]

_lock = threading.Lock()
_depth = 0
_limiter = None
_controller = None
_controller_key = -1

F = TypeVar("F", bound=Callable)


def _get_controller():
    """A cached ``ThreadpoolController``, rebuilt when new modules (libraries) were loaded."""
    global _controller, _controller_key
    key = len(sys.modules)
    if _controller is None or key != _controller_key:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - a dependency; degrade to no limit
            return None
        _controller = ThreadpoolController()
        _controller_key = key
    return _controller


def _release_control() -> None:
    """Let the next limit change come from any thread (threadpoolctl >= 3.8 gives the
    OpenBLAS limit to the first thread that sets it and ignores the others)."""
    try:
        from threadpoolctl import OpenBLASController
    except ImportError:  # pragma: no cover - a dependency
        return
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Limit BLAS and OpenMP thread pools to one thread inside the ``with`` block."""
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            ctl = _get_controller()
            try:
                _release_control()
                _limiter = ctl.limit(limits=1) if ctl is not None else None
            except Exception:  # pragma: no cover - an exotic library must not stop a fit
                _limiter = None
            finally:
                _release_control()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _limiter is not None:
                try:
                    _release_control()      # the last to leave may not be the first to enter
                    _limiter.restore_original_limits()
                finally:
                    _limiter = None
                    _release_control()


def one_thread(func: F) -> F:
    """Decorator: run ``func`` inside :func:`single_threaded`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with single_threaded():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
