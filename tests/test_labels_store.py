"""The label store: append-only log, current labels, undo, label state, training labels."""
import sqlite3
import threading
import time

import numpy as np
import pytest

from kinview.errors import KinviewError
from kinview.labels import LabelStore, LabelValueError, label_hash
from kinview.labels.experts import default_expert, save_default_expert
from label_support import make_survey




PIFUS = ["8485-1901", "8485-1902", "7443-12701", "10001-6101"]


@pytest.fixture
def store(tmp_path):
    s = LabelStore(make_survey(tmp_path / "survey", PIFUS), expert="alice")
    yield s
    s.close()


def test_add_is_an_append_only_log_and_current_is_the_latest(store):
    first = store.add("8485-1901", "stellar", "quality", 2, model_id=3, model_value=0.91,
                      model_confidence=0.8)
    second = store.add("8485-1901", "stellar", "quality", 1)
    assert second > first
    assert store.current_for("8485-1901")["stellar"] == {"quality": 1}
    log = store.events("8485-1901")
    assert list(log["value_num"]) == [2.0, 1.0]  # the first label is still in the log
    assert log.iloc[0]["model_value"] == pytest.approx(0.91)
    assert log.iloc[0]["model_confidence"] == pytest.approx(0.8)
    assert log.iloc[0]["expert"] == "alice" and log.iloc[0]["created"].endswith("+00:00")
    # a second connection (another process would do the same) sees the committed label
    other = sqlite3.connect(store.path)
    assert other.execute("SELECT value_num FROM labels WHERE id = ?", (second,)).fetchone()[0] == 1.0
    other.close()


def test_current_for_returns_every_kind_with_its_type(store):
    store.add("8485-1902", "stellar", "quality", 2)
    store.add("8485-1902", "stellar", "feature", 1)
    store.add("8485-1902", "gas", "quality", 0)
    store.add("8485-1902", "gas", "gas_note", 1)
    store.add("8485-1902", "gas", "pa_override", 204.5)
    store.add("8485-1902", "galaxy", "note", "tidal tail to the NE")
    store.add("8485-1902", "stellar", "quality", 0, expert="bob")
    got = store.current_for("8485-1902")
    assert got == {"stellar": {"quality": 2, "feature": 1},
                   "gas": {"quality": 0, "gas_note": 1, "pa_override": 204.5},
                   "galaxy": {"note": "tidal tail to the NE"}}
    assert store.current_for("8485-1902", "bob") == {"stellar": {"quality": 0}, "gas": {}, "galaxy": {}}
    assert store.experts() == ["alice", "bob"]


def test_clear_and_undo_write_new_events_never_delete(store):
    a = store.add("8485-1901", "stellar", "quality", 2)
    b = store.add("8485-1901", "stellar", "quality", 1)
    c = store.add("8485-1902", "gas", "quality", 0)
    store.add("8485-1902", "gas", "quality", 1, expert="bob")   # another expert's label
    undo = store.undo_last()
    assert undo["undoes"] == c and undo["value"] is None and undo["plateifu"] == "8485-1902"
    assert store.current_for("8485-1902") == {"stellar": {}, "gas": {}, "galaxy": {}}
    assert store.current_for("8485-1902", "bob")["gas"] == {"quality": 1}  # bob untouched
    undo = store.undo_last()
    assert undo["undoes"] == b and undo["value"] == 2 and isinstance(undo["value"], int)   # the previous value is restored
    assert store.current_for("8485-1901")["stellar"] == {"quality": 2}
    undo = store.undo_last()
    assert undo["undoes"] == a and undo["value"] is None
    assert store.undo_last() is None
    log = store.events()
    assert len(log) == 7 and a in set(log["id"])  # nothing deleted
    assert set(log.loc[log["source"] == "undo", "undoes"]) == {a, b, c}

    store.add("8485-1901", "galaxy", "note", "merger?")
    store.clear("8485-1901", "galaxy", "note")
    assert "note" not in store.current_for("8485-1901")["galaxy"]
    undo = store.undo_last()
    assert undo["value"] == "merger?"
    assert store.current_for("8485-1901")["galaxy"] == {"note": "merger?"}


@pytest.mark.parametrize("args, words", [
    (("9999-9999", "stellar", "quality", 1), "not a galaxy"),
    (("8485-1901", "stars", "quality", 1), "unknown field"),
    (("8485-1901", "stellar", "colour", 1), "unknown label kind"),
    (("8485-1901", "stellar", "quality", 3), "not one of"),
    (("8485-1901", "stellar", "quality", 1.5), "not an integer"),
    (("8485-1901", "stellar", "gas_note", 1), "for the gas field"),
    (("8485-1901", "gas", "pa_override", "north"), "not a number"),
])
def test_bad_labels_are_refused_with_a_reason_and_nothing_is_written(store, args, words):
    with pytest.raises(LabelValueError, match=words):
        store.add(*args)
    assert len(store.events()) == 0
    assert isinstance(LabelValueError("x"), KinviewError)


def test_pa_override_keeps_0_to_360_and_wraps_the_rest(store):
    store.add("8485-1901", "stellar", "pa_override", 360.0)
    store.add("8485-1901", "gas", "pa_override", -10.0)
    got = store.current_for("8485-1901")
    assert got["stellar"]["pa_override"] == 360.0 and got["gas"]["pa_override"] == 350.0


def test_add_many_is_all_or_nothing(store):
    good = {"plateifu": "8485-1901", "field": "stellar", "kind": "quality", "value": 2}
    bad = {"plateifu": "8485-1902", "field": "stellar", "kind": "quality", "value": 7}
    with pytest.raises(LabelValueError):
        store.add_many([good, bad])
    assert len(store.events()) == 0
    ids = store.add_many([good, dict(bad, value=1)])
    assert len(ids) == 2 and len(store.current()) == 2


def test_label_state_summarises_every_galaxy_in_catalogue_order(store):
    store.add("8485-1901", "stellar", "quality", 2)
    store.add("8485-1901", "gas", "quality", 1, expert="bob")
    store.add("8485-1902", "stellar", "quality", 1)
    store.add("8485-1902", "stellar", "quality", 2, expert="bob")
    store.add("7443-12701", "gas", "quality", 0)
    store.clear("7443-12701", "gas", "quality")
    state = store.label_state()
    assert list(state.index) == PIFUS
    row = state.loc["8485-1901"]
    assert row["stellar_quality"] == 2 and np.isnan(row["gas_quality"])
    assert row["stellar_mine"] and not row["gas_mine"] and row["n_experts"] == 2 and not row["disagree"]
    assert state.loc["8485-1902", "disagree"] and state.loc["8485-1902", "n_experts"] == 2
    assert state.loc["7443-12701", "n_experts"] == 0 and not state.loc["7443-12701", "gas_mine"]
    bob = store.label_state("bob")
    assert bob.loc["8485-1901", "gas_quality"] == 1 and bob.loc["8485-1902", "stellar_quality"] == 2


def test_label_state_reads_only_new_events_for_10000_galaxies_and_sees_other_writers(tmp_path):
    pifus = [f"{8000 + i // 100}-{1901 + i % 100}" for i in range(10_000)]
    root = make_survey(tmp_path / "big", pifus)
    gui = LabelStore(root, expert="alice")
    other = LabelStore(root, expert="bob")  # another connection, like another process
    rng = np.random.default_rng(1)
    events = [{"plateifu": p, "field": fld, "kind": "quality", "value": int(rng.integers(0, 3)),
               "expert": expert}
              for expert, share in (("alice", 0.8), ("bob", 0.5)) for p in pifus
              if rng.random() < share for fld in ("stellar", "gas")]
    gui.add_many(events)
    gui.label_state()  # the first call reads the whole log once
    # a refresh reads only the events added since the last one (the cost, in milliseconds, is
    # measured by benchmarks/label_durability.py); count the label rows each refresh fetches
    fetched = []
    for i in range(3):
        other.add(pifus[i], "stellar", "quality", 0)
        gui.add(pifus[i], "gas", "quality", 2)
        before = gui._state.last_id
        state = gui.label_state()
        fetched.append(gui.conn.execute("SELECT COUNT(*) FROM labels WHERE id > ? AND id <= ? "
                                        "AND kind = 'quality'", (before, gui._state.last_id)).fetchone()[0])
    assert fetched == [2, 2, 2]
    # the incrementally kept state equals a computation from scratch
    cur = gui.current(kinds=["quality"])
    mine = cur[cur["expert"] == "alice"].pivot(index="plateifu", columns="field", values="value")
    assert len(state) == 10_000 and list(state.index) == pifus
    assert np.allclose(state["stellar_quality"], mine["stellar"].reindex(pifus), equal_nan=True)
    assert np.allclose(state["gas_quality"], mine["gas"].reindex(pifus), equal_nan=True)
    n_exp = cur.groupby("plateifu")["expert"].nunique().reindex(pifus).fillna(0)
    assert (state["n_experts"].to_numpy() == n_exp.to_numpy()).all()
    spread = cur.groupby(["plateifu", "field"])["value"].nunique().gt(1).groupby("plateifu").any()
    assert (state["disagree"].to_numpy() == spread.reindex(pifus, fill_value=False).to_numpy()).all()
    assert state.loc[pifus[0], "gas_quality"] == 2
    gui.close()
    other.close()


def test_training_labels_and_hash(store):
    store.add("8485-1901", "stellar", "quality", 2)
    store.add("8485-1901", "stellar", "quality", 2, expert="bob")
    store.add("8485-1901", "stellar", "quality", 1, expert="carol")
    store.add("8485-1902", "gas", "quality", 0)
    store.add("8485-1902", "gas", "quality", 1, expert="bob")   # tie: left out of the consensus
    store.add("7443-12701", "stellar", "feature", 1)            # not a quality label
    alice = store.training_labels("expert:alice")
    assert list(alice.columns[:3]) == ["plateifu", "field", "quality"]
    assert alice[["plateifu", "field", "quality"]].values.tolist() == [
        ["8485-1901", "stellar", 2], ["8485-1902", "gas", 0]]
    cons = store.training_labels("consensus")
    assert cons[["plateifu", "field", "quality"]].values.tolist() == [["8485-1901", "stellar", 2]]
    assert len(store.training_labels("all")) == 5
    with pytest.raises(KinviewError):
        store.training_labels("everyone")
    h = label_hash(alice)
    assert h == label_hash(alice.iloc[::-1]) == store.label_hash("expert:alice")  # order-free
    store.add("8485-1902", "gas", "quality", 2)
    assert store.label_hash("expert:alice") != h  # a changed label changes the hash


def test_default_expert_order(monkeypatch):
    monkeypatch.delenv("KINVIEW_EXPERT", raising=False)
    login = default_expert()
    assert login  # the login name (or "unknown")
    save_default_expert("Duckworth")
    assert default_expert() == "Duckworth"
    monkeypatch.setenv("KINVIEW_EXPERT", "env-expert")
    assert default_expert() == "env-expert"
    assert default_expert("cli") == "cli"
    with pytest.raises(KinviewError):
        default_expert("a;b")


def test_reader_threads_and_the_labelling_thread_never_see_a_lock(store):
    """~3 s of labelling while two readers (training labels, list state, export) run."""
    from kinview.labels import export_table

    errors, reads = [], [0]
    stop = threading.Event()

    def reader(kind):
        try:
            other = LabelStore(store.path, expert="alice") if kind == "own" else store
            while not stop.is_set():
                other.label_state()
                other.training_labels("all")
                export_table(other, consensus=True)
                reads[0] += 1
            if kind == "own":
                other.close()
        except Exception as exc:  # pragma: no cover - the assertion reports it
            errors.append(repr(exc))

    threads = [threading.Thread(target=reader, args=(k,)) for k in ("own", "shared")]
    for t in threads:
        t.start()
    ids = []
    t_end = time.monotonic() + 3.0
    i = 0
    try:
        while time.monotonic() < t_end:
            ids.append(store.add(PIFUS[i % 4], ("stellar", "gas")[i % 2], "quality", i % 3))
            i += 1
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert reads[0] > 3 and len(ids) > 20
    assert len(store.events()) == len(ids)
