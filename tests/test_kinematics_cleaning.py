"""Field cleaning: DAP masks, disconnected regions, spurious velocities, systemic velocity."""
import numpy as np

from kinview.conventions import delta_pa
from kinview.kinematics import clean_field, fit_pa
from kinview.kinematics.cleaning import REASONS
from kinview.kinematics.synthetic import disk_field


def test_small_disconnected_region_is_removed_and_remembered():
    field = disk_field(40.0, radius=6, npix=40, noise=5, seed=1)
    # a 3x3 island far from the galaxy (e.g. a neighbour's spaxels), with absurd velocities
    field.mask[2:5, 2:5] = False
    field.vel_ivar[2:5, 2:5] = 0.01
    field.vel[2:5, 2:5] = 900.0
    cleaned = clean_field(field)
    assert not cleaned.kept[2:5, 2:5].any()
    assert cleaned.removed["disconnected"][2:5, 2:5].all()
    assert cleaned.n_removed()["disconnected"] == 9
    assert cleaned.reason_map()[3, 3] == REASONS.index("disconnected") + 1
    # the galaxy itself is untouched by that step and the fit is unaffected
    assert cleaned.kept.sum() >= field.valid.sum() - 9 - 5
    assert float(delta_pa(fit_pa(cleaned).pa, 40.0)) < 2


def test_large_second_region_is_kept():
    field = disk_field(40.0, radius=6, npix=60, noise=5, seed=1)
    block = (slice(0, 14), slice(0, 14))          # 196 spaxels > 10 % of the galaxy
    field.mask[block] = False
    field.vel_ivar[block] = 0.01
    field.vel[block] = 30.0
    cleaned = clean_field(field)
    assert cleaned.kept[block].all()
    assert cleaned.n_removed()["disconnected"] == 0


def test_spurious_high_velocity_spaxels_are_clipped():
    field = disk_field(200.0, radius=8, noise=5, seed=2)
    valid = np.argwhere(field.valid)
    rng = np.random.default_rng(0)
    spikes = valid[rng.choice(len(valid), 6, replace=False)]
    for j, i in spikes:
        field.vel[j, i] += 700.0
    cleaned = clean_field(field)
    for j, i in spikes:
        assert not cleaned.kept[j, i]
        assert cleaned.removed["outlier"][j, i]
    # real rotation is not clipped: almost everything else is kept
    assert cleaned.n_removed()["outlier"] <= 6 + 3
    assert abs(cleaned.vsyst) < 5


def test_dap_mask_and_no_coverage_are_told_apart():
    field = disk_field(10.0, radius=6, seed=3)
    j, i = np.argwhere(field.valid)[0]
    field.mask[j, i] = True                       # masked by the DAP inside the IFU
    cleaned = clean_field(field)
    assert cleaned.removed["dap_mask"][j, i]
    assert cleaned.removed["no_coverage"][0, 0]   # NOCOV corner outside the hexagon
    assert not (cleaned.kept & (cleaned.reason_map() > 0)).any()
    # the removal masks are disjoint and cover everything that is not kept
    total = sum(m.astype(int) for m in cleaned.removed.values())
    assert total.max() == 1
    assert ((total == 1) == ~cleaned.kept).all()


def test_systemic_velocity_estimate():
    field = disk_field(123.0, vsys=-42.0, noise=3, seed=4)
    assert abs(clean_field(field).vsyst + 42.0) < 5.0


def test_all_masked_field_cleans_to_nothing():
    field = disk_field(0.0, radius=5)
    field.mask[:] = True
    cleaned = clean_field(field)
    assert cleaned.n_kept == 0 and np.isnan(cleaned.vsyst)
