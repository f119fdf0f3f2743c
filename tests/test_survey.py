"""Survey discovery, ingest into SQLite, reading back, and the ``kinview ingest`` command."""
import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from astropy.table import Table

from kinview.cli.main import main as cli_main
from kinview.data.survey import Survey, daptype_rank
from kinview.db.connection import connect, transaction
from kinview.errors import Cancelled, KinviewError, SurveyError
from kinview.progress import TaskState

SAS = "spectro/analysis/v3_1_1/3.1.0"


def _touch(path, data=b"placeholder"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _catalogue(root, pifus, name="catalogue.fits", **extra):
    n = len(pifus)
    t = Table({"PLATEIFU": pifus, "MANGAID": [f"1-{k}" for k in range(n)],
               "OBJRA": np.linspace(150, 151, n), "OBJDEC": np.linspace(2, 3, n),
               "IFUDESIGNSIZE": np.full(n, 37), "NSA_Z": np.full(n, 0.03),
               "NSA_ELPETRO_TH50_R": np.full(n, 5.0), "NSA_ELPETRO_BA": np.full(n, 0.5),
               "NSA_ELPETRO_PHI": np.full(n, 30.0), "NSA_SERSIC_N": np.full(n, 2.0),
               "NSA_ELPETRO_MASS": np.full(n, 1e10), "NSA_ELPETRO_ABSMAG": np.zeros((n, 7)),
               **extra})
    t.write(root / name, overwrite=True)


@pytest.fixture
def sas_survey(tmp_path):
    """Catalogue of 4 galaxies; MAPS files in a SAS tree (several DAPTYPEs for one galaxy),
    one catalogue row without MAPS, one MAPS file without a catalogue row, 2 images."""
    root = tmp_path / "survey"
    root.mkdir()
    _catalogue(root, ["8485-1901", "7443-12701", "8485-3702", "9000-6101"],
               LAMBDA_RE=[0.5, np.nan, 0.2, -999.0], COMMENT=["a", "b", "c", "d"],
               Z=[0.031, 0.021, 0.041, 0.051])
    for daptype in ("SPX-MILESHC-MASTARSSP", "VOR10-MILESHC-MASTARSSP",
                    "HYB10-MILESHC-MASTARSSP", "HYB10-GAU-MILESHC"):
        _touch(root / SAS / daptype / "8485" / "1901" / f"manga-8485-1901-MAPS-{daptype}.fits.gz")
    _touch(root / SAS / "HYB10-MILESHC-MASTARSSP/7443/12701/"
           "manga-7443-12701-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz")
    _touch(root / "dr15" / "manga-8485-3702-MAPS-VOR10-GAU-MILESHC.fits")
    _touch(root / "extra" / "manga-8000-1902-MAPS-HYB10-MILESHC-MASTARSSP.fits")   # no catalogue row
    _touch(root / "images" / "8485-1901.jpg")
    _touch(root / "images" / "7443-12701.png")
    _touch(root / "images" / "7443-12701.jpg")
    _touch(root / "notes" / "manga-8485-1901-LOGCUBE-HYB10-MILESHC-MASTARSSP.fits.gz")  # not MAPS
    return root


def test_discovery_pairs_catalogue_maps_and_images(sas_survey):
    survey = Survey.open(sas_survey)
    g = survey.galaxies()
    # catalogue order first, then MAPS files without catalogue rows
    assert list(g.index) == ["8485-1901", "7443-12701", "8485-3702", "9000-6101", "8000-1902"]
    # preferred DAPTYPE: HYB10 over VOR10 over SPX, DR17 over DR15
    assert g.loc["8485-1901", "daptype"] == "HYB10-MILESHC-MASTARSSP"
    assert g.loc["8485-1901", "maps_path"] == (f"{SAS}/HYB10-MILESHC-MASTARSSP/8485/1901/"
                                               "manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz")
    assert g.loc["8485-3702", "daptype"] == "VOR10-GAU-MILESHC"
    # catalogue row without MAPS: listed, no path (the GUI says what is missing)
    assert survey.maps_path("9000-6101") is None
    # MAPS without catalogue row: listed with NULL catalogue values
    assert survey.maps_path("8000-1902") == sas_survey / "extra/manga-8000-1902-MAPS-HYB10-MILESHC-MASTARSSP.fits"
    assert np.isnan(g.loc["8000-1902", "ra"])
    # images: .jpg preferred over .png, paths relative to the root
    assert g.loc["7443-12701", "image_path"] == "images/7443-12701.jpg"
    assert survey.image_path("8485-1901") == sas_survey / "images/8485-1901.jpg"
    assert survey.image_path("8485-3702") is None and survey.read_image("8485-3702") is None
    # catalogue values mapped to named columns; drpall's -999 sentinel is missing
    assert g.loc["8485-1901", "ra"] == pytest.approx(150.0)
    assert g.loc["8485-1901", "z"] == pytest.approx(0.03)
    assert g.loc["8485-1901", "ifusize"] == 37
    assert g.loc["8485-1901", "lambda_re"] == pytest.approx(0.5)
    assert np.isnan(g.loc["9000-6101", "lambda_re"])
    # other catalogue columns kept as JSON (multi-dim columns too)
    extra = survey.extra("8485-3702")
    assert extra["comment"] == "c" and extra["nsa_elpetro_absmag"] == [0.0] * 7
    assert extra["z"] == pytest.approx(0.041)      # drpall's own z kept; nsa_z is 'z' above
    assert survey.plateifus() == list(g.index)


def test_ingest_report_and_meta(sas_survey):
    survey = Survey.open(sas_survey, ingest=False)
    assert survey.n_galaxies() == 0
    report = survey.ingest()
    assert report["galaxies"] == 5 and report["catalogue"] == 4
    assert report["with_maps"] == 4 and report["maps_only"] == 1 and report["catalogue_only"] == 1
    assert report["maps_files"] == 7 and report["with_images"] == 2
    meta = survey.meta()
    assert meta["catalogue"] == "catalogue.fits" and meta["n_galaxies"] == "5"
    assert meta["ingest_time"].startswith(time.strftime("%Y", time.gmtime()))


def test_reingest_keeps_labels_and_follows_the_disk(sas_survey):
    survey = Survey.open(sas_survey)
    conn = connect(sas_survey)
    with transaction(conn):
        conn.execute("INSERT INTO labels (plateifu, field, kind, value_num, expert, created) "
                     "VALUES ('8485-1901', 'stellar', 'quality', 2, 'kb', '2026-01-01')")
    (sas_survey / "images" / "8485-1901.jpg").unlink()
    shutil.rmtree(sas_survey / "extra")
    _touch(sas_survey / "images" / "9000-6101.jpg")
    report = survey.ingest()
    assert report["removed"] == 1
    g = survey.galaxies()
    assert "8000-1902" not in g.index
    assert g["image_path"].isna()["8485-1901"] and g.loc["9000-6101", "image_path"] == "images/9000-6101.jpg"
    assert conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 1


def test_malformed_catalogue_leaves_index_unchanged(sas_survey):
    survey = Survey.open(sas_survey)
    before = survey.galaxies()
    (sas_survey / "catalogue.fits").unlink()
    (sas_survey / "catalogue.csv").write_text("objra,objdec\n1,2\n")
    with pytest.raises(SurveyError, match="catalogue.csv.*plateifu"):
        survey.ingest()
    assert survey.galaxies().equals(before)


def test_cancelled_ingest_writes_nothing(sas_survey):
    survey = Survey.open(sas_survey, ingest=False)
    state = TaskState()
    state.cancel()
    with pytest.raises(Cancelled):
        survey.ingest(state=state)
    assert survey.n_galaxies() == 0


def test_survey_can_move(sas_survey, tmp_path):
    Survey.open(sas_survey).close()
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(sas_survey, moved)
    survey = Survey.open(moved)          # already indexed: no re-ingest needed
    path = survey.maps_path("7443-12701")
    assert path.is_file() and str(path).startswith(str(moved.resolve()))


def test_errors_are_one_line(tmp_path, sas_survey):
    with pytest.raises(SurveyError, match="no such survey directory"):
        Survey.open(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SurveyError, match="no catalogue"):
        Survey.open(tmp_path / "empty")
    survey = Survey.open(sas_survey)
    with pytest.raises(KinviewError, match="1234-5678: no such galaxy"):
        survey.maps_path("1234-5678")
    with pytest.raises(KinviewError, match="9000-6101: no MAPS file"):
        survey.read_maps("9000-6101")


def test_maps_only_survey_without_catalogue(tmp_path):
    _touch(tmp_path / "manga-8485-1901-MAPS-HYB10-GAU-MILESHC.fits.gz")
    _touch(tmp_path / "manga-8485-1901-MAPS-HYB10-GAU-MILESHC.fits")
    _touch(tmp_path / "sub" / "manga-10001-12701-MAPS-VOR10-GAU-MILESHC.fits")
    survey = Survey.open(tmp_path)
    assert survey.plateifus() == ["8485-1901", "10001-12701"]      # numeric plate order
    assert survey.galaxies().loc["8485-1901", "maps_path"].endswith(".fits")   # .fits before .gz


def test_read_maps_reads_the_real_file(tmp_path):
    from kinview.data.maps_writer import write_maps

    yy, xx = np.mgrid[-10:11, -10:11] * 0.5
    vel = 100 * np.tanh(-xx / 3.0)          # receding towards the West (x < 0)
    d = tmp_path / SAS / "HYB10-MILESHC-MASTARSSP" / "8485" / "1901"
    d.mkdir(parents=True)
    write_maps(d / "manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz", "8485-1901",
               x=-xx, y=yy, stellar_vel=vel)
    _catalogue(tmp_path, ["8485-1901"])
    maps = Survey.open(tmp_path).read_maps("8485-1901")
    assert maps.plateifu == "8485-1901" and maps.stellar.vel.shape == (21, 21)
    assert np.nanmax(maps.stellar.vel) == pytest.approx(vel.max(), rel=1e-5)


def test_daptype_rank_order():
    ranked = sorted(["SPX-MILESHC-MASTARSSP", "HYB10-GAU-MILESHC", "VOR10-MILESHC-MASTARSSP",
                     "HYB10-MILESHC-MASTARSSP", "FOO10-BAR", "HYB10-MILESHC-MASTARHC2"],
                    key=daptype_rank)
    assert ranked == ["HYB10-MILESHC-MASTARSSP", "HYB10-MILESHC-MASTARHC2", "HYB10-GAU-MILESHC",
                      "VOR10-MILESHC-MASTARSSP", "SPX-MILESHC-MASTARSSP", "FOO10-BAR"]


def test_survey_is_usable_from_another_thread(sas_survey):
    import threading

    survey = Survey.open(sas_survey)
    out = {}
    t = threading.Thread(target=lambda: out.update(n=len(survey.galaxies()),
                                                   p=survey.maps_path("8485-1901")))
    t.start()
    t.join()
    assert out["n"] == 5 and out["p"] == survey.maps_path("8485-1901")


def test_two_thousand_galaxies_index_in_catalogue_order(tmp_path):
    n = 2000
    pifus = [f"{8000 + k // 10}-{1901 + k % 10}" for k in range(n)]
    _catalogue(tmp_path, pifus)
    stub = _touch(tmp_path / "stub")
    for p in pifus:
        plate, ifu = p.split("-")
        d = tmp_path / SAS / "HYB10-MILESHC-MASTARSSP" / plate / ifu
        d.mkdir(parents=True, exist_ok=True)
        (d / f"manga-{p}-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz").hardlink_to(stub)
    survey = Survey.open(tmp_path)
    g = survey.galaxies()
    # (speed: benchmarks/ingest_speed.py measures 10,000 galaxies)
    assert len(g) == n and g["maps_path"].notna().all()
    assert list(g.index) == pifus


def test_cli_ingest(sas_survey, capsys):
    assert cli_main(["ingest", str(sas_survey), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["galaxies"] == 5 and report["with_maps"] == 4
    assert cli_main(["ingest", str(sas_survey / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kinview: error:") and "no such survey directory" in err
    assert len(err.splitlines()) == 1


def test_cli_ingest_subprocess(sas_survey):
    out = subprocess.run([sys.executable, "-m", "kinview", "ingest", str(sas_survey)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "galaxies: 5" in out.stdout and "catalogue_only: 1" in out.stdout


def test_symlinked_tree_is_followed_without_looping(tmp_path):
    data = tmp_path / "sas"
    _touch(data / "8485" / "1901" / "manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz")
    (data / "8485" / "1901" / "loop").symlink_to(data)          # a cycle
    root = tmp_path / "survey"
    root.mkdir()
    (root / "linked").symlink_to(data)
    survey = Survey.open(root)
    assert survey.plateifus() == ["8485-1901"]
    assert survey.maps_path("8485-1901").is_file()


def test_is_stale_after_catalogue_or_images_change(sas_survey):
    survey = Survey.open(sas_survey)
    assert not survey.is_stale()
    time.sleep(0.01)
    _touch(sas_survey / "images" / "9000-6101.jpg")
    assert survey.is_stale()
    survey.ingest()
    assert not survey.is_stale()
    _catalogue(sas_survey, ["8485-1901"])
    assert survey.is_stale()


def test_read_image_returns_rgb_uint8_top_row_first(tmp_path):
    from PIL import Image

    _catalogue(tmp_path, ["8485-1901"])
    rgb = np.zeros((40, 30, 3), np.uint8)
    rgb[:10] = (250, 0, 0)                      # top (North) rows red
    (tmp_path / "images").mkdir()
    Image.fromarray(rgb).save(tmp_path / "images" / "8485-1901.png")
    img = Survey.open(tmp_path).read_image("8485-1901")
    assert img.shape == (40, 30, 3) and img.dtype == np.uint8
    assert tuple(img[0, 0]) == (250, 0, 0) and tuple(img[-1, 0]) == (0, 0, 0)
