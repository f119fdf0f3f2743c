"""Splits, class weights, metrics, augmentation and architectures (no survey needed)."""
import ast
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_split_by_galaxy_never_straddles_and_is_fixed_by_seed():
    from kinview.learning.splits import split_groups

    groups = np.repeat([f"{8000 + i}-1901" for i in range(100)], 2)  # two fields per galaxy
    s = split_groups(groups, (0.7, 0.15, 0.15), seed=3)
    seen = {}
    for name, idx in s.items():
        for g in set(groups[idx]):
            assert seen.setdefault(g, name) == name, f"{g} in {seen[g]} and {name}"
    assert sum(len(v) for v in s.values()) == 200
    assert len(set(groups[s["test"]])) == 15 and len(set(groups[s["val"]])) == 15
    again = split_groups(groups[::-1], (0.7, 0.15, 0.15), seed=3)   # order does not matter
    assert set(groups[::-1][again["test"]]) == set(groups[s["test"]])
    other = split_groups(groups, (0.7, 0.15, 0.15), seed=4)
    assert set(groups[other["test"]]) != set(groups[s["test"]])


def test_kfold_holds_each_galaxy_out_once():
    from kinview.learning.splits import kfold_groups

    groups = np.repeat(np.arange(23).astype(str), 2)
    held = np.concatenate([h for _, h in kfold_groups(groups, 5, seed=0)])
    assert sorted(held) == list(range(46))
    for tr, h in kfold_groups(groups, 5, seed=0):
        assert not set(groups[tr]) & set(groups[h])


def test_class_weights_formula():
    from kinview.learning.splits import class_weights

    w = class_weights(np.array([0] * 10 + [1] * 30), 2)
    assert w[0] == pytest.approx(2.0) and w[1] == pytest.approx(40 / 60)
    assert w[0] * 10 == pytest.approx(w[1] * 30)


def test_roc_auc_matches_pair_counting():
    from kinview.learning.metrics import roc_auc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.random(60) + 0.4 * y, 1)  # with ties
    pos, neg = s[y == 1], s[y == 0]
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert roc_auc(y, s) == pytest.approx(brute)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0


def test_classification_metrics_confidence_thresholds():
    from kinview.learning.metrics import classification_metrics

    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.02, 0.6, 0.97, 0.7, 0.4])
    m = classification_metrics(y, p)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["balanced_accuracy"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m["confusion"] == [[1, 1], [1, 2]]
    at = m["at_confidence"]
    assert at["0.5"]["kept_fraction"] == 1.0
    assert at["0.8"]["n_kept"] == 2 and at["0.8"]["accuracy"] == 1.0   # 0.02 and 0.97
    assert at["0.95"]["n_kept"] == 2 and at["0.99"]["n_kept"] == 0
    three = classification_metrics([0, 1, 2], np.eye(3) * 0.9 + 0.05, 3)
    assert three["accuracy"] == 1.0 and np.array(three["confusion"]).shape == (3, 3)


def test_regression_metrics():
    from kinview.learning.metrics import regression_metrics

    t = np.linspace(0, 1, 50)
    m = regression_metrics(t, 2 * t + 0.1)
    assert m["pearson"] == pytest.approx(1.0) and m["spearman"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((t + 0.1) ** 2)))
    assert len(m["binned"]) == 5 and sum(b["n"] for b in m["binned"]) == 50


def test_affine_augmentation_geometry():
    from kinview.nets.layers import affine_batch, random_affine

    rng = np.random.default_rng(1)
    img = rng.random((3, 9, 9)).astype(np.float32)
    rot = affine_batch(img, np.full(3, 90.0))
    # a quarter turn is exact (up to float error): counter-clockwise as displayed with
    # origin='lower' (row 0 at the bottom), i.e. numpy's rot90 with k=-1 on [row, column]
    np.testing.assert_allclose(rot, np.rot90(img, -1, axes=(1, 2)), atol=1e-5)
    flipped = affine_batch(img, np.zeros(3), flip_x=np.ones(3, bool))
    np.testing.assert_allclose(flipped, img[:, :, ::-1], atol=1e-6)
    same = affine_batch(img, np.zeros(3))
    np.testing.assert_allclose(same, img, atol=1e-6)
    shrunk = affine_batch(np.ones((1, 8, 8, 3), np.float32), [0.0], zoom=[0.5], fill=0.0)
    assert shrunk.shape == (1, 8, 8, 3) and shrunk[0, 0, 0, 0] == 0 and shrunk[0, 4, 4, 0] == 1
    out = random_affine(img, rng, max_angle=45, zoom_range=0.25, shift_frac=0.05)
    assert out.shape == img.shape and out.dtype == np.float32 and np.abs(out).max() <= 1.0 + 1e-6


def test_model_code_uses_keras_only():
    """Model code must run under any Keras backend: no TensorFlow calls, no Lambda layers."""
    for sub in ("nets", "tasks"):
        for path in (ROOT / "kinview" / sub).glob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                    assert not any(n.split(".")[0] in ("tensorflow", "torch", "jax") for n in names), path
                if isinstance(node, ast.Attribute) and node.attr == "Lambda":
                    raise AssertionError(f"{path}: Lambda layer")


@pytest.mark.parametrize("arch", ["default", "seed-fcn", "seed-cnn"])
def test_vfield_architectures(arch):
    from kinview.nets.vfield import build

    binary = build(arch, n_classes=2)
    assert binary.input_shape == (None, 32, 32) and binary.output_shape == (None, 1)
    if arch == "default":
        assert build(arch, n_classes=3).output_shape == (None, 3)
    dropouts = [l.rate for l in binary.layers if type(l).__name__ == "Dropout"]
    if arch.startswith("seed"):
        assert dropouts == [0.6, 0.6]


def test_spin_seed_architecture_is_the_described_one():
    from kinview.nets.spin import RECIPES, build

    m = build("seed-cnn")
    convs = [l for l in m.layers if type(l).__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [64, 96, 128, 192, 192]
    assert [c.kernel_size[0] for c in convs] == [6, 5, 2, 2, 2]
    assert [l.units for l in m.layers if type(l).__name__ == "Dense"] == [128, 64, 1]
    assert sum(type(l).__name__ == "MaxPooling2D" for l in m.layers) == 2
    assert m.output_shape == (None, 1) and m.layers[-1].activation.__name__ == "linear"
    assert RECIPES["seed-cnn"]["epochs"] == 35
    assert RECIPES["seed-cnn"]["reduce_lr"] == dict(factor=0.2, patience=5, min_lr=1e-5)
    small = build("default")
    assert small.count_params() * 10 < m.count_params()


def test_importing_the_prediction_module_leaves_the_predict_function_alone():
    """``kinview.training.predict`` is the function; the stored-predictions module is
    ``kinview.training.prediction`` and importing it shadows nothing."""
    import kinview.training
    import kinview.training.prediction as prediction
    from kinview.training import predict
    from kinview.training.use import predict as trainer_predict

    assert predict is trainer_predict and kinview.training.predict is trainer_predict
    assert callable(prediction.predictions)
