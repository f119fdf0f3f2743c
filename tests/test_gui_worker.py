"""The one worker module: plain ``fn(..., state)`` functions off the GUI thread."""
import threading

import pytest

from kinview.errors import Cancelled
from kinview.gui import worker


def _square(x, state):
    state.set_total(3)
    for _ in range(3):
        state.advance()
    state.emit("epoch", {"loss": 0.5})
    return x * x, threading.get_ident()


def test_results_progress_and_events_arrive_on_the_gui_thread(qtbot):
    w = worker.submit(_square, 7)
    got = {}
    progress = []
    events = []
    # connected after submit: nothing is missed even when the function is already done
    w.finished.connect(lambda r: got.update(result=r, thread=threading.get_ident()))
    w.progress.connect(lambda done, total: progress.append((done, total)))
    w.event.connect(lambda kind, payload: events.append((kind, payload)))
    with qtbot.waitSignal(w.done, timeout=10000):
        pass
    (value, worker_thread) = got["result"]
    assert value == 49
    assert worker_thread != threading.get_ident()          # ran in a pool thread
    assert got["thread"] == threading.get_ident()          # delivered on the GUI thread
    assert progress[-1] == (3, 3) and events == [("epoch", {"loss": 0.5})]


def _boom(state):
    raise ValueError("bad input file x.fits")


def _wait_for_cancel(started, state):
    started.set()
    while True:
        state.check_cancelled()


def test_failures_and_cancellation_are_reported(qtbot):
    w = worker.submit(_boom)
    errors = []
    w.failed.connect(lambda exc, tb: errors.append((exc, tb)))
    with qtbot.waitSignal(w.done, timeout=10000):
        pass
    assert isinstance(errors[0][0], ValueError) and "x.fits" in errors[0][1]

    started = threading.Event()
    w2 = worker.submit(_wait_for_cancel, started)
    cancelled = []
    w2.cancelled.connect(lambda: cancelled.append(True))
    assert started.wait(10)
    with qtbot.waitSignal(w2.done, timeout=10000):
        w2.cancel()
    assert cancelled == [True] and w2.result is None
    with pytest.raises(Cancelled):
        w2.state.check_cancelled()
