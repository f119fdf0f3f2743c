"""Marvin as a data source (runs in the Marvin environment that .ci/run builds; skipped where
Marvin is not installed).  Local mode on the real DAP file and on demo files; no network."""
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

marvin = pytest.importorskip("marvin")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ helpers

import sas_support as ss  # noqa: E402
from kinview.data import marvin_source, sas  # noqa: E402
from kinview.data.maps import read_maps  # noqa: E402
from kinview.errors import KinviewError  # noqa: E402


def _same_field(a, b):
    assert a.vel.shape == b.vel.shape
    np.testing.assert_array_equal(a.mask, b.mask)
    ok = ~a.mask
    np.testing.assert_allclose(a.vel[ok], b.vel[ok], rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(a.x, b.x, atol=1e-4)
    np.testing.assert_allclose(a.y, b.y, atol=1e-4)


def _round_trip(path: Path, survey: Path):
    maps = marvin_source.open_maps(path)
    written = marvin_source.write_kinview_maps(maps, survey)
    original, copy = read_maps(path), read_maps(written)
    _same_field(original.stellar, copy.stellar)
    assert (original.gas is None) == (copy.gas is None)
    if original.gas is not None:
        _same_field(original.gas, copy.gas)
    return maps, written


@pytest.mark.skipif(not ss.REAL_MAPS.is_file(), reason="../shared real data absent")
def test_real_file_dev_version_is_refused_in_one_line():
    with pytest.raises(KinviewError) as err:
        marvin_source.open_maps(ss.REAL_MAPS)
    assert str(err.value).startswith("Marvin cannot open manga-7815-3702-MAPS-HYB10-GAU-"
                                     "MILESHC.fits.gz: DAP version '2.2.3dev'")
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not ss.REAL_MAPS.is_file(), reason="../shared real data absent")
def test_real_file_through_marvin_local_mode(tmp_path):
    from astropy.io import fits

    # The same real data labelled with the released DAP version of its DRP (v2_4_3 -> 2.2.1).
    fixed = tmp_path / ss.REAL_MAPS.name
    with fits.open(ss.REAL_MAPS) as hdus:
        hdus[0].header["VERSDAP"] = "2.2.1"
        hdus.writeto(fixed)
    maps, written = _round_trip(fixed, tmp_path / "survey")
    assert maps.plateifu == "7815-3702" and maps.data_origin == "file"
    assert written.relative_to(tmp_path / "survey").as_posix() == ss.DR15_MAPS_REL

    from kinview.data.survey import Survey
    from kinview.kinematics.survey_fit import fit_survey

    survey = Survey.open(tmp_path / "survey")
    fit_survey(tmp_path / "survey", method="fast", jobs=1)
    pas = dict(survey.connect().execute(
        "SELECT field, pa FROM pa_fits WHERE plateifu='7815-3702'").fetchall())
    survey.close()
    assert abs(pas["stellar"] - 167.0) < 3 and abs(pas["gas"] - 167.0) < 3


def test_demo_files_through_marvin_local_mode(tmp_path):
    files = ss.demo_maps_files(tmp_path / "demo", n=2)
    for pifu, path in files.items():
        maps, written = _round_trip(path, tmp_path / "survey")
        assert maps.plateifu == pifu and maps.release == "DR17"
        assert written.relative_to(tmp_path / "survey").as_posix() == sas.maps_path(
            pifu, "DR17")


def test_gui_plateifu_path_by_plateifu_from_marvins_local_sas(tmp_path, monkeypatch):
    files = ss.demo_maps_files(tmp_path / "demo", n=1)
    pifu, path = next(iter(files.items()))
    sas_root = tmp_path / "sas"
    target = sas_root / sas.maps_path(pifu, "DR17")
    target.parent.mkdir(parents=True)
    shutil.copyfile(path, target)
    monkeypatch.setenv("SAS_BASE_DIR", str(sas_root))
    out = marvin_source.open_into_survey([pifu], tmp_path / "survey", release="DR17",
                                         daptype="HYB10-MILESHC-MASTARSSP", mode="local")
    assert out == [tmp_path / "survey" / sas.maps_path(pifu, "DR17")]
    _same_field(read_maps(path).stellar, read_maps(out[0]).stellar)
