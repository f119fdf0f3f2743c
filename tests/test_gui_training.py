"""The training panel in the real window, offscreen: a tiny vfield-quality model trains in a
worker thread on a tiny demo survey while the expert keeps labelling; the loss plot fills
epoch by epoch; the live prediction follows the galaxy on screen; at the end the predictions
are in the database and the galaxy table reloads them without a restart; cancelling a later
run leaves the previous model active."""

import numpy as np
import pytest
from PyQt5 import QtCore

from gui_support import labelled_demo_survey


N = 8


@pytest.fixture(scope="module")
def survey_template(tmp_path_factory):
    # an expert who labelled every field
    return labelled_demo_survey(tmp_path_factory.mktemp("train") / "survey", N, seed=2)


@pytest.fixture
def survey(survey_template, tmp_path):
    """A copy of the survey per test: the models one test trains never reach another."""
    import shutil

    return shutil.copytree(survey_template, tmp_path / "survey")


def _models(survey):
    from kinview.training import list_models

    return list_models(survey, "vfield-quality")


def test_training_runs_in_background_and_reloads_the_table(model_window, survey, qtbot):
    from kinview.labels.store import LabelStore
    from kinview.training import active_model

    w, panels = model_window
    tp = panels.training
    assert active_model(survey, "vfield-quality") is None
    assert np.isnan(w.table["pred_stellar"].to_numpy(float)).all()
    # an SGD recipe, so there are epochs to plot (the default is fitted exactly, in one step)
    tp.select(task="vfield-quality", arch="kinview-cnn", epochs=2, labels="me", mode="binary")
    assert tp.options() == {"labels": "expert:kim", "mode": "binary"}
    lives = []
    tp.live_prediction.connect(lives.append)
    current = w.state.current
    job = tp.start()
    assert job is not None and tp.is_running() and not tp.train_button.isEnabled()
    # the GUI thread is free: a label committed while training runs is on disk at once
    qtbot.waitUntil(lambda: tp.progress.format() != "preparing data…" or not tp.is_running(),
                    timeout=60000)
    running_while_labelling = tp.is_running()
    event = w.label("galaxy", "note", "labelled during training", advance=False)
    assert event is not None and running_while_labelling
    store = LabelStore(survey, expert="kim")
    notes = store.current("kim")
    store.close()
    assert "labelled during training" in set(notes["text"].dropna().astype(str))
    with qtbot.waitSignal(panels.table_reloaded, timeout=120000):
        pass
    rec = tp.last_record
    assert rec is not None and rec.task == "vfield-quality"
    # the plot got one point per epoch, loss and validation loss
    x, y = tp.loss_curve.getData()
    assert list(x) == [1, 2] and np.isfinite(y).all()
    vx, vy = tp.val_curve.getData()
    assert list(vx) == [1, 2]
    assert tp.progress.value() == 2 and "done" in tp.status.text()
    assert "ETA" in tp.eta.text() or "total" in tp.eta.text()
    # the epoch's model predicted the galaxy on screen after every epoch
    assert [p["epoch"] for p in lives] == [1, 2]
    assert all(p["id"] == current and p["rows"] for p in lives)
    assert {r[1] for r in lives[-1]["rows"]} <= {"stellar", "gas"}
    # the new model is active and its predictions are in the DB for every galaxy with maps
    act = active_model(survey, "vfield-quality")
    assert act.id == rec.id
    from kinview.training.prediction import predictions

    pred = predictions(survey, "vfield-quality")
    assert len(set(pred["plateifu"])) == N
    # ... and the galaxy table shows them without a restart
    assert w.model_id == rec.id
    stored = dict(zip(zip(pred["plateifu"], pred["field"]), pred["value"]))
    for pifu in w.table.index:
        v = stored.get((pifu, "stellar"))
        if v is not None:
            assert w.table.at[pifu, "pred_stellar"] == pytest.approx(v)
    col = w.galaxy_list.model.columns.index("pred_stellar")
    shown = w.galaxy_list.model.data(w.galaxy_list.model.index(0, col))
    assert shown == f"{stored[(w.galaxy_list.model.order[0], 'stellar')]:.2f}"
    # the model filter works on the new predictions
    w.set_filter("low_confidence", None)
    conf = np.minimum(w.table["conf_stellar"].fillna(1).to_numpy(), w.table["conf_gas"].fillna(1).to_numpy())
    assert len(w.state.order) == int((conf < 0.7).sum())
    w.set_filter("all", None)
    # the prediction label of the galaxy on screen shows the new model
    assert f"#{rec.id}" in panels.prediction.text()
    w.grab().save(str(survey / "after-training.png"))


def test_cancel_keeps_the_previous_model_active(model_window, survey, qtbot):
    from kinview.training import active_model

    w, panels = model_window
    tp = panels.training
    from kinview.training import train

    # an active model to keep: trained here (one epoch), not left over from another test
    before = train("vfield-quality", survey, arch="kinview-cnn", epochs=1, seed=0,
                   options={"labels": "expert:kim", "mode": "binary"})
    assert active_model(survey, "vfield-quality").id == before.id
    w.model_panels.reload_predictions()
    qtbot.waitUntil(lambda: w.model_id == before.id, timeout=30000)
    n_models = len(_models(survey))
    tp.select(task="vfield-quality", arch="kinview-cnn", epochs=200)
    with qtbot.waitSignal(tp.epoch, timeout=60000):
        tp.start(seed=3)
    assert tp.start() is None and "already" in tp.status.text()     # one run at a time
    with qtbot.waitSignal(tp.cancelled, timeout=60000):
        tp.cancel()
    qtbot.waitUntil(lambda: not tp.is_running(), timeout=10000)
    assert "cancelled" in tp.status.text()
    assert tp.train_button.isEnabled() and not tp.cancel_button.isEnabled()
    assert 1 <= len(tp.history) < 200
    after = active_model(survey, "vfield-quality")
    assert after.id == before.id
    assert len(_models(survey)) == n_models
    assert w.model_id == before.id


def test_bad_workspace_is_reported_in_the_panel(model_window, survey, qtbot):
    from kinview.gui.training_panel import TrainingPanel

    # a survey without labels: the trainer's one-line reason reaches the panel
    empty = TrainingPanel(survey.parent / "no-such-survey", expert="kim", workspace_kind="survey")
    qtbot.addWidget(empty)
    empty.select(task="vfield-quality", epochs=1)
    with qtbot.waitSignal(empty.failed, timeout=60000) as sig:
        empty.start()
    assert sig.args[0] and "training failed" in empty.status.text()
    qtbot.waitUntil(lambda: not empty.is_running(), timeout=10000)
    assert empty.train_button.isEnabled()


def test_panel_offers_the_classifier_first_with_each_architectures_recipe_length(qtbot, tmp_path):
    """A new user opening the panel sees vfield-quality, and the epochs box follows the
    chosen architecture's recipe (a seed's 50 epochs, not the task's generic default)."""
    from kinview.gui.training_panel import TrainingPanel
    from kinview.tasks import get

    panel = TrainingPanel(tmp_path, expert="kim", workspace_kind="survey")
    qtbot.addWidget(panel)
    offered = [panel.task_box.itemData(i) for i in range(panel.task_box.count())]
    assert offered[:2] == ["vfield-quality", "spin"] and "darkmatter" not in offered
    assert panel.task_box.currentData() == "vfield-quality"
    task = get("vfield-quality")
    assert panel.epochs_box.value() == task.training_config("default")["epochs"]
    # the default is fitted exactly: no epochs to choose, and the box says so
    assert not panel.epochs_box.isEnabled() and "exact" in panel.epochs_box.text()
    panel.select(arch="seed-fcn")
    assert panel.epochs_box.value() == 50
    assert panel.epochs_box.isEnabled() and panel.epochs_box.text() == "50"
    panel.select(task="spin")
    assert panel.arch_box.currentData() == "default"
    assert panel.epochs_box.value() == get("spin").training_config("default")["epochs"]


def test_train_and_cancel_stay_put_while_the_text_around_them_changes(model_window, qtbot):
    """Found by hand under Xvfb: the prediction box grew by three lines during a run and the
    dock widened, so a click aimed at Cancel opened the label-source list instead."""
    w, panels = model_window
    panels.dock.show()
    qtbot.wait(50)
    cancel = panels.training.cancel_button
    where, width = cancel.mapTo(w, QtCore.QPoint(0, 0)), panels.dock.width()
    panels.prediction.live = ("training vfield-quality, epoch 28: stellar: P(usable) 0.99 "
                              "(confidence 0.99) · gas: P(usable) 0.96 (confidence 0.96)")
    panels.prediction.update_for(w.view.drawn_plateifu,
                                 {"vfield-quality": [("stellar", 0.84, 0.84, {"mode": "binary"}),
                                                     ("gas", 0.48, 0.52, {"mode": "binary"})]},
                                 {"vfield-quality": {"model_id": 3}})
    panels.training.status.setText("done: model #4 (vfield-quality, seed-cnn) is active — test-split "
                                   "accuracy 0.966 · roc_auc 0.993 · balanced_accuracy 0.978")
    panels.training.eta.setText("total 25 s; predictions for every sample are in the database")
    panels.training.metrics_label.setText("epoch 50: loss 0.207 · val_loss 0.212 · val_accuracy 0.931 · "
                                          "val_roc_auc 0.947 · lr 1e-05")
    qtbot.wait(100)
    assert "epoch 28" in panels.prediction.text()
    assert cancel.mapTo(w, QtCore.QPoint(0, 0)) == where
    assert panels.dock.width() == width
