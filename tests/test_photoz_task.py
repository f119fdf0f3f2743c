"""The photoz task: metrics against a worked example, architectures, datasets from both survey
layouts, and training + evaluation from the command line."""
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kinview.cli.main import main
from kinview.tasks import get
from kinview.tasks.photoz import photoz_metrics, predicted_vs_true


def test_metrics_match_a_worked_example():
    z_true = np.array([0.10, 0.20, 0.30, 0.40, 0.50])
    z_pred = np.array([0.12, 0.18, 0.33, 0.40, 0.90])
    m = photoz_metrics(z_true, z_pred)
    # by hand: dz = [0.02, -0.02, 0.03, 0, 0.40]
    # SS_res = 0.0004 + 0.0004 + 0.0009 + 0 + 0.16 = 0.1617; SS_tot = 0.1 → R² = 1 − 1.617 = −0.617
    assert m["r2"] == pytest.approx(-0.617)
    assert m["rmse"] == pytest.approx(np.sqrt(0.1617 / 5))
    # dz/(1+z) = [0.02/1.1, −0.02/1.2, 0.03/1.3, 0, 0.4/1.5]
    rel = [0.0181818, -0.0166667, 0.0230769, 0.0, 0.2666667]
    assert m["bias"] == pytest.approx(sum(rel) / 5, abs=1e-6)
    # median(rel) = 0.0181818; |rel − med| = [0, 0.0348485, 0.0048951, 0.0181818, 0.2484848];
    # median of those = 0.0181818 → σ_NMAD = 1.4826 × 0.0181818 = 0.0269564
    assert m["sigma_nmad"] == pytest.approx(0.0269564, abs=1e-6)
    # only the last one has |dz|/(1+z) > 0.15
    assert m["outlier_fraction"] == pytest.approx(0.2)
    assert m["n"] == 5
    # a perfect prediction
    p = photoz_metrics(z_true, z_true)
    assert p["r2"] == 1 and p["rmse"] == 0 and p["sigma_nmad"] == 0 and p["outlier_fraction"] == 0


def test_each_architecture_gives_one_redshift_per_image():
    from kinview.nets.photoz import build

    x = np.random.default_rng(0).random((2, 128, 128, 3)).astype("f4")
    z = np.asarray(build("default", z_mean=0.08, z_std=0.03)(x, training=False))
    assert z.shape == (2, 1) and np.all(np.isfinite(z))
    # the seed's VGG on small images (same layers; 128×128 in the task)
    z = np.asarray(build("seed-vgg", size=32, z_mean=0.08, z_std=0.03)(x[:, :32, :32], training=False))
    assert z.shape == (2, 1) and np.all(np.isfinite(z))


def _galaxy(z, rng, side=64):
    """A blob whose size and brightness fall and whose colour reddens with z."""
    yy, xx = np.mgrid[:side, :side] - (side - 1) / 2
    r = np.hypot(xx, yy)
    size = 3.0 / (z * 10 + 0.2)
    flux = np.exp(-r / size)
    colour = np.array([0.5 + 3 * z, 0.6, 0.9 - 3 * z])
    img = flux[..., None] * colour * (1.2 - 2 * z) + rng.normal(0, 0.02, (side, side, 3))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _survey(root, n, layout="manga"):
    rng = np.random.default_rng(1)
    (root / "images").mkdir(parents=True)
    z = rng.uniform(0.02, 0.15, n)
    if layout == "manga":
        ids = [f"{8000 + i}-1270{i % 5 + 1}" for i in range(n)]
        pd.DataFrame({"plateifu": ids, "nsa_z": z}).to_csv(root / "catalogue.csv", index=False)
    else:
        ids = [str(1237650000000000000 + i) for i in range(n)]
        pd.DataFrame({"objid": [int(i) for i in ids], "ra": 0.0, "dec": 0.0, "z": z}).to_csv(
            root / "catalogue.csv", index=False)
    for sid, zi in zip(ids, z):
        Image.fromarray(_galaxy(zi, rng)).save(root / "images" / f"{sid}.jpg", quality=95)
    return ids, z


def test_dataset_reads_an_sdss_query_catalogue_with_z_and_objid(tmp_path):
    ids, z = _survey(tmp_path / "sdss", 5, layout="sdss")
    (tmp_path / "sdss" / "images" / f"{ids[2]}.jpg").unlink()      # one image missing
    data = get("photoz").build_dataset(tmp_path / "sdss")
    assert len(data) == 4 and data.X.shape == (4, 128, 128, 3)
    assert [i for i, _ in data.ids] == [ids[k] for k in (0, 1, 3, 4)]
    assert np.allclose(data.y, z[[0, 1, 3, 4]])
    assert 0 <= data.X.min() and data.X.max() <= 1


def test_train_and_evaluate_photoz_from_the_cli(tmp_path, capsys):
    ids, z = _survey(tmp_path / "s", 20)
    assert main(["train", "photoz", "--survey", str(tmp_path / "s"), "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "photoz", "--survey", str(tmp_path / "s")]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("r2", "rmse", "sigma_nmad", "outlier_fraction", "bias"):
        assert isinstance(result["metrics"][key], float)
    assert result["metrics"]["n"] == result["n_held_out"] > 0
    pv = predicted_vs_true(tmp_path / "s")
    assert len(pv["z_true"]) == len(pv["z_pred"]) == result["n_held_out"]
    truth = dict(zip(ids, z))
    assert np.allclose(pv["z_true"], [truth[i] for i in pv["ids"]])
    assert pv["metrics"]["rmse"] == pytest.approx(result["metrics"]["rmse"], rel=1e-4)
