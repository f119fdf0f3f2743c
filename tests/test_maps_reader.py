"""MAPS reader/writer on real FITS files: both releases, gz and not, and corrupt files."""
import gzip

import numpy as np
import pytest
from astropy.io import fits

from kinview.data.dapbits import bit_value, decode, default_donotuse_mask
from kinview.data.images import ImageFormatError, load_image, save_jpeg
from kinview.data.maps import find_channel, read_maps
from kinview.data.maps_writer import (EMLINE_CHANNELS_DR15, EMLINE_CHANNELS_DR17,
                                      write_maps)
from kinview.errors import KinviewError, MapsFormatError

N = 34
DONOTUSE = bit_value("DONOTUSE")
NOCOV = bit_value("NOCOV")
UNRELIABLE = bit_value("UNRELIABLE")


def _grid(n=N):
    j, i = np.mgrid[:n, :n]
    x = -(i - (n - 1) / 2) * 0.5     # East positive, decreasing with column (East left)
    y = (j - (n - 1) / 2) * 0.5      # North positive, increasing with row
    return x, y


def _model(pa=60.0, vmax=150.0):
    """A disk receding toward PA (deg E of N): v > 0 along (sin PA, cos PA) in (x_E, y_N)."""
    x, y = _grid()
    p = np.radians(pa)
    along = x * np.sin(p) + y * np.cos(p)
    vel = vmax * np.tanh(along / 2.0)
    out = np.hypot(x, y) > 7.0
    mask = np.where(out, NOCOV | DONOTUSE, 0).astype(np.int32)
    mask[17, 3] |= UNRELIABLE        # a flagged spaxel inside the IFU (no DONOTUSE bit)
    vel = np.where(out, np.nan, vel)
    return x, y, vel, mask


def _write(tmp_path, release="DR17", gz=False, plateifu="8485-1901", **kw):
    x, y, vel, mask = _model()
    daptype = "HYB10-MILESHC-MASTARSSP" if release == "DR17" else "HYB10-GAU-MILESHC"
    name = f"manga-{plateifu}-MAPS-{daptype}.fits" + (".gz" if gz else "")
    path = tmp_path / name
    ivar = np.where(np.isfinite(vel), 1 / 25.0, 0.0)
    gas = np.where(np.isfinite(vel), -0.8 * np.nan_to_num(vel), np.nan)   # counter-rotating
    gmask = mask.copy()
    gmask[20, 20] |= NOCOV | DONOTUSE
    args = dict(stellar_vel_ivar=ivar, stellar_vel_mask=mask,
                stellar_sigma=np.where(np.isfinite(vel), 120.0, np.nan),
                stellar_sigmacorr=np.full(vel.shape, 30.0),
                gas_vel=gas, gas_vel_ivar=ivar, gas_vel_mask=gmask,
                gas_sigma=np.where(np.isfinite(vel), 60.0, np.nan),
                gas_instsigma=np.full(vel.shape, 70.0),
                gas_flux=np.where(np.isfinite(vel), 5.0, np.nan),
                spx_mflux=np.exp(-np.hypot(x, y) / 3.0),
                ell_ba=0.5, ell_pa=60.0, reff=4.0, objra=150.1, objdec=2.2, z=0.035,
                release=release, gzip=gz)
    args.update(kw)
    write_maps(path, plateifu, daptype, x, y, vel, **args)
    return path, (x, y, vel, mask, gas, gmask)


@pytest.mark.parametrize("release", ["DR17", "DR15"])
@pytest.mark.parametrize("gz", [False, True])
def test_roundtrip_values_masks_and_channels(tmp_path, release, gz):
    path, (x, y, vel, mask, gas, gmask) = _write(tmp_path, release, gz)
    m = read_maps(path)
    assert m.plateifu == "8485-1901"
    assert m.daptype == ("HYB10-MILESHC-MASTARSSP" if release == "DR17" else "HYB10-GAU-MILESHC")
    assert m.header["OBJRA"] == pytest.approx(150.1)
    assert m.header["SCINPVEL"] == pytest.approx(299792.458 * 0.035)
    s = m.stellar
    good = np.isfinite(vel)
    np.testing.assert_allclose(s.vel[good], vel[good], rtol=1e-6)
    np.testing.assert_array_equal(s.maskbits, mask)
    # masked: outside the IFU and the UNRELIABLE spaxel; everything else usable
    expected_mask = ~good
    expected_mask[17, 3] = True
    np.testing.assert_array_equal(s.mask, expected_mask)
    assert s.valid.sum() == good.sum() - 1
    np.testing.assert_allclose(s.sigma_corr, 30.0)
    assert s.sigma[good].mean() == pytest.approx(120.0)
    # gas: Ha found by name, its own mask
    g = m.gas
    np.testing.assert_allclose(g.vel[good], gas[good], rtol=1e-6)
    assert g.mask[20, 20] and not s.mask[20, 20]
    np.testing.assert_allclose(g.sigma_corr[good], 70.0)
    np.testing.assert_allclose(g.flux[good], 5.0)
    # SPX_ELLCOO from the ellipse written in the header
    assert m.ell_ba == pytest.approx(0.5) and m.ell_pa == pytest.approx(60.0)
    assert m.reff == pytest.approx(4.0)
    np.testing.assert_allclose(m.r_re, m.r_arcsec / 4.0, rtol=1e-5, atol=1e-5)
    # binids: one spaxel per bin, -1 outside
    assert (s.binid[~good] == -1).all() and len(np.unique(s.binid[good])) == good.sum()
    assert s.unique_bin_spaxels().sum() == s.valid.sum()


def test_skycoo_orientation_and_receding_side(tmp_path):
    """x is East-positive and decreases with column (East left); v > 0 toward the PA."""
    path, _ = _write(tmp_path)
    m = read_maps(path)
    x, y = m.stellar.x, m.stellar.y
    assert x[0, 0] > x[0, -1] and y[-1, 0] > y[0, 0]
    assert abs(x[N // 2, N // 2]) < 0.5 and abs(y[N // 2, N // 2]) < 0.5
    # A spaxel 4" toward PA=60 (North-East: x>0, y>0) recedes
    p = np.radians(60)
    d = (x - 4 * np.sin(p)) ** 2 + (y - 4 * np.cos(p)) ** 2
    j, i = np.unravel_index(np.argmin(d), d.shape)
    assert m.stellar.vel[j, i] > 100
    assert m.gas.vel[j, i] < -80          # the gas of this file counter-rotates


def test_channels_found_by_name_in_both_releases(tmp_path):
    p17, _ = _write(tmp_path / "a", "DR17")
    p15, _ = _write(tmp_path / "b", "DR15")
    h17 = fits.getheader(p17, "EMLINE_GVEL")
    h15 = fits.getheader(p15, "EMLINE_GVEL")
    assert h17["C24"].strip() == "Ha-6564" and h15["C19"].strip() == "Ha-6564"
    assert find_channel(h17, "Ha-6564") == 23 and find_channel(h15, "Ha-6564") == 18
    assert h17["NAXIS3"] == len(EMLINE_CHANNELS_DR17) == 35
    assert h15["NAXIS3"] == len(EMLINE_CHANNELS_DR15) == 22
    assert find_channel(h17, "NII-6585") == 24
    with pytest.raises(KeyError):
        find_channel(h17, "Xx-1234")
    # DR17 SIGMACORR has two channels, DR15 one plane
    assert fits.getdata(p17, "STELLAR_SIGMACORR").ndim == 3
    assert fits.getdata(p15, "STELLAR_SIGMACORR").ndim == 2


def test_reader_agrees_with_plain_astropy(tmp_path):
    path, _ = _write(tmp_path, gz=True)
    m = read_maps(path)
    with fits.open(path) as h:
        names = [hdu.name for hdu in h]
        for ext in ("STELLAR_VEL", "STELLAR_VEL_MASK", "EMLINE_GVEL", "SPX_SKYCOO", "BINID",
                    "EMLINE_GFLUX", "SPX_ELLCOO", "STELLAR_SIGMA"):
            assert ext in names
        ha = find_channel(h["EMLINE_GVEL"].header, "Ha-6564")
        np.testing.assert_array_equal(m.gas.vel, h["EMLINE_GVEL"].data[ha])
        np.testing.assert_array_equal(m.stellar.vel_ivar, h["STELLAR_VEL_IVAR"].data)
        np.testing.assert_array_equal(m.stellar.x, h["SPX_SKYCOO"].data[0])
        assert h["STELLAR_VEL_MASK"].data.dtype.kind == "i"
        assert h["STELLAR_VEL"].header["QUALDATA"] == "STELLAR_VEL_MASK"
        assert h["STELLAR_VEL"].header["ERRDATA"] == "STELLAR_VEL_IVAR"
        assert h[0].header["DAPTYPE"] == "HYB10-MILESHC-MASTARSSP"
        h.verify("exception")


def _one_line(exc, path, *words):
    text = str(exc.value)
    assert "\n" not in text
    assert str(path) in text
    for w in words:
        assert w.lower() in text.lower(), text


def test_missing_and_not_fits(tmp_path):
    with pytest.raises(MapsFormatError) as e:
        read_maps(tmp_path / "nope.fits")
    _one_line(e, tmp_path / "nope.fits", "no such file")
    txt = tmp_path / "manga-1-2-MAPS-HYB10-MILESHC-MASTARSSP.fits"
    txt.write_text("this is not a FITS file\n" * 300)
    with pytest.raises(MapsFormatError) as e:
        read_maps(txt)
    _one_line(e, txt, "not a FITS file")
    empty = tmp_path / "empty.fits"
    empty.write_bytes(b"")
    with pytest.raises(MapsFormatError) as e:
        read_maps(empty)
    _one_line(e, empty, "empty")


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("cut", ["header", "middle", "last-data", "padding"])
def test_truncated(tmp_path, gz, cut):
    path, _ = _write(tmp_path, gz=gz)
    raw = path.read_bytes()
    keep = {"header": 2000, "middle": len(raw) // 2, "last-data": len(raw) - 4000,
            "padding": len(raw) - 100}[cut]
    path.write_bytes(raw[:keep])
    with pytest.raises(MapsFormatError) as e:
        read_maps(path)
    _one_line(e, path, "truncated")


def test_fits_without_stellar_vel(tmp_path):
    path = tmp_path / "manga-8485-1901-MAPS-HYB10-MILESHC-MASTARSSP.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4, 4), np.float32),
                                                   name="SPX_SKYCOO")]).writeto(path)
    with pytest.raises(MapsFormatError) as e:
        read_maps(path)
    _one_line(e, path, "missing extension STELLAR_VEL")


def test_missing_mask_extension(tmp_path):
    path, _ = _write(tmp_path)
    with fits.open(path) as h:
        del h["STELLAR_VEL_MASK"]
        out = tmp_path / "nomask.fits"
        h.writeto(out)
    with pytest.raises(MapsFormatError) as e:
        read_maps(out)
    _one_line(e, out, "STELLAR_VEL_MASK")


def test_wrong_shape(tmp_path):
    path, _ = _write(tmp_path)
    with fits.open(path) as h:
        h["EMLINE_GVEL_MASK"].data = np.zeros((35, 10, 12), np.int32)
        out = tmp_path / "shape.fits"
        h.writeto(out)
    with pytest.raises(MapsFormatError) as e:
        read_maps(out)
    _one_line(e, out, "EMLINE_GVEL_MASK", "shape")


def test_no_halpha_channel_keeps_the_stellar_field(tmp_path):
    path, (x, y, vel, mask, gas, gmask) = _write(tmp_path)
    with fits.open(path) as h:
        h["EMLINE_GVEL"].header["C24"] = "Hx-9999"
        out = tmp_path / "noha.fits"
        h.writeto(out)
    m = read_maps(out)
    assert m.gas is None
    assert "Ha-6564" in m.missing["gas"] and "EMLINE_GVEL" in m.missing["gas"]
    np.testing.assert_array_equal(m.stellar.vel, read_maps(path).stellar.vel)


def test_bunit_m_per_s_is_converted_to_km_per_s(tmp_path):
    path, (x, y, vel, mask, gas, gmask) = _write(tmp_path)
    ref = read_maps(path)
    with fits.open(path) as h:
        for ext in ("STELLAR_VEL", "EMLINE_GVEL"):
            h[ext].data = h[ext].data * 1000.0
            h[ext].header["BUNIT"] = "m/s"
        for ext in ("STELLAR_VEL_IVAR", "EMLINE_GVEL_IVAR"):
            h[ext].data = h[ext].data / 1e6
        out = tmp_path / "ms.fits"
        h.writeto(out)
    m = read_maps(out)
    np.testing.assert_allclose(m.stellar.vel, ref.stellar.vel, rtol=1e-6)
    np.testing.assert_allclose(m.gas.vel, ref.gas.vel, rtol=1e-6)
    np.testing.assert_allclose(m.stellar.vel_ivar, ref.stellar.vel_ivar, rtol=1e-5)


def test_bunit_not_a_velocity_is_refused(tmp_path):
    path, _ = _write(tmp_path)
    with fits.open(path) as h:
        h["STELLAR_VEL"].header["BUNIT"] = "1E-17 erg/s/cm^2/spaxel"
        out = tmp_path / "flux.fits"
        h.writeto(out)
    with pytest.raises(MapsFormatError) as e:
        read_maps(out)
    _one_line(e, out, "STELLAR_VEL", "BUNIT")


def test_wrong_shaped_stellar_vel_is_named(tmp_path):
    path, _ = _write(tmp_path)
    with fits.open(path) as h:
        h["STELLAR_VEL"].data = h["STELLAR_VEL"].data[:-2, :-2].copy()
        out = tmp_path / "shape.fits"
        h.writeto(out)
    with pytest.raises(MapsFormatError) as e:
        read_maps(out)
    _one_line(e, out, "STELLAR_VEL", "shape")
    assert "SPX_SKYCOO" not in str(e.value).split("expected")[0]


def test_all_nan_skycoo_is_refused(tmp_path):
    path, _ = _write(tmp_path)
    with fits.open(path) as h:
        h["SPX_SKYCOO"].data = np.full_like(h["SPX_SKYCOO"].data, np.nan)
        out = tmp_path / "nan.fits"
        h.writeto(out)
    with pytest.raises(MapsFormatError) as e:
        read_maps(out)
    _one_line(e, out, "SPX_SKYCOO", "finite")


def test_channel_order_changed_is_followed(tmp_path):
    """A file whose lines are in another order still gives the Ha plane (lookup by name)."""
    path, (x, y, vel, mask, gas, gmask) = _write(tmp_path)
    with fits.open(path) as h:
        for ext in ("EMLINE_GVEL", "EMLINE_GVEL_IVAR", "EMLINE_GVEL_MASK"):
            data = h[ext].data
            data[[0, 23]] = data[[23, 0]]
            h[ext].data = data
            a, b = h[ext].header["C01"], h[ext].header["C24"]
            h[ext].header["C01"], h[ext].header["C24"] = b, a
        out = tmp_path / "swapped.fits"
        h.writeto(out)
    m = read_maps(out)
    good = np.isfinite(vel)
    np.testing.assert_allclose(m.gas.vel[good], gas[good], rtol=1e-6)


def test_dapbits():
    assert DONOTUSE == 2 ** 30
    assert decode(NOCOV | DONOTUSE) == ["NOCOV", "DONOTUSE"]
    assert default_donotuse_mask() & DONOTUSE
    assert not default_donotuse_mask() & bit_value("LOWCOV")


def test_gz_file_is_really_gzip(tmp_path):
    path, _ = _write(tmp_path, gz=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(path.read_bytes())[:9] == b"SIMPLE  ="


def test_load_image(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[:, :10, 0] = 255
    p = save_jpeg(tmp_path / "images" / "8485-1901.jpg", rgb)
    out = load_image(p)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert out[:, :8, 0].mean() > 200 and out[:, 12:, 0].mean() < 40
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    with pytest.raises(ImageFormatError) as e:
        load_image(bad)
    assert str(bad) in str(e.value) and isinstance(e.value, KinviewError)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(p.read_bytes()[:200])
    with pytest.raises(ImageFormatError):
        load_image(cut)
    with pytest.raises(ImageFormatError):
        load_image(tmp_path / "missing.jpg")
