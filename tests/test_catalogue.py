"""Reading survey catalogues: drpall FITS, CSV, ECSV; priority; clear errors."""
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.table import Table

from kinview.data.catalogue import find_catalogue, read_catalogue
from kinview.errors import SurveyError


def _drpall_hdus(n=4):
    """A drpall-like FITS file: upper-case names, padded byte strings, a 7-band column,
    plate + ifudsgn but no plateifu, and a MaStar table before the MaNGA one."""
    cols = [
        fits.Column("PLATE", "J", array=np.array([8485, 8485, 7443, 7443][:n])),
        fits.Column("IFUDSGN", "6A", array=np.array([b"1901  ", b"3702", b"12701", b"6102"][:n])),
        fits.Column("MANGAID", "9A", array=np.array([b"1-209232 ", b"1-1", b"1-2", b"1-3"][:n])),
        fits.Column("OBJRA", "D", array=np.linspace(232.5, 233.0, n)),
        fits.Column("OBJDEC", "D", array=np.linspace(48.6, 48.9, n)),
        fits.Column("NSA_Z", "E", array=np.array([0.0367, 0.02, -999.0, 0.05][:n])),
        fits.Column("NSA_ELPETRO_ABSMAG", "7E", array=np.arange(7 * n, dtype=float).reshape(n, 7)),
        fits.Column("IFUDESIGNSIZE", "J", array=np.array([19, 37, 127, 61][:n])),
    ]
    mastar = fits.BinTableHDU.from_columns([fits.Column("MANGAID", "5A", array=[b"3-1"])],
                                           name="MASTAR")
    manga = fits.BinTableHDU.from_columns(cols, name="MANGA")
    return fits.HDUList([fits.PrimaryHDU(), mastar, manga])


def test_drpall_fits_builds_plateifu_and_decodes_strings(tmp_path):
    path = tmp_path / "drpall-v3_1_1.fits"
    _drpall_hdus().writeto(path)
    df = read_catalogue(path)
    assert list(df["plateifu"]) == ["8485-1901", "8485-3702", "7443-12701", "7443-6102"]
    assert df.loc[0, "mangaid"] == "1-209232"          # decoded and stripped
    assert "objra" in df.columns and "nsa_z" in df.columns   # lower-cased
    assert df.loc[0, "objra"] == pytest.approx(232.5)
    # the multi-dimensional column survives as one list per row
    assert list(df.loc[1, "nsa_elpetro_absmag"]) == pytest.approx(list(range(7, 14)))


def test_csv_with_pandas_index_column_and_extra_columns(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text(",plateifu,stellar_pa,objra,objdec,nsa_z,plate\n"
                    "0,10001-6101,151.0,137.04,57.42,0.0278,10001\n"
                    "1, 10001-6104 ,136.0,136.62,56.80,0.0299,10001\n")
    df = read_catalogue(path)
    assert list(df["plateifu"]) == ["10001-6101", "10001-6104"]
    assert "unnamed: 0" not in df.columns
    assert df["stellar_pa"].tolist() == [151.0, 136.0]   # extra columns kept


def test_ecsv_round_trip(tmp_path):
    t = Table({"PlateIFU": ["8485-1901", "7443-12701"], "objra": [1.0, 2.0],
               "lambda_re": [0.3, np.nan]})
    path = tmp_path / "catalogue.ecsv"
    t.write(path, format="ascii.ecsv")
    df = read_catalogue(path)
    assert list(df["plateifu"]) == ["8485-1901", "7443-12701"]
    assert df["lambda_re"].iloc[0] == pytest.approx(0.3) and np.isnan(df["lambda_re"].iloc[1])


def test_duplicate_plateifus_keep_first_row(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text("plateifu,objra\n1-2,10\n1-2,20\n3-4,30\n")
    df = read_catalogue(path)
    assert list(df["plateifu"]) == ["1-2", "3-4"] and df["objra"].tolist() == [10, 30]


def test_missing_plateifu_column_is_one_line_error_naming_file_and_column(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text("objra,objdec\n1,2\n")
    with pytest.raises(SurveyError) as err:
        read_catalogue(path)
    msg = str(err.value)
    assert "catalogue.csv" in msg and "plateifu" in msg and "\n" not in msg


def test_unreadable_fits_is_one_line_error(tmp_path):
    path = tmp_path / "catalogue.fits"
    path.write_bytes(b"SIMPLE  =  this is not really a FITS file" * 3)
    with pytest.raises(SurveyError) as err:
        read_catalogue(path)
    assert "catalogue.fits" in str(err.value) and "\n" not in str(err.value)


def test_empty_plateifu_values_refused(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text("plateifu,objra\n1-2,1\n,2\n")
    with pytest.raises(SurveyError, match="empty 'plateifu'"):
        read_catalogue(path)


def test_find_catalogue_priority(tmp_path):
    assert find_catalogue(tmp_path) is None
    pd.DataFrame({"plateifu": ["1-2"]}).to_csv(tmp_path / "drpall-v2_4_3.fits.csv", index=False)
    Table({"plateifu": ["1-2"]}).write(tmp_path / "drpall-v2_4_3.fits")
    Table({"plateifu": ["1-2"]}).write(tmp_path / "drpall-v3_1_1.fits")
    assert find_catalogue(tmp_path).name == "drpall-v3_1_1.fits"   # newest drpall
    (tmp_path / "catalogue.csv").write_text("plateifu\n1-2\n")
    assert find_catalogue(tmp_path).name == "catalogue.csv"
    Table({"plateifu": ["1-2"]}).write(tmp_path / "catalogue.fits")
    assert find_catalogue(tmp_path).name == "catalogue.fits"
