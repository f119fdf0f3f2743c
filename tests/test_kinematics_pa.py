"""PA fitting: known-PA disks all around the circle, conventions, failures, fast vs pafit."""
import numpy as np
import pytest

from kinview.conventions import delta_pa
from kinview.data.fields import VelocityField
from kinview.kinematics import clean_field, fit_pa
from kinview.kinematics.synthetic import disk_field


@pytest.mark.parametrize("pa", [0.0, 1.5, 37.0, 89.0, 90.0, 133.0, 179.0, 180.0, 181.0,
                                226.0, 270.0, 301.0, 345.0, 359.5])
def test_fast_recovers_known_receding_pa_all_around_the_circle(pa):
    field = disk_field(pa, inc=55, noise=8, radius=6, seed=int(pa * 10))
    fit = fit_pa(field)
    assert fit.ok, fit.reason
    assert 0.0 <= fit.pa < 360.0
    assert float(delta_pa(fit.pa, pa)) <= 2.0          # receding side right, within 2 deg
    assert 0 < fit.pa_err < 2.0                        # 1 sigma, degrees
    assert fit.n_used == fit.cleaned.n_kept >= int(field.valid.sum()) - 2
    assert abs(fit.pa_err * 3 - fit.pa_err_3sigma) < 1e-9


def test_north_through_east_with_east_positive_skycoo():
    """v = +x_east: the receding side is East, PA 90 (not 270): pafit is fed x_west."""
    n = 25
    jj, ii = np.mgrid[0:n, 0:n]
    x_east = -(ii - 12) * 0.5                    # East left, as the DAP writes maps
    y = (jj - 12) * 0.5
    inside = np.hypot(x_east, y) <= 6
    for vel, expected in ((20 * x_east, 90.0), (20 * y, 0.0), (-20 * x_east, 270.0),
                          (-20 * y, 180.0), (20 * (x_east + y) / np.sqrt(2), 45.0)):
        field = VelocityField("stellar", x_east, y, np.where(inside, vel, 0.0),
                              np.where(inside, 1.0, 0.0), ~inside)
        fit = fit_pa(field)
        assert fit.ok
        assert float(delta_pa(fit.pa, expected)) <= 0.5, (expected, fit.pa)
    # the plain-array form (x East positive) gives the same answer
    fit = fit_pa((x_east, y, np.where(inside, 20 * x_east, np.nan)))
    assert float(delta_pa(fit.pa, 90.0)) <= 0.5


def test_systemic_velocity_is_estimated_and_corrected():
    field = disk_field(120.0, vsys=57.0, noise=5, seed=3)
    fit = fit_pa(field)
    assert fit.ok
    assert abs(fit.vsyst_total - 57.0) < 3.0
    assert float(delta_pa(fit.pa, 120.0)) < 2


def test_scattered_points_path_matches_grid_path():
    field = disk_field(211.0, noise=6, radius=7, seed=5)
    grid_fit = fit_pa(field, clean=False)
    v = field.valid
    pts_fit = fit_pa((field.x[v], field.y[v], field.vel[v]))
    assert float(delta_pa(grid_fit.pa, pts_fit.pa)) <= 1.0
    assert float(delta_pa(pts_fit.pa, 211.0)) <= 2.0


def test_coarse_to_fine_matches_exhaustive_search():
    rng = np.random.default_rng(7)
    for i in range(6):
        field = disk_field(rng.uniform(0, 360), inc=rng.uniform(25, 75), noise=rng.uniform(5, 25),
                           vmax=rng.uniform(60, 250), radius=float(rng.choice([6, 8.5])), seed=i)
        a = fit_pa(field)
        b = fit_pa(field, exhaustive=True)
        assert a.pa_fold == b.pa_fold
        assert a.pa == b.pa or (np.isnan(a.pa) and np.isnan(b.pa))


def test_all_masked_and_two_spaxel_fields_fail_clearly():
    field = disk_field(30.0, radius=6)
    empty = VelocityField("gas", field.x, field.y, field.vel, field.vel_ivar,
                          np.ones(field.shape, bool))
    fit = fit_pa(empty)
    assert np.isnan(fit.pa) and np.isnan(fit.pa_err) and fit.n_used == 0
    assert "too few spaxels" in fit.reason
    two = np.ones(field.shape, bool)
    two[10, 10] = two[10, 11] = False
    fit = fit_pa(VelocityField("gas", field.x, field.y, field.vel, field.vel_ivar, two))
    assert np.isnan(fit.pa) and fit.n_used == 2 and "too few" in fit.reason
    fit = fit_pa(VelocityField("gas", field.x, field.y, field.vel, field.vel_ivar, two),
                 method="pafit", nsteps=37)
    assert np.isnan(fit.pa) and "too few" in fit.reason


def test_no_rotation_fails_clearly():
    field = disk_field(30.0, vmax=0.0, noise=20, seed=11)
    fit = fit_pa(field)
    assert np.isnan(fit.pa)
    assert "no clear rotation" in fit.reason
    flat = disk_field(30.0, vmax=0.0, noise=0.0)
    fit = fit_pa(flat)
    assert np.isnan(fit.pa) and "no clear rotation" in fit.reason


def test_noisier_field_gets_larger_error_when_dvel_is_the_noise():
    quiet = fit_pa(disk_field(70.0, noise=3, vmax=120, seed=1), dvel="auto")
    noisy = fit_pa(disk_field(70.0, noise=40, vmax=120, seed=1), dvel="auto")
    assert quiet.ok and noisy.ok
    assert noisy.pa_err > quiet.pa_err


def test_polish_lands_on_the_minimum_of_the_per_angle_triangulated_chi2():
    """Shallow, noisy minima: the answer is the brute-force minimum of the reference χ²
    (one triangulation per angle), not only the minimum of the smooth fast curve."""
    from kinview.kinematics.pa import _points_from
    from kinview.kinematics.pa_exact import exact_chi2
    from kinview.kinematics.pa_fast import fit_pa_fast

    angles = np.linspace(0, 180, 73)
    rng = np.random.default_rng(11)
    moved = 0
    for i in range(4):
        field = disk_field(rng.uniform(0, 360), inc=rng.uniform(20, 40), vmax=40, noise=25,
                           radius=6, seed=40 + i)
        _, xe, y, v, _, grid = _points_from(field, True, {})
        brute = np.array([exact_chi2(-xe, y, v, a)[0] for a in angles])
        fit = fit_pa_fast(-xe, y, v, nsteps=73, grid=grid)
        smooth = fit_pa_fast(-xe, y, v, nsteps=73, grid=grid, polish=False)
        assert fit.angle == angles[np.argmin(brute)] % 180
        assert fit.chi2[np.argmin(brute)] == pytest.approx(brute.min(), rel=1e-12)
        assert 1 <= fit.n_exact <= 12
        moved += smooth.angle != fit.angle
    assert moved >= 1          # the smooth curve alone would have been off on some field


def test_exact_chi2_vanishes_on_the_true_axis_of_a_noiseless_disk():
    """A field that is exactly bi-antisymmetric about PA 30 has χ² ≈ 0 there, and the
    symmetrised field is the field itself."""
    from kinview.kinematics.pa_exact import exact_chi2

    field = disk_field(30.0, inc=50, vmax=150, noise=0.0, radius=6)
    ok = field.valid
    xw, y, v = -field.x[ok], field.y[ok], field.vel[ok] - np.median(field.vel[ok])
    c30, sym, along = exact_chi2(xw, y, v, 30.0)
    c75, _, _ = exact_chi2(xw, y, v, 75.0)
    assert c30 < 1e-3 * c75
    np.testing.assert_allclose(sym, v, atol=2.0)
    # the projection on the axis points North-through-East at 30 degrees
    np.testing.assert_allclose(along, -xw * np.sin(np.radians(30)) + y * np.cos(np.radians(30)),
                               atol=1e-9)


_AGREE_SCRIPT = """
import json
import numpy as np
from kinview.kinematics import fit_pa
from kinview.kinematics.synthetic import disk_field
rng = np.random.default_rng(3)
out = []
for i in range(3):
    field = disk_field(rng.uniform(0, 360), inc=rng.uniform(30, 70), noise=10, radius=6,
                       seed=100 + i)
    field.mask |= rng.random(field.shape) < 0.05          # a few holes to bridge
    fast = fit_pa(field, nsteps=37)
    ref = fit_pa(field, method="pafit", nsteps=37)
    out.append([float(fast.pa), float(ref.pa), float(fast.vsys_correction), float(ref.vsys_correction),
                int(fast.n_used), int(ref.n_used), ref.method, bool(fast.ok), bool(ref.ok)])
print(json.dumps(out))
"""


def test_fast_and_pafit_agree_on_a_few_fields():
    """Run in a child with one BLAS thread: pafit's triangulations crawl with threaded BLAS."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("pafit")  # a declared dependency; present in every kinview install
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, "-c", _AGREE_SCRIPT], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(rows) == 3
    for fast_pa, ref_pa, fast_vs, ref_vs, n_fast, n_ref, method, ok_fast, ok_ref in rows:
        assert ok_fast and ok_ref and method == "pafit"
        # the polished minimum is the reference's own: same angle, same systemic correction
        assert fast_pa == ref_pa
        assert abs(fast_vs - ref_vs) < 1e-6
        assert n_fast == n_ref


def test_importing_kinematics_does_not_import_pafit_or_matplotlib():
    from import_support import loaded_after

    assert loaded_after(["kinview.kinematics", "kinview.kinematics.pa", "kinview.kinematics.inputs"],
                        ["pafit", "matplotlib", "plotbin"]) == []


def test_cleaned_field_is_accepted_and_symmetrised_map_returned():
    field = disk_field(300.0, noise=5, seed=2)
    cleaned = clean_field(field)
    fit = fit_pa(cleaned)
    assert fit.cleaned is cleaned
    sym = fit.velsym_map()
    assert sym.shape == field.shape
    assert np.isfinite(sym[cleaned.kept]).all() and np.isnan(sym[~cleaned.kept]).all()


def test_the_systemic_velocity_correction_is_a_correction_and_is_stored(tmp_path):
    """``vsys_correction`` is what the fit adds to the systemic velocity it adopted (not the
    systemic velocity); the database keeps it in the ``pa_fits.vsyst`` column."""
    from kinview.db import connect, transaction
    from kinview.db.pa_fits import FIT_COLUMNS, preferred_fits, write_fits

    field = disk_field(30.0, inc=50, vmax=150, noise=5, radius=6, seed=4)
    field.vel = field.vel + 240.0                       # a systemic velocity the fit must remove
    fit = fit_pa(field)
    assert fit.ok, fit.reason
    assert abs(fit.vsyst_adopted - 240.0) < 10 and abs(fit.vsys_correction) < 10
    assert fit.vsyst_total == pytest.approx(fit.vsyst_adopted + fit.vsys_correction)
    assert abs(fit.vsyst_total - 240.0) < 5

    conn = connect(tmp_path)
    try:
        with transaction(conn):
            write_fits(conn, [("1-1", "stellar", "fast", fit.pa, fit.pa_err, fit.vsys_correction,
                               fit.n_used, 37, None, 0.1)], replace=True, created="2026-11-30T00:00:00Z")
        (stored,) = preferred_fits(conn)
        assert stored.vsys_correction == pytest.approx(fit.vsys_correction)
        assert FIT_COLUMNS[5] == "vsyst"
        (raw,) = conn.execute("SELECT vsyst FROM pa_fits").fetchone()
        assert raw == pytest.approx(fit.vsys_correction)
    finally:
        conn.close()
