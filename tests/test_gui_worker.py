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


def _many_steps(n, state):
    state.set_total(n)
    for _ in range(n):
        state.advance()
    return n


def test_progress_is_throttled_but_the_last_step_arrives(qtbot):
    n = 20000
    w = worker.submit(_many_steps, n)
    progress = []
    w.progress.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(w.done, timeout=30000):
        pass
    assert progress[-1] == (n, n)
    assert len(progress) < 200                  # not one signal per step (20,000 reports)


def _hold(gate, value, state):
    while not gate.wait(0.01):
        state.check_cancelled()
    return value


def test_latest_slot_delivers_only_the_newest_result_and_cancels_the_older(qtbot):
    from PyQt5 import QtWidgets

    owner = QtWidgets.QWidget()
    qtbot.addWidget(owner)
    slot = worker.LatestSlot(owner)
    got = []
    first_gate, second_gate = threading.Event(), threading.Event()
    first = slot.submit(_hold, first_gate, "old", pass_state=True, on_result=got.append)
    second = slot.submit(_hold, second_gate, "new", pass_state=True, on_result=got.append)
    assert first.state.cancelled and slot.worker is second and slot.busy
    first_gate.set()
    second_gate.set()
    with qtbot.waitSignal(second.done, timeout=10000):
        pass
    qtbot.waitUntil(lambda: first.is_done, timeout=10000)
    qtbot.wait(50)
    assert got == ["new"]
    # nothing reaches an owner that is gone
    third_gate = threading.Event()
    third = slot.submit(_hold, third_gate, "late", pass_state=True, on_result=got.append)
    owner.close()
    owner.deleteLater()
    qtbot.wait(20)
    third_gate.set()
    qtbot.waitUntil(lambda: third.is_done, timeout=10000)
    qtbot.wait(50)
    assert got == ["new"]


def test_long_jobs_do_not_starve_short_ones(qtbot):
    gate = threading.Event()
    longs = [worker.submit_long(_hold, gate, i) for i in range(worker.LONG_THREADS + 1)]
    try:
        short = worker.submit(lambda: "quick", pass_state=False)
        with qtbot.waitSignal(short.done, timeout=10000):
            pass
        assert short.result == "quick" and not any(w.is_done for w in longs)
    finally:
        gate.set()
    for w in longs:
        qtbot.waitUntil(lambda w=w: w.is_done, timeout=10000)
