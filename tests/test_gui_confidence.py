"""The confidence browser on a real (tiny) demo survey with predictions written to its database:
the usability histogram counts them, clicking a bar lists that bin's galaxies, the two queues
list the right fields, a queue row jumps the window there, and the spin / photo-z plots and
the on-screen prediction label show the stored values."""
import json

import numpy as np
import pytest
from PyQt5 import QtCore


N = 8


@pytest.fixture(scope="module")
def survey_template(tmp_path_factory):
    """A demo survey with hand-written model predictions and labels (known answers)."""
    from kinview.db.connection import connect, transaction
    from kinview.demo import generate_survey
    from kinview.labels.store import LabelStore

    root = tmp_path_factory.mktemp("conf") / "survey"
    generate_survey(root, n=N, seed=5, jobs=1)
    from kinview.data.survey import Survey

    sv = Survey.open(root, ingest=True)
    pifus = sv.plateifus()
    sv.close()
    # P(usable) per field: galaxy i stellar = 0.05 + 0.103 i (bin i, distinct confidences),
    # gas = 0.95 (bin 9)
    p_st = {p: 0.05 + 0.103 * i for i, p in enumerate(pifus)}
    conn = connect(root)
    with transaction(conn):
        cur = conn.execute("INSERT INTO models (task, arch, path, created, metrics, label_hash, card, active) "
                           "VALUES ('vfield-quality', 'default', 'none.keras', '2026-01-01', '{}', '', "
                           "'{\"options\": {\"mode\": \"binary\"}}', 1)")
        mid = cur.lastrowid
        for i, p in enumerate(pifus):
            for fld, v in (("stellar", p_st[p]), ("gas", 0.95)):
                # galaxies 0-3 are in the held-out test split (out-of-sample predictions)
                extra = {"mode": "binary", "split": "test" if i < 4 else "train"}
                if i < 4:
                    extra["oof"] = True
                conn.execute("INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?)",
                             (mid, p, fld, v, max(v, 1 - v), json.dumps(extra)))
        spin = conn.execute("INSERT INTO models (task, arch, path, created, metrics, label_hash, card, active) "
                            "VALUES ('spin', 'default', 'none.keras', '2026-01-01', '{}', '', '{}', 1)").lastrowid
        pz = conn.execute("INSERT INTO models (task, arch, path, created, metrics, label_hash, card, active) "
                          "VALUES ('photoz', 'default', 'none.keras', '2026-01-01', '{}', '', '{}', 1)").lastrowid
        for i, p in enumerate(pifus):
            conn.execute("INSERT INTO predictions VALUES (?, ?, 'galaxy', ?, NULL, NULL)", (spin, p, 0.1 + 0.05 * i))
            conn.execute("INSERT INTO predictions VALUES (?, ?, 'galaxy', ?, NULL, ?)",
                         (pz, p, 0.02 + 0.01 * i, json.dumps({"split": "test"})))
    conn.close()
    # expert 'ann' labels: galaxy 0 stellar unusable (model says 0.05: agrees), galaxy 1 stellar
    # usable (0.153: confident disagreement, out-of-sample), galaxy 0 and 1 gas usable;
    # galaxy 5 stellar unusable (0.565 -> disagreement, but in-sample and not confident)
    store = LabelStore(root, expert="ann")
    store.add_many([dict(plateifu=pifus[0], field="stellar", kind="quality", value=0),
                    dict(plateifu=pifus[1], field="stellar", kind="quality", value=2),
                    dict(plateifu=pifus[0], field="gas", kind="quality", value=1),
                    dict(plateifu=pifus[1], field="gas", kind="quality", value=2),
                    dict(plateifu=pifus[5], field="stellar", kind="quality", value=0)])
    store.close()
    return {"root": root, "pifus": pifus, "p_st": p_st}


@pytest.fixture
def survey(survey_template, tmp_path):
    """A copy of the survey per test: a label one test writes never reaches another."""
    import shutil

    return dict(survey_template, root=shutil.copytree(survey_template["root"], tmp_path / "survey"))


@pytest.fixture
def window(make_main_window, survey, qtbot):
    """A fresh window per test, shown once its confidence browser has read the predictions."""
    w = make_main_window(survey["root"], "ann", wait=False)
    panels = w.model_panels
    got = []
    panels.browser.refreshed.connect(lambda: got.append(1))
    qtbot.waitUntil(lambda: bool(got) and w.view.drawn_plateifu is not None, timeout=30000)
    return w, panels


def test_histogram_counts_the_stored_predictions(window, survey):
    w, panels = window
    b = panels.browser
    # one plot per active model, in menu order, as each task draws it
    assert list(b.plots) == ["vfield-quality", "spin", "photoz"]
    hist = b.plots["vfield-quality"]
    expected = np.histogram(list(survey["p_st"].values()) + [0.95] * N, bins=10, range=(0, 1))[0]
    assert hist.counts.tolist() == expected.tolist()
    assert hist.counts[9] == N and hist.counts.sum() == 2 * N
    # one tab per plot, named after the task; each plot's note says its model and samples
    assert [b.plot_tabs.tabText(i) for i in range(b.plot_tabs.count())] == [
        "Usability", "Spin λR_e", "Photo-z"]
    assert "model #" in hist.note.text() and f"{2 * N} fields" in hist.note.text()
    assert not b.header.isVisibleTo(b)           # nothing wrong to say


def test_clicking_a_bar_lists_its_galaxies(window, survey, qtbot):
    w, panels = window
    b = panels.browser
    hist = b.plots["vfield-quality"]
    w.tabs.setCurrentWidget(b)
    qtbot.waitUntil(lambda: hist.widget.isVisible(), timeout=5000)
    pifus = survey["pifus"]
    # bin 2 = [0.2, 0.3): only galaxy 2's stellar field
    with qtbot.waitSignal(b.bin_selected, timeout=5000) as sig:
        qtbot.mouseClick(hist.widget.viewport(), QtCore.Qt.LeftButton, pos=hist.bin_center(2))
    assert sig.args[2] == [pifus[2]] and sig.args[3] == "P(usable) in [0.2, 0.3)"
    assert w.state.order == [pifus[2]] and w.state.current == pifus[2]
    assert w.galaxy_list.model.order == [pifus[2]]
    assert "P(usable) in [0.2, 0.3)" in w.galaxy_list.count.text()
    # the last bin holds every galaxy's gas field
    hist.select_bin(9)
    assert sorted(w.state.order) == sorted(pifus)
    # choosing a normal filter in the list goes back to it
    w.set_filter("all", None)
    assert len(w.state.order) == N


def test_queues_list_uncertain_fields_and_likely_errors(window, survey, qtbot):
    w, panels = window
    b = panels.browser
    pifus, p_st = survey["pifus"], survey["p_st"]
    labelled = {(pifus[0], "stellar"), (pifus[1], "stellar"), (pifus[0], "gas"), (pifus[1], "gas"),
                (pifus[5], "stellar")}
    # most uncertain first: confidence max(p, 1-p) ascending over the unlabelled fields
    fields = [(p, "stellar", max(v, 1 - v)) for p, v in p_st.items()] + [(p, "gas", 0.95) for p in pifus]
    fields = [f for f in fields if (f[0], f[1]) not in labelled]
    fields.sort(key=lambda f: (f[2], f[0], f[1]))
    shown = [(b.uncertain.item(r, 0).text(), b.uncertain.item(r, 1).text())
             for r in range(b.uncertain.rowCount())]
    assert shown == [(p, f) for p, f, _ in fields]
    assert shown[0] == (pifus[4], "stellar")          # P(usable) 0.462: the least confident
    # likely label errors: only galaxy 1's stellar field (held-out, 0.847 confident "unusable",
    # labelled clean by ann); galaxy 5 disagrees too, but in-sample and not confidently
    assert b.errors.rowCount() == 1
    assert [b.errors.item(0, c).text() for c in range(4)] == [pifus[1], "stellar", "ann", "2"]
    # double-click a queue row: the window shows that galaxy
    b.errors.selectRow(0)
    item = b.errors.item(0, 0)
    rect = b.errors.visualItemRect(item)
    w.tabs.setCurrentWidget(b)
    qtbot.mouseClick(b.errors.viewport(), QtCore.Qt.LeftButton, pos=rect.center())
    qtbot.mouseDClick(b.errors.viewport(), QtCore.Qt.LeftButton, pos=rect.center())
    assert w.state.current == pifus[1]
    # "label next most uncertain" goes to the first queue galaxy
    b.goto_next_uncertain()
    assert w.state.current == shown[0][0]
    # labelling a queued field removes it from the queue after the refresh
    first = shown[0]
    w.tabs.setCurrentWidget(w.view)
    with qtbot.waitSignal(b.refreshed, timeout=15000):
        w.label(first[1], "quality", 1, advance=False)
    now = [(b.uncertain.item(r, 0).text(), b.uncertain.item(r, 1).text())
           for r in range(b.uncertain.rowCount())]
    assert first not in now and len(now) == len(shown) - 1


def test_spin_photoz_plots_and_prediction_label(window, survey, qtbot):
    w, panels = window
    b = panels.browser
    pifus = survey["pifus"]
    x, y = b.plots["spin"].points.getData()
    assert len(x) == N
    # catalogue λR_e on x, predictions (0.1 + 0.05 i) on y
    assert sorted(np.round(y, 6)) == sorted(np.round([0.1 + 0.05 * i for i in range(N)], 6))
    zx, zy = b.plots["photoz"].points.getData()
    assert len(zx) == N and sorted(np.round(zy, 6)) == sorted(np.round([0.02 + 0.01 * i for i in range(N)], 6))
    assert "test split" in b.plots["photoz"].note.text()
    # the on-screen label follows the current galaxy
    w.goto(pifus[3])
    qtbot.waitUntil(lambda: panels.prediction.plateifu == pifus[3], timeout=5000)
    text = panels.prediction.text()
    assert pifus[3] in text and "P(usable) 0.36" in text and "λR_e 0.250" in text and "z 0.0500" in text


def _error_rows(b):
    return [(b.errors.item(r, 0).text(), b.errors.item(r, 2).text()) for r in range(b.errors.rowCount())]


def test_likely_label_errors_keep_blind_mode(make_main_window, survey, qtbot):
    """Blind mode in the Model tab: another rater's label (ann's, and a published catalogue's)
    is listed among the likely label errors only once this expert has labelled the galaxy,
    with blind mode off, or while adjudicating."""
    from kinview.gui.confidence_browser import load_overview
    from kinview.labels.store import LabelStore

    root, pifus = survey["root"], survey["pifus"]
    store = LabelStore(root, expert="mpl7")          # the published catalogue says P0 is clean
    store.add(pifus[0], "stellar", "quality", 2, source="import:mpl7.csv")
    store.close()
    both = {(pifus[0], "mpl7"), (pifus[1], "ann")}
    # the worker function: others' rows only on the revealed galaxies
    rows = lambda d: set(zip(d["errors"]["plateifu"], d["errors"]["expert"]))    # noqa: E731
    assert rows(load_overview(root, "bob")) == both
    assert rows(load_overview(root, "bob", revealed=set())) == set()
    assert rows(load_overview(root, "bob", revealed={pifus[0]})) == {(pifus[0], "mpl7")}

    w = make_main_window(root, "bob", wait=False)
    b = w.model_panels.browser
    qtbot.waitUntil(lambda: bool(b.data) and w.view.drawn_plateifu is not None, timeout=30000)
    assert _error_rows(b) == []                      # bob has labelled nothing: nothing shows
    with qtbot.waitSignal(b.refreshed, timeout=15000):
        w.set_toggle("blind", False)
    assert set(_error_rows(b)) == both
    with qtbot.waitSignal(b.refreshed, timeout=15000):
        w.set_toggle("blind", True)
    assert _error_rows(b) == []
    # bob labels P0 (agreeing with the model): the catalogue's label of P0 shows, ann's of P1 not
    w.goto(pifus[0])
    w.label("gas", "quality", 2, advance=False)
    with qtbot.waitSignal(b.refreshed, timeout=15000):
        w.label("stellar", "quality", 0, advance=False)
    assert _error_rows(b) == [(pifus[0], "mpl7")]
    # bob is a rater: adjudicating does not lift blind mode for him (it would for a non-rater)
    w.toggle_adjudication()
    assert w.session.adjudicating and w.session.revealed_galaxies() == {pifus[0]}
    with qtbot.waitSignal(b.refreshed, timeout=15000):
        b.refresh()
    assert _error_rows(b) == [(pifus[0], "mpl7")]


def test_switching_expert_updates_the_model_tab(window, survey, qtbot):
    w, panels = window
    b = panels.browser
    assert _error_rows(b) == [(survey["pifus"][1], "ann")]          # ann's own label
    with qtbot.waitSignal(b.refreshed, timeout=15000):
        w.switch_expert("bob")
    assert b.expert == "bob" and panels.training.expert == "bob"
    assert _error_rows(b) == []                                      # bob is blind to it


def _queue_rows(b):
    return [(b.uncertain.item(r, 0).text(), b.uncertain.item(r, 1).text())
            for r in range(b.uncertain.rowCount())]


def test_label_next_lists_the_fields_this_expert_has_not_labelled(make_main_window, survey, qtbot):
    """"Label next" is per expert: another expert's labels do not take a field off the queue.
    A new expert (dana, blind mode on, nothing labelled) is offered every field, least
    confident first, even though ann has labelled some; the panel names the rule and the
    expert.  (It used to count anybody's label, so a new expert on a survey that others had
    labelled got an empty queue.)"""
    from kinview.gui.confidence_browser import load_overview

    root, pifus, p_st = survey["root"], survey["pifus"], survey["p_st"]
    every = [(p, "stellar", max(v, 1 - v)) for p, v in p_st.items()] + [(p, "gas", 0.95) for p in pifus]
    every.sort(key=lambda f: (f[2], f[0], f[1]))
    everything = [(p, f) for p, f, _ in every]
    ann = {(pifus[0], "stellar"), (pifus[1], "stellar"), (pifus[0], "gas"), (pifus[1], "gas"),
           (pifus[5], "stellar")}
    # the worker function: dana's queue holds the fields ann has labelled too
    d = load_overview(root, "dana", revealed=set())
    assert list(zip(d["uncertain"]["plateifu"], d["uncertain"]["field"])) == everything

    w = make_main_window(root, "dana", wait=False)
    b = w.model_panels.browser
    qtbot.waitUntil(lambda: bool(b.data) and w.view.drawn_plateifu is not None, timeout=30000)
    assert w.session.revealed_galaxies() == set()          # blind mode: ann's labels hidden
    assert _queue_rows(b) == everything
    assert b.queue_tabs.tabText(0) == f"Label next ({2 * N})"
    assert "dana" in b.next_title.text() and "has not labelled" in b.next_title.text()
    assert _error_rows(b) == []                            # still blind to ann's label errors
    # dana labels the first queued field: it leaves her queue
    first = everything[0]
    w.goto(first[0])
    with qtbot.waitSignal(b.refreshed, timeout=15000):
        w.label(first[1], "quality", 1, advance=False)
    assert _queue_rows(b) == everything[1:]
    # ann's queue leaves out ann's labelled fields, and dana's one is still in it
    with qtbot.waitSignal(b.refreshed, timeout=15000):
        w.switch_expert("ann")
    assert _queue_rows(b) == [f for f in everything if f not in ann]
    assert "ann" in b.next_title.text()


def test_model_tab_fits_1280x800_without_scrolling(make_main_window, survey, qtbot):
    """At the smallest supported window the Model tab needs no scrolling: the histogram, its
    axis and note, and the queues are all inside the tab (the plots used to be stacked, and
    the histogram was half below the fold)."""
    from PyQt5 import QtWidgets

    from kinview.gui.screenshot import clipped_texts

    w = make_main_window(survey["root"], "ann", size=(1280, 800), wait=False)
    b = w.model_panels.browser
    qtbot.waitUntil(lambda: bool(b.data) and w.view.drawn_plateifu is not None, timeout=30000)
    w.tabs.setCurrentWidget(b)
    hist = b.plots["vfield-quality"]
    qtbot.waitUntil(lambda: hist.widget.isVisible(), timeout=5000)
    for _ in range(10):
        QtWidgets.QApplication.processEvents()
    page = QtWidgets.QTabWidget.widget(w.tabs, w.tabs.indexOf(b))     # the tab's scroll area
    assert w.size().width() == 1280 and w.size().height() == 800
    assert not page.verticalScrollBar().isVisible() and not page.horizontalScrollBar().isVisible()
    assert b.height() <= page.viewport().height()
    viewport = QtCore.QRect(page.viewport().mapTo(w, QtCore.QPoint(0, 0)), page.viewport().size())
    for widget in (hist.widget, hist.note, b.uncertain, b.next_button):
        box = QtCore.QRect(widget.mapTo(w, QtCore.QPoint(0, 0)), widget.size())
        assert widget.isVisible() and viewport.contains(box), widget
    assert hist.widget.height() >= 200                  # room for the bars, not a sliver
    assert clipped_texts(w) == []
