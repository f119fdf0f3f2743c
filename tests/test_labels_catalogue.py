"""Import and export of label catalogues (MPL-7 format and kinview's own)."""
import csv

import numpy as np
import pandas as pd
import pytest

from kinview.db import transaction
from kinview.errors import KinviewError, LabelFormatError
from kinview.labels import (CATALOGUE_COLUMNS, LabelStore, export_catalogue, export_table,
                            import_catalogue, read_table)
from label_support import make_survey

# Rows composed for this test in the MPL-7 catalogue's format: a leading unnamed index column,
# PAs with one decimal, empty cells for missing PAs, -99 for missing flags, extra drpall
# columns after the nine (with quoted tuples), a PA written as 360.0 and a stel_qual of 3 (both
# occur in the real catalogue).
MPL7_HEADER = (",plateifu,stellar_pa,halpha_pa,pa_offset,stel_qual,stel_feature,halpha_qual,"
               "halpha_feature,halpha_notes,plate,ifudsgn,mangaid,objra,nsa_sersic_flux\n")
MPL7_ROWS = [
    '0,10001-6101,151.0,204.5,53.5,0,0,0,0,0,10001,6101,1-55683,137.041133755,"(0.26, 0.87, 11.4)"',
    '1,10001-6104,136.0,108.5,27.5,2,0,1,0,0,10001,6104,1-55529,136.623724313,"(2.1, 6.4, 115.1)"',
    '90,7443-1902,6.5,46.0,39.5,1,1,2,2,0,7443,1902,12-49536,231.99110413,"(-0.003, 7.6, 97.4)"',
    '93,7443-3703,,,,0,0,0,0,0,7443,3703,12-1,230.1,"(1.0, 2.0, 3.0)"',
    '12,8485-1901,360.0,0.5,0.5,2,0,2,0,0,8485,1901,1-2,232.5,"(1.0, 2.0, 3.0)"',
    '13,8485-1902,10.0,190.0,180.0,-99,-99,-99,-99,-99,8485,1902,1-3,232.6,"(1.0, 2.0, 3.0)"',
    '14,8485-12701,359.5,180.0,179.5,3,3,0,3,3,8485,12701,1-4,232.7,"(1.0, 2.0, 3.0)"',
    '15,9000-3701,17.0,,,1,0,-99,-99,-99,9000,3701,1-5,10.0,"(1.0, 2.0, 3.0)"',
]


def write_mpl7(path, rows=MPL7_ROWS, header=MPL7_HEADER):
    path.write_text(header + "\n".join(rows) + "\n")
    return path




def pifus_of(rows):
    return [r.split(",")[1] for r in rows]


def first_nine(path, skip_index):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return [r[1:10] if skip_index else r[:9] for r in rows]


@pytest.fixture
def imported(tmp_path):
    cat = write_mpl7(tmp_path / "mpl7-test.csv")
    root = make_survey(tmp_path / "survey", pifus_of(MPL7_ROWS))
    store = LabelStore(root, expert="duckworth")
    report = import_catalogue(store, cat)
    yield store, cat, report
    store.close()


def test_mpl7_import_then_export_reproduces_the_nine_columns_exactly(imported, tmp_path):
    store, cat, report = imported
    assert report.kind == "mpl7" and report.rows == len(MPL7_ROWS) == report.imported_rows
    assert report.unknown == []
    assert report.out_of_vocabulary == [(8, "stel_qual", 3)]  # line 8 of the file
    out = tmp_path / "export.csv"
    export_catalogue(store, out, expert="duckworth")
    assert first_nine(out, skip_index=False) == first_nine(cat, skip_index=True)
    # the consensus of a single expert is that expert
    export_catalogue(store, tmp_path / "consensus.csv", consensus=True)
    assert first_nine(tmp_path / "consensus.csv", False) == first_nine(cat, True)
    # the labels are stored as events of the importing expert, with where they came from
    events = store.events("10001-6101")
    assert set(events["source"]) == {"import:mpl7-test.csv"} and set(events["expert"]) == {"duckworth"}
    assert store.current_for("10001-6101") == {
        "stellar": {"quality": 0, "feature": 0, "pa_override": 151.0},
        "gas": {"quality": 0, "feature": 0, "gas_note": 0, "pa_override": 204.5}, "galaxy": {}}
    # -99 and empty cells stored nothing
    assert store.current_for("8485-1902") == {"stellar": {"pa_override": 10.0},
                                              "gas": {"pa_override": 190.0}, "galaxy": {}}


def test_reimport_changes_nothing_and_another_expert_is_kept_apart(imported):
    store, cat, _ = imported
    n = len(store.events())
    again = import_catalogue(store, cat)
    assert again.events == 0 and again.unchanged > 0 and len(store.events()) == n
    other = import_catalogue(store, cat, expert="second")
    assert other.events == again.unchanged
    assert store.experts() == ["duckworth", "second"]


def test_unknown_plateifus_are_reported_not_imported(tmp_path):
    cat = write_mpl7(tmp_path / "mpl7.csv")
    known = pifus_of(MPL7_ROWS)[:5]
    store = LabelStore(make_survey(tmp_path / "survey", known), expert="d")
    report = import_catalogue(store, cat)
    assert report.unknown == pifus_of(MPL7_ROWS)[5:]
    assert report.imported_rows == 5
    assert set(store.current()["plateifu"]) == set(known)
    assert "3 plate-ifus are not in the survey" in report.summary()
    # a survey that knows none of them refuses the file
    empty = LabelStore(make_survey(tmp_path / "other", ["1-1"]), expert="d")
    with pytest.raises(LabelFormatError, match="none of its 8 plate-ifus"):
        import_catalogue(empty, cat)


@pytest.mark.parametrize("header, row, words", [
    (MPL7_HEADER.replace("halpha_qual,", ""), None, "missing column(s) halpha_qual"),
    (None, '16,9000-3702,17.0,12.0,5.0,1,0,x,0,0,9000,3702,1-6,10.0,"()"', "line 10: halpha_qual 'x'"),
    (None, '16,9000-3702,17.0,12.0,5.0,1.5,0,0,0,0,9000,3702,1-6,10.0,"()"', "not an integer flag"),
    (None, '16,9000-3702,417.0,12.0,5.0,1,0,0,0,0,9000,3702,1-6,10.0,"()"', "not a PA in [0, 360]"),
    (None, '16,10001-6101,17.0,12.0,5.0,1,0,0,0,0,9000,3702,1-6,10.0,"()"', "repeats line 2"),
    (None, '16,galaxy,17.0,12.0,5.0,1,0,0,0,0,9000,3702,1-6,10.0,"()"', "not a plate-ifu"),
    (None, '16,9000-3702,17.0,12.0,5.0,-1,0,0,0,0,9000,3702,1-6,10.0,"()"', "negative"),
])
def test_malformed_catalogue_is_refused_and_the_database_untouched(tmp_path, header, row, words):
    root = make_survey(tmp_path / "survey", pifus_of(MPL7_ROWS) + ["9000-3702"])
    store = LabelStore(root, expert="d")
    store.add("10001-6101", "stellar", "quality", 2)
    before = store.events()
    rows = MPL7_ROWS + ([row] if row else [])  # the bad row comes last: nothing may be written
    cat = write_mpl7(tmp_path / "bad.csv", rows, header or MPL7_HEADER)
    with pytest.raises(LabelFormatError) as err:
        import_catalogue(store, cat)
    message = str(err.value)
    assert words in message and "bad.csv" in message and "\n" not in message
    pd.testing.assert_frame_equal(store.events(), before)


def test_unreadable_and_unknown_files_are_refused(tmp_path):
    store = LabelStore(make_survey(tmp_path / "survey", ["1-1"]), expert="d")
    with pytest.raises(LabelFormatError, match="no such file"):
        import_catalogue(store, tmp_path / "missing.csv")
    (tmp_path / "x.fits").write_bytes(b"SIMPLE  =  garbage")
    with pytest.raises(LabelFormatError, match="not a readable fits table"):
        import_catalogue(store, tmp_path / "x.fits")
    with pytest.raises(LabelFormatError, match="unknown catalogue format"):
        import_catalogue(store, tmp_path / "labels.txt")
    assert isinstance(LabelFormatError("x"), KinviewError)


def _add_fits_models_and_experts(store):
    conn = store.conn
    with transaction(conn):
        conn.executemany(
            "INSERT INTO pa_fits (plateifu, field, method, pa, pa_err, created) VALUES (?,?,?,?,?,?)",
            [("7443-3703", "stellar", "fast", 12.25, 1.5, "t"), ("7443-3703", "stellar", "pafit", 12.5, 2.0, "t"),
             ("7443-3703", "gas", "fast", 200.0, 3.0, "t"), ("10001-6101", "stellar", "pafit", 150.0, 1.0, "t")])
        mid = conn.execute("INSERT INTO models (task, arch, path, created, active) VALUES "
                           "('vfield-quality', 'cnn', 'm.keras', 't', 1)").lastrowid
        conn.executemany("INSERT INTO predictions (model_id, plateifu, field, value, confidence) "
                         "VALUES (?,?,?,?,?)",
                         [(mid, "10001-6101", "stellar", 0.9, 0.8), (mid, "10001-6101", "gas", 0.2, 0.6),
                          (mid, "7443-1902", "stellar", 0.55, 0.1)])
    store.add("10001-6101", "stellar", "quality", 1, expert="bob")
    store.add("10001-6104", "stellar", "quality", 2, expert="bob")
    store.add("10001-6104", "galaxy", "note", 'bar, "strong"; Hα ring', expert="duckworth")


def test_export_columns_pa_fallback_and_model_columns(imported, tmp_path):
    store, _, _ = imported
    _add_fits_models_and_experts(store)
    df = export_table(store, expert="duckworth")
    assert list(df.columns[:9]) == CATALOGUE_COLUMNS
    assert list(df.columns[9:18]) == ["notes", "experts", "n_labels", "agreement", "disputed",
                                      "stellar_pa_err", "halpha_pa_err", "stellar_pa_src", "halpha_pa_src"]
    assert df.columns[18] == "adjudicated"
    assert list(df.columns[19:]) == ["pred_vfield_quality_gas", "pred_vfield_quality_gas_conf",
                                     "pred_vfield_quality_stellar", "pred_vfield_quality_stellar_conf"]
    row = df.set_index("plateifu")
    # no expert PA: the pafit fit is preferred over the fast one; the offset follows
    assert row.loc["7443-3703", "stellar_pa"] == 12.5 and row.loc["7443-3703", "stellar_pa_src"] == "pafit"
    assert row.loc["7443-3703", "stellar_pa_err"] == 2.0 and row.loc["7443-3703", "halpha_pa"] == 200.0
    assert row.loc["7443-3703", "pa_offset"] == pytest.approx(172.5)
    # an expert's PA wins over the fit
    assert row.loc["10001-6101", "stellar_pa"] == 151.0 and row.loc["10001-6101", "stellar_pa_src"] == "expert"
    assert row.loc["10001-6101", "pred_vfield_quality_stellar"] == 0.9
    assert row.loc["10001-6101", "pred_vfield_quality_stellar_conf"] == 0.8
    assert np.isnan(row.loc["8485-1901", "pred_vfield_quality_stellar"])
    # two experts disagree on 10001-6101's stellar quality (0 vs 1)
    assert row.loc["10001-6101", "disputed"] == "stel_qual"
    assert row.loc["10001-6101", "agreement"] == pytest.approx(0.5)
    assert row.loc["10001-6104", "notes"] == 'bar, "strong"; Hα ring'
    cons = export_table(store, consensus=True).set_index("plateifu")
    assert cons.loc["10001-6101", "stel_qual"] == -99                # a tie: no consensus value
    assert cons.loc["10001-6101", "experts"] == "bob;duckworth"
    assert cons.loc["10001-6104", "stel_qual"] == 2                  # 2 vs 2: unanimous
    bob = export_table(store, expert="bob", labelled_only=True)
    assert list(bob["plateifu"]) == ["10001-6101", "10001-6104"] and list(bob["stel_qual"]) == [1, 2]


@pytest.mark.parametrize("suffix", [".fits", ".ecsv", ".vot", ".parquet"])
def test_every_format_reads_back_equal_to_the_csv(imported, tmp_path, suffix):
    store, _, _ = imported
    _add_fits_models_and_experts(store)
    export_catalogue(store, tmp_path / "labels.csv", expert="duckworth")
    export_catalogue(store, tmp_path / f"labels{suffix}", expert="duckworth")
    text = read_table(tmp_path / "labels.csv")          # every cell as written in the CSV
    other = read_table(tmp_path / f"labels{suffix}")
    assert list(other.columns) == list(text.columns)
    assert len(other) == len(text) == len(MPL7_ROWS)
    for name in text.columns:
        col = other[name]
        if pd.api.types.is_numeric_dtype(col):
            expect = pd.to_numeric(text[name].replace("", np.nan)).to_numpy(float)
            assert np.array_equal(col.to_numpy(float), expect, equal_nan=True), name
            if pd.api.types.is_integer_dtype(col):
                assert list(col.astype(str)) == list(text[name]), name
        else:
            assert list(col) == list(text[name]), name


def test_kinview_export_imports_back(imported, tmp_path):
    store, _, _ = imported
    store.add("10001-6104", "galaxy", "note", "warped gas disc, see image")
    out = tmp_path / "mine.parquet"
    export_catalogue(store, out, expert="duckworth")
    fresh = LabelStore(make_survey(tmp_path / "copy", pifus_of(MPL7_ROWS)), expert="duckworth")
    report = import_catalogue(fresh, out)
    assert report.kind == "kinview" and report.rows == len(MPL7_ROWS)
    assert fresh.current_for("10001-6104") == store.current_for("10001-6104")
    export_catalogue(fresh, tmp_path / "again.csv")
    export_catalogue(store, tmp_path / "first.csv")
    assert first_nine(tmp_path / "again.csv", False) == first_nine(tmp_path / "first.csv", False)
    fresh.close()


def test_export_to_a_bad_place_is_refused_and_leaves_no_file(imported, tmp_path):
    store, _, _ = imported
    with pytest.raises(LabelFormatError, match="unknown catalogue format"):
        export_catalogue(store, tmp_path / "x.xlsx")
    with pytest.raises(LabelFormatError, match="no such directory"):
        export_catalogue(store, tmp_path / "nowhere" / "x.csv")
    assert not list(tmp_path.glob(".tmp*")) and not (tmp_path / "x.xlsx").exists()
