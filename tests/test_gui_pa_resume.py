"""Unfinished PA fits (issue 15, item 4): they resume in the background at start, can be
cancelled and show progress; the list and the filters tell "not fitted yet" from "no PA"."""
import pytest
from PyQt5 import QtCore

from gui_support import make_survey, standard_specs
from kinview import viewstate as vs
from kinview.db.connection import connect
from kinview.errors import Cancelled
from kinview.gui import worker
from kinview.kinematics.survey_fit import resume_fits, unfitted_fields
from kinview.progress import TaskState

from gui_support import close_window

SPECS = standard_specs(6)
P = [s["plateifu"] for s in SPECS]


def _survey(tmp_path):
    # no stored fits at all: as after a first run interrupted before its PA fit finished
    return make_survey(tmp_path / "survey", SPECS, store_pa=False)


def _table(root):
    conn = connect(root)
    try:
        table, mine = vs.load_table(conn, "x")
    finally:
        conn.close()
    return table


def test_an_interrupted_fit_resumes_where_it_stopped(tmp_path):
    root = _survey(tmp_path)
    assert unfitted_fields(root) == 12
    seen = []

    def progress(done, total):
        seen.append(done)
        if done >= 2:
            state.cancel()
    state = TaskState(on_progress=progress)
    with pytest.raises(Cancelled):
        resume_fits(root, state=state, jobs=1)
    left = unfitted_fields(root)
    assert 0 < left < 12                      # the fits done before the cancel are kept
    table = _table(root)
    unfitted = set(table.index[vs.filter_mask(table, "pa_unfitted")])
    assert P[0] in set(table.index) - unfitted and P[5] in unfitted
    counts = vs.pa_fit_counts(table)
    assert counts["unfitted"] >= 1 and counts["fitted"] >= 1
    # the next start goes on from there and fits only what is left
    assert resume_fits(root, jobs=1) == left
    assert unfitted_fields(root) == 0 and resume_fits(root, jobs=1) == 0
    table = _table(root)
    assert not vs.filter_mask(table, "pa_unfitted").any()
    # galaxy 2's gas map has no valid spaxels: a stored failed fit, i.e. "no PA", not "not yet"
    no_pa = set(table.index[vs.filter_mask(table, "pa_none")])
    assert P[2] in no_pa and table.at[P[2], "pa_method_gas"] == "fast"


def test_the_window_resumes_fits_shows_progress_and_tells_unfitted_from_no_pa(qtbot, tmp_path, make_main_window):
    from kinview.gui.app import start_pa_fits

    root = _survey(tmp_path)
    w = make_main_window(root, "pat")
    try:
        model = w.galaxy_list.model
        row = model.row_of(P[1])
        idx = model.index(row, list(vs.COLUMNS).index("stellar_pa"))
        assert model.data(idx) == "…"                              # not fitted yet
        assert "not fitted yet" in model.data(idx, QtCore.Qt.ToolTipRole)
        w.set_filter("misaligned")
        assert "not fitted yet" in w.statusBar().currentMessage()
        w.set_filter("all")
        start_pa_fits(w)
        assert w.pa_progress.isVisible() and w.pa_cancel.isVisible()
        qtbot.waitUntil(lambda: w.pa_worker.is_done, timeout=120000)
        qtbot.waitUntil(lambda: not w.pa_progress.isVisible(), timeout=10000)
        assert unfitted_fields(root) == 0
        assert model.data(idx) not in ("…", "–", "")               # a PA now, without a restart
        gas = model.index(model.row_of(P[2]), list(vs.COLUMNS).index("gas_pa"))
        assert model.data(gas) == "–"                              # no PA (the fit failed)
        assert "no PA" in model.data(gas, QtCore.Qt.ToolTipRole)
    finally:
        close_window(w)


def test_cancel_keeps_what_was_fitted(qtbot, tmp_path, make_main_window):
    from kinview.gui.app import start_pa_fits

    root = _survey(tmp_path)
    w = make_main_window(root, "pat")
    try:
        said = []                             # every status message, not only the last one:
        # (in full: the status bar elides a message wider than its room)
        w.statusBar().message_shown.connect(said.append)    # a later one may replace it
        start_pa_fits(w)
        w.cancel_pa_fits()
        qtbot.waitUntil(lambda: w.pa_worker.is_done, timeout=120000)
        qtbot.waitUntil(lambda: not w.pa_progress.isVisible(), timeout=10000)
        if unfitted_fields(root):             # cancelled before the end (the usual case)
            qtbot.waitUntil(lambda: any("resume at the next start" in m for m in said), timeout=10000)
    finally:
        close_window(w)
        worker.wait_all(30000)


def test_a_survey_opened_from_the_file_menu_resumes_its_fits_too(qtbot, tmp_path, make_main_window):
    from kinview.gui import survey_menu

    first = make_survey(tmp_path / "first", standard_specs(3))          # fitted already
    second = _survey(tmp_path)                                          # nothing fitted yet
    w = make_main_window(first, "pat")
    new = survey_menu.open_survey(w, second)
    qtbot.addWidget(new)
    try:
        qtbot.waitUntil(lambda: getattr(new, "pa_worker", None) is not None, timeout=60000)
        qtbot.waitUntil(lambda: new.pa_worker.is_done, timeout=180000)
        assert unfitted_fields(second) == 0
    finally:
        close_window(new)
        worker.wait_all(30000)
