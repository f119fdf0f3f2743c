"""Malformed input of every kind, through the command that would meet it.

Each case builds its bad input in a fresh copy of a small demo survey (with labels), runs the
CLI in this process (``kinview.cli.main.main``) and checks the promise made to users:

- the exit status (2 for refused input; 0 where a survey command reports a bad file per
  field and carries on);
- at most one ``kinview: error:`` line on stderr, and exactly one when refused;
- no traceback;
- the label table is unchanged (its SHA-256 before and after), and a database file kinview
  refuses (foreign, damaged) is byte-for-byte unchanged.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from kinview.cli.main import main

N_GALAXIES = 3
MPL7_HEADER = ("plateifu,stellar_pa,halpha_pa,pa_offset,stel_qual,stel_feature,halpha_qual,"
               "halpha_feature,halpha_notes")


# ------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def base_survey(tmp_path_factory):
    """A demo survey of 3 galaxies, ingested, with one expert's labels and fast PA fits."""
    root = tmp_path_factory.mktemp("bad-input") / "survey"
    assert main(["demo", "--out", str(root), "--n", str(N_GALAXIES), "--seed", "5"]) == 0
    assert main(["ingest", str(root)]) == 0
    pifus = _plateifus(root)
    lab = root.parent / "good.csv"
    lab.write_text(MPL7_HEADER + "\n" + "\n".join(f"{p},10.0,20.0,10.0,2,0,1,0,0" for p in pifus) + "\n")
    assert main(["labels", "import", str(lab), "--survey", str(root), "--expert", "ann"]) == 0
    lab.unlink()
    return root


@pytest.fixture
def survey(base_survey, tmp_path):
    dst = tmp_path / "survey"
    shutil.copytree(base_survey, dst)
    return dst


def _plateifus(root):
    conn = sqlite3.connect(f"file:{root / 'kinview.sqlite'}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT plateifu FROM galaxies ORDER BY row_index")]
    finally:
        conn.close()


def _maps_path(root, pifu=None):
    conn = sqlite3.connect(f"file:{root / 'kinview.sqlite'}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT maps_path FROM galaxies ORDER BY row_index LIMIT 1").fetchone()
    finally:
        conn.close()
    return root / row[0]


def label_hash(root) -> str:
    """SHA-256 of every row of the labels table (or of the whole file if it cannot be read)."""
    db = Path(root) / "kinview.sqlite"
    if not db.is_file():
        return "no-file"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT * FROM labels ORDER BY id").fetchall()
        finally:
            conn.close()
        return hashlib.sha256(repr(rows).encode()).hexdigest()
    except sqlite3.Error:
        return "file:" + hashlib.sha256(db.read_bytes()).hexdigest()


def file_hash(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_cli(capsys, argv, expect: int, words=()):
    """Run kinview in-process; check exit status, the one error line, no traceback."""
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out, err
    errors = [ln for ln in err.splitlines() if ln.startswith("kinview: error:")]
    assert rc == expect, (rc, err[-2000:], out[-2000:])
    if expect == 2:
        assert len(errors) == 1, err
        for w in words:
            assert w.lower() in errors[0].lower(), errors[0]
    else:
        assert not errors, err
        for w in words:
            assert w.lower() in out.lower(), out
    return out, err


# ------------------------------------------------------------------------------- MAPS files
def _fits_edit(path, edit):
    """Rewrite a (gzipped) MAPS file after ``edit(hdulist)``."""
    from astropy.io import fits

    raw = Path(path).read_bytes()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    import io

    with fits.open(io.BytesIO(data)) as h:
        edit(h)
        buf = io.BytesIO()
        h.writeto(buf)
    out = buf.getvalue()
    Path(path).write_bytes(gzip.compress(out, compresslevel=1) if str(path).endswith(".gz") else out)


def _truncate(frac):
    def f(path):
        data = gzip.decompress(Path(path).read_bytes())
        Path(path).write_bytes(gzip.compress(data[: int(len(data) * frac)], compresslevel=1))
    return f


def _set(ext, fn):
    def f(path):
        def edit(h):
            h[ext].data = fn(h[ext].data)
        _fits_edit(path, edit)
    return f


def _drop(ext):
    def f(path):
        _fits_edit(path, lambda h: h.pop(ext))
    return f


def _header(ext, key, value):
    def f(path):
        def edit(h):
            h[ext].header[key] = value
        _fits_edit(path, edit)
    return f


def _bytes(data):
    return lambda path: Path(path).write_bytes(data)


def _rename_ha(path):
    def edit(h):
        for ext in ("EMLINE_GVEL", "EMLINE_GVEL_IVAR", "EMLINE_GVEL_MASK", "EMLINE_GSIGMA",
                    "EMLINE_GSIGMA_IVAR", "EMLINE_GSIGMA_MASK", "EMLINE_INSTSIGMA", "EMLINE_GFLUX"):
            if ext in h:
                for k, v in list(h[ext].header.items()):
                    if k.startswith("C") and k[1:].isdigit() and str(v).strip() == "Ha-6564":
                        h[ext].header[k] = "Hx-0000"
    _fits_edit(path, edit)


def _to_dir(path):
    Path(path).unlink()
    Path(path).mkdir()


MAPS_CASES = {
    # name: (corruption, words in the pa summary)
    "empty": (_bytes(b""), ["unreadable MAPS"]),
    "text": (_bytes(b"hello, not a FITS file\n" * 50), ["unreadable MAPS"]),
    "gz-garbage": (_bytes(b"\x1f\x8b" + os.urandom(2000)), ["unreadable MAPS"]),
    "truncated-10": (_truncate(0.1), ["unreadable MAPS"]),
    "truncated-50": (_truncate(0.5), ["unreadable MAPS"]),
    "truncated-95": (_truncate(0.95), ["unreadable MAPS"]),
    "no-stellar-vel": (_drop("STELLAR_VEL"), ["unreadable MAPS"]),
    "no-skycoo": (_drop("SPX_SKYCOO"), ["unreadable MAPS"]),
    "no-vel-mask": (_drop("STELLAR_VEL_MASK"), ["unreadable MAPS"]),
    "stellar-vel-shape": (_set("STELLAR_VEL", lambda d: d[:-3, :-3].copy()), ["unreadable MAPS"]),
    "stellar-vel-3d": (_set("STELLAR_VEL", lambda d: np.stack([d, d])), ["unreadable MAPS"]),
    "skycoo-one-plane": (_set("SPX_SKYCOO", lambda d: d[:1].copy()), ["unreadable MAPS"]),
    "skycoo-all-nan": (_set("SPX_SKYCOO", lambda d: np.full_like(d, np.nan)), ["unreadable MAPS"]),
    "bunit-flux": (_header("STELLAR_VEL", "BUNIT", "1E-17 erg/s/cm^2"), ["unreadable MAPS"]),
    "stellar-vel-all-nan": (_set("STELLAR_VEL", lambda d: np.full_like(d, np.nan)), ["without a PA"]),
    "gas-one-channel": (_set("EMLINE_GVEL", lambda d: d[:1].copy()), ["without a PA"]),
    "no-halpha-channel": (_rename_ha, ["Ha-6564"]),
    "maps-is-a-folder": (_to_dir, ["unreadable MAPS"]),
}


@pytest.mark.parametrize("case", sorted(MAPS_CASES))
def test_bad_maps_file_is_reported_per_field_by_pa(survey, capsys, case):
    corrupt, words = MAPS_CASES[case]
    path = _maps_path(survey)
    for other in survey.rglob("manga-*-MAPS-*"):   # only the bad file is fitted (fast)
        if other != path:
            other.unlink()
    corrupt(path)
    before = label_hash(survey)
    out, _ = run_cli(capsys, ["pa", "--survey", survey, "--jobs", "1", "--refit"], 0, words)
    assert label_hash(survey) == before
    if case == "no-halpha-channel":   # a missing gas channel never costs the stellar field
        conn = sqlite3.connect(survey / "kinview.sqlite")
        pifu = _plateifus(survey)[0]
        row = conn.execute("SELECT pa, reason FROM pa_fits WHERE plateifu = ? AND field = "
                           "'stellar' AND method = 'fast'", (pifu,)).fetchone()
        conn.close()
        assert row[0] is not None, row


def test_bunit_in_m_per_s_is_read_as_km_per_s(survey):
    from kinview.data.maps import read_maps

    path = _maps_path(survey)
    ref = read_maps(path).stellar.vel

    def edit(h):
        h["STELLAR_VEL"].data = h["STELLAR_VEL"].data * 1000.0
        h["STELLAR_VEL"].header["BUNIT"] = "m/s"
        h["STELLAR_VEL_IVAR"].data = h["STELLAR_VEL_IVAR"].data / 1e6
    _fits_edit(path, edit)
    np.testing.assert_allclose(read_maps(path).stellar.vel, ref, rtol=1e-5)


# ------------------------------------------------------------------------------- catalogues
def _catalogue(survey, text=None, data=None, name="catalogue.csv"):
    (survey / "catalogue.fits").unlink()
    if text is not None:
        (survey / name).write_text(text)
    elif data is not None:
        (survey / name).write_bytes(data)
    else:
        (survey / name).mkdir()


CATALOGUE_CASES = {
    "float-plateifu": (dict(text="plateifu,objra\n8485.1901,1.0\n8486.1902,2.0\n"), ["numbers"]),
    "empty-plateifu": (dict(text="plateifu,objra\n,1.0\n8485-1901,2.0\n"), ["empty"]),
    "no-plateifu": (dict(text="name,objra\nA,1.0\n"), ["plateifu"]),
    "int-plateifu": (dict(text="plateifu,objra\n8485,1.0\n"), ["numbers"]),
    "garbage-fits": (dict(data=os.urandom(5000), name="catalogue.fits"), ["catalogue"]),
    "text-as-fits": (dict(text="SIMPLE = T\n", name="catalogue.fits"), ["catalogue"]),
    "binary-csv": (dict(data=b"\x00\xff\xfe" * 1000), ["catalogue"]),
    "empty-csv": (dict(text=""), ["catalogue"]),
    "drpall-garbage": (dict(data=os.urandom(5000), name="drpall-v3_1_1.fits"), ["drpall"]),
}


@pytest.mark.parametrize("case", sorted(CATALOGUE_CASES))
def test_bad_catalogue_is_refused_by_ingest(survey, capsys, case):
    kwargs, words = CATALOGUE_CASES[case]
    _catalogue(survey, **kwargs)
    before, n_before = label_hash(survey), len(_plateifus(survey))
    run_cli(capsys, ["ingest", survey], 2, words)
    assert label_hash(survey) == before and len(_plateifus(survey)) == n_before


# ------------------------------------------------------------------------------- label files
def _label_rows(survey, cells):
    p = _plateifus(survey)[0]
    return MPL7_HEADER + "\n" + f"{p},{cells}\n"


LABEL_CASES = {
    "quality-1e300": ("10,20,10,1e300,0,1,0,0", ["stel_qual"]),
    "quality-1e19": ("10,20,10,1e19,0,1,0,0", ["stel_qual"]),
    "quality-7": ("10,20,10,7,0,1,0,0", ["--allow-codes"]),
    "quality-negative": ("10,20,10,-5,0,1,0,0", ["negative"]),
    "quality-half": ("10,20,10,1.5,0,1,0,0", ["integer"]),
    "quality-word": ("10,20,10,good,0,1,0,0", ["integer"]),
    "quality-inf": ("10,20,10,inf,0,1,0,0", ["stel_qual"]),
    "feature-9": ("10,20,10,1,9,1,0,0", ["--allow-codes"]),
    "gas-note-5": ("10,20,10,1,0,1,0,5", ["--allow-codes"]),
    "pa-400": ("400,20,10,1,0,1,0,0", ["PA"]),
    "pa-negative": ("-10,20,10,1,0,1,0,0", ["PA"]),
    "pa-word": ("east,20,10,1,0,1,0,0", ["number"]),
    "pa-inf": ("inf,20,10,1,0,1,0,0", ["PA"]),
    "gas-quality-1e19": ("10,20,10,1,0,1e19,0,0", ["halpha_qual"]),
    "offset-word": ("10,20,wide,1,0,1,0,0", ["pa_offset"]),
}


@pytest.mark.parametrize("case", sorted(LABEL_CASES))
def test_bad_label_value_is_refused_by_import(survey, capsys, tmp_path, case):
    cells, words = LABEL_CASES[case]
    f = tmp_path / "labels.csv"
    f.write_text(_label_rows(survey, cells))
    before = label_hash(survey)
    run_cli(capsys, ["labels", "import", f, "--survey", survey], 2, words)
    assert label_hash(survey) == before


LABEL_FILE_CASES = {
    "missing-column": (lambda s: MPL7_HEADER.replace(",halpha_qual", "") + "\n", "labels.csv", ["missing column"]),
    "duplicate": (lambda s: MPL7_HEADER + "\n" + "\n".join([f"{_plateifus(s)[0]},1,2,1,1,0,1,0,0"] * 2) + "\n",
                  "labels.csv", ["repeats"]),
    "bad-plateifu": (lambda s: MPL7_HEADER + "\nNGC1,1,2,1,1,0,1,0,0\n", "labels.csv", ["plate-ifu"]),
    "unknown-galaxies": (lambda s: MPL7_HEADER + "\n1-1,1,2,1,1,0,1,0,0\n", "labels.csv", ["none of its"]),
    "empty": (lambda s: "", "labels.csv", ["labels.csv"]),
    "binary": (lambda s: b"\x00\x01\x02\xff" * 500, "labels.csv", ["labels.csv"]),
    "garbage-fits": (lambda s: os.urandom(3000), "labels.fits", ["labels.fits"]),
    "garbage-parquet": (lambda s: os.urandom(3000), "labels.parquet", ["labels.parquet"]),
    "garbage-votable": (lambda s: "<VOTABLE><oops>", "labels.vot", ["labels.vot"]),
    "unknown-suffix": (lambda s: MPL7_HEADER + "\n", "labels.txt", ["format"]),
    "no-such-file": (None, "missing.csv", ["no such file"]),
    "a-folder": ("dir", "folder.csv", ["folder.csv"]),
}


@pytest.mark.parametrize("case", sorted(LABEL_FILE_CASES))
def test_bad_label_file_is_refused_by_import(survey, capsys, tmp_path, case):
    make, name, words = LABEL_FILE_CASES[case]
    f = tmp_path / name
    if make == "dir":
        f.mkdir()
    elif make is not None:
        content = make(survey)
        (f.write_bytes if isinstance(content, bytes) else f.write_text)(content)
    before = label_hash(survey)
    run_cli(capsys, ["labels", "import", f, "--survey", survey], 2, words)
    assert label_hash(survey) == before


def test_out_of_vocabulary_codes_are_imported_with_allow_codes(survey, capsys, tmp_path):
    f = tmp_path / "labels.csv"
    f.write_text(_label_rows(survey, "10,20,10,3,0,1,0,0"))
    out, err = run_cli(capsys, ["labels", "import", f, "--survey", survey, "--expert", "bob",
                                "--allow-codes"], 0)
    assert "outside the documented vocabulary" in err


# ------------------------------------------------------------------------------- exports
def _export_target(kind, tmp_path):
    if kind == "a-folder":
        d = tmp_path / "out.csv"
        d.mkdir()
        return d, ["folder"]
    if kind == "no-parent":
        return tmp_path / "nope" / "out.csv", ["no such directory"]
    if kind == "unknown-suffix":
        return tmp_path / "out.xlsx", ["format"]
    if kind == "read-only-folder":
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d / "out.csv", ["not writable"]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["a-folder", "no-parent", "unknown-suffix", "read-only-folder"])
def test_bad_export_target_is_refused(survey, capsys, tmp_path, kind):
    if kind == "read-only-folder" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    target, words = _export_target(kind, tmp_path)
    before = label_hash(survey)
    try:
        run_cli(capsys, ["labels", "export", target, "--survey", survey, "--expert", "ann"], 2, words)
    finally:
        target.parent.chmod(0o755) if target.parent.exists() else None
    assert label_hash(survey) == before


# ------------------------------------------------------------------------------- databases
def _corrupt_pages(db):
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    n = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    data = bytearray(Path(db).read_bytes())
    for k in range(1, n):   # every page but the header page
        data[k * page + 8: k * page + 64] = b"\xa5" * 56
    Path(db).write_bytes(bytes(data))


def _foreign(with_labels):
    def f(db):
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE labels (name TEXT, colour TEXT)" if with_labels
                     else "CREATE TABLE photos (path TEXT)")
        conn.execute("INSERT INTO %s VALUES (%s)" % (("labels", "'a', 'red'") if with_labels
                                                      else ("photos", "'x.jpg'")))
        conn.commit()
        conn.close()
    return f


def _sql(statement):
    def f(db):
        conn = sqlite3.connect(db)
        conn.execute(statement)
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    return f


def _db_garbage(db):
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    Path(db).write_bytes(os.urandom(8192))


def _db_folder(db):
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    Path(db).mkdir()


DB_CASES = {
    "corrupt-pages": (_corrupt_pages, ["damaged"]),
    "foreign-with-labels": (_foreign(True), ["not a kinview database"]),
    "foreign-other-table": (_foreign(False), ["not a kinview database"]),
    "labels-dropped": (_sql("DROP TABLE labels"), ["labels"]),
    "newer-schema": (_sql("PRAGMA user_version = 99"), ["newer"]),
    "garbage": (_db_garbage, ["not a kinview database"]),
    "a-folder": (_db_folder, ["folder"]),
}
DB_COMMANDS = {
    "ingest": lambda s, t: ["ingest", s],
    "import": lambda s, t: ["labels", "import", t, "--survey", s],
    "export": lambda s, t: ["labels", "export", t.with_name("out.csv"), "--survey", s],
    "stats": lambda s, t: ["labels", "stats", "--survey", s],
    "pa": lambda s, t: ["pa", "--survey", s, "--jobs", "1"],
}


@pytest.mark.parametrize("command", sorted(DB_COMMANDS))
@pytest.mark.parametrize("case", sorted(DB_CASES))
def test_damaged_or_foreign_database_is_refused_and_never_written(survey, capsys, tmp_path,
                                                                 case, command):
    if command in ("export", "pa") and case not in ("corrupt-pages", "foreign-with-labels",
                                                    "a-folder"):
        pytest.skip("covered by the other commands")
    db = survey / "kinview.sqlite"
    good = tmp_path / "labels.csv"
    good.write_text(_label_rows(survey, "10,20,10,2,0,1,0,0"))
    corrupt, words = DB_CASES[case]
    corrupt(db)
    before = "folder" if db.is_dir() else file_hash(db)
    run_cli(capsys, DB_COMMANDS[command](survey, good), 2, words)
    assert ("folder" if db.is_dir() else file_hash(db)) == before
    assert not (db / "kinview.sqlite").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_survey_serves_read_commands_and_refuses_writes(survey, capsys, tmp_path):
    good = tmp_path / "labels.csv"
    good.write_text(_label_rows(survey, "10,20,10,2,0,1,0,0"))
    before = label_hash(survey)
    (survey / "kinview.sqlite").chmod(0o444)
    survey.chmod(0o555)
    try:
        run_cli(capsys, ["labels", "stats", "--survey", survey], 0)
        run_cli(capsys, ["labels", "export", tmp_path / "out.csv", "--survey", survey,
                         "--expert", "ann"], 0)
        run_cli(capsys, ["labels", "import", good, "--survey", survey], 2, ["read-only"])
    finally:
        survey.chmod(0o755)
        (survey / "kinview.sqlite").chmod(0o644)
    assert label_hash(survey) == before


# ------------------------------------------------------------------------------- models
def _spin_model_without_card(tmp_path):
    from kinview.paths import models_dir

    src = models_dir() / "spin-default.keras"
    dst = tmp_path / "model.keras"
    shutil.copy(src, dst)
    return dst


MODEL_CASES = {
    "spin-model-no-card": (_spin_model_without_card, ["not a vfield-quality model"]),
    "garbage": (lambda t: (t / "m.keras").write_bytes(os.urandom(4000)) and t / "m.keras", ["cannot load"]),
    "empty": (lambda t: (t / "m.keras").write_bytes(b"") or t / "m.keras", ["m.keras"]),
    "missing": (lambda t: t / "nope.keras", ["no such model"]),
    "a-folder": (lambda t: (t / "d.keras").mkdir() or t / "d.keras", ["d.keras"]),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_bad_model_file_is_refused_by_predict(survey, capsys, tmp_path, case):
    make, words = MODEL_CASES[case]
    model = make(tmp_path)
    before = label_hash(survey)
    run_cli(capsys, ["predict", "vfield-quality", "--survey", survey, "--model", model], 2, words)
    assert label_hash(survey) == before


# ------------------------------------------------------------------------------- images
def _big_png(path):
    """A PNG that says it is 20000 x 20000 pixels (the size is refused before any decoding,
    so its pixel data need not be there)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                           + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


IMAGE_CASES = {
    "decompression-bomb": _big_png,
    "empty": lambda p: Path(p).write_bytes(b""),
    "text": lambda p: Path(p).write_text("not an image"),
    "truncated": lambda p: Path(p).write_bytes(Path(p).read_bytes()[:300]),
}


def test_bad_images_are_skipped_with_a_reason_by_predict_spin(survey, capsys):
    conn = sqlite3.connect(f"file:{survey / 'kinview.sqlite'}?mode=ro", uri=True)
    images = [survey / r[0] for r in conn.execute(
        "SELECT image_path FROM galaxies WHERE image_path IS NOT NULL ORDER BY row_index")]
    conn.close()
    for make, path in zip(IMAGE_CASES.values(), images):
        make(path)
    before = label_hash(survey)
    out, _ = run_cli(capsys, ["predict", "spin", "--survey", survey, "--verbose"], 0,
                     ["without a prediction", "unreadable image"])
    assert "larger than kinview reads" in out or len(images) < 1
    assert label_hash(survey) == before


def test_image_reader_refuses_a_decompression_bomb(tmp_path):
    from kinview.data.images import ImageFormatError, load_image

    _big_png(tmp_path / "big.png")
    with pytest.raises(ImageFormatError, match="larger than kinview reads"):
        load_image(tmp_path / "big.png")


# ------------------------------------------------------------------------------- arguments
ARG_CASES = {
    "train-epochs-0": (["train", "vfield-quality", "--survey", "{s}", "--epochs", "0"], ["--epochs"]),
    "train-epochs-negative": (["train", "vfield-quality", "--survey", "{s}", "--epochs", "-3"], ["--epochs"]),
    "train-oof-1": (["train", "vfield-quality", "--survey", "{s}", "--oof", "1"], ["--oof"]),
    "pa-jobs-0": (["pa", "--survey", "{s}", "--jobs", "0"], ["--jobs"]),
    "pa-nsteps-2": (["pa", "--survey", "{s}", "--nsteps", "2"], ["--nsteps"]),
    "pa-no-survey": (["pa", "--survey", "{s}/nope"], ["no such survey"]),
    "demo-n-0": (["demo", "--out", "{t}/d", "--n", "0"], ["--n"]),
    "predict-unknown-task": (["predict", "nothing", "--survey", "{s}"], ["nothing"]),
    "ingest-not-a-dir": (["ingest", "{s}/catalogue.fits"], ["catalogue.fits"]),
    "labels-stats-no-survey": (["labels", "stats", "--survey", "{t}/none"], ["no such survey"]),
    "gui-bad-size": (["gui", "--survey", "{s}", "--screenshot", "{t}/x.png", "--size", "big"], ["--size"]),
    "export-both-who": (["labels", "export", "{t}/x.csv", "--survey", "{s}", "--expert", "a",
                         "--consensus"], ["not allowed"]),
}


@pytest.mark.parametrize("case", sorted(ARG_CASES))
def test_bad_arguments_are_refused(survey, capsys, tmp_path, case):
    argv, words = ARG_CASES[case]
    argv = [a.format(s=survey, t=tmp_path) for a in argv]
    before = label_hash(survey)
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:     # argparse errors exit from parse_args
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc == 2, (rc, err)
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1 and lines[0].startswith("kinview"), err
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]
    assert label_hash(survey) == before


# ------------------------------------------------------------------------------- environment
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_pool_workers_import_kinview_whatever_the_working_directory_holds(survey, tmp_path, jobs):
    """A folder named ``kinview`` in the working directory must not replace the package in
    the ``kinview pa`` workers (it did with ``--jobs 2``: BrokenProcessPool; ``--jobs 1`` fits
    in a worker too)."""
    import subprocess
    import sys

    cwd = tmp_path / "cwd"
    (cwd / "kinview").mkdir(parents=True)
    (cwd / "kinview" / "__init__.py").write_text("")      # an empty look-alike package
    script = tmp_path / "run_kinview.py"                     # like the console script
    script.write_text("import sys\nfrom kinview.cli.main import main\n"
                      "if __name__ == '__main__':\n    sys.exit(main())\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, str(script), "pa", "--survey", str(survey), "--jobs", jobs,
                          "--refit"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr and "fields fitted" in out.stdout
