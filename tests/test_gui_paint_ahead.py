"""Issue 15, item 9 (one frame per galaxy): the work of drawing the next galaxy is done before
its key is pressed — the loader threads colour its velocity maps, the axes of every framing and
colour limit are drawn while the window is idle — and nothing about one galaxy (a missing
file) re-lays out the panels for the next.  Nothing here is timed (that is
``benchmarks/gui_latency.py``); each test counts the work the draw does."""
import sys

import numpy as np
import pyqtgraph as pg
import pytest
from PyQt5 import QtCore

from gui_support import make_survey, standard_specs, wait_drawn
from kinview.gui import map_panel
from kinview.gui.map_panel import lookup_table, plain_text
from kinview.session import loading

SPECS = standard_specs(8)
P = [s["plateifu"] for s in SPECS]


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return make_survey(tmp_path_factory.mktemp("paint_ahead") / "survey", SPECS)


def _idle(qtbot, w):
    """Let the window finish its idle-time work (prefetch and axis pictures)."""
    qtbot.waitUntil(lambda: not w.view._warm_timer.isActive() and not w.prefetcher.busy(),
                    timeout=30000)


def _visit_all(qtbot, w):
    for pifu in P:
        w.goto(pifu)
        wait_drawn(qtbot, w, pifu)
        w.view.grab()                            # paint it (axes included)
        _idle(qtbot, w)


def test_axes_of_every_framing_and_colour_limit_are_drawn_while_idle(qtbot, survey,
                                                                     make_main_window,
                                                                     monkeypatch):
    w = make_main_window(survey, "axes")
    w.view.grab()
    _idle(qtbot, w)
    drawn = []
    original = pg.AxisItem.generateDrawSpecs

    def counting(self, p):
        if sys._getframe(1).f_code.co_name != "warm":     # not idle-time drawing
            drawn.append(self)
        return original(self, p)

    # and the axes that did repaint: with no repaint at all (an axis left showing the previous
    # galaxy's picture) nothing would be drawn either, and the check above would pass
    repainted = []
    paint = map_panel.CachedAxisItem.paint

    def counting_paint(self, p, *args):
        if self.picture is None:                 # a new range: it needs a picture
            repainted.append(self)
        return paint(self, p, *args)

    monkeypatch.setattr(pg.AxisItem, "generateDrawSpecs", counting)
    monkeypatch.setattr(map_panel.CachedAxisItem, "paint", counting_paint)
    _visit_all(qtbot, w)                         # five IFU sizes, eight colour limits
    assert repainted                             # the axes were redrawn for the new galaxies
    assert drawn == []                           # every axis picture was ready
    # and what is on screen is what the cache key says: each velocity bar shows its limits
    for panel in (w.view.stellar, w.view.gas):
        if panel.fv is not None:
            lo, hi = panel.limits
            assert panel.bar.axis.range == pytest.approx([lo, hi])


def test_titles_show_each_galaxys_text(qtbot, survey, make_main_window):
    """The titles change text in place (no re-layout of the plot): the visible text must still
    be the new galaxy's."""
    w = make_main_window(survey, "titles")
    seen = set()
    for pifu in P:
        w.goto(pifu)
        wait_drawn(qtbot, w, pifu)
        for panel in (w.view.stellar, w.view.gas):
            label = panel.getPlotItem().titleLabel
            assert label.item.toPlainText() == plain_text(label.text)
            seen.add(label.item.toPlainText())
    assert len(seen) > len(P)                    # the PAs differ galaxy to galaxy


def test_velocity_maps_are_coloured_by_the_loader(qtbot, survey, make_main_window, monkeypatch):
    # Qt-free: the loader colours what the view asks for
    lut = lookup_table("RdBu_r")
    w = make_main_window(survey, "colour")
    row = w.row(P[1])
    data = loading.load_galaxy(survey, P[1], row, fit_missing=False, paint=(98.0, "RdBu_r", lut))
    fv = data.fields["stellar"]
    lim = fv.vmax(98.0)
    key = (-lim, lim, "RdBu_r", id(fv.vel))
    assert key in fv._rgba
    np.testing.assert_array_equal(fv._rgba[key], map_panel.colourise(fv.vel, -lim, lim, lut,
                                                                     fv.masked))
    # in the window: going to a prefetched galaxy colours nothing on the GUI thread
    _idle(qtbot, w)
    calls = []
    for module in (map_panel, loading):
        original = module.colourise
        monkeypatch.setattr(module, "colourise",
                            lambda *a, _o=original, **k: (calls.append(1), _o(*a, **k))[1])
    nxt = w.state.order[w.state.index + 1]
    assert w.prefetcher.get(nxt) is not None
    qtbot.keyClick(w, QtCore.Qt.Key_Right)
    wait_drawn(qtbot, w, nxt)
    assert calls == []
    assert w.view.stellar.image.image is not None
    # a new percentile is coloured on the spot (the loader cannot know it in advance)
    w.view.set_percentile(90.0)
    assert len(calls) >= 1


def test_a_missing_file_does_not_move_the_panels(qtbot, survey, make_main_window):
    w = make_main_window(survey, "layout")
    sizes = {}
    for pifu in (P[0], P[3], P[1]):            # P[3] has no image: the "Missing" line shows
        w.goto(pifu)
        wait_drawn(qtbot, w, pifu)
        qtbot.wait(50)                          # any re-layout would have run by now
        sizes[pifu] = (w.view.stellar.size(), w.view.image.size(), w.view.missing.isVisible())
        if pifu == P[3]:
            assert "no colour image" in w.view.missing.text()
    assert sizes[P[3]][2] and not sizes[P[0]][2]
    assert sizes[P[0]][:2] == sizes[P[3]][:2] == sizes[P[1]][:2]
