"""Data-integrity rules of issue 13: one PA precedence rule, fitted PAs are not labels on
import, hand-set PAs carry no fit error, rounded offsets, export metadata, and an empty folder
gets ingest's error without a database being written."""
import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from kinview.cli.main import main
from kinview.db import transaction
from kinview.db.pa_fits import preferred_fits
from kinview.labels import LabelStore, export_catalogue, export_table, import_catalogue
from kinview.viewstate import load_table

from label_support import make_survey

PIFUS = ["7443-1901", "7443-1902", "7443-3701", "7443-3702"]
NOW = "2026-11-29T00:00:00Z"


def _fit(conn, pifu, field, method, pa, err=2.0, reason=None):
    conn.execute("INSERT OR REPLACE INTO pa_fits (plateifu, field, method, pa, pa_err, vsyst, reason, "
                 "created) VALUES (?, ?, ?, ?, ?, 0.0, ?, ?)", (pifu, field, method, pa, err, reason, NOW))


@pytest.fixture
def survey(tmp_path):
    root = make_survey(tmp_path / "s", PIFUS)
    store = LabelStore(root, expert="ann")
    with transaction(store.conn):
        # 1901: good fast PA, failed pafit -> fast must win everywhere
        _fit(store.conn, "7443-1901", "stellar", "fast", 11.0)
        _fit(store.conn, "7443-1901", "stellar", "pafit", None, None, "too few spaxels")
        # 1902: both succeed -> pafit wins
        _fit(store.conn, "7443-1902", "stellar", "fast", 40.0)
        _fit(store.conn, "7443-1902", "stellar", "pafit", 42.5)
        _fit(store.conn, "7443-1902", "gas", "fast", 19.1)
        # 3701: every method failed -> the preferred failure and its reason
        _fit(store.conn, "7443-3701", "stellar", "fast", None, None, "no valid spaxels")
        _fit(store.conn, "7443-3701", "stellar", "pafit", None, None, "pafit failed")
    yield store
    store.close()


def test_a_failed_fit_never_hides_a_good_one_in_the_gui_table_or_the_export(survey):
    table, _ = load_table(survey.conn, "ann")
    assert table.loc["7443-1901", "stellar_pa"] == 11.0
    assert table.loc["7443-1901", "pa_method_stellar"] == "fast"
    assert table.loc["7443-1902", "stellar_pa"] == 42.5
    assert np.isnan(table.loc["7443-3701", "stellar_pa"])
    assert table.loc["7443-3701", "pa_reason_stellar"] == "pafit failed"
    out = export_table(survey).set_index("plateifu")
    assert out.loc["7443-1901", "stellar_pa"] == 11.0 and out.loc["7443-1901", "stellar_pa_src"] == "fast"
    assert out.loc["7443-1902", "stellar_pa"] == 42.5 and out.loc["7443-1902", "stellar_pa_src"] == "pafit"
    # the two readers agree on every field
    for pifu in PIFUS:
        a, b = table.loc[pifu, "stellar_pa"], out.loc[pifu, "stellar_pa"]
        assert (np.isnan(a) and np.isnan(b)) or a == b
    assert len(preferred_fits(survey.conn)) == 4


def test_an_expert_override_beats_every_fit(survey):
    survey.add("7443-1902", "stellar", "pa_override", 100.0)
    table, _ = load_table(survey.conn, "ann")
    assert table.loc["7443-1902", "stellar_pa"] == 100.0
    out = export_table(survey).set_index("plateifu")
    assert out.loc["7443-1902", "stellar_pa"] == 100.0
    assert out.loc["7443-1902", "stellar_pa_src"] == "expert"
    # a hand-set PA has no fit error; a fitted one keeps its error
    assert np.isnan(out.loc["7443-1902", "stellar_pa_err"])
    assert out.loc["7443-1901", "stellar_pa_err"] == 2.0


def test_pa_offset_is_rounded_like_the_mpl7_catalogue(survey):
    survey.add("7443-1902", "gas", "pa_override", 65.9)   # 65.9 - 42.5 = 23.400000000000006
    out = export_table(survey).set_index("plateifu")
    assert out.loc["7443-1902", "pa_offset"] == 23.4
    assert repr(float(out.loc["7443-1902", "pa_offset"])) == "23.4"


def test_importing_our_own_export_creates_no_overrides_from_fitted_pas(survey, tmp_path):
    survey.add("7443-1901", "stellar", "quality", 2)
    survey.add("7443-1901", "gas", "quality", 1)
    survey.add("7443-1902", "gas", "pa_override", 65.9)
    path = tmp_path / "ann.csv"
    export_catalogue(survey, path)
    report = import_catalogue(survey, path, expert="bob")
    assert report.events > 0
    bob = survey.current("bob")
    overrides = bob[bob["kind"] == "pa_override"]
    # only the hand-set gas PA of 1902 came across as a label; fitted PAs stayed fits
    assert overrides[["plateifu", "field"]].values.tolist() == [["7443-1902", "gas"]]
    labelled = set(survey.current()["plateifu"])
    assert labelled == {"7443-1901", "7443-1902"}


@pytest.mark.parametrize("suffix", [".fits", ".ecsv", ".vot"])
def test_astropy_exports_carry_units_and_provenance(survey, tmp_path, suffix):
    survey.add("7443-1901", "stellar", "quality", 2)
    path = tmp_path / f"cat{suffix}"
    export_catalogue(survey, path)
    t = Table.read(path)
    assert str(t["stellar_pa"].unit) == "deg"
    assert str(t["pa_offset"].unit) == "deg"
    if suffix != ".vot":   # VOTable keeps units; astropy drops free-form table metadata there
        meta = {k.upper(): v for k, v in t.meta.items()}
        assert meta["EXPERTS"] == "ann"
        assert meta["KVVERSN"]
        assert len(meta["LABHASH"]) >= 8
        assert meta["DATE"].startswith("20")


def test_label_stats_on_an_empty_folder_says_what_ingest_says_and_writes_nothing(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["ingest", str(empty)]) == 2
    ingest_err = capsys.readouterr().err.strip()
    assert main(["labels", "stats", "--survey", str(empty)]) == 2
    stats_err = capsys.readouterr().err.strip()
    assert stats_err == ingest_err and stats_err.startswith("kinview: error:")
    assert list(empty.iterdir()) == []
