"""The labelling session without Qt: the operations the window's keys call, on a real survey
(DAP-format MAPS files, a real SQLite label store), and the events the widgets follow.

Nothing here imports Qt: a subprocess check proves it, and every other test drives
:class:`kinview.session.LabellingSession` directly.
"""
import numpy as np
import pytest

from gui_support import make_survey, standard_specs
from import_support import loaded_after
from kinview.labels.store import LabelStore
from kinview.labels.workflow import NO_GAS_NOTE
from kinview.session import LabellingSession

SPECS = standard_specs(6)
P = [s["plateifu"] for s in SPECS]
NO_GAS = P[2]            # standard_specs: galaxy 2 has no gas map
NO_MAPS = P[4]           # ... and galaxy 4 no MAPS file


@pytest.fixture(scope="module")
def survey_template(tmp_path_factory):
    return make_survey(tmp_path_factory.mktemp("session") / "survey", SPECS)


@pytest.fixture
def survey(survey_template, tmp_path):
    """A fresh copy of the survey for each test (labels written by one never reach another)."""
    import shutil

    return shutil.copytree(survey_template, tmp_path / "survey")


def open_session(survey, expert="ann", **kw):
    s = LabellingSession.open(survey, expert, **kw)
    events = []
    s.subscribe(lambda name, value: events.append((name, value)))
    return s, events


def stored(survey, expert, plateifu):
    store = LabelStore(survey, expert=expert)
    try:
        cur = store.current(expert, plateifu=plateifu)
    finally:
        store.close()
    return {(f, k): (t if k == "note" else v)
            for f, k, v, t in zip(cur["field"], cur["kind"], cur["value"], cur["text"])}


def _store_labels(survey, who, rows):
    store = LabelStore(survey, expert=who)
    store.add_many([dict(plateifu=p, field=f, kind="quality", value=v) for p, f, v in rows])
    store.close()


def test_the_session_module_imports_no_qt():
    assert loaded_after(["kinview.session", "kinview.session.labelling", "kinview.session.loading"],
                        ["PyQt5", "pyqtgraph", "tensorflow"]) == []


def test_open_lists_every_galaxy_in_catalogue_order(survey):
    s, _ = open_session(survey)
    assert s.state.order == P and s.current == P[0] and s.state.index == 0
    assert s.counts() == {"labelled": 0, "total": 6, "session": 0, "per_hour": None}
    assert s.row(P[0])["_position"] == "1 / 6" and "quals" not in s.row(P[0])
    s2 = LabellingSession.open(survey, "ann", keep=P[3])
    assert s2.current == P[3]


def test_goto_next_previous_and_events(survey):
    s, events = open_session(survey)
    assert s.goto(P[3]) and s.current == P[3]
    assert events[-1] == ("index", 3)
    s.next()
    s.previous()
    s.previous()
    assert s.current == P[2]
    assert [v for n, v in events if n == "index"] == [3, 4, 3, 2]
    assert not s.goto("1-1") and s.current == P[2]
    assert events[-1][0] == "message" and "not in this survey" in events[-1][1][0]
    s.first()
    assert s.current == P[0]


def test_label_commits_fsynced_and_advances_to_the_next_unlabelled(survey):
    s, events = open_session(survey)
    s.goto(P[1])
    del events[:]
    assert s.label("stellar", "quality", 2) is not None
    assert s.current == P[1]                               # half labelled: stays
    assert stored(survey, "ann", P[1]) == {("stellar", "quality"): 2.0}   # on disk already
    s.label("gas", "quality", 1)
    assert s.current == P[2]                               # completed: the next unlabelled
    names = [n for n, _ in events]
    # the row and the counts change before the label is announced, and the move comes last
    assert names.index("row") < names.index("labelled") < names.index("index")
    assert ("labelled", (P[1], "gas", "quality", 1)) in events
    assert s.counts()["labelled"] == 1 and s.counts()["session"] == 1
    assert s.table.at[P[1], "stel_qual"] == 2 and s.table.at[P[1], "gas_qual"] == 1
    assert s.is_labelled(P[1]) and not s.is_labelled(P[2])


def test_correcting_a_labelled_galaxy_does_not_advance(survey):
    s, _ = open_session(survey)
    s.label("stellar", "quality", 2)
    s.label("gas", "quality", 2)
    assert s.current == P[1]
    s.goto(P[0])
    s.label("gas", "quality", 0)                           # a correction
    assert s.current == P[0]
    assert stored(survey, "ann", P[0])[("gas", "quality")] == 0.0
    assert s.counts()["session"] == 1                      # still one galaxy labelled


def test_auto_advance_off_stays(survey):
    s, _ = open_session(survey)
    s.state.set("toggles.auto_advance", False)
    s.label("stellar", "quality", 1)
    s.label("gas", "quality", 1)
    assert s.current == P[0] and s.is_labelled(P[0])


def test_a_galaxy_without_gas_commits_with_the_stellar_quality_alone(survey):
    s, events = open_session(survey)
    s.goto(NO_GAS)
    assert s.has_gas(NO_GAS) is None                       # maps not loaded yet: unknown
    data = s.load()                                        # the loader says: no gas map
    assert data.plateifu == NO_GAS and s.has_gas(NO_GAS) is False and NO_GAS in s.no_gas
    assert ("no_gas", NO_GAS) in events
    s.load(P[0])
    assert s.has_gas(P[0]) is True
    s.label("stellar", "quality", 2)
    assert stored(survey, "ann", NO_GAS) == {("gas", "quality"): 0.0, ("gas", "note"): NO_GAS_NOTE,
                                             ("stellar", "quality"): 2.0}
    assert s.is_labelled(NO_GAS) and s.current != NO_GAS   # labelled by the stars: moved on
    # undoing the stellar quality keeps the (true) no-gas record
    s.undo()
    assert s.current == NO_GAS and not s.is_labelled(NO_GAS)
    assert stored(survey, "ann", NO_GAS) == {("gas", "quality"): 0.0, ("gas", "note"): NO_GAS_NOTE}


def test_undo_restores_the_previous_value_and_goes_back(survey):
    s, events = open_session(survey)
    s.label("stellar", "quality", 1)
    s.label("stellar", "quality", 2)                       # a correction of the same field
    s.goto(P[4])
    res = s.undo()
    assert res["plateifu"] == P[0] and s.current == P[0]
    assert s.labels(P[0]) == {("stellar", "quality"): 1.0}
    assert ("undone", (P[0], "stellar", "quality", 1.0)) in events
    s.undo()
    assert s.labels(P[0]) == {} and stored(survey, "ann", P[0]) == {}
    assert s.undo() is None and events[-1][1][0] == "nothing to undo"


def test_a_bad_label_is_refused_with_a_message_and_nothing_stored(survey):
    s, events = open_session(survey)
    assert s.label("stellar", "quality", 7) is None
    assert events[-1][0] == "message" and "label not saved" in events[-1][1][0]
    assert stored(survey, "ann", P[0]) == {} and s.labels(P[0]) == {} and s.undo_stack == []


def test_filter_and_sort(survey):
    s, events = open_session(survey)
    s.label("stellar", "quality", 0)
    s.label("gas", "quality", 0)
    s.goto(P[3])
    order = s.set_filter("unlabelled")
    assert order == [p for p in P if p != P[0]] and s.current == P[3]    # stays on P[3]
    assert ("filter", ("unlabelled", None)) in events
    assert s.set_filter("quality", 0) == [P[0]] and s.current == P[0]
    assert s.state.filter_name == "quality" and s.state.filter_k == 0
    s.set_filter("all")
    s.sort("z")
    assert s.state.order == P                               # z grows with the index
    s.sort("z")
    assert s.state.order == P[::-1] and s.state.descending
    # a galaxy the filter hides: going to it lists everything
    s.set_filter("mine")
    assert s.goto(P[5]) and s.state.filter_name == "all" and s.current == P[5]
    # a filter nothing passes: the list is empty and there is no current galaxy
    assert s.set_filter("disagree_experts") == [] and s.current is None
    with pytest.raises(ValueError):
        s.set_filter("no-such-filter")


def test_switch_expert_reloads_labels_counts_and_undo(survey):
    _store_labels(survey, "bob", [(P[0], "stellar", 2), (P[0], "gas", 2), (P[1], "stellar", 1)])
    s, events = open_session(survey, "ann")
    s.label("stellar", "quality", 1)
    assert s.undo_stack
    assert s.switch_expert("bob") == "bob"
    assert ("expert", "bob") in events and s.expert == "bob" and s.store.expert == "bob"
    assert s.undo_stack == [] and s.counts()["labelled"] == 1 and s.counts()["session"] == 0
    assert s.labels(P[0]) == {("stellar", "quality"): 2.0, ("gas", "quality"): 2.0}
    assert s.table.at[P[1], "stel_qual"] == 1 and np.isnan(s.table.at[P[1], "gas_qual"])
    s.goto(P[2])
    s.label("gas", "quality", 1)
    assert stored(survey, "bob", P[2]) == {("gas", "quality"): 1.0}
    assert stored(survey, "ann", P[2]) == {}
    from kinview.errors import KinviewError

    with pytest.raises((KinviewError, ValueError)):
        s.switch_expert("   ")


def test_blind_mode_hides_other_experts_in_the_count_the_sort_and_the_disagree_filter(survey):
    """Blind mode (the default): until bob has labelled a galaxy, nothing in the list tells
    him what other experts said about it — not the experts column, not a sort by it, not the
    "Experts disagree" filter."""
    _store_labels(survey, "ann", [(P[0], "stellar", 2), (P[0], "gas", 2),
                                  (P[1], "stellar", 0), (P[1], "gas", 0)])
    _store_labels(survey, "carl", [(P[0], "stellar", 0), (P[0], "gas", 2)])
    s, _ = open_session(survey, "bob")
    assert s.blind
    assert (s.table["n_experts"] == 0).all()
    assert s.set_filter("disagree_experts") == []
    s.set_filter("all")
    s.sort("n_experts")
    assert s.state.order == P                               # no order to read anything from
    s.goto(P[0])
    s.label("stellar", "quality", 1)                        # half labelled: still hidden
    assert s.table.at[P[0], "n_experts"] == 1 and s.set_filter("disagree_experts") == []
    s.set_filter("all")
    s.goto(P[0])
    s.label("gas", "quality", 2)                            # labelled: revealed
    assert s.table.at[P[0], "n_experts"] == 3
    assert s.set_filter("disagree_experts") == [P[0]]
    assert s.table.at[P[1], "n_experts"] == 0
    # without blind mode everything shows at once
    s.state.set("toggles.blind", False)
    assert s.table.at[P[1], "n_experts"] == 1
    assert s.table.at[P[0], "n_experts"] == 3


def test_no_blind_mode_shows_everything_from_the_start(survey):
    _store_labels(survey, "ann", [(P[0], "stellar", 2)])
    _store_labels(survey, "carl", [(P[0], "stellar", 0)])
    s = LabellingSession(survey, "bob")
    s.state.toggles["blind"] = False
    from kinview.session.labelling import load_table_job

    s.attach(*load_table_job(str(survey), "bob", False), table_expert="bob")
    assert s.table.at[P[0], "n_experts"] == 2 and s.set_filter("disagree_experts") == [P[0]]


def test_pa_fits_and_predictions_reload_into_the_table(survey):
    from kinview.db.connection import connect, transaction

    s, events = open_session(survey)
    assert s.model_id is None and np.isnan(s.table["pred_stellar"]).all()
    conn = connect(survey)
    with transaction(conn):
        mid = conn.execute("INSERT INTO models (task, arch, path, created, metrics, label_hash, card, "
                           "active) VALUES ('vfield-quality', 'default', 'none.keras', '2026-01-01', "
                           "'{}', '', '{}', 1)").lastrowid
        conn.execute("INSERT INTO predictions VALUES (?, ?, 'stellar', 0.2, 0.8, NULL)", (mid, P[1]))
        conn.execute("DELETE FROM pa_fits WHERE plateifu = ?", (P[3],))
    conn.close()
    s.reload_predictions()
    assert s.model_id == mid and ("predictions", mid) in events
    assert s.table.at[P[1], "pred_stellar"] == pytest.approx(0.2)
    assert s.set_filter("low_confidence") == [] and s.set_filter("disagree_model") == []
    s.set_filter("all")
    s.goto(P[1])
    s.label("stellar", "quality", 2)                       # the model's view is kept with it
    store = LabelStore(survey, expert="ann")
    ev = store.conn.execute("SELECT model_id, model_value FROM labels ORDER BY id DESC").fetchone()
    store.close()
    assert tuple(ev) == (mid, pytest.approx(0.2))
    assert s.set_filter("disagree_model") == [P[1]]
    s.set_filter("all")
    assert np.isfinite(s.table.at[P[3], "stellar_pa"])
    s.reload_pa_fits()
    assert ("pa_fits", None) in events
    assert np.isnan(s.table.at[P[3], "stellar_pa"])
    assert s.set_filter("pa_unfitted") == [NO_GAS, P[3]]    # NO_GAS: its gas was never fitted


def test_which_models_fill_the_field_columns_comes_from_the_task_registry(survey):
    """No task name is written outside kinview.tasks: a task that grades velocity fields says
    so (``fills_field_columns``), and the newest active model of such a task fills the
    table's model columns; a model of any other task does not."""
    from kinview.db.connection import connect, transaction
    from kinview.tasks import registry
    from kinview.tasks.base import Task

    assert registry.field_quality_tasks() == ["vfield-quality"]

    class ToyGrader(Task):
        name = "toy-field-grader"
        fills_field_columns = True

    conn = connect(survey)
    with transaction(conn):
        for task, value in (("toy-field-grader", 0.3), ("spin", 0.9)):
            mid = conn.execute("INSERT INTO models (task, arch, path, created, metrics, label_hash, card, "
                               "active) VALUES (?, 'default', 'none.keras', '2026-01-01', '{}', '', '{}', 1)",
                               (task,)).lastrowid
            conn.execute("INSERT INTO predictions VALUES (?, ?, 'stellar', ?, 0.7, NULL)", (mid, P[0], value))
    conn.close()
    s, _ = open_session(survey)
    assert s.model_id is None                               # the toy task is not registered yet
    registry.register(ToyGrader)
    try:
        assert "toy-field-grader" in registry.field_quality_tasks()
        s.reload_predictions()
        assert s.table.at[P[0], "pred_stellar"] == pytest.approx(0.3) and s.model_id is not None
    finally:
        registry._TASKS.pop("toy-field-grader", None)
