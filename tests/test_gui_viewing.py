"""Issue 15, items 2, 3, 6 and the Model tab's histogram: a window that fits 1280×800 and
1920×1080 with nothing clipped, no stale content, linked zoom and the viewing options."""
import math

import numpy as np
import pytest
from PyQt5 import QtCore, QtWidgets

from gui_support import make_survey, standard_specs
from kinview import viewing
from kinview.settings import Settings

from test_gui_window import close_window, open_window, press, wait_drawn  # noqa: F401

SPECS = standard_specs(6)
P = [s["plateifu"] for s in SPECS]


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return make_survey(tmp_path_factory.mktemp("viewing") / "survey", SPECS)


def fresh(qtbot, survey, size=(1600, 1000)):
    return open_window(qtbot, survey, "vw", settings=Settings(), size=size)


# --- Qt-free logic ---------------------------------------------------------------------------
def test_scale_bar_is_a_round_number_of_kpc_from_the_redshift():
    from astropy.cosmology import Planck18

    z = 0.03
    scale = Planck18.kpc_proper_per_arcmin(z).value / 60.0
    assert viewing.kpc_per_arcsec(z) == pytest.approx(scale, rel=1e-6)
    arcsec, kpc, label = viewing.scale_bar(z, 30.0)
    assert kpc in (1, 2, 5, 10) and label == f"{kpc:g} kpc"
    assert arcsec == pytest.approx(kpc / scale)
    assert arcsec <= 0.3 * 30.0
    assert viewing.scale_bar(float("nan"), 30.0) is None
    assert viewing.scale_bar(-1, 30.0) is None
    assert [viewing.nice_length(v) for v in (0.7, 1.0, 3.3, 7.9, 23)] == [0.5, 1, 2, 5, 20]


def test_zoom_state_keeps_only_when_asked():
    z = viewing.ZoomState()
    default = viewing.square_range(10)
    z.user_zoomed(((5, -5), (-3, 3)))
    assert z.range_for(default) == ((-5, 5), (-3, 3))
    z.next_galaxy()
    assert z.range_for(default) == default             # not kept: each galaxy framed anew
    z.keep = True
    z.user_zoomed(((-2, 2), (-2, 2)))
    z.next_galaxy()
    assert z.range_for(default) == ((-2, 2), (-2, 2))
    z.reset()                                          # Home
    assert z.range_for(default) == default


def test_colour_maps_offered_exist_and_velocity_ones_are_diverging():
    from kinview.gui.map_panel import lookup_table

    for name in viewing.VELOCITY_CMAPS:
        lut = lookup_table(name).astype(float)
        ends, mid = lut[[0, -1], :3], lut[128, :3]
        # diverging: a light neutral middle between two darker, different ends
        assert mid.sum() > ends.sum(axis=1).max() - 1, name
        assert np.abs(ends[0] - ends[1]).sum() > 100, name
    for name in viewing.SEQUENTIAL_CMAPS:
        assert lookup_table(name).shape == (256, 4)
    assert viewing.valid_cmap("velocity", "no-such-map") == "RdBu_r"
    assert viewing.psf_fwhm(None) == (viewing.DEFAULT_PSF_FWHM_ARCSEC, False)
    assert viewing.psf_fwhm(2.1) == (2.1, True)


# --- item 2: nothing clipped at 1280×800 and 1920×1080 -------------------------------------
@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_nothing_clipped_at_supported_sizes(qtbot, survey, tmp_path, size):
    from kinview.gui.screenshot import clipped_texts, render_set

    w = fresh(qtbot, survey, size)
    try:
        paths = render_set(w, tmp_path, size)
        assert len(paths) == 3
        for dock_open in (False, True):
            w.model_panels.dock.setVisible(dock_open)
            pages = [w.view, w.model_panels.browser, getattr(w.model_panels, "model_list", None)]
            for page in [p for p in pages if p is not None]:
                w.tabs.setCurrentWidget(page)
                for _ in range(5):
                    QtWidgets.QApplication.processEvents()
                assert (w.width(), w.height()) == size       # the window is not forced bigger
                assert clipped_texts(w) == [], (size, dock_open, page)
                if dock_open:                                # boxes keep their height: the
                    for box in w.model_panels.training.findChildren(QtWidgets.QComboBox):
                        if box.isVisible():                  # panel scrolls instead
                            assert box.height() >= box.minimumSizeHint().height(), box.currentText()
        w.model_panels.dock.hide()
        # every button of the label panel is wholly visible in the window
        for b in w.label_panel.buttons.values():
            r = b.rect().translated(b.mapTo(w, QtCore.QPoint(0, 0)))
            assert w.rect().contains(r), b.text()
    finally:
        close_window(w)


def test_a_long_title_is_shortened_not_clipped(qtbot):
    from kinview.gui.map_panel import MapPanel

    panel = MapPanel("Stellar velocity", "velocity")
    qtbot.addWidget(panel)
    panel.resize(500, 300)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_title("Stellar velocity · PA 123.4 ± 5.6° (pafit, a long source name)",
                    "Stellar v · PA 123°")
    for _ in range(3):
        QtWidgets.QApplication.processEvents()
    need, avail = panel.title_fit()
    assert need <= avail
    panel.resize(260, 300)
    for _ in range(3):
        QtWidgets.QApplication.processEvents()
    need, avail = panel.title_fit()
    assert need <= avail and "…" in panel.getPlotItem().titleLabel.text


# --- item 3: no stale content ----------------------------------------------------------------
def test_loading_state_blanks_every_panel_until_drawn(qtbot, survey):
    w = fresh(qtbot, survey)
    try:
        wait_drawn(qtbot, w, P[0])
        w.prefetcher.invalidate()                  # the next galaxy is not ready yet
        w.state.next()
        v = w.view
        assert v.drawn_plateifu is None
        assert "loading" in v.header.text()
        for panel in (v.image, v.stellar, v.gas):
            assert panel.loading
            assert panel.image.image is None       # nothing of the previous galaxy
            assert panel.message.isVisible() and "loading" in panel.message.textItem.toPlainText()
            assert not panel.getPlotItem().titleLabel.item.isVisible()    # no stale title
        assert not v.stellar.pa_line.line.isVisible()
        wait_drawn(qtbot, w, P[1])
        for panel in (v.image, v.stellar, v.gas):
            assert not panel.loading
            assert panel.getPlotItem().titleLabel.item.isVisible()
    finally:
        close_window(w)


def test_one_row_selected_and_the_view_is_told(qtbot, survey):
    w = fresh(qtbot, survey)
    try:
        sel = w.galaxy_list.view.selectionModel()
        seen = []
        sel.selectionChanged.connect(lambda *_: seen.append(1))
        for _ in range(4):
            press(qtbot, w, QtCore.Qt.Key_Right)
        assert w.galaxy_list.selected_rows() == [w.galaxy_list.model.row_of(w.state.current)]
        # the table view learns of each move (blocked signals left old rows painted selected)
        assert len(seen) >= 4
        assert w.state.current == P[4]             # moving the selection did not move us again
    finally:
        close_window(w)


def test_hover_readout_clears_when_the_galaxy_changes(qtbot, survey):
    w = fresh(qtbot, survey)
    try:
        wait_drawn(qtbot, w, P[0])
        w.view._hover(w.view.stellar, 0.0, 0.0)
        assert "v−v_sys" in w.view.hover.text()
        assert w.view.gas.crosshair.item.isVisible()
        w.state.next()
        assert w.view.hover.text().strip() == ""
        assert not w.view.gas.crosshair.item.isVisible()
    finally:
        close_window(w)


def test_empty_filter_message_replaces_the_maps(qtbot, survey):
    w = fresh(qtbot, survey)
    try:
        w.set_filter("quality", 2)                 # nobody labelled anything: empty
        assert w.state.order == []
        assert w.view.empty.isVisible() and "No galaxy passes" in w.view.empty.text()
        assert not w.view.sky.isVisible()
        w.set_filter("all", None)
        wait_drawn(qtbot, w, w.state.current)
        assert w.view.sky.isVisible() and not w.view.empty.isVisible()
    finally:
        close_window(w)


def test_a_model_added_from_another_process_is_noticed(qtbot, survey):
    from kinview.db.connection import connect

    w = fresh(qtbot, survey)
    try:
        qtbot.waitUntil(lambda: getattr(w, "model_watch", None) is not None, timeout=10000)
        assert w.model_watch.check() is False      # nothing changed yet
        conn = connect(survey)                      # stands for `kinview train` in a shell
        try:
            conn.execute("INSERT INTO models (task, arch, path, created, active) VALUES "
                         "('vfield-quality', 'x', 'nowhere', '2026-01-01', 0)")
        finally:
            conn.close()
        reloaded = []
        w.model_panels.table_reloaded.connect(lambda: reloaded.append(1))
        w.model_watch.timer.setInterval(50)
        qtbot.waitUntil(lambda: bool(reloaded), timeout=10000)
        assert w.model_watch.check() is False      # seen once, not again
    finally:
        close_window(w)


# --- item 6: viewing -------------------------------------------------------------------------
def _range(panel):
    (x0, x1), (y0, y1) = panel.getPlotItem().getViewBox().viewRange()
    return x0, x1, y0, y1


def test_zoom_is_linked_across_all_three_panels_and_home_resets(qtbot, survey):
    w = fresh(qtbot, survey)
    try:
        v = w.view
        default = _range(v.stellar)
        # the image opens at the IFU's scale: the same sky as the maps
        assert _range(v.image)[0] == pytest.approx(default[0], abs=0.5)
        vb = v.gas.getPlotItem().getViewBox()
        vb.scaleBy((0.5, 0.5))
        vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])
        zoomed = _range(v.gas)
        span = default[1] - default[0]
        for panel in (v.image, v.stellar):
            x0, x1, y0, y1 = _range(panel)
            # the same sky centre and a zoom like the gas map's (aspect-locked panels of
            # different pixel sizes keep the range that contains the gas map's)
            assert (x0 + x1) / 2 == pytest.approx((zoomed[0] + zoomed[1]) / 2, abs=0.3)
            assert (y0 + y1) / 2 == pytest.approx((zoomed[2] + zoomed[3]) / 2, abs=0.3)
            assert x1 - x0 < 0.8 * span
        press(qtbot, w, QtCore.Qt.Key_Home)
        assert _range(v.stellar)[0] == pytest.approx(default[0], abs=0.3)
        assert w.state.current == P[0]             # Home no longer jumps to the first galaxy
        # the zoom is forgotten on the next galaxy unless "keep zoom" is on
        vb.scaleBy((0.5, 0.5))
        vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])
        press(qtbot, w, QtCore.Qt.Key_Right)
        wait_drawn(qtbot, w, P[1])
        assert v.zoom.range is None
        w.set_toggle("keep_zoom", True)
        vb.scaleBy((0.5, 0.5))
        vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])
        kept = _range(v.stellar)
        press(qtbot, w, QtCore.Qt.Key_Right)
        wait_drawn(qtbot, w, P[2])
        assert _range(v.stellar)[2] == pytest.approx(kept[2], abs=0.3)
        assert v.zoom.range is not None
        w.set_toggle("keep_zoom", False)
    finally:
        close_window(w)


def test_wide_image_toggle_shows_the_whole_cutout(qtbot, survey):
    w = fresh(qtbot, survey)
    try:
        v = w.view
        ifu = _range(v.image)[1] - _range(v.image)[0]
        w.set_toggle("wide_image", True)
        wide = _range(v.image)[1] - _range(v.image)[0]
        assert wide > ifu * 1.2
        assert wide >= 2 * v.image.cutout_half - 0.5
        w.set_toggle("wide_image", False)
    finally:
        close_window(w)


def test_colour_map_choice_and_one_velocity_scale(qtbot, survey):
    from kinview.gui.map_panel import lookup_table

    w = fresh(qtbot, survey)
    try:
        v = w.view
        w.set_cmap("velocity", "CET-D1")
        assert v.stellar.cmap_name == v.gas.cmap_name == "CET-D1"
        assert np.array_equal(v.stellar.lut, lookup_table("CET-D1"))
        assert w.settings.colormaps["velocity"] == "CET-D1"
        assert w.cmap_actions[("velocity", "CET-D1")].isChecked()
        w.set_cmap("velocity", "RdBu_r")
        s_lim, g_lim = v.stellar.limits[1], v.gas.limits[1]
        assert s_lim != g_lim                      # gas rotates faster in the test survey
        w.set_toggle("shared_vscale", True)
        assert v.stellar.limits == v.gas.limits
        assert v.stellar.limits[1] == max(s_lim, g_lim)
        w.set_toggle("shared_vscale", False)
        assert v.stellar.limits[1] == s_lim
    finally:
        close_window(w)


def test_kpc_scale_bar_and_psf_are_drawn_to_scale(qtbot, survey):
    w = fresh(qtbot, survey)
    try:
        v = w.view
        z = w.row(w.state.current)["z"]
        marks = v.stellar.marks.describe()
        kpc = float(marks["bar_label"].split()[0])
        assert marks["bar_arcsec"] == pytest.approx(kpc / viewing.kpc_per_arcsec(z), rel=1e-6)
        assert marks["psf_fwhm"] == viewing.DEFAULT_PSF_FWHM_ARCSEC
        assert v.stellar.marks.psf.rect().width() == pytest.approx(marks["psf_fwhm"])
        assert "PSF" in v.stellar.marks.psf_text.toPlainText()
        assert v.image.marks.describe()["bar_label"] == marks["bar_label"]
        w.set_toggle("marks", False)
        assert v.stellar.marks.describe()["bar_label"] is None
        w.set_toggle("marks", True)
    finally:
        close_window(w)


# --- item 8 (histogram only) ------------------------------------------------------------------
def test_usability_histogram_shows_every_bin(qtbot, survey):
    w = fresh(qtbot, survey, (1280, 800))
    try:
        import numpy as np

        from kinview.tasks.base import ModelPlot

        b = w.model_panels.browser
        w.tabs.setCurrentWidget(b)
        # the browser's own first read (no model: nothing to plot) must not land after ours
        qtbot.waitUntil(lambda: "plots" in b.data and b._job is None, timeout=30000)
        # a model's P(usable) histogram (the survey has no model: one drawn as a task would)
        p = np.linspace(0.0, 1.0, 21)
        b.set_data({"plots": {"usable": ModelPlot("histogram", "usability", "P(usable)", p,
                                                  [f"g{i}" for i in range(len(p))],
                                                  x_range=(0.0, 1.0), bins=10)}})
        for _ in range(5):
            QtWidgets.QApplication.processEvents()
        hist = b.plots["usable"].widget
        vb = hist.getPlotItem().getViewBox()
        (x0, x1), _ = vb.viewRange()
        assert x0 <= 0.0 and x1 >= 1.0             # the P ≥ 0.9 bar is inside the plot ...
        # ... and the plot inside a 1280-px screen (the window used to be forced 1585 px wide,
        # and the last bins were off-screen)
        right = vb.mapViewToScene(QtCore.QPointF(1.0, 0.0))
        at = hist.mapTo(w, hist.mapFromScene(right))
        assert w.width() == 1280 and 0 < at.x() < 1280
        assert w.tabs.currentWidget() is b
    finally:
        close_window(w)
