"""Agreement between experts (Cohen's and Fleiss' kappa) and the consensus of their labels."""
import numpy as np
import pandas as pd
import pytest

from kinview.db import connect, transaction
from kinview.labels import LabelStore, cohen_kappa, cohen_kappa_table, fleiss_kappa
from kinview.labels.agreement import cohen_kappa_per_class, fleiss_kappa_per_category
from kinview.labels.consensus import circular_mean_deg, consensus_table, disagreements

# Fleiss (1971) as worked on Wikipedia ("Fleiss' kappa", worked example): 10 subjects,
# 14 raters each, 5 categories; P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
FLEISS_TABLE = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
                [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
                [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]


def test_cohen_kappa_wikipedia_worked_example():
    # 50 grant proposals: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> p_o 0.7, p_e 0.5, kappa 0.4
    assert cohen_kappa_table([[20, 5], [10, 15]]) == pytest.approx(0.4)
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    # with two classes, "is it yes?" is the same question as the whole table
    per = cohen_kappa_per_class(a, b)
    assert per["yes"] == pytest.approx(0.4) and per["no"] == pytest.approx(0.4)


def test_cohen_kappa_limits():
    assert cohen_kappa([0, 1, 2, 1], [0, 1, 2, 1]) == pytest.approx(1.0)
    assert cohen_kappa([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)
    assert np.isnan(cohen_kappa([2, 2, 2], [2, 2, 2]))  # chance agreement is 1: undefined


def test_fleiss_kappa_worked_example():
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.210, abs=5e-4)
    per = fleiss_kappa_per_category(FLEISS_TABLE)
    assert per.shape == (5,)
    # the overall kappa is the p_j q_j weighted mean of the per-category kappas (Fleiss 1971)
    m = np.asarray(FLEISS_TABLE, float)
    p = m.sum(0) / m.sum()
    assert np.sum(p * (1 - p) * per) / np.sum(p * (1 - p)) == pytest.approx(fleiss_kappa(FLEISS_TABLE))


def test_fleiss_with_two_raters_is_scotts_pi_and_close_to_cohen():
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    counts = np.array([[x == "yes", x == "no"] for x in a], int) + \
        np.array([[y == "yes", y == "no"] for y in b], int)
    # Scott's pi: p_o 0.7, pooled shares 0.55/0.45 -> p_e 0.505, pi = 0.195/0.495
    assert fleiss_kappa(counts) == pytest.approx(0.195 / 0.495)


def _survey(tmp_path, pifus):
    root = tmp_path / "survey"
    root.mkdir()
    conn = connect(root)
    with transaction(conn):
        conn.executemany("INSERT INTO galaxies (plateifu, row_index) VALUES (?, ?)",
                         [(p, i) for i, p in enumerate(pifus)])
    conn.close()
    return root


def test_store_agreement_two_experts_is_cohen_on_the_galaxies_both_labelled(tmp_path):
    pifus = [f"8485-{1901 + i}" for i in range(60)]
    store = LabelStore(_survey(tmp_path, pifus), expert="alice")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 50)
    b = np.where(rng.random(50) < 0.7, a, rng.integers(0, 3, 50))
    events = [{"plateifu": p, "field": "stellar", "kind": "quality", "value": int(v), "expert": "alice"}
              for p, v in zip(pifus, a)]
    events += [{"plateifu": p, "field": "stellar", "kind": "quality", "value": int(v), "expert": "bob"}
               for p, v in zip(pifus, b)]
    # galaxies labelled by one expert only do not count
    events += [{"plateifu": p, "field": "stellar", "kind": "quality", "value": 2, "expert": "alice"}
               for p in pifus[50:]]
    store.add_many(events)
    got = store.agreement("stellar", "quality")
    assert got["method"] == "cohen" and got["n_items"] == 50
    assert got["kappa"] == pytest.approx(cohen_kappa(a, b, [0, 1, 2]))
    assert got["observed"] == pytest.approx(np.mean(a == b))
    assert set(got["per_class"]) == {0, 1, 2}
    assert 0.3 < got["kappa"] < 0.9


def test_store_agreement_three_experts_is_fleiss(tmp_path):
    pifus = [f"7443-{1901 + i}" for i in range(10)]
    store = LabelStore(_survey(tmp_path, pifus), expert="a")
    votes = {"a": [0, 1, 2, 2, 1, 0, 2, 2, 1, 0], "b": [0, 1, 2, 1, 1, 0, 2, 2, 0, 0],
             "c": [0, 2, 2, 2, 1, 1, 2, 2, 1, 0]}
    store.add_many([{"plateifu": p, "field": "gas", "kind": "quality", "value": v, "expert": e}
                    for e, vs in votes.items() for p, v in zip(pifus, vs)])
    counts = np.array([[sum(votes[e][i] == c for e in votes) for c in (0, 1, 2)] for i in range(10)])
    got = store.agreement("gas", "quality")
    assert got["method"] == "fleiss" and got["n_items"] == 10
    assert got["kappa"] == pytest.approx(fleiss_kappa(counts))
    assert got["pairwise"]["a|b"] == pytest.approx(cohen_kappa(votes["a"], votes["b"], [0, 1, 2]))


def test_consensus_majority_ties_flagged_and_disagreements_listed():
    cur = pd.DataFrame([
        ("g1", "stellar", "quality", "a", 2.0, None), ("g1", "stellar", "quality", "b", 2.0, None),
        ("g1", "stellar", "quality", "c", 1.0, None),
        ("g2", "gas", "quality", "a", 0.0, None), ("g2", "gas", "quality", "b", 1.0, None),
        ("g3", "gas", "quality", "a", 1.0, None),
        ("g1", "stellar", "pa_override", "a", 350.0, None), ("g1", "stellar", "pa_override", "b", 10.0, None),
        ("g3", "galaxy", "note", "a", np.nan, "merger"), ("g3", "galaxy", "note", "b", np.nan, "tail"),
    ], columns=["plateifu", "field", "kind", "expert", "value", "text"])
    cons = consensus_table(cur).set_index(["plateifu", "field", "kind"])
    g1 = cons.loc[("g1", "stellar", "quality")]
    assert g1["value"] == 2 and g1["n_majority"] == 2 and g1["n_experts"] == 3 and not g1["tie"]
    assert g1["share"] == pytest.approx(2 / 3) and g1["experts"] == "a=2;b=2;c=1"
    g2 = cons.loc[("g2", "gas", "quality")]
    assert g2["tie"] and np.isnan(g2["value"])            # a tie has no consensus value
    assert cons.loc[("g3", "gas", "quality"), "value"] == 1  # a single expert is the consensus
    assert cons.loc[("g1", "stellar", "pa_override"), "value"] == pytest.approx(0.0, abs=0.01) or \
        cons.loc[("g1", "stellar", "pa_override"), "value"] == pytest.approx(360.0, abs=0.01)
    assert cons.loc[("g3", "galaxy", "note"), "text"] == "a: merger | b: tail"
    dis = disagreements(cur)
    assert list(dis["plateifu"]) == ["g2", "g1"]  # ties first
    assert circular_mean_deg([151.0]) == 151.0 and circular_mean_deg([350.0, 30.0]) == pytest.approx(10.0)
