"""Workspace behaviour of issue 15 that does not need the labelling-session redesign: a first
window size that fits the screen, symmetric colour-clip steps, and Quit ending every window."""
import pytest
from PyQt5 import QtWidgets

from gui_support import make_survey, standard_specs
from kinview.gui import settings as qsettings
from kinview.gui.main_window import CLIP_STEPS

from gui_support import close_window


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return make_survey(tmp_path_factory.mktemp("workspace") / "survey", standard_specs(3))


@pytest.mark.parametrize("available, expected", [
    ((1280, 800), (1280, 800)),        # the smallest supported screen: all of it
    ((1280, 1024), (1280, 942)),       # the new user's screen: fits, nothing off-screen
    ((1920, 1080), (1766, 993)),
    ((3840, 2160), qsettings.MAX_FIRST_SIZE),
    ((1024, 700), (1024, 700)),        # smaller than supported: never bigger than the screen
])
def test_first_window_size_fits_the_available_screen(available, expected):
    assert qsettings.first_size(available) == expected


def test_a_window_without_saved_geometry_fits_its_screen(qtbot, survey):
    from kinview.gui.app import create_app
    from kinview.gui.main_window import MainWindow

    create_app()
    w = MainWindow(survey, expert="ann")
    qtbot.addWidget(w)
    geo = QtWidgets.QApplication.primaryScreen().availableGeometry()
    assert w.width() <= geo.width() and w.height() <= geo.height()
    w.close()


def test_colour_clip_steps_are_symmetric(qtbot, survey, make_main_window):
    w = make_main_window(survey, "ann")
    try:
        start = w.state.clip_percentile
        assert start in CLIP_STEPS
        seen = []
        for key in "[[[[[":
            w.step_clip(-1)
            seen.append(w.state.clip_percentile)
        assert len(set(seen)) == 5                      # five distinct narrower steps, no clamping
        for key in "]]]]]":
            w.step_clip(+1)
        assert w.state.clip_percentile == start
        for key in "]]]]]":
            w.step_clip(+1)
        for key in "[[[[[":
            w.step_clip(-1)
        assert w.state.clip_percentile == start
    finally:
        close_window(w)


def test_quit_closes_every_window_so_the_process_ends(qtbot, survey, tmp_path, make_main_window):
    w = make_main_window(survey, "ann")
    other = QtWidgets.QMainWindow()          # stands for the cluster view or any other window
    other.setWindowTitle("cluster view")
    other.show()
    qtbot.waitExposed(other)
    w.quit()
    qtbot.waitUntil(lambda: not other.isVisible() and not w.isVisible(), timeout=5000)
    visible = [x for x in QtWidgets.QApplication.topLevelWidgets() if x.isWindow() and x.isVisible()]
    assert visible == []
    close_window(w)
