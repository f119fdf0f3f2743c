"""Several experts in the workspace (issue 15, items 5 and 7), offscreen with pytest-qt: the
first-run name prompt, File ▸ Switch expert, blind mode and the reveal strip, the adjudication
queue driven by keys, κ in the GUI; corrections that stay put, and galaxies without gas."""
import pytest
from PyQt5 import QtCore, QtWidgets

from gui_support import make_survey, standard_specs
from kinview.labels.adjudication import final_labels
from kinview.labels.store import LabelStore
from kinview.labels.workflow import NO_GAS_NOTE, has_valid_spaxels, implied_labels, should_advance
from kinview.settings import Settings

from gui_support import close_window, current_labels, press, wait_drawn

SPECS = standard_specs(6)
P = [s["plateifu"] for s in SPECS]
NO_GAS = P[2]          # standard_specs: galaxy 2 has no gas map


@pytest.fixture
def survey(tmp_path):
    return make_survey(tmp_path / "survey", SPECS)


def _store_labels(survey, who, rows):
    store = LabelStore(survey, expert=who)
    try:
        for pifu, fld, kind, value in rows:
            store.add(pifu, fld, kind, value)
    finally:
        store.close()


def _fill_dialog(qtbot, name):
    """Type ``name`` into the expert dialog once it is open, then press OK."""
    def fill():
        dlg = QtWidgets.QApplication.activeModalWidget()
        assert dlg is not None and dlg.objectName() == "expert-dialog"
        dlg.name.setCurrentText(name)
        dlg._accept()
    QtCore.QTimer.singleShot(50, fill)


def test_workflow_rules():
    assert should_advance("quality", False, True)
    assert not should_advance("quality", True, True)        # a correction stays
    assert not should_advance("feature", False, True)
    assert implied_labels({}, "stellar", "quality", 2, has_gas=False) == [
        ("gas", "quality", 0), ("gas", "note", NO_GAS_NOTE)]
    assert implied_labels({}, "stellar", "quality", 2, has_gas=None) == []     # not loaded yet
    assert implied_labels({("gas", "quality"): 1}, "stellar", "quality", 2, has_gas=False) == []
    assert not has_valid_spaxels(None)
    assert not has_valid_spaxels([[float("nan")] * 3])
    assert has_valid_spaxels([[float("nan"), 3.0]])


def test_first_run_asks_the_name_and_switch_expert_reloads(qtbot, survey, monkeypatch, make_main_window):
    from kinview.gui.app import schedule_first_run_prompt

    monkeypatch.delenv("KINVIEW_EXPERT", raising=False)
    _store_labels(survey, "ann", [(P[0], "stellar", "quality", 2), (P[0], "gas", "quality", 1)])
    settings = Settings()                                   # a first run: no name saved
    w = make_main_window(survey, None, settings=settings)
    try:
        assert not schedule_first_run_prompt(w, "named-on-the-command-line")
        _fill_dialog(qtbot, "zoe")
        assert schedule_first_run_prompt(w, None)
        qtbot.waitUntil(lambda: w.state.expert == "zoe", timeout=10000)
        assert settings.expert == "zoe" and "zoe" in w.expert_label.text()
        assert w.progress.value() == 0                      # zoe has labelled nothing
        w.activateWindow()                                  # focus back from the dialog
        qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is w, timeout=5000)
        press(qtbot, w, QtCore.Qt.Key_W)                    # zoe: stellar quality 1 on P0
        assert current_labels(survey, "zoe")[(P[0], "stellar", "quality")] == 1
        assert current_labels(survey, "ann")[(P[0], "stellar", "quality")] == 2
        # File ▸ Switch expert (Ctrl+Shift+E) to ann: her labels fill the list and the panel
        _fill_dialog(qtbot, "ann")
        press(qtbot, w, QtCore.Qt.Key_E, QtCore.Qt.ControlModifier | QtCore.Qt.ShiftModifier)
        qtbot.waitUntil(lambda: w.state.expert == "ann", timeout=10000)
        w.activateWindow()
        qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is w, timeout=5000)
        assert w.table.at[P[0], "stel_qual"] == 2 and w.progress.value() == 1
        w.goto(P[0])
        assert w.label_panel.buttons[("stellar", "quality", 2)].isChecked()
        press(qtbot, w, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)     # undo is ann's own
        assert current_labels(survey, "zoe")[(P[0], "stellar", "quality")] == 1
        assert settings.expert == "ann"
    finally:
        close_window(w)


def test_switching_expert_while_the_table_loads_shows_the_new_experts_labels(qtbot, survey):
    from kinview.gui.app import create_app
    from kinview.gui.main_window import MainWindow

    _store_labels(survey, "ann", [(P[0], "stellar", "quality", 2), (P[0], "gas", "quality", 1)])
    create_app()
    w = MainWindow(survey, expert="login-name", settings=Settings())
    qtbot.addWidget(w)
    w.switch_expert("ann")                 # the first-run prompt answered before the table is in
    w.show()
    try:
        qtbot.waitUntil(lambda: w.view.drawn_plateifu is not None, timeout=30000)
        assert w.store.expert == "ann" and w.progress.value() == 1
        assert w.table.at[P[0], "stel_qual"] == 2
    finally:
        close_window(w)


def test_blind_mode_hides_others_until_labelled_then_the_strip_reveals(qtbot, survey, make_main_window):
    _store_labels(survey, "ann", [(P[0], "stellar", "quality", 2), (P[0], "gas", "quality", 1),
                                  (P[1], "stellar", "quality", 0)])
    w = make_main_window(survey, "bob")
    strip = w.label_panel.reveal_strip
    try:
        assert w.state.current == P[0]
        qtbot.waitUntil(lambda: strip.reveal is not None and strip.reveal.plateifu == P[0])
        assert "Blind mode" in strip.text() and "1 other expert" in strip.text()
        assert "ann" not in strip.text()
        # nor does the list tell: its experts column counts bob alone, and no galaxy passes
        # "Experts disagree" before bob has labelled it
        model = w.galaxy_list.model
        col = model.columns.index("n_experts")

        def experts(pifu):
            return model.data(model.index(model.row_of(pifu), col))

        assert experts(P[0]) == "0" and experts(P[1]) == "0"
        press(qtbot, w, QtCore.Qt.Key_W)          # bob: stellar 1 (ann said 2)
        assert "ann" not in strip.text()           # gas quality still missing: still blind
        press(qtbot, w, QtCore.Qt.Key_S)          # gas 1: labelled, advance to P1
        assert w.state.current == P[1]
        press(qtbot, w, QtCore.Qt.Key_Left)
        qtbot.waitUntil(lambda: strip.reveal is not None and strip.reveal.plateifu == P[0]
                        and not strip.reveal.hidden)
        text = strip.text()
        assert "<b>ann</b>" in text and "★Q 2 clean" in text and "gasQ 1 messy" in text
        assert "disagree on ★Q" in text             # 1 vs 2, not adjudicated
        assert experts(P[0]) == "2" and experts(P[1]) == "0"
        w.set_filter("disagree_experts")
        assert w.state.order == [P[0]]
        w.set_filter("all")
        # blind mode off: P1's other labels show before bob labels it
        press(qtbot, w, QtCore.Qt.Key_Right)
        w.set_toggle("blind", False)
        qtbot.waitUntil(lambda: strip.reveal is not None and strip.reveal.plateifu == P[1]
                        and not strip.reveal.hidden)
        assert "★Q 0 do not use" in strip.text()
        assert experts(P[1]) == "1"
    finally:
        close_window(w)


def test_adjudication_queue_by_keys_and_kappa_in_the_gui(qtbot, survey, make_main_window):
    _store_labels(survey, "ann", [(P[0], "stellar", "quality", 2), (P[1], "stellar", "quality", 2),
                                  (P[3], "stellar", "quality", 1)])
    _store_labels(survey, "bob", [(P[0], "stellar", "quality", 2), (P[1], "stellar", "quality", 0),
                                  (P[3], "stellar", "quality", 2)])
    w = make_main_window(survey, "carol")
    panel = w.adjudication
    try:
        press(qtbot, w, QtCore.Qt.Key_J, QtCore.Qt.ControlModifier)     # Label ▸ Adjudication queue
        qtbot.waitUntil(lambda: w.adjudication_dock.isVisible() and panel.table.rowCount() == 2)
        assert panel.table.item(0, 0).text() == P[1] and panel.table.item(0, 2).text() == "2 0 → tie"
        assert w.state.current == P[1]                 # choosing a disagreement shows its galaxy
        # adjudicating reveals everyone, blind mode or not
        qtbot.waitUntil(lambda: strip_has(w, "<b>bob</b>"))
        panel.table.setFocus()
        qtbot.keyClick(panel.table, QtCore.Qt.Key_1)   # final stellar quality of P1 = 1
        fin = final_labels(w.store)
        assert list(zip(fin["plateifu"], fin["value"], fin["adjudicator"])) == [(P[1], 1.0, "carol")]
        assert (P[1], "stellar", "feature") not in current_labels(survey, "carol")   # not a label key
        assert panel.table.rowCount() == 1 and panel.table.item(0, 0).text() == P[3]
        assert w.state.current == P[3]
        qtbot.keyClick(panel.table, QtCore.Qt.Key_Return)   # 1 vs 2 is a tie as well: refused
        assert len(final_labels(w.store)) == 1
        qtbot.keyClick(panel.table, QtCore.Qt.Key_2)
        assert panel.table.rowCount() == 0 and "Nothing to adjudicate" in panel.choice_box.findChildren(
            QtWidgets.QLabel)[0].text()
        assert "0</b> open" in panel.summary.text() and "2 adjudicated" in panel.summary.text()
        # κ per field and per class: ann 2,2,1 vs bob 2,0,2 on stellar quality
        assert panel.kappa.rowCount() == 5
        assert panel.kappa.item(0, 0).toolTip() == "stellar quality"
        assert "over 3 galaxies" in panel.kappa.item(0, 1).toolTip()
        assert panel.kappa.item(0, 1).text() == "-0.20"      # ann 2,2,1 vs bob 2,0,2: p_o 1/3, p_e 4/9
        assert panel.kappa.item(0, 2).text() == "0.00" and "0 (do not use)" in panel.kappa.item(0, 2).toolTip()
        assert panel.kappa.item(0, 5).text() == ""            # quality has no class 3
        assert panel.kappa.item(1, 1).text() == "—"           # gas quality: one rater only
    finally:
        close_window(w)


def strip_has(w, text):
    return text in w.label_panel.reveal_strip.text()


def test_correcting_a_labelled_galaxy_stays_and_no_gas_commits_with_stars_alone(qtbot, survey, make_main_window):
    w = make_main_window(survey, "cora")
    try:
        press(qtbot, w, QtCore.Qt.Key_E)
        press(qtbot, w, QtCore.Qt.Key_D)                   # P0 labelled -> advance
        assert w.state.current == P[1]
        press(qtbot, w, QtCore.Qt.Key_Left)
        assert w.state.current == P[0]
        press(qtbot, w, QtCore.Qt.Key_W)                   # correct the stellar quality: stay
        assert w.state.current == P[0]
        press(qtbot, w, QtCore.Qt.Key_A)                   # and the gas quality: stay
        assert w.state.current == P[0]
        labels = current_labels(survey, "cora")
        assert labels[(P[0], "stellar", "quality")] == 1 and labels[(P[0], "gas", "quality")] == 0
        # the galaxy without gas: the stellar quality alone commits it
        w.goto(NO_GAS)
        wait_drawn(qtbot, w, NO_GAS)
        assert NO_GAS in w.no_gas
        press(qtbot, w, QtCore.Qt.Key_E)
        assert w.state.current != NO_GAS                   # labelled: moved on
        store = LabelStore(survey, expert="cora")
        cur = store.current("cora", plateifu=NO_GAS)
        store.close()
        got = {(r.field, r.kind): (r.text if r.kind == "note" else r.value) for r in cur.itertuples()}
        assert got == {("stellar", "quality"): 2.0, ("gas", "quality"): 0.0, ("gas", "note"): NO_GAS_NOTE}
        w.goto(NO_GAS)
        assert w.label_panel.buttons[("gas", "quality", 0)].isChecked()   # visibly recorded
        text = w.label_panel.state_label.text()
        assert "no valid gas spaxels" in text and f"note “{NO_GAS_NOTE}”" in text
    finally:
        close_window(w)
