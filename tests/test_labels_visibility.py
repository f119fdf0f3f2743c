"""Who may see what (kinview.labels.visibility): the one rule behind blind mode, applied by the
labelling session while labelling and while adjudicating (issue 15, item 5).  No Qt; a real
survey and its SQLite label store."""
import shutil

import pandas as pd
import pytest

from gui_support import make_survey, standard_specs
from kinview.labels import visibility as vis
from kinview.labels.adjudication import adjudicate, final_labels, reveal
from kinview.labels.store import LabelStore
from kinview.session import LabellingSession

SPECS = standard_specs(6)
P = [s["plateifu"] for s in SPECS]
NO_GAS = P[2]            # standard_specs: galaxy 2 has no gas map


def test_the_rule():
    both = {("stellar", "quality"): 2, ("gas", "quality"): 1}
    star = {("stellar", "quality"): 2}
    assert vis.has_labelled(both) and not vis.has_labelled(star) and vis.has_labelled(star, has_gas=False)
    assert not vis.may_see_others(star)                                  # blind, not labelled
    assert vis.may_see_others(both)                                      # labelled
    assert vis.may_see_others({}, blind=False)                           # blind mode off
    assert vis.may_see_others({}, adjudicating=True)                     # adjudicating
    assert vis.hides_others(True) and not vis.hides_others(True, adjudicating=True)
    assert vis.revealed_set(P[:2], lambda p: both if p == P[0] else {}, lambda p: True) == {P[0]}
    assert vis.revealed_set(P[:2], lambda p: {}, lambda p: True, blind=False) is None
    rows = pd.DataFrame({"plateifu": [P[0], P[0], P[1], P[1]], "expert": ["ann", "bob", "ann", "mpl7"],
                         "label": [1, 2, 0, 2]})
    seen = vis.visible_label_rows(rows, "ann", {P[0]})
    assert list(zip(seen["plateifu"], seen["expert"])) == [(P[0], "ann"), (P[0], "bob"), (P[1], "ann")]
    assert len(vis.visible_label_rows(rows, "ann", None)) == 4


@pytest.fixture(scope="module")
def survey_template(tmp_path_factory):
    root = make_survey(tmp_path_factory.mktemp("vis") / "survey", SPECS)
    for who, values in (("ann", {P[0]: 2, P[1]: 2, P[3]: 1}), ("bob", {P[0]: 2, P[1]: 0, P[3]: 2})):
        store = LabelStore(root, expert=who)
        store.add_many([dict(plateifu=p, field="stellar", kind="quality", value=v) for p, v in values.items()])
        store.close()
    return root


@pytest.fixture
def survey(survey_template, tmp_path):
    return shutil.copytree(survey_template, tmp_path / "survey")


def test_adjudicating_session_reveals_all_refuses_labels_and_counts_the_queue(survey):
    s = LabellingSession.open(survey, "carol")
    events = []
    s.subscribe(lambda name, value: events.append((name, value)))
    try:
        assert s.revealed_galaxies() == set() and not s.may_see_others(P[1])
        assert s.table.at[P[1], "n_experts"] == 0           # blind: the list counts carol alone
        s.set_adjudicating(True)
        assert ("adjudicating", True) in events
        assert s.revealed_galaxies() is None and s.may_see_others(P[1])
        assert s.table.at[P[1], "n_experts"] == 2           # adjudicating: everyone's labels
        assert not reveal(s.store, P[1], "carol", blind=s.blind, adjudicating=s.adjudicating).hidden
        # the adjudicator is not a rater: no label, no undo
        s.goto(P[1])
        assert s.label("stellar", "feature", 1) is None and s.undo() is None
        assert "adjudicating as carol" in events[-1][1][0]
        assert s.store.current("carol").empty
        # progress: the queue's, 0 of 2, then 1 of 2 after a decision
        assert s.refresh_adjudication_counts() == {"open": 2, "resolved": 0, "galaxies_open": 2}
        c = s.counts()
        assert c["adjudicating"] and (c["adjudicated"], c["disagreements"]) == (0, 2)
        adjudicate(s.store, P[1], "stellar", "quality", 1, adjudicator="carol")
        s.refresh_adjudication_counts()
        assert (s.counts()["adjudicated"], s.counts()["disagreements"]) == (1, 2)
        assert events[-1] == ("counts", s.counts())
        # back to labelling: blind again, labels allowed, the labelling count
        s.set_adjudicating(False)
        assert "adjudicating" not in s.counts() and s.counts()["labelled"] == 0
        assert s.table.at[P[1], "n_experts"] == 0 and not s.may_see_others(P[1])
        assert s.label("stellar", "feature", 1) is not None
    finally:
        s.close()


def test_switching_expert_ends_adjudicating(survey):
    s = LabellingSession.open(survey, "carol")
    events = []
    s.subscribe(lambda name, value: events.append((name, value)))
    try:
        s.set_adjudicating(True)
        s.refresh_adjudication_counts()
        s.switch_expert("dave")
        names = [n for n, _ in events]
        assert names.index("expert") > max(i for i, (n, v) in enumerate(events) if (n, v) == ("adjudicating", False))
        assert not s.adjudicating and s.adjudication_counts is None
        assert "adjudicating" not in s.counts()
        assert not s.may_see_others(P[1]) and s.table.at[P[1], "n_experts"] == 0   # dave is blind
        assert "queue was closed" in [v for n, v in events if n == "message"][-1][0]
        s.goto(P[1])
        assert s.label("stellar", "quality", 2) is not None
        assert len(final_labels(s.store)) == 0
    finally:
        s.close()


def test_no_gas_galaxy_is_revealed_by_the_stellar_quality_alone(survey):
    s = LabellingSession.open(survey, "ann")
    try:
        s.goto(NO_GAS)
        s.load()                                       # its maps show no valid gas spaxels
        assert NO_GAS in s.no_gas
        s.label("stellar", "quality", 1, advance=False)
        assert NO_GAS in s.revealed_galaxies() and s.may_see_others(NO_GAS)
    finally:
        s.close()


def test_the_catalogue_card_shows_no_label_columns_of_the_catalogue():
    """A catalogue file may carry a published catalogue's label columns (extra columns are
    kept in the database): the catalogue panel's card shows catalogue values only, so blind
    mode holds there too."""
    from kinview.data.galaxy_card import catalogue_card

    record = {"plateifu": P[0], "z": 0.03, "extra": {"stel_qual": 2, "halpha_qual": 0, "stel_feature": 1,
                                                      "halpha_notes": 3, "stellar_sigma_1re": 120.0}}
    text = " ".join(f"{k} {v}" for k, v in catalogue_card(record))
    assert "120.0 km/s" in text
    for word in ("qual", "feature", "notes"):
        assert word not in text


def test_a_rater_adjudicating_stays_blind(survey):
    assert vis.may_see_others({}, adjudicating=True, rater=False)
    assert not vis.may_see_others({}, adjudicating=True, rater=True)
    assert vis.may_see_others({}, blind=False, adjudicating=True, rater=True)
    s = LabellingSession.open(survey, "bob")         # stellar qualities only: no galaxy finished
    try:
        assert s.is_rater
        s.set_adjudicating(True)
        assert s.revealed_galaxies() == set() and not s.may_see_others(P[1])
        assert s.table.at[P[1], "n_experts"] == 1
        assert reveal(s.store, P[1], "bob", blind=s.blind, adjudicating=True, rater=s.is_rater).hidden
    finally:
        s.close()
