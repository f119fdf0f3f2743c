"""The task registry: vfield-quality and spin are registered with what the CLI and GUI need."""
import pytest


def test_registered_tasks_describe_themselves():
    from kinview.tasks.registry import get, names

    assert {"vfield-quality", "spin"} <= set(names())
    vq = get("vfield-quality").describe()
    assert vq["default_arch"] == "default" and set(vq["architectures"]) == {"default", "seed-fcn", "seed-cnn", "kinview-cnn"}
    assert vq["kind"] == "binary" and "roc_auc" in vq["metrics"]
    spin = get("spin").describe()
    assert spin["kind"] == "regression" and "pearson" in spin["metrics"]
    assert set(spin["architectures"]) == {"default", "seed-cnn"}


def test_options_are_validated():
    from kinview.errors import KinviewError
    from kinview.tasks.registry import get

    task = get("vfield-quality")
    assert task.normalize_options({})["mode"] == "binary"
    assert task.normalize_options({"mode": "3class"})["mode"] == "3class"
    with pytest.raises(KinviewError, match="mode"):
        task.normalize_options({"mode": "5class"})
    with pytest.raises(KinviewError, match="architecture"):
        task.training_config("resnet")


def test_recipes_follow_the_seeds():
    from kinview.tasks.registry import get

    vq = get("vfield-quality")
    seed = vq.training_config("seed-fcn")
    assert seed["epochs"] == 50 and seed["learning_rate"] == 1e-3 and seed["class_weight"]
    assert seed["reduce_lr"]["min_lr"] == 1e-5
    assert vq.training_config("default", {"mode": "3class"})["n_classes"] == 3
    sp = get("spin").training_config("seed-cnn")
    assert sp["epochs"] == 35 and not sp["class_weight"]
