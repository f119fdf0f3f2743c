"""Real SDSS catalogue formats: drpall, DAPall (joined on plate-IFU + DAPTYPE), DRPComplete."""

import numpy as np
import pytest
from astropy.io import fits

import sas_support as ss
from kinview.cli.main import main as cli_main
from kinview.data import fetch_sas, sas
from kinview.data.catalogue import find_catalogue, find_dapall, read_catalogue, read_dapall
from kinview.data.survey import Survey
from kinview.errors import SurveyError


def _touch_maps(root, pifu, daptype):
    plate, ifu = pifu.split("-")
    path = root / daptype / plate / ifu / f"manga-{pifu}-MAPS-{daptype}.fits.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")  # ingest reads names only
    return path


def test_drpall_real_layout_units_and_repeat_observations(tmp_path):
    path = tmp_path / "drpall-v3_1_1.fits"
    ss.write_drpall(path, ss.CAT_ROWS)
    assert find_catalogue(tmp_path) == path
    cat = read_catalogue(path)
    assert list(cat["plateifu"]) == ["7815-3702", "8485-1901", "8486-1901"]  # MANGA, not MASTAR
    assert list(cat["mangaid"]) == ["1-113540", "1-209232", "1-209232"]
    np.testing.assert_allclose(cat["nsa_elpetro_th50_r"], [3.77, 2.5, 2.5], rtol=1e-6)  # arcmin
    assert cat.attrs["units"]["nsa_elpetro_th50_r"] == "arcsec"
    assert cat["nsa_elpetro_absmag"][0] == pytest.approx([-20, -19, -18, -17, -16, -15, -14])
    survey = Survey.open(tmp_path)
    info = survey.info("8486-1901")
    assert info["mangaid"] == "1-209232" and info["ifusize"] == 19
    assert info["re_arcsec"] == pytest.approx(2.5, rel=1e-6)
    assert info["mass"] == pytest.approx(5.0e10, rel=1e-6)
    assert info["extra"]["versdrp3"] == "v3_1_1"
    survey.close()


def test_dapall_is_joined_on_plateifu_and_the_maps_daptype(tmp_path):
    rels = sas.catalogue_paths("DR17")
    for key, writer in (("drpall", ss.write_drpall), ("dapall", ss.write_dapall)):
        target = tmp_path / rels[key]
        target.parent.mkdir(parents=True)
        writer(target, ss.CAT_ROWS)
    _touch_maps(tmp_path, "8485-1901", "VOR10-MILESHC-MASTARSSP")
    assert find_catalogue(tmp_path).name == "drpall-v3_1_1.fits"
    assert find_dapall(tmp_path).name == "dapall-v3_1_1-3.1.0.fits"
    dapall = read_dapall(find_dapall(tmp_path))
    assert len(dapall) == 3 * 4 and set(dapall["daptype"]) == set(ss.DR17_DAPTYPES)
    survey = Survey.open(tmp_path)
    report = survey.ingest()
    assert report["dapall_file"] == "dapall-v3_1_1-3.1.0.fits"
    vor = survey.extra("8485-1901")  # its MAPS file is VOR10: that DAPall row
    assert vor["dapall_daptype"] == "VOR10-MILESHC-MASTARSSP"
    assert vor["stellar_sigma_1re"] == pytest.approx(121.0)
    hyb = survey.extra("7815-3702")  # no MAPS file: the preferred DAPTYPE's row
    assert hyb["dapall_daptype"] == "HYB10-MILESHC-MASTARSSP"
    assert hyb["stellar_sigma_1re"] == pytest.approx(82.0)
    assert hyb["sfr_tot"] == pytest.approx(0.5)
    assert survey.info("7815-3702")["z"] == pytest.approx(0.0293, rel=1e-6)  # drpall wins
    survey.close()


def test_dr15_dapall_single_table_with_daptype_column(tmp_path):
    path = tmp_path / "dapall-v2_4_3-2.2.1.fits"
    ss.write_dapall(path, ss.CAT_ROWS, daptypes=sas.RELEASES["DR15"].daptypes, dr15=True)
    with fits.open(path) as hdus:
        assert [h.name for h in hdus] == ["PRIMARY", "DAPALL"]
    dapall = read_dapall(path)
    assert sorted(set(dapall["daptype"])) == ["HYB10-GAU-MILESHC", "VOR10-GAU-MILESHC"]


def _write_drpcomplete(path):
    """The DAP's DRPComplete table as the datamodel has it (extension DRPC)."""
    n = 3
    cols = [
        fits.Column("PLATE", "J", array=np.array([7443, 7815, 8485], dtype=np.int32)),
        fits.Column("IFUDESIGN", "J", array=np.array([1901, 3702, 12701], dtype=np.int32)),
        fits.Column("MODES", "B", array=np.full(n, 2, dtype=np.uint8)),
        fits.Column("MANGAID", "36A", array=np.array(["12-84620", "1-113540", "1-1"])),
        fits.Column("OBJRA", "D", array=np.array([231.0, 317.9, 232.5])),
        fits.Column("OBJDEC", "D", array=np.array([42.0, 11.5, 48.7])),
        fits.Column("VEL", "D", array=np.array([5623.99, 8808.5919386934, -9999.0])),
        fits.Column("VDISP", "D", array=np.full(n, -9999.0)),
        fits.Column("ELL", "D", array=np.array([0.178492, 0.110844, -9999.0])),
        fits.Column("PA", "D", array=np.array([68.4571, 163.245, -9999.0])),
        fits.Column("REFF", "D", array=np.array([3.77785, 3.77495, -9999.0])),
    ]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="DRPC")]
                 ).writeto(path)


def _check_7815(info):
    assert info["z"] == pytest.approx(8808.5919386934 / 299792.458)
    assert info["ba"] == pytest.approx(1 - 0.110844)
    assert info["phi"] == pytest.approx(163.245)
    assert info["re_arcsec"] == pytest.approx(3.77495)
    assert info["ifusize"] == 37 and info["mangaid"] == "1-113540"


def test_drpcomplete_fixture(tmp_path):
    _write_drpcomplete(tmp_path / "drpcomplete_v2_7_1.fits")
    survey = Survey.open(tmp_path)
    assert survey.plateifus() == ["7443-1901", "7815-3702", "8485-12701"]
    _check_7815(survey.info("7815-3702"))
    bad = survey.info("8485-12701")
    assert bad["ifusize"] == 127 and bad["z"] is None and bad["ba"] is None
    survey.close()


@pytest.mark.skipif(not ss.REAL_DRPCOMPLETE.is_file(), reason="../shared real data absent")
def test_real_drpcomplete_v2_7_1(tmp_path):
    cat = read_catalogue(ss.REAL_DRPCOMPLETE)
    assert len(cat) == 8405 and cat["plateifu"].is_unique
    (tmp_path / "catalogue.fits").symlink_to(ss.REAL_DRPCOMPLETE)
    if ss.REAL_MAPS.is_file():
        (tmp_path / ss.REAL_MAPS.name).symlink_to(ss.REAL_MAPS)
    survey = Survey.open(tmp_path)
    _check_7815(survey.info("7815-3702"))
    with_z = survey.galaxies(extra=False)["z"].notna().sum()
    assert with_z == 8405 - 275  # the rows with VEL = -9999 have no redshift
    survey.close()


def test_a_table_without_plate_ids_is_still_refused(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text("objra,objdec\n1,2\n")
    with pytest.raises(SurveyError, match="no 'plateifu' column"):
        read_catalogue(path)


def test_fetch_catalogue_from_a_mirror_then_ingest(tmp_path, capsys):
    mirror = tmp_path / "mirror"
    rels = sas.catalogue_paths("DR17")
    for key, writer in (("drpall", ss.write_drpall), ("dapall", ss.write_dapall)):
        target = mirror / rels[key]
        target.parent.mkdir(parents=True)
        writer(target, ss.CAT_ROWS)
    srv = ss.start(mirror)
    try:
        d = tmp_path / "D"
        assert cli_main(["fetch-catalogue", "--survey", str(d), "--base-url", srv.base]) == 0
        assert (d / rels["drpall"]).is_file() and (d / rels["dapall"]).is_file()
        survey = Survey.open(d)
        assert len(survey) == 3
        assert survey.meta()["dapall"] == "dapall-v3_1_1-3.1.0.fits"
        survey.close()
        # fetch-maps --from-catalogue takes the plate-IFUs from that drpall.
        assert fetch_sas.catalogue_plateifus(d) == ["7815-3702", "8485-1901", "8486-1901"]
        srv.requests.clear()
        report = fetch_sas.fetch_catalogue(d, base_url=srv.base)
        assert report.skipped == 2 and srv.requests == []
    finally:
        ss.stop(srv)
