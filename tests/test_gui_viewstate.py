"""The GUI's plain view state, galaxy table, filters and settings (no Qt)."""
import json

import numpy as np
import pytest

from gui_support import make_survey, standard_specs
from kinview import viewstate as vs
from kinview.db.connection import connect
from kinview.labels.store import LabelStore
from kinview.settings import Settings, settings_path


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return make_survey(tmp_path_factory.mktemp("vs") / "survey", standard_specs(6))


def _table(survey, expert="alice"):
    conn = connect(survey)
    try:
        return vs.load_table(conn, expert)
    finally:
        conn.close()


def test_table_has_catalogue_order_pas_and_delta_pa(survey):
    table, mine = _table(survey)
    specs = standard_specs(6)
    assert list(table.index) == [s["plateifu"] for s in specs]
    first = specs[0]
    assert table.at[first["plateifu"], "stellar_pa"] == pytest.approx(first["pa_star"])
    # galaxy 1 has its gas rotating 120 degrees away from the stars
    assert table.at[specs[1]["plateifu"], "dpa"] == pytest.approx(120.0, abs=0.2)
    assert not table.at[specs[4]["plateifu"], "has_maps"]
    assert not table.at[specs[3]["plateifu"], "has_image"]
    assert mine == {}


def test_filters_follow_labels_of_each_expert(survey):
    root = survey
    specs = standard_specs(6)
    p = [s["plateifu"] for s in specs]
    alice = LabelStore(root, expert="f_alice")
    bob = LabelStore(root, expert="f_bob")
    alice.add(p[0], "stellar", "quality", 2)
    alice.add(p[0], "gas", "quality", 2)
    alice.add(p[1], "stellar", "quality", 0)
    bob.add(p[0], "stellar", "quality", 1)          # disagrees with alice on p0
    bob.add(p[5], "stellar", "quality", 2)
    alice.close()
    bob.close()
    table, mine = _table(root, "f_alice")
    assert mine[p[0]][("stellar", "quality")] == 2
    assert vs.ordered_rows(table, "mine") == [p[0], p[1]]
    assert p[0] not in vs.ordered_rows(table, "unlabelled")
    assert p[1] in vs.ordered_rows(table, "unlabelled")        # gas still missing
    assert vs.ordered_rows(table, "disagree_experts") == [p[0]]
    assert vs.ordered_rows(table, "quality", k=0) == [p[1]]
    assert vs.ordered_rows(table, "quality", k=2) == [p[0]]
    assert vs.ordered_rows(table, "misaligned") == [p[1]]
    # sorting by z descending reverses the catalogue (z grows with the index)
    assert vs.ordered_rows(table, "all", sort_key="z", descending=True) == p[::-1]
    with pytest.raises(ValueError):
        vs.filter_mask(table, "nonsense")


def test_model_filters_use_the_active_model(survey):
    root = survey
    p = [s["plateifu"] for s in standard_specs(6)]
    conn = connect(root)
    conn.execute("INSERT INTO models (id, task, arch, path, created, active) "
                 "VALUES (1, 'vfield-quality', 'cnn', 'm.keras', 'now', 1)")
    for pifu, val, conf in ((p[0], 0.9, 0.95), (p[1], 0.2, 0.55), (p[2], 0.8, 0.6)):
        conn.execute("INSERT INTO predictions VALUES (1, ?, 'stellar', ?, ?, NULL)", (pifu, val, conf))
    conn.close()
    store = LabelStore(root, expert="m_alice")
    store.add(p[0], "stellar", "quality", 0)           # model says usable, m_alice says no
    store.add(p[1], "stellar", "quality", 0)           # agree: not usable
    store.close()
    table, _ = _table(root, "m_alice")
    assert vs.ordered_rows(table, "disagree_model") == [p[0]]
    assert vs.ordered_rows(table, "low_confidence") == [p[1], p[2]]


def test_view_state_navigation_and_observers():
    state = vs.ViewState()
    seen = []
    state.subscribe(lambda name, value: seen.append((name, value)))
    state.set_order(["a", "b", "c", "d"])
    assert state.current == "a"
    assert state.next() == "b" and state.next() == "c"
    assert state.previous() == "b"
    state.go(99)
    assert state.current == "d"                         # clamped
    assert state.next_where(lambda p: p in ("b",)) == "b"  # wraps around
    state.set_order(["d", "b"], keep=None)              # keeps the current galaxy
    assert state.current == "b" and state.index == 1
    state.set("clip_percentile", 95.0)
    state.set("toggles.sigma", True)
    assert ("clip_percentile", 95.0) in seen and ("toggles.sigma", True) in seen
    assert ("index", 1) in seen


def test_settings_roundtrip_is_atomic_json(tmp_path):
    s = Settings.load()
    assert s.expert is None and s.clip_percentile == 98.0
    s.expert = "alice"
    s.set_position(tmp_path, "8485-1901")
    s.window_geometry = "AAEC"
    path = s.save()
    assert path == settings_path()
    data = json.loads(path.read_text())
    assert data["expert"] == "alice"
    again = Settings.load()
    assert again.position(tmp_path) == "8485-1901" and again.window_geometry == "AAEC"
    path.write_text("{not json")
    assert Settings.load().expert is None               # unreadable file -> defaults


def test_refresh_derived_applies_pa_override(survey):
    table, mine = _table(survey)
    p = table.index[0]
    mine[p] = {("stellar", "pa_override"): 10.0}
    vs.refresh_derived(table, mine, [p])
    assert table.at[p, "stellar_pa"] == 10.0
    expected = vs.delta_pa(10.0, table.at[p, "gas_pa"])
    assert table.at[p, "dpa"] == pytest.approx(float(expected))
    assert np.isfinite(table.at[p, "stellar_pa_fit"])
