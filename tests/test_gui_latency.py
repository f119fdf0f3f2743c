"""Issue 15, item 9 (one frame per galaxy): a key held down faster than galaxies load shows
the newest galaxy — never the ones it passed, never stale maps — and the prefetcher drops the
queued reads of the galaxies left behind and looks ahead in the direction of travel.
(The timings themselves belong to ``benchmarks/gui_latency.py``; nothing here is timed.)"""
import threading

import pytest
from PyQt5 import QtCore

from gui_support import make_survey, standard_specs
from kinview.gui import worker
from kinview.gui.main_window import MainWindow
from kinview.gui.prefetch import Prefetcher
from kinview.settings import Settings

SPECS = standard_specs(8)
P = [s["plateifu"] for s in SPECS]


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return make_survey(tmp_path_factory.mktemp("latency") / "survey", SPECS)


@pytest.fixture
def window(qtbot, survey):
    from kinview.gui.app import create_app

    create_app()
    w = MainWindow(survey, expert="lat", settings=Settings())
    qtbot.addWidget(w)
    w.resize(1600, 1000)
    w.show()
    qtbot.waitUntil(lambda: w.view.drawn_plateifu == P[0], timeout=30000)
    yield w
    w.close()
    worker.wait_all(30000)


def _block_prefetch_pool():
    """Occupy every prefetch thread until the returned event is set (so what is requested
    meanwhile stays queued, as it does behind a held key)."""
    pool = worker.pool("prefetch")
    release = threading.Event()
    started = []
    for _ in range(pool.maxThreadCount()):
        w = worker.submit(lambda state=None: (started.append(1), release.wait(30)),
                          pool_name="prefetch", priority=1000)
        assert w is not None
    return release, started


def test_held_key_faster_than_loads_draws_only_the_newest_galaxy(qtbot, window):
    w = window
    view = w.view
    drawn, loaded, loaded_when_drawn = [], [], []
    w.prefetcher.loaded.connect(lambda p, data: loaded.append(p))
    view.drawn.connect(lambda p: (drawn.append(p), loaded_when_drawn.append(list(loaded))))
    w.prefetcher.invalidate()                   # nothing of what follows is loaded yet
    release, started = _block_prefetch_pool()
    qtbot.waitUntil(lambda: len(started) == worker.pool("prefetch").maxThreadCount(),
                    timeout=10000)
    try:
        for _ in range(4):                      # four autorepeat presses of → ...
            qtbot.keyClick(w, QtCore.Qt.Key_Right)
            # ... each shows its galaxy loading at once: no stale maps, header names it
            assert view.drawn_plateifu is None and view.stellar.fv is None
            assert w.state.current in view.header.text() and "loading" in view.header.text()
        assert w.state.current == P[4]
        # the reads of the galaxies passed over were dropped from the queue (latest wins)
        assert P[4] in w.prefetcher.pending
        assert not any(p in w.prefetcher.pending for p in P[1:4])
    finally:
        release.set()
    qtbot.waitUntil(lambda: view.drawn_plateifu == P[4], timeout=30000)
    assert drawn == [P[4]]                      # nothing in between was ever drawn
    assert view.data.plateifu == P[4]
    assert view.stellar.fv is view.data.fields["stellar"]
    assert P[4] in view.header.text() and "loading" not in view.header.text()
    # drawn from inside its own "loaded" signal, before any other galaxy arrived: the reads of
    # those passed over never ran
    assert loaded_when_drawn == [[]]
    assert w.prefetcher.dropped >= 3
    # and the row selected in the list is the galaxy on screen, alone
    assert w.galaxy_list.selected_rows() == [w.galaxy_list.model.row_of(P[4])]


def test_prefetch_looks_ahead_in_the_direction_of_travel(qtbot):
    from kinview.gui.app import create_app

    create_app()
    order = [f"p{i}" for i in range(40)]
    pf = Prefetcher("/nonexistent", lambda p: {}, ahead=3, behind=2)
    # at rest (or labelling at an expert's pace): three ahead, two behind
    assert pf.window(order, 10) == ["p11", "p12", "p13", "p9", "p8"]
    pf._moved(10, now=0.0)
    pf._moved(11, now=1.0)                      # one galaxy a second: not travelling
    assert not pf.travelling and pf.direction == 1
    pf._moved(5, now=1.2)                       # six back in 0.2 s: a key held on ←
    assert pf.travelling and pf.direction == -1
    assert pf.window(order, 5) == ["p4", "p3", "p2", "p1", "p0", "p6"]
    pf._moved(5, now=3.0)                       # stopped
    assert not pf.travelling and pf.direction == -1
