"""The darkmatter task: architectures, on-the-fly augmentation, training from the CLI,
evaluation with the Monte-Carlo accuracy distribution, and the GUI data helpers."""
import json

import numpy as np
import pytest

from kinview.cli.main import main
from kinview.clusters.generator import _shape_moments, write_demo_clusters
from kinview.errors import KinviewError
from kinview.tasks import get


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    d = tmp_path_factory.mktemp("clusters")
    write_demo_clusters(d, n=24, seed=0)
    return d


def test_each_architecture_maps_two_clusters_to_class_probabilities():
    from kinview.nets.darkmatter import build

    x = {"maps": np.random.default_rng(0).random((2, 50, 50, 2)).astype("f4"),
         "attributes": np.zeros((2, 5), "f4")}
    for arch in ("simple", "inception"):
        model = build(arch, size=50, n_channels=2, n_attributes=5)
        p = np.asarray(model(x, training=False))
        assert p.shape == (2, 4) and np.allclose(p.sum(1), 1, atol=1e-5) and (p >= 0).all()
    maps_only = build("simple", size=50, n_channels=3, n_attributes=0)
    assert np.asarray(maps_only(np.zeros((2, 50, 50, 3), "f4"), training=False)).shape == (2, 4)


def _elliptical(phi_deg, q=0.5):
    c = (np.arange(50) + 0.5) * 40 - 1000
    x, y = np.meshgrid(c, c, indexing="xy")
    phi = np.deg2rad(phi_deg)
    u = x * np.cos(phi) + y * np.sin(phi)
    v = -x * np.sin(phi) + y * np.cos(phi)
    return np.exp(-0.5 * (u ** 2 + (v / q) ** 2) / 200 ** 2)


def test_augmentation_rotates_maps_and_bcg_ellipticity_together_and_keeps_shapes(clusters):
    task = get("darkmatter")
    data = task.build_dataset(clusters)
    n_before = len(data)
    rng = np.random.default_rng(7)
    batch = data.subset(np.arange(8)).X
    out = task.augment(batch, rng)
    assert out["maps"].shape == batch["maps"].shape and out["attributes"].shape == batch["attributes"].shape
    assert not np.allclose(out["maps"], batch["maps"])            # content changed
    assert len(data) == n_before and data.X["maps"].shape[0] == n_before   # nothing multiplied
    # an elliptical blob: the ellipticity measured on the augmented map equals the rotated e1/e2
    q, phi = 0.5, 30.0
    e = (1 - q) / (1 + q)
    img = _elliptical(phi, q)
    X = {"maps": np.repeat(img[None, :, :, None], 6, 0).astype("f4"),
         "attributes": np.tile(np.array([0, 0, 0, e * np.cos(np.deg2rad(2 * phi)),
                                         e * np.sin(np.deg2rad(2 * phi))], "f4"), (6, 1))}
    aug = task.augment(X, np.random.default_rng(1))
    for m, a in zip(aug["maps"][..., 0], aug["attributes"]):
        qq, pp = _shape_moments(m, 800)
        ee = (1 - qq) / (1 + qq)
        assert np.allclose([ee * np.cos(2 * pp), ee * np.sin(2 * pp)], a[3:], atol=0.02)
        assert abs(m.sum() - img.sum()) / img.sum() < 0.02            # flux kept (blob inside)
    # a quarter turn moves an off-centre pixel to the rotated position
    one = np.zeros((1, 50, 50, 1), "f4")
    one[0, 25, 40, 0] = 1.0
    positions = set()
    for seed in range(12):
        o = task.augment({"maps": one}, np.random.default_rng(seed))["maps"][0, ..., 0]
        if o.max() > 0.99:                                          # an exact quarter-turn sample
            positions.add(np.unravel_index(np.argmax(o), o.shape))
    assert len(positions) >= 2
    for r, c in positions:                                          # same radius about the centre
        assert abs(np.hypot(r - 24.5, c - 24.5) - np.hypot(25 - 24.5, 40 - 24.5)) < 1e-6


def test_channel_and_attribute_options(clusters):
    task = get("darkmatter")
    d = task.build_dataset(clusters, {"channels": "xray,mass", "attributes": "none"})
    assert d.X["maps"].shape[-1] == 2 and "attributes" not in d.X
    assert d.info["channels"] == ["mass", "xray"]
    with pytest.raises(KinviewError, match="unknown channel"):
        task.build_dataset(clusters, {"channels": "dark"})


def test_train_and_evaluate_from_the_cli_with_monte_carlo_and_gui_data(clusters, capsys):
    from kinview.tasks.darkmatter import active_confusion, cluster_view_data

    assert main(["train", "darkmatter", "--survey", str(clusters), "--epochs", "1"]) == 0
    capsys.readouterr()
    rc = main(["evaluate", "darkmatter", "--survey", str(clusters)])
    out = capsys.readouterr().out
    assert rc == 0
    result = json.loads(out)
    metrics = result["metrics"]
    assert 0 <= metrics["accuracy"] <= 1
    assert np.asarray(metrics["confusion"]).shape == (4, 4)
    assert sum(map(sum, metrics["confusion"])) == result["n_held_out"]
    # the Monte-Carlo accuracy distribution over random splits, same recipe as the model (1 epoch)
    mc = result["mc"]
    assert len(mc["accuracies"]) == mc["k"] == 3 and mc["min"] <= mc["mean"] <= mc["max"]
    assert mc["arch"] == "simple" and mc["epochs"] == 1 and mc["std"] >= 0
    assert np.asarray(mc["confusion"]).shape == (4, 4) and np.asarray(mc["confusion"]).sum() > 0
    view = cluster_view_data(clusters, 3)
    assert set(view["channels"]) == {"mass", "xray", "stellar"}
    assert view["channels"]["mass"].shape == (50, 50)
    assert view["label"] in view["classes"]
    assert view["prediction"] is not None
    assert abs(sum(view["prediction"]["probs"].values()) - 1) < 1e-4
    conf = active_confusion(clusters)
    assert conf["classes"] == ["CDM", "SIDM0.1", "SIDM0.3", "SIDM1"]
    assert np.asarray(conf["matrix"]).shape == (4, 4)
    # every stored prediction knows its split: clusters (not projections) were split, so each
    # projection carries its cluster's train/val/test tag, and the held-out ones are marked
    from kinview.db import connect

    conn = connect(clusters)
    splits = [json.loads(r[0])["split"] for r in
              conn.execute("SELECT p.extra FROM predictions p JOIN models m ON m.id = p.model_id "
                           "WHERE m.active = 1 AND m.task = 'darkmatter'")]
    conn.close()
    assert set(splits) == {"train", "val", "test"}
    assert splits.count("test") == result["n_held_out"]
