"""Several experts (issue 15, item 5), without Qt: blind mode and the reveal, the adjudication
queue, final labels as events of their own used by the consensus export, κ per field/class."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kinview.labels import LabelStore
from kinview.labels.adjudication import (adjudicate, adjudication_queue, final_labels, kappa_summary,
                                         queue_counts, reveal, withdraw)
from kinview.labels.catalogue_io import export_table
from kinview.labels.store import LabelValueError

from label_support import make_survey

P = ["8485-1901", "8485-1902", "8485-12701", "7443-3703"]


@pytest.fixture
def store(tmp_path):
    s = LabelStore(make_survey(tmp_path / "survey", P), expert="ann")
    yield s
    s.close()


def _two_experts(store):
    # P0: agree; P1: stellar quality 2 vs 1 (tie); P2: gas quality 0 vs 1 and features differ
    for who, values in (("ann", [(2, 2, 0), (2, 1, 0), (1, 0, 1)]),
                        ("bob", [(2, 2, 0), (1, 1, 0), (1, 1, 2)])):
        for p, (sq, gq, feat) in zip(P, values):
            store.add(p, "stellar", "quality", sq, expert=who)
            store.add(p, "gas", "quality", gq, expert=who)
            store.add(p, "stellar", "feature", feat, expert=who)


def test_blind_mode_hides_others_until_i_have_labelled(store):
    store.add(P[0], "stellar", "quality", 2, expert="bob")
    store.add(P[0], "gas", "quality", 1, expert="bob")
    store.add(P[0], "galaxy", "note", "bar", expert="bob")
    r = reveal(store, P[0], "ann")
    assert r.hidden and r.n_others == 1 and r.raters == []
    store.add(P[0], "stellar", "quality", 1, expert="ann")
    assert reveal(store, P[0], "ann").hidden              # gas quality still missing
    assert not reveal(store, P[0], "ann", has_gas=False).hidden   # no gas map: stellar is enough
    store.add(P[0], "gas", "quality", 1, expert="ann")
    r = reveal(store, P[0], "ann")
    assert not r.hidden and r.labelled
    assert [x.name for x in r.raters] == ["bob"]
    assert r.raters[0].labels == {("stellar", "quality"): 2, ("gas", "quality"): 1,
                                  ("galaxy", "note"): "bar"}
    assert r.raters[0].catalogue is None
    assert r.disputed == [("stellar", "quality")]
    # blind mode off: shown before labelling
    assert not reveal(store, P[1], "ann", blind=False).hidden


def test_reveal_names_an_imported_catalogue(store):
    store.add_many([{"plateifu": P[0], "field": "stellar", "kind": "quality", "value": 2,
                     "expert": "mpl7"}], source="import:mpl7-pa.csv")
    store.add(P[0], "stellar", "quality", 2)
    store.add(P[0], "gas", "quality", 2)
    r = reveal(store, P[0])
    assert [(x.name, x.catalogue) for x in r.raters] == [("mpl7", "mpl7-pa.csv")]


def test_queue_lists_disagreements_and_adjudication_is_its_own_event(store):
    _two_experts(store)
    q = adjudication_queue(store)
    assert [(r.plateifu, r.field, r.kind) for r in q.itertuples()] == [
        (P[1], "stellar", "quality"), (P[2], "gas", "quality"), (P[2], "stellar", "feature")]
    assert q.loc[0, "experts"] == "ann=2;bob=1" and bool(q.loc[0, "tie"])
    labels_before = store.events()
    eid = adjudicate(store, P[1], "stellar", "quality", 1, adjudicator="carol")
    assert eid > 0
    # the label log is untouched: the final label is an event of the adjudication log
    pd.testing.assert_frame_equal(store.events(), labels_before)
    fin = final_labels(store)
    assert list(fin[["plateifu", "field", "kind", "value", "adjudicator", "basis"]].itertuples(
        index=False, name=None)) == [(P[1], "stellar", "quality", 1.0, "carol", "ann=2;bob=1")]
    q = adjudication_queue(store)
    assert (P[1], "stellar", "quality") not in set(zip(q["plateifu"], q["field"], q["kind"]))
    full = adjudication_queue(store, include_resolved=True)
    assert bool(full.iloc[-1]["resolved"]) and full.iloc[-1]["final"] == 1.0
    assert queue_counts(store) == {"open": 2, "resolved": 1, "galaxies_open": 1}
    # κ and the disagreement itself are the experts': unchanged by the adjudication
    assert store.agreement("stellar", "quality")["observed"] == pytest.approx(2 / 3)
    # a later decision wins; withdrawing restores the majority (a tie: none)
    adjudicate(store, P[1], "stellar", "quality", 2, adjudicator="dan")
    assert final_labels(store)["value"].tolist() == [2.0]
    withdraw(store, P[1], "stellar", "quality", adjudicator="dan")
    assert len(final_labels(store)) == 0
    assert queue_counts(store)["open"] == 3
    # every decision is kept (append-only)
    n = store.conn.execute("SELECT COUNT(*) FROM adjudications").fetchone()[0]
    assert n == 3


def test_consensus_export_uses_the_final_label(store, tmp_path):
    _two_experts(store)
    cons = export_table(store, consensus=True).set_index("plateifu")
    assert cons.loc[P[1], "stel_qual"] == -99          # tie, not adjudicated
    assert cons.loc[P[1], "adjudicated"] == ""
    adjudicate(store, P[1], "stellar", "quality", 1, adjudicator="carol")
    adjudicate(store, P[2], "gas", "quality", 0, adjudicator="carol")
    cons = export_table(store, consensus=True).set_index("plateifu")
    assert cons.loc[P[1], "stel_qual"] == 1
    assert cons.loc[P[2], "halpha_qual"] == 0
    assert cons.loc[P[1], "adjudicated"] == "stel_qual=1 by carol"
    assert cons.loc[P[2], "adjudicated"] == "halpha_qual=0 by carol"
    assert cons.loc[P[1], "disputed"] == "stel_qual"   # the experts did disagree
    # one expert's export is that expert's labels, whatever was adjudicated
    assert export_table(store, expert="ann").set_index("plateifu").loc[P[1], "stel_qual"] == 2
    # training on the consensus uses the final label too
    t = store.training_labels("consensus").set_index(["plateifu", "field"])
    assert t.loc[(P[1], "stellar"), "quality"] == 1
    # the command line
    out = tmp_path / "consensus.csv"
    env_cmd = [sys.executable, "-m", "kinview", "labels", "export", str(out), "--survey",
               str(store.path.parent), "--consensus"]
    res = subprocess.run(env_cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(out).set_index("plateifu")
    assert df.loc[P[1], "stel_qual"] == 1 and df.loc[P[2], "halpha_qual"] == 0


def test_bad_adjudications_are_refused(store):
    _two_experts(store)
    with pytest.raises(LabelValueError, match="cannot adjudicate"):
        adjudicate(store, P[1], "galaxy", "note", "x")
    with pytest.raises(LabelValueError, match="not one of"):
        adjudicate(store, P[1], "stellar", "quality", 7)
    with pytest.raises(LabelValueError, match="not a galaxy"):
        adjudicate(store, "1-1", "stellar", "quality", 1)
    assert store.conn.execute("SELECT COUNT(*) FROM adjudications").fetchone()[0] == 0


def test_kappa_per_field_and_class_in_core_and_stats(store, tmp_path):
    _two_experts(store)
    summary = {(s["field"], s["kind"]): s for s in kappa_summary(store)}
    sq = summary[("stellar", "quality")]
    assert sq["method"] == "cohen" and sq["n_items"] == 3
    # ann 2,2,1 vs bob 2,1,1: p_o 2/3, p_e (2*1 + 1*2)/9 = 4/9 -> kappa 0.4
    assert sq["kappa"] == pytest.approx(0.4)
    assert set(sq["per_class"]) == {0, 1, 2} and np.isnan(sq["per_class"][0])
    assert sq["per_class"][2] == pytest.approx(0.4)
    adjudicate(store, P[1], "stellar", "quality", 1, adjudicator="carol")
    res = subprocess.run([sys.executable, "-m", "kinview", "labels", "stats", "--survey",
                          str(store.path.parent)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "stellar quality" in res.stdout and "Cohen kappa = 0.400" in res.stdout
    assert "per class 0: n/a, 1: 0.40, 2: 0.40" in res.stdout
    assert "1 adjudicated, 2 open" in res.stdout
