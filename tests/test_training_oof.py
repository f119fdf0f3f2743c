"""Out-of-fold evaluation with bootstrap intervals, the field-summary default recipe, and the
second synthetic family (``kinview demo --style vor10``)."""
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from test_training_pipeline import build_survey

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "mpl8_stellar_dev"


# ----------------------------------------------------------------------------- intervals
def test_classification_intervals_cover_the_truth_and_group_by_galaxy():
    from kinview.learning.intervals import classification_intervals

    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.75).astype(int)
    groups = np.repeat(np.arange(150), 2)
    perfect = classification_intervals(y, y.astype(float), groups, n_boot=200)
    assert perfect["roc_auc"] == {"value": 1.0, "lo": 1.0, "hi": 1.0}
    assert perfect["class_counts"] == np.bincount(y).tolist() and perfect["n_groups"] == 150
    assert perfect["majority_class"] == 1
    assert perfect["majority_baseline"]["value"] == pytest.approx(np.mean(y == 1))
    noise = classification_intervals(y, rng.random(300), groups, n_boot=300)
    lo, hi = noise["roc_auc"]["lo"], noise["roc_auc"]["hi"]
    assert lo < 0.5 < hi and hi - lo > 0.08          # a coin flip is not told apart from 0.5
    lo, hi = noise["majority_baseline"]["lo"], noise["majority_baseline"]["hi"]
    assert lo < np.mean(y == 1) < hi
    assert "bootstrap over galaxies" in noise["interval"]
    # one class only: AUC undefined, reported as None, not NaN
    one = classification_intervals(np.ones(5, int), np.full(5, 0.9), None, n_boot=50)
    assert one["roc_auc"]["value"] is None


def test_regression_intervals_and_the_task_hook():
    from kinview.tasks import get

    rng = np.random.default_rng(1)
    t = rng.random(200)
    p = t + rng.normal(0, 0.1, 200)
    spin = get("spin")
    m = spin.metrics_with_intervals(t, p, None, n_boot=200)
    assert set(spin.headline_metrics()) >= {"pearson", "spearman", "rmse"}
    for key in ("pearson", "spearman", "rmse"):
        assert m[key]["lo"] <= m[key]["value"] <= m[key]["hi"]
    assert m["rmse"]["value"] == pytest.approx(np.sqrt(np.mean((p - t) ** 2)))
    assert m["pearson"]["value"] == pytest.approx(np.corrcoef(t, p)[0, 1])
    vq = get("vfield-quality")
    assert vq.headline_metrics()[:2] == ("roc_auc", "balanced_accuracy")
    assert "roc_auc" in vq.metrics_with_intervals([0, 1, 1, 0], [0.2, 0.8, 0.7, 0.1], n_boot=20)


# ----------------------------------------------------------------------------- recipe
def test_field_summary_layer_matches_numpy_and_loads_in_safe_mode(tmp_path):
    from kinview.nets.field_summary import FEATURES, register, summary_features
    from kinview.nets.vfield import build
    from kinview.training.use import load_model, predict_arrays

    yy, xx = np.mgrid[0:32, 0:32] - 15.5
    disk = np.clip(xx / 10.0, -1, 1) * (np.hypot(xx, yy) < 14)
    noise = np.random.default_rng(2).uniform(-1, 1, (32, 32)) * (np.hypot(xx, yy) < 14)
    X = np.stack([disk, noise]).astype(np.float32)
    f = summary_features(X)
    assert f.shape == (2, len(FEATURES))
    assert np.allclose(np.asarray(register()()(X)), f, atol=1e-5)
    ps, sign = FEATURES.index("point_sym"), FEATURES.index("plane_sign")
    assert f[0, ps] < 0.05 < 0.3 < f[1, ps]          # a rotating field is point-antisymmetric
    assert f[0, sign] > 0.95 > 0.7 > f[1, sign]
    model = build("default")
    model.get_layer("out").set_weights([np.ones((len(FEATURES), 1), np.float32), np.zeros(1, np.float32)])
    path = tmp_path / "m.keras"
    model.save(path)
    again = load_model(path)                         # safe_mode=True
    assert np.allclose(predict_arrays(again, X), predict_arrays(model, X), atol=1e-6)


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    root = tmp_path_factory.mktemp("oof-survey")
    build_survey(root, n=24)
    return root


def test_default_recipe_is_an_exact_fit_and_deterministic(survey):
    from kinview.training import train

    a = train("vfield-quality", survey, seed=0, save=False)
    b = train("vfield-quality", survey, seed=0, save=False)
    assert a.card["epochs_run"] == 1 and a.card["n_params"] < 50
    wa, wb = a.model.get_layer("out").get_weights(), b.model.get_layer("out").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb))
    assert a.card["metrics_intervals"]["roc_auc"]["value"] == pytest.approx(a.metrics["roc_auc"])


def _cli(argv, capsys):
    from kinview.cli.main import main

    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_evaluate_oof_reports_intervals_and_stores_every_prediction(survey, capsys):
    from kinview.db.oof_runs import latest_run, run_predictions
    from kinview.tasks import get
    from kinview.training.oof import evaluation_summary

    rc, out, err = _cli(["evaluate", "vfield-quality", "--survey", str(survey), "--oof", "3"], capsys)
    assert rc == 0
    result = json.loads(out)
    m = result["metrics"]
    data = get("vfield-quality").build_dataset(survey, {}, labelled_only=True)
    assert result["samples"] == f"out-of-fold, {len(data)} labelled fields, 3 folds"
    assert m["n"] == len(data) and m["class_counts"] == np.bincount(data.y).tolist()
    for key in ("roc_auc", "balanced_accuracy", "accuracy", "majority_baseline"):
        assert m[key]["lo"] <= m[key]["value"] <= m[key]["hi"]
    assert "out-of-fold" in err and "roc_auc" in err and "class counts" in err and "[" in err
    # the run and one out-of-fold prediction per labelled field are in the database
    run = latest_run(survey, "vfield-quality")
    assert run["id"] == result["run_id"] and run["k"] == 3 and run["arch"] == "default"
    preds = run_predictions(survey, run["id"])
    assert {(p["plateifu"], p["field"]) for p in preds} == set(data.ids)
    assert {p["fold"] for p in preds} == {0, 1, 2}
    # a galaxy's two fields are held out by the same fold
    fold = {}
    for p in preds:
        assert fold.setdefault(p["plateifu"], p["fold"]) == p["fold"]
    summary = evaluation_summary(survey, "vfield-quality")
    assert summary["oof"]["samples"] == result["samples"]


def test_cli_evaluate_oof_bad_input_is_one_line(survey, capsys, tmp_path):
    conn = sqlite3.connect(str(survey / "kinview.sqlite"))
    before = conn.execute("SELECT COUNT(*) FROM oof_runs").fetchone()[0]
    conn.close()
    for argv, words in ((["--oof", "1"], "at least 2"), (["--oof", "3", "--model", "x.keras"], "recipe"),
                        (["--oof", "3", "--arch", "nope"], "unknown architecture"),
                        (["--oof", "500"], "cannot make 500 folds")):
        rc, out, err = _cli(["evaluate", "vfield-quality", "--survey", str(survey)] + argv, capsys)
        assert rc == 2 and err.startswith("kinview: error:") and words in err and err.count("\n") == 1, err
    rc, out, err = _cli(["evaluate", "no-such-task", "--survey", str(survey), "--oof", "3"], capsys)
    assert rc == 2 and "unknown task" in err
    conn = sqlite3.connect(str(survey / "kinview.sqlite"))
    assert conn.execute("SELECT COUNT(*) FROM oof_runs").fetchone()[0] == before
    conn.close()


def test_held_out_evaluate_prints_the_same_figures_with_intervals(survey, capsys):
    from kinview.training import train

    rec = train("vfield-quality", survey, seed=0)
    rc, out, err = _cli(["evaluate", "vfield-quality", "--survey", str(survey)], capsys)
    result = json.loads(out)
    n_test = rec.card["split_sizes"]["test"]
    assert rc == 0 and result["samples"] == f"held-out test split, n={n_test}"
    assert result["metrics_intervals"]["n"] == n_test and f"held-out test split, n={n_test}" in err


# ----------------------------------------------------------------------------- vor10 family
def test_demo_style_vor10_writes_a_different_family(tmp_path, capsys):
    import pandas as pd

    from kinview.data.survey import Survey
    from kinview.demo.vor10_style import DAPTYPE, voronoi_bins

    out = tmp_path / "vor"
    rc, text, err = _cli(["demo", "--style", "vor10", "--out", str(out), "--n", "10", "--jobs", "1"], capsys)
    assert rc == 0 and "vor10 style" in text
    truth = pd.read_csv(out / "truth.csv")
    assert len(truth) == 10 and set(truth["stel_qual"]) <= {0, 1, 2}
    assert len(list(out.rglob(f"*-MAPS-{DAPTYPE}.fits.gz"))) == 10
    survey = Survey.open(out, ingest=True)
    maps = survey.read_maps(truth["plateifu"][0])
    assert maps.field("stellar") is not None
    survey.close()
    # Voronoi bins: every bin reaches most of the target S/N, and bins are not square blocks
    snr = np.ones((30, 30)) * 2.0
    ok = np.ones((30, 30), bool)
    b = voronoi_bins(snr, ok, target=10.0)
    sizes = np.bincount(b[b >= 0])
    assert (np.sqrt(sizes * 4.0) >= 6.0).all() and len(set(sizes.tolist())) > 2
    rc, text, err = _cli(["demo", "--style", "nope", "--out", str(tmp_path / "x")], capsys)
    assert rc == 2 and "--style" in err and not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------- real data
@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/realdata not available")
def test_default_recipe_on_the_real_dev_fields(tmp_path):
    """The 153 real MaNGA MPL-8 stellar fields with the MPL-7 expert labels: 5-fold
    out-of-fold, the default recipe separates usable from do-not-use fields."""
    import os

    from kinview.training.oof import evaluate_oof

    real = tmp_path / "real"
    real.mkdir()
    for name in ("catalogue.fits", "maps"):
        os.symlink(REAL / name, real / name)
    from kinview.cli.main import main

    assert main(["ingest", str(real)]) == 0
    assert main(["labels", "import", str(REAL / "labels_mpl7.csv"), "--survey", str(real), "--expert", "mpl7"]) == 0
    r = evaluate_oof("vfield-quality", real, k=5, store=False, n_boot=300)
    m = r["metrics"]
    assert m["n"] == 153 and m["class_counts"] == [23, 130]
    assert m["roc_auc"]["value"] >= 0.88 and m["balanced_accuracy"]["value"] >= 0.78
    assert m["roc_auc"]["lo"] > 0.75

