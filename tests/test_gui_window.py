"""The classification window, driven offscreen with pytest-qt: keyboard labelling, undo,
filters, PA overlays on screen, missing files, PA overrides and persistence."""
import math

import numpy as np
import pytest
from PyQt5 import QtCore, QtWidgets

from gui_support import close_window, current_labels, make_survey, press, standard_specs, wait_drawn
from kinview.gui import worker
from kinview.labels.store import LabelStore
from kinview.settings import Settings

SPECS = standard_specs(6)
P = [s["plateifu"] for s in SPECS]


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return make_survey(tmp_path_factory.mktemp("gui") / "survey", SPECS)


def test_keyboard_labels_write_events_and_advance(qtbot, survey, make_main_window):
    w = make_main_window(survey, "kb")
    assert w.state.current == P[0]
    press(qtbot, w, QtCore.Qt.Key_2)            # stellar feature 1 (KDC)
    press(qtbot, w, QtCore.Qt.Key_X)            # gas note 1 (depletion)
    press(qtbot, w, QtCore.Qt.Key_E)            # stellar quality 2
    assert w.state.current == P[0]              # gas quality still missing: stay
    press(qtbot, w, QtCore.Qt.Key_S)            # gas quality 1 -> committed, then advance
    assert w.state.current == P[1]
    wait_drawn(qtbot, w, P[1])
    labels = current_labels(survey, "kb")
    assert labels[(P[0], "stellar", "quality")] == 2
    assert labels[(P[0], "gas", "quality")] == 1
    assert labels[(P[0], "stellar", "feature")] == 1
    assert labels[(P[0], "gas", "gas_note")] == 1
    # the list row shows the new labels, the status bar counts the galaxy
    assert w.table.at[P[0], "stel_qual"] == 2 and w.table.at[P[0], "gas_qual"] == 1
    assert w.progress.value() == 1
    # the label panel shows which buttons are set for the new galaxy (none) and after a key
    press(qtbot, w, QtCore.Qt.Key_Q)
    assert w.label_panel.buttons[("stellar", "quality", 0)].isChecked()
    # arrows move without labelling
    press(qtbot, w, QtCore.Qt.Key_Right)
    assert w.state.current == P[2]
    press(qtbot, w, QtCore.Qt.Key_Left)
    assert w.state.current == P[1]
    close_window(w)


def test_undo_restores_previous_value_and_shows_its_galaxy(qtbot, survey, make_main_window):
    w = make_main_window(survey, "undo")
    press(qtbot, w, QtCore.Qt.Key_W)            # stellar 1
    press(qtbot, w, QtCore.Qt.Key_E)            # stellar 2 (replaces 1)
    press(qtbot, w, QtCore.Qt.Key_D)            # gas 2 -> advance to P[1]
    assert w.state.current == P[1]
    press(qtbot, w, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)   # undo gas 2
    assert w.state.current == P[0]              # back on the galaxy of the undone label
    labels = current_labels(survey, "undo")
    assert (P[0], "gas", "quality") not in labels
    assert labels[(P[0], "stellar", "quality")] == 2
    press(qtbot, w, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)   # undo stellar 2 -> 1
    assert current_labels(survey, "undo")[(P[0], "stellar", "quality")] == 1
    assert w.label_panel.buttons[("stellar", "quality", 1)].isChecked()
    assert not w.label_panel.buttons[("gas", "quality", 2)].isChecked()
    close_window(w)


def test_filters_in_the_window(qtbot, survey, make_main_window):
    w = make_main_window(survey, "filt")
    press(qtbot, w, QtCore.Qt.Key_E)
    press(qtbot, w, QtCore.Qt.Key_D)            # P[0] labelled
    w.set_filter("mine")
    assert w.state.order == [P[0]] and w.galaxy_list.model.rowCount() == 1
    w.set_filter("unlabelled")
    assert P[0] not in w.state.order and len(w.state.order) == 5
    w.set_filter("misaligned")
    assert w.state.order == [P[1]] and w.state.current == P[1]
    w.set_filter("quality", 2)
    assert w.state.order == [P[0]]
    # the combo box drives the same filter
    w.galaxy_list.filter.setCurrentIndex(w.galaxy_list.filter.findData("all"))
    assert len(w.state.order) == 6
    # clicking a row of the list shows that galaxy
    view = w.galaxy_list.view
    rect = view.visualRect(w.galaxy_list.model.index(4, 0))
    qtbot.mouseClick(view.viewport(), QtCore.Qt.LeftButton, pos=rect.center())
    assert w.state.current == P[4]
    # clicking a header sorts by that column (z grows with the index: again = descending)
    w.galaxy_list.sort_requested.emit("z")
    w.galaxy_list.sort_requested.emit("z")
    assert w.state.order == P[::-1]
    close_window(w)


def _screen_angle(panel, line):
    """PA (deg E of N) of the drawn receding end, measured in widget pixels."""
    (ax, ay), (rx, ry) = line.endpoints()
    vb = panel.getPlotItem().getViewBox()
    a = panel.mapFromScene(vb.mapViewToScene(QtCore.QPointF(ax, ay)))
    r = panel.mapFromScene(vb.mapViewToScene(QtCore.QPointF(rx, ry)))
    dx = r.x() - a.x()            # pixels to the right (West)
    dy = r.y() - a.y()            # pixels down (South)
    return math.degrees(math.atan2(-dx, -dy)) % 360.0


@pytest.mark.parametrize("index", [0, 1])
def test_pa_overlay_angle_on_screen_matches_stored_pa(qtbot, survey, index, make_main_window):
    # wide enough for the full titles (narrower panels show "PA 184°", the ± in the tooltip)
    w = make_main_window(survey, "angle", size=(1920, 1080))
    w.goto(P[index])
    wait_drawn(qtbot, w, P[index])
    QtWidgets.QApplication.processEvents()
    for kind, key in (("stellar", "pa_star"), ("gas", "pa_gas")):
        panel = w.view.maps[kind]
        stored = SPECS[index][key]
        assert panel.pa_line.pa == pytest.approx(stored)
        diff = (_screen_angle(panel, panel.pa_line) - stored + 180) % 360 - 180
        assert abs(diff) < 1.0, (kind, stored)
        assert f"PA {stored:.1f}" in panel.getPlotItem().titleLabel.text
    close_window(w)


def _pixel(img, panel, x, y):
    vb = panel.getPlotItem().getViewBox()
    p = panel.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, y)))
    c = img.pixelColor(int(round(p.x())), int(round(p.y())))
    return c.red(), c.green(), c.blue()


def test_screenshot_receding_side_is_red_north_up_east_left(qtbot, survey, make_main_window):
    """Pixels of the grabbed stellar map: red (receding) where the PA points, blue opposite;
    and the axes run North up, East left (x grows to the left on screen)."""
    w = make_main_window(survey, "pix")
    for pifu, spec in zip(P[:2], SPECS[:2]):
        w.goto(pifu)
        wait_drawn(qtbot, w, pifu)
        panel = w.view.stellar
        img = panel.grab().toImage()
        u = np.array([math.sin(math.radians(spec["pa_star"])), math.cos(math.radians(spec["pa_star"]))])
        # off the PA line itself (which is drawn black), 20 degrees to one side
        v = np.array([math.sin(math.radians(spec["pa_star"] + 20)),
                      math.cos(math.radians(spec["pa_star"] + 20))])
        rr, rg, rb = _pixel(img, panel, *(v * 3.5))
        ar, ag, ab = _pixel(img, panel, *(-v * 3.5))
        assert rr > rb + 60, (pifu, (rr, rg, rb))       # receding: red
        assert ab > ar + 60, (pifu, (ar, ag, ab))       # approaching: blue
    vb = w.view.stellar.getPlotItem().getViewBox()
    east = w.view.stellar.mapFromScene(vb.mapViewToScene(QtCore.QPointF(5.0, 0.0)))
    west = w.view.stellar.mapFromScene(vb.mapViewToScene(QtCore.QPointF(-5.0, 0.0)))
    north = w.view.stellar.mapFromScene(vb.mapViewToScene(QtCore.QPointF(0.0, 5.0)))
    south = w.view.stellar.mapFromScene(vb.mapViewToScene(QtCore.QPointF(0.0, -5.0)))
    assert east.x() < west.x() and north.y() < south.y()
    close_window(w)


def test_missing_image_or_maps_still_open_and_say_so(qtbot, survey, make_main_window):
    w = make_main_window(survey, "miss")
    w.goto(P[3])                                 # no image
    wait_drawn(qtbot, w, P[3])
    assert "no colour image" in w.view.missing.text()
    assert not w.view.image.has_image
    assert w.view.stellar.fv is not None         # the maps are still drawn
    w.goto(P[4])                                 # no MAPS file
    wait_drawn(qtbot, w, P[4])
    assert "no MAPS file" in w.view.missing.text()
    assert "no MAPS file" in w.view.stellar.getPlotItem().titleLabel.text
    assert w.view.image.has_image
    press(qtbot, w, QtCore.Qt.Key_Q)             # labelling still works
    assert current_labels(survey, "miss")[(P[4], "stellar", "quality")] == 0
    w.goto(P[2])                                 # stars but an empty (fully masked) gas map
    wait_drawn(qtbot, w, P[2])
    assert "gas (Hα) map has no valid spaxels" in w.view.missing.text()
    assert "no valid spaxels" in w.view.gas.getPlotItem().titleLabel.text
    press(qtbot, w, QtCore.Qt.Key_W)
    assert w.state.current != P[2]              # no valid gas: the stellar quality alone labels it
    labels = current_labels(survey, "miss")
    assert labels[(P[2], "stellar", "quality")] == 1 and labels[(P[2], "gas", "quality")] == 0
    close_window(w)


def test_dragging_the_pa_line_stores_an_override(qtbot, survey, make_main_window):
    w = make_main_window(survey, "drag")
    line = w.view.stellar.pa_line
    target = 30.0
    u = np.array([math.sin(math.radians(target)), math.cos(math.radians(target))]) * 4.0
    line.handle.setPos(*u)
    line.handle.sigPositionChangeFinished.emit(line.handle)
    labels = current_labels(survey, "drag")
    assert labels[(P[0], "stellar", "pa_override")] == pytest.approx(target, abs=0.1)
    assert w.table.at[P[0], "stellar_pa"] == pytest.approx(target, abs=0.1)
    assert "by hand" in w.view.stellar.getPlotItem().titleLabel.text
    press(qtbot, w, QtCore.Qt.Key_R)             # clears it again
    assert (P[0], "stellar", "pa_override") not in current_labels(survey, "drag")
    assert w.view.stellar.pa_line.pa == pytest.approx(SPECS[0]["pa_star"])
    close_window(w)


def test_add_panel_docks_and_tabs(qtbot, survey, make_main_window):
    w = make_main_window(survey, "panel")
    dock = w.add_panel("Notes", QtWidgets.QLabel("notes"), "right")
    assert isinstance(dock, QtWidgets.QDockWidget) and dock.widget().text() == "notes"
    n_tabs = w.tabs.count()
    w.add_panel("Clusters", QtWidgets.QLabel("clusters"), "tab")
    assert w.tabs.count() == n_tabs + 1 and w.tabs.tabText(n_tabs) == "Clusters"
    with pytest.raises(ValueError):
        w.add_panel("x", QtWidgets.QLabel(), "nowhere")
    close_window(w)


def test_toggles_clip_hover_and_note(qtbot, survey, make_main_window):
    w = make_main_window(survey, "tog")
    # a note typed after T: letters go into the note, not to the label shortcuts
    press(qtbot, w, QtCore.Qt.Key_T)
    assert w.label_panel.note.hasFocus()
    qtbot.keyClicks(w.label_panel.note, "qa warp?")
    qtbot.keyClick(w.label_panel.note, QtCore.Qt.Key_Return)
    assert set(current_labels(survey, "tog")) == {(P[0], "galaxy", "note")}
    store = LabelStore(survey, expert="tog")
    assert store.current_for(P[0])["galaxy"]["note"] == "qa warp?"
    assert store.current_for(P[0])["stellar"] == {}
    store.close()
    assert w.state.current == P[0]
    lim0 = w.view.stellar.bar.levels()[1]
    for _ in range(3):                                     # narrower clip -> smaller limit
        press(qtbot, w, QtCore.Qt.Key_BracketLeft)
    assert w.state.clip_percentile < 98.0
    assert w.view.stellar.bar.levels()[1] < lim0
    press(qtbot, w, QtCore.Qt.Key_D, QtCore.Qt.ControlModifier)   # dispersion maps
    assert w.view.sigma_stellar.isVisible() and w.view.sigma_stellar.fv is not None
    press(qtbot, w, QtCore.Qt.Key_K, QtCore.Qt.ControlModifier)   # cleaned-away spaxels
    assert w.prefetcher.clean
    qtbot.waitUntil(lambda: w.view.drawn_plateifu == w.state.current, timeout=30000)
    text = w.view.stellar.describe(0.0, 0.0)
    assert "v−v_sys=" in text and "mask=" in text and "x=+0.0″" in text.replace("-0.0", "+0.0")
    close_window(w)


def test_twenty_galaxies_by_keyboard_undo_quit_reopen(qtbot, tmp_path, make_main_window):
    """A new user's session: 20 galaxies classified with the keyboard only, one undo, quit,
    reopen: the labels are there and the window is back where it was."""
    specs = standard_specs(24)
    for s in specs:
        s["pa_gas"] = s["pa_star"]
    root = make_survey(tmp_path / "s24", specs)
    w = make_main_window(root, "newuser", settings=Settings.load())
    keys = [QtCore.Qt.Key_Q, QtCore.Qt.Key_W, QtCore.Qt.Key_E]
    gkeys = [QtCore.Qt.Key_A, QtCore.Qt.Key_S, QtCore.Qt.Key_D]
    expected = {}
    for i in range(20):
        pifu = w.state.current
        wait_drawn(qtbot, w, pifu)
        press(qtbot, w, keys[i % 3])
        press(qtbot, w, gkeys[(i + 1) % 3])
        expected[pifu] = (i % 3, (i + 1) % 3)
    assert w.rate.text().startswith("20 this session") and "/ hour" in w.rate.text()
    assert w.progress.value() == 20
    press(qtbot, w, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)   # undo the last gas label
    assert w.progress.value() == 19
    last = specs[19]["plateifu"]
    assert w.state.current == last
    del expected[last]
    press(qtbot, w, QtCore.Qt.Key_D)                              # label it again: gas 2
    expected[last] = (19 % 3, 2)
    press(qtbot, w, QtCore.Qt.Key_Right)                          # look at a later galaxy
    where = w.state.current
    w.set_toggle("sigma", True)
    w.close()                                                      # quit (saves settings)
    worker.wait_all(30000)

    w2 = make_main_window(root, "newuser", settings=Settings.load())
    assert w2.state.current == where                               # back where it was
    assert w2.state.toggles["sigma"] is True
    labels = current_labels(root, "newuser")
    for pifu, (sq, gq) in expected.items():
        assert labels[(pifu, "stellar", "quality")] == sq
        assert labels[(pifu, "gas", "quality")] == gq
    assert w2.n_labelled == 20 and w2.progress.value() == 20
    close_window(w2)


def test_help_lists_every_key(qtbot):
    from kinview.gui.app import create_app
    from kinview.gui.help_dialog import HelpDialog, help_html
    from kinview.gui.label_panel import LABEL_KEYS, OTHER_KEYS

    create_app()
    html = help_html()
    for key, fld, kind, value in LABEL_KEYS:
        assert f"<b>{key}</b></td><td>{fld} {kind.replace('_', ' ')} = {value}" in html
    for seq, _, text in OTHER_KEYS:
        assert f"<b>{seq}</b></td><td>{text}" in html
    assert "receding" in html                      # the shipped help text was found
    dlg = HelpDialog()
    qtbot.addWidget(dlg)
    assert "Q" in dlg.findChild(QtWidgets.QTextBrowser).toPlainText()
