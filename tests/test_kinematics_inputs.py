"""Network inputs: shapes, scaling, masking, speed of the velocity-field input."""

import numpy as np

from kinview.kinematics.inputs import (image_input, image_inputs, resample_matrix, vfield_input,
                                       vfield_inputs)
from kinview.kinematics.synthetic import disk_field


def test_vfield_input_shape_scaling_and_masking():
    field = disk_field(90.0, vmax=250, noise=0, radius=11)
    out = vfield_input(field)
    assert out.shape == (32, 32) and out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
    assert out.max() > 0.8 and out.min() < -0.8          # scaled by max |v|
    # receding side East (left in the array: low column index) is positive
    assert out[:, :8].mean() > 0 > out[:, -8:].mean()
    # masked spaxels contribute zeros: corners of the square box outside the hexagon
    assert abs(out[0, 0]) < 0.05 and abs(out[-1, -1]) < 0.05
    assert vfield_input(field, size=16).shape == (16, 16)


def test_vfield_input_is_scale_invariant_and_accepts_arrays():
    field = disk_field(10.0, vmax=100, noise=0)
    a = vfield_input(field)
    arr = np.where(field.valid, field.vel * 3.0, np.nan)
    b = vfield_input(arr)
    np.testing.assert_allclose(a, b, atol=1e-5)
    c = vfield_input((field.vel, field.valid))
    np.testing.assert_allclose(a, c, atol=1e-6)


def test_vfield_input_empty_and_constant_fields_are_zero():
    field = disk_field(10.0)
    assert not vfield_input(np.full((20, 20), np.nan)).any()
    assert not vfield_input(np.zeros((20, 20))).any()


def test_vfield_batch_equals_one_field_at_a_time():
    # (its speed, thousands of fields/s, is measured by benchmarks/train_speed.py)
    fields = [disk_field(a, noise=5, seed=i) for i, a in enumerate(range(0, 360, 36))]
    arrays = [(f.vel, f.valid) for f in fields] * 50       # 500 fields
    batch = vfield_inputs(arrays)
    assert batch.shape == (500, 32, 32, 1) and batch.dtype == np.float32
    one = np.concatenate([vfield_inputs([a]) for a in arrays[:10]])
    np.testing.assert_array_equal(batch[:10], one)


def test_image_input_shapes_and_range():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    out = image_input(rgb, 80)
    assert out.shape == (80, 80, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert image_input(rgb, 128).shape == (128, 128, 3)
    flat = np.full((256, 256, 3), 128, np.uint8)
    np.testing.assert_allclose(image_input(flat), 128 / 255, atol=1e-5)
    # the colour channels stay in place: a red image stays red
    red = np.zeros((100, 140, 3), np.uint8)
    red[..., 0] = 255
    r = image_input(red, 80)
    assert r[..., 0].min() > 0.99 and r[..., 1:].max() < 1e-6
    assert image_inputs([rgb, rgb], 80).shape == (2, 80, 80, 3)


def test_resample_matrix_preserves_constants():
    for n_in, n_out in ((74, 32), (32, 32), (20, 32), (256, 80)):
        m = resample_matrix(n_in, n_out)
        np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-5)
