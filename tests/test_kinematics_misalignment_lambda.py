"""ΔPA wrap-around and flags; λR_e of analytic cases."""
import numpy as np
import pytest

from kinview.data.fields import MapsData
from kinview.kinematics.lambda_r import lambda_r, lambda_re
from kinview.kinematics.misalignment import misalignment, misalignment_arrays
from kinview.kinematics.synthetic import disk_field


@pytest.mark.parametrize("s, g, expected", [(350, 10, 20), (10, 350, 20), (0, 180, 180),
                                            (359.5, 0.5, 1), (90, 270, 180), (45, 135, 90),
                                            (200, 20, 180), (100, 100, 0)])
def test_delta_pa_wraps_around(s, g, expected):
    m = misalignment(s, g)
    assert m.dpa == pytest.approx(expected)
    assert 0 <= m.dpa <= 180


def test_misalignment_flags():
    assert misalignment(10, 35).category == "aligned"
    assert misalignment(10, 40).misaligned and not misalignment(10, 40).counter_rotating
    assert misalignment(350, 20).misaligned                           # exactly 30 deg
    cr = misalignment(5, 160)
    assert cr.counter_rotating and cr.misaligned and cr.category == "counter-rotating"
    unknown = misalignment(float("nan"), 10)
    assert np.isnan(unknown.dpa) and unknown.misaligned is None and unknown.category == "unknown"
    assert misalignment(10, 20, 3, 4).dpa_err == pytest.approx(5)
    d, mis, cr = misalignment_arrays([350, 0, np.nan], [10, 170, 5])
    assert d[0] == pytest.approx(20) and not mis[0] and mis[1] and cr[1] and np.isnan(d[2])
    assert not mis[2] and not cr[2]


def _grid(n=41):
    jj, ii = np.mgrid[0:n, 0:n]
    x = -(ii - n // 2) * 0.5
    y = (jj - n // 2) * 0.5
    return x, y, np.hypot(x, y)


def test_lambda_r_pure_rotation_tends_to_one_and_pure_dispersion_is_zero():
    x, y, r = _grid()
    flux = np.exp(-r / 3)
    v = 200 * x / np.maximum(r, 1e-9)
    assert lambda_r(flux, r, v, np.zeros_like(v)) == pytest.approx(1.0)
    # rotation dominating more and more: λR rises towards 1
    values = [lambda_r(flux, r, v, np.full_like(v, s)) for s in (200, 50, 10, 1)]
    assert all(a < b for a, b in zip(values, values[1:])) and values[-1] > 0.99
    assert lambda_r(flux, r, np.zeros_like(v), np.full_like(v, 150)) == pytest.approx(0.0)
    # V = σ everywhere: λR = 1/√2
    assert lambda_r(flux, r, np.full_like(v, 80), np.full_like(v, 80), vsyst=0) == \
        pytest.approx(1 / np.sqrt(2))


def test_lambda_r_instrumental_correction_and_masks():
    x, y, r = _grid()
    flux = np.ones_like(r)
    v = np.full_like(r, 100.0)
    # observed σ = √(100² + 60²) with σ_inst = 60 → corrected σ = 100 → λ = 1/√2
    s_obs = np.full_like(r, np.hypot(100, 60))
    assert lambda_r(flux, r, v, s_obs, sigma_corr=np.full_like(r, 60.0), vsyst=0) == \
        pytest.approx(1 / np.sqrt(2))
    assert lambda_r(flux, r, v, s_obs, vsyst=0) < 1 / np.sqrt(2)
    assert np.isnan(lambda_r(flux, r, v, s_obs, mask=np.ones(r.shape, bool)))


def test_lambda_re_from_maps_counts_bins_once_and_uses_the_half_light_ellipse():
    field = disk_field(30.0, inc=60, vmax=200, noise=0, sigma0=60, radius=11, seed=0)
    field.sigma_corr = np.zeros(field.shape)
    x, y = field.x, field.y
    r = np.hypot(x, y)
    maps = MapsData("1-1", "mem", "SPX", field, None, r_arcsec=r, r_re=r / 4.0,
                    theta=np.zeros_like(r), reff=4.0)
    lam = lambda_re(maps)
    inside = field.valid & (r <= 4.0)
    expected = lambda_r(field.flux, r, field.vel, field.sigma, mask=~inside)
    assert lam == pytest.approx(expected, rel=1e-3)
    assert 0.3 < lam < 1.0
    # bin the inner region into one bin with repeated values: it counts once
    binned = field.binid.copy()
    core = r <= 1.0
    binned[core] = binned[core].min()
    vel = field.vel.copy()
    vel[core] = 0.0
    field.vel, field.binid = vel, binned
    once = lambda_re(maps)
    one_per_bin = field.unique_bin_spaxels() & (r <= 4.0)
    assert one_per_bin.sum() == inside.sum() - core.sum() + 1
    expected_once = lambda_r(field.flux, r, field.vel, field.sigma, mask=~one_per_bin)
    counted_many = lambda_r(field.flux, r, field.vel, field.sigma, mask=~inside)
    assert once == pytest.approx(expected_once, rel=1e-6)
    assert once > counted_many          # the zero-velocity core no longer weighs 13 times
    # a galaxy without σ maps has no λR_e
    field.sigma = None
    assert np.isnan(lambda_re(maps))
