"""End-to-end training on a tiny survey of real files: MAPS FITS, JPEG images, catalogue CSV,
SQLite labels.  Tiny models and 1-6 epochs keep the whole file well under a minute."""
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

N_GAL = 24


def _field(kind, usable, rng, ny=22):
    yy, xx = np.mgrid[0:ny, 0:ny].astype(float)
    yy, xx = yy - ny / 2 + 0.5, xx - ny / 2 + 0.5
    r = np.hypot(xx, yy)
    pa = np.deg2rad(rng.uniform(0, 360))
    if usable:
        proj = xx * np.sin(pa) + yy * np.cos(pa)
        vel = 200 * np.tanh(proj / 3.0) + rng.normal(0, 5, r.shape)
    else:
        vel = rng.normal(0, 150, r.shape)
    vel[r > ny / 2 - 1] = np.nan
    return vel


def build_survey(root: Path, n=N_GAL, seed=0):
    """Write a small survey: usable galaxies rotate, unusable ones are noise; λR_e follows
    the image's elongation; labels by expert 'alice' from the generator's truth."""
    from PIL import Image

    from kinview.data.maps_writer import write_maps

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    rows, truth = [], []
    for i in range(n):
        pifu = f"{9000 + i // 4}-{1901 + i % 4}"
        q_st = 2 if i % 3 else 0
        q_gas = 2 if i % 4 else 0
        ny = 22
        yy, xx = np.mgrid[0:ny, 0:ny].astype(float)
        x = -(xx - ny / 2 + 0.5) * 0.5
        y = (yy - ny / 2 + 0.5) * 0.5
        write_maps(root / "maps" / f"manga-{pifu}-MAPS-HYB10-MILESHC-MASTARSSP.fits", pifu, x=x, y=y,
                   stellar_vel=_field("stellar", q_st, rng), gas_vel=_field("gas", q_gas, rng),
                   reff=3.0, ell_ba=0.7, ell_pa=30.0)
        lam = float(rng.uniform(0.05, 0.8))
        ba = 1.0 - 0.8 * lam
        im = np.zeros((64, 64, 3), np.uint8)
        gy, gx = np.mgrid[-32:32, -32:32]
        blob = np.exp(-((gx / 14.0) ** 2 + (gy / (14.0 * ba)) ** 2))
        im[..., 0] = (200 * blob).astype(np.uint8)
        im[..., 1] = (160 * blob).astype(np.uint8)
        im[..., 2] = (120 * blob * (1 - lam)).astype(np.uint8)
        Image.fromarray(im).save(root / "images" / f"{pifu}.jpg", quality=95)
        rows.append(dict(plateifu=pifu, mangaid=f"1-{i}", objra=180.0 + i * 0.01, objdec=30.0,
                         ifudesignsize=19, nsa_z=0.03, nsa_elpetro_th50_r=3.0, nsa_elpetro_ba=ba,
                         nsa_elpetro_phi=30.0, nsa_sersic_n=2.0, nsa_elpetro_mass=1e10, lambda_re=lam))
        truth.append((pifu, q_st, q_gas))
    pd.DataFrame(rows).to_csv(root / "catalogue.csv", index=False)
    from kinview.data.survey import Survey
    from kinview.labels.store import LabelStore

    Survey.open(root, ingest=True).close()
    store = LabelStore(root, expert="alice")
    events = []
    for pifu, qs, qg in truth:
        events.append(dict(plateifu=pifu, field="stellar", kind="quality", value=qs))
        events.append(dict(plateifu=pifu, field="gas", kind="quality", value=qg))
    store.add_many(events)
    store.close()
    return truth


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-survey")
    build_survey(root)
    return root


@pytest.fixture(scope="module")
def trained(survey):
    """A binary model trained in a worker thread (as the GUI does) while this thread keeps
    writing labels through its own connection."""
    from kinview.labels.store import LabelStore
    from kinview.progress import TaskState
    from kinview.training import train

    events, result, errors = [], {}, []
    epoch_models = []
    state = TaskState(on_event=lambda kind, payload: events.append((kind, payload)))

    def work():
        try:
            # an SGD recipe (the default is fitted exactly, in one step): epoch events matter here
            result["rec"] = train("vfield-quality", survey, arch="kinview-cnn", epochs=4, seed=1, state=state,
                                  options={"class_weight": True, "run_eagerly": True},
                                  on_epoch_model=lambda e, fn: epoch_models.append((e, fn(np.zeros((2, 32, 32), np.float32)))))
            result["thread"] = threading.get_ident()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=work)
    store = LabelStore(survey, expert="bob")   # this thread's connection
    worker.start()
    n_written = 0
    while worker.is_alive():
        store.add("9000-1901", "stellar", "note", f"looked at it {n_written}")
        n_written += 1
        worker.join(0.05)
    store.close()
    assert not errors, errors
    return {"rec": result["rec"], "events": events, "epoch_models": epoch_models,
            "labels_written_meanwhile": n_written, "worker": result["thread"]}


def test_training_thread_and_caller_use_separate_connections(trained, survey):
    from kinview.db.connection import connect

    # sqlite3 connections here refuse use from another thread (check_same_thread): the worker
    # finished without error while this thread wrote labels on its own connection
    assert trained["worker"] != threading.get_ident()
    assert trained["labels_written_meanwhile"] >= 1
    conn = connect(survey)
    notes = conn.execute("SELECT COUNT(*) FROM labels WHERE expert='bob' AND kind='note'").fetchone()[0]
    rows = conn.execute("SELECT COUNT(*) FROM models WHERE active=1 AND task='vfield-quality'").fetchone()[0]
    conn.close()
    assert notes == trained["labels_written_meanwhile"]
    assert rows == 1


def test_epoch_events_progress_and_live_model(trained):
    epochs = [p for k, p in trained["events"] if k == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    for e in epochs:
        assert {"loss", "val_loss", "accuracy", "val_roc_auc", "lr"} <= set(e)
    assert [e for e, _ in trained["epoch_models"]] == [1, 2, 3, 4]
    assert all(p.shape == (2, 1) for _, p in trained["epoch_models"])
    assert sum(1 for k, _ in trained["events"] if k == "epoch_model") == 4


def test_split_by_galaxy_in_the_card(trained, survey):
    card = trained["rec"].card
    sizes = card["split_sizes"]
    assert sizes["train"] + sizes["val"] + sizes["test"] == card["n_samples"] == 2 * N_GAL
    test_groups = set(card["test_groups"])
    assert test_groups and all(g.count("-") == 1 for g in test_groups)
    # both fields of every test galaxy are in the test split: the split is by galaxy
    assert sizes["test"] == 2 * len(test_groups)


def test_model_card_content(trained, survey):
    from kinview import __version__
    from kinview.training.model_card import REQUIRED, card_path

    rec = trained["rec"]
    on_disk = json.loads(card_path(rec.path).read_text())
    assert set(REQUIRED) <= set(on_disk)
    assert on_disk["task"] == "vfield-quality" and on_disk["architecture"] == "kinview-cnn"
    assert on_disk["label_source"] == "expert:alice"
    assert on_disk["kinview_version"] == __version__
    assert on_disk["backend"] == "tensorflow" and on_disk["seed"] == 1 and on_disk["epochs"] == 4
    assert on_disk["options"]["mode"] == "binary"
    assert on_disk["metrics"]["n"] == on_disk["split_sizes"]["test"]
    assert len(on_disk["label_hash"]) >= 16
    # the models table row mirrors the card
    assert rec.card["label_hash"] == rec.label_hash == on_disk["label_hash"]
    assert rec.metrics["accuracy"] == pytest.approx(on_disk["metrics"]["accuracy"])
    assert Path(rec.path).parent == survey.resolve() / "models"


def test_class_weights_balance_the_training_classes(trained):
    from kinview.learning.splits import class_weights

    assert class_weights(np.array([0, 1, 1, 1]), 2) == {0: 2.0, 1: 2 / 3}
    assert class_weights(np.array([2, 2, 1]), 3) == {0: 0.0, 1: 1.5, 2: 0.75}
    card = trained["rec"].card
    cw = {int(k): v for k, v in card["class_weight"].items()}
    n0, n1 = card["split_class_counts"]["train"]
    # the minority class (unusable: 1 in 3 stellar, 1 in 4 gas fields) weighs more, and both
    # classes weigh the same in total
    assert n0 < n1 and cw[0] > cw[1] > 0
    assert cw[0] * n0 == pytest.approx(cw[1] * n1)


def test_saved_model_loads_in_safe_mode_and_predicts_the_same(trained, survey):
    import keras

    from kinview.training import load_model
    from kinview.training.prediction import predictions
    from kinview.learning.datasets import vfield_arrays
    from kinview.data.survey import Survey

    rec = trained["rec"]
    model = keras.saving.load_model(rec.path, safe_mode=True)
    assert not any(type(l).__name__ == "Lambda" for l in model.layers)
    stored = predictions(survey, "vfield-quality")
    assert len(stored) == 2 * N_GAL  # every field of every galaxy
    arrays = vfield_arrays(Survey.open(survey))
    row = {p: i for i, p in enumerate(arrays["plateifu"])}
    X = np.stack([arrays[f][row[p]] for p, f in zip(stored["plateifu"], stored["field"])])
    again = load_model(rec.path).predict_on_batch(X).reshape(-1)
    np.testing.assert_allclose(again, stored["value"].to_numpy(), atol=1e-5)
    assert (stored["confidence"] >= 0.5).all()


def test_evaluate_reproduces_the_card_metrics(trained, survey):
    from kinview.training import evaluate

    res = evaluate("vfield-quality", survey)
    assert res["held_out"].startswith("test split")
    assert res["n_held_out"] == trained["rec"].card["split_sizes"]["test"]
    assert res["metrics"]["accuracy"] == pytest.approx(trained["rec"].metrics["accuracy"])
    at = res["metrics"]["at_confidence"]
    assert list(at) == ["0.5", "0.8", "0.95", "0.99"]
    assert at["0.5"]["kept_fraction"] == 1.0
    assert at["0.5"]["kept_fraction"] >= at["0.8"]["kept_fraction"] >= at["0.99"]["kept_fraction"]


def test_cancel_after_first_epoch_keeps_previous_model(trained, survey):
    from kinview.db.connection import connect
    from kinview.errors import Cancelled
    from kinview.progress import TaskState
    from kinview.training import active_model, train

    before = active_model(survey, "vfield-quality")
    files_before = sorted(p.name for p in (survey / "models").iterdir())
    state = TaskState()
    state._on_event = lambda kind, p: state.cancel() if kind == "epoch" and p["epoch"] == 1 else None
    with pytest.raises(Cancelled):
        train("vfield-quality", survey, epochs=5, seed=2, state=state, options={"run_eagerly": True})
    after = active_model(survey, "vfield-quality")
    assert after.id == before.id
    conn = connect(survey)
    n = conn.execute("SELECT COUNT(*) FROM models").fetchone()[0]
    conn.close()
    assert n == 1
    assert sorted(p.name for p in (survey / "models").iterdir()) == files_before


def test_three_class_mode_from_the_command_line(survey, capsys):
    from kinview.cli.main import main
    from kinview.training import active_model
    from kinview.training.prediction import predictions

    assert main(["train", "vfield-quality", "--survey", str(survey), "--epochs", "1",
                 "--mode", "3class", "--labels", "expert:alice", "--seed", "3"]) == 0
    assert "made active" in capsys.readouterr().out
    rec = active_model(survey, "vfield-quality")
    assert rec.card["options"]["mode"] == "3class" and rec.card["seed"] == 3
    m = rec.metrics
    assert m["n_classes"] == 3 and np.array(m["confusion"]).shape == (3, 3)
    pred = predictions(survey, "vfield-quality")
    assert set(pred["value"].unique()) <= {0.0, 1.0, 2.0}
    probs = np.array([e["probs"] for e in pred["extra"]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    assert np.allclose(pred["confidence"], probs.max(axis=1), atol=1e-4)


def test_cli_predict_and_evaluate(trained, survey, capsys):
    from kinview.cli.main import main
    from kinview.db.connection import connect

    first = trained["rec"]
    assert main(["predict", "vfield-quality", "--survey", str(survey), "--model", first.path]) == 0
    conn = connect(survey)
    active = conn.execute("SELECT id FROM models WHERE task='vfield-quality' AND active=1").fetchall()
    n = conn.execute("SELECT COUNT(*) FROM predictions WHERE model_id=?", (first.id,)).fetchone()[0]
    conn.close()
    assert [r[0] for r in active] == [first.id] and n == 2 * N_GAL
    capsys.readouterr()
    assert main(["evaluate", "vfield-quality", "--survey", str(survey)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["accuracy"] == pytest.approx(first.metrics["accuracy"])
    assert main(["train", "no-such-task", "--survey", str(survey)]) == 2
    assert "unknown task" in capsys.readouterr().err


def test_uncertainty_queue_skips_labelled_fields(trained, survey):
    from kinview.labels.store import LabelStore
    from kinview.training.active_learning import likely_label_errors, most_uncertain

    # every field is labelled by alice: nothing to ask
    assert most_uncertain(survey, "vfield-quality", 10).empty
    store = LabelStore(survey, expert="alice")
    store.clear("9000-1902", "gas", "quality")
    store.clear("9001-1901", "stellar", "quality")
    store.close()
    queue = most_uncertain(survey, "vfield-quality", 10)
    assert set(zip(queue["plateifu"], queue["field"])) == {("9000-1902", "gas"), ("9001-1901", "stellar")}
    assert list(queue["confidence"]) == sorted(queue["confidence"])
    errors = likely_label_errors(survey, "vfield-quality", 10, min_confidence=0.5)
    assert set(errors.columns) >= {"plateifu", "field", "label", "value", "confidence"}


def test_spin_task_trains_on_images_and_catalogue(survey):
    from kinview.training import train
    from kinview.training.prediction import predictions

    rec = train("spin", survey, epochs=1, options={"run_eagerly": True})
    assert rec.card["label_source"] == "catalogue"
    assert {"pearson", "spearman", "rmse", "binned"} <= set(rec.metrics)
    pred = predictions(survey, "spin")
    assert len(pred) == N_GAL and set(pred["field"]) == {"galaxy"}
    assert pred["confidence"].isna().all()


def test_lambda_re_from_the_maps_is_measured_for_every_readable_maps_file(tmp_path):
    """The spin task's fallback target (λR_e from the MAPS, for galaxies the catalogue lacks)
    is there for every galaxy whose MAPS file reads, also when loaded from the cache."""
    from kinview.kinematics.lambda_r import lambda_re
    from kinview.learning.datasets import open_survey, vfield_arrays

    build_survey(tmp_path / "sv", n=4)
    survey = open_survey(tmp_path / "sv")
    first = vfield_arrays(survey, 32)
    assert np.isfinite(first["lambda_re_maps"]).all()
    pifu = str(first["plateifu"][0])
    assert first["lambda_re_maps"][0] == pytest.approx(float(lambda_re(survey.read_maps(pifu))))
    np.testing.assert_array_equal(vfield_arrays(survey, 32)["lambda_re_maps"], first["lambda_re_maps"])


def test_out_of_fold_predictions_feed_the_label_error_queue(survey):
    from kinview.labels.store import LabelStore
    from kinview.training import train
    from kinview.training.active_learning import likely_label_errors
    from kinview.training.prediction import predictions

    store = LabelStore(survey, expert="alice")
    store.add("9000-1902", "gas", "quality", 2)      # re-label the two cleared fields
    store.add("9001-1901", "stellar", "quality", 0)
    store.close()
    train("vfield-quality", survey, epochs=1, seed=4,
          options={"oof_folds": 2, "run_eagerly": True, "labels": "expert:alice"})
    pred = predictions(survey, "vfield-quality")
    # every labelled field has a prediction from the fold model that did not see its galaxy
    assert all(e.get("oof") for e in pred["extra"])
    assert all("full_value" in e for e in pred["extra"])
    errors = likely_label_errors(survey, "vfield-quality", 100, min_confidence=0.5)
    for r in errors.itertuples():
        assert (r.value >= 0.5) != (r.label >= 1)   # each one disagrees with alice's label


def test_predict_falls_back_to_the_shipped_model(tmp_path):
    """A survey with no model of its own is predicted with models/<task>-default.keras,
    whose card says honestly what it was trained on."""
    from kinview.paths import models_dir
    from kinview.training import predict
    from kinview.training.model_card import read_card
    from kinview.training.prediction import predictions

    shipped = models_dir() / "vfield-quality-default.keras"
    assert shipped.exists() and shipped.stat().st_size < 5e6
    card = read_card(shipped)
    # trained on the real MPL-8 dev fields with the MPL-7 expert labels, and the card says so
    assert card["task"] == "vfield-quality" and "real manga" in card["notes"].lower()
    assert "expert" in card["trained_on"].lower() and card["label_source"].startswith("expert:")
    assert card["metrics"]["roc_auc"] >= 0.85 and card["metrics_intervals"]["roc_auc"]["lo"] is not None
    root = tmp_path / "fresh"
    build_survey(root, n=8, seed=5)
    rec = predict("vfield-quality", root)
    assert Path(rec.path) == shipped and rec.active
    assert len(predictions(root, "vfield-quality")) == 16
