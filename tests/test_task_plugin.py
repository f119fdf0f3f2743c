"""A task plugs in from one module: a toy task registered only inside this test shows up in
``kinview train --help``, trains from the command line, is offered (with its own option) by
the GUI's training panel, gets its own plot in the Model tab and its own line in the
prediction box, and its predictions are exported under the column names it chooses — with
no edit anywhere else.

The toy is a one-layer regressor from two catalogue columns (axis ratio, redshift) of a
tiny demo survey: it trains in a second once Keras is imported.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kinview.tasks.base import Dataset, Task, TrainingOption

NAME = "toy-guess"
N = 8


class ToyTask(Task):
    """z × 100 (or b/a) from (b/a, z) of the catalogue: a linear regression, one Dense layer."""

    name = NAME
    title = "Toy: a number from two catalogue columns"
    kind = "regression"
    workspace = "survey"
    inputs = "(b/a, z) of the catalogue, float32 (2,)"
    target = "100 z (option target=z) or b/a (target=ba), dimensionless"
    label_source = "the survey catalogue"
    architectures = ("tiny",)
    default_arch = "tiny"
    default_epochs = 1
    menu_order = 50
    primary_metric = "pearson"
    split_fractions = (0.5, 0.25, 0.25)
    training_options = (TrainingOption("target", "what to guess",
                                       (("z", "redshift × 100", "z"), ("ba", "axis ratio", "ba")),
                                       default="z"),)

    def normalize_options(self, options=None):
        opts = dict(options or {})
        opts["target"] = opts.get("target") or "z"
        return opts

    def build_dataset(self, workspace_dir, options=None, state=None, labelled_only=True):
        from kinview.data.survey import Survey

        opts = self.normalize_options(options)
        survey = Survey.open(workspace_dir)
        try:
            gal = survey.galaxies(extra=False)
        finally:
            survey.close()
        X = gal[["ba", "z"]].to_numpy(np.float32)
        y = (gal["z"] * 100 if opts["target"] == "z" else gal["ba"]).to_numpy(np.float32)
        ids = [(str(p), "galaxy") for p in gal.index]
        return Dataset(X, y, ids, np.asarray([p for p, _ in ids]), f"toy-{opts['target']}",
                       {"label_source": "catalogue"})

    def build_model(self, arch, dataset, options=None):
        import keras

        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        return model

    def evaluate(self, y_true, y_pred, dataset=None):
        d = np.asarray(y_pred, float).reshape(-1) - np.asarray(y_true, float)
        return {"rmse": float(np.sqrt(np.mean(d ** 2))) if len(d) else float("nan"), "n": int(len(d))}

    def to_predictions(self, y_pred, dataset):
        return [(p, f, float(v), None, None)
                for (p, f), v in zip(dataset.ids, np.asarray(y_pred, float).reshape(-1))]

    # the hooks this test checks come back where the task plugs in
    def describe_prediction(self, field, value, confidence, extra=None):
        return f"toy guess {float(value):.4f}"

    def export_columns(self, field):
        return f"toy_guess_{field}", f"toy_guess_{field}_conf"


@pytest.fixture(scope="module")
def toy():
    """The toy task, registered for this module only."""
    from kinview.tasks import get, names, register, unregister

    names()                       # the real task modules first (discovery runs once)
    register(ToyTask)
    try:
        yield get(NAME)
    finally:
        unregister(NAME)


@pytest.fixture(scope="module")
def survey(tmp_path_factory, toy):
    from kinview.demo import generate_survey

    root = tmp_path_factory.mktemp("toy") / "survey"
    generate_survey(root, n=N, seed=3, jobs=1)
    from kinview.data.survey import Survey

    Survey.open(root, ingest=True).close()
    return root


@pytest.fixture(scope="module")
def trained(survey, toy):
    """``kinview train toy-guess`` on the survey; returns the active model's record."""
    from kinview.cli.main import main
    from kinview.training.registry import active_model

    assert main(["train", NAME, "--survey", str(survey), "--epochs", "1", "--option", "target=z"]) == 0
    rec = active_model(survey, NAME)
    assert rec is not None and rec.card["options"]["target"] == "z"
    return rec


def test_the_toy_task_is_listed_by_train_help(toy, capsys):
    from kinview.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    assert NAME in capsys.readouterr().out.replace("\n", " ")


def test_the_toy_task_trains_and_is_exported_under_its_own_column_names(survey, trained, tmp_path):
    from kinview.cli.main import main
    from kinview.training.prediction import predictions

    out = tmp_path / "labels.csv"
    assert main(["labels", "export", str(out), "--survey", str(survey), "--consensus"]) == 0
    table = pd.read_csv(out)
    assert {"toy_guess_galaxy", "toy_guess_galaxy_conf"} <= set(table.columns)
    assert not any(c.startswith(f"pred_{NAME.replace('-', '_')}") for c in table.columns)
    stored = predictions(survey, NAME).set_index("plateifu")["value"]
    got = table.set_index("plateifu")["toy_guess_galaxy"]
    assert len(stored) == N
    np.testing.assert_allclose(got.reindex(stored.index).to_numpy(float), stored.to_numpy(float), rtol=1e-6)


def test_the_gui_offers_plots_and_describes_the_toy_task(qapp, survey, trained, qtbot):
    from gui_support import model_window

    gen = model_window(survey, (1400, 900))
    w, panels = next(gen)
    try:
        # the training panel offers the task, with its own option and nothing else
        tp = panels.training
        offered = [tp.task_box.itemData(i) for i in range(tp.task_box.count())]
        assert NAME in offered
        tp.select(task=NAME, epochs=1, target="ba")
        assert list(tp.option_boxes) == ["target"]
        assert tp.options() == {"target": "ba"}
        assert tp.arch_box.currentData() == "tiny" and not tp.source_note.isVisible()
        with pytest.raises(ValueError):
            tp.select(mode="3class")       # another task's option is not offered for this one
        # the Model tab draws the task's plot (the default: a histogram of its predictions)
        b = panels.browser
        qtbot.waitUntil(lambda: NAME in b.plots, timeout=30000)
        view = b.plots[NAME]
        assert view.kind == "histogram" and int(view.counts.sum()) == N
        assert f"model #{trained.id}" in view.note.text()
        # clicking a bar lists that bar's galaxies in the window
        i = int(np.flatnonzero(view.counts)[0])
        with qtbot.waitSignal(b.bin_selected, timeout=5000) as sig:
            members = view.select_bin(i)
        assert sig.args[2] == members and len(members) == int(view.counts[i])
        assert sig.args[3].startswith("predicted value in [")
        assert w.state.order == members
        # the prediction box describes the galaxy on screen in the task's own words
        w.goto(members[0])
        qtbot.waitUntil(lambda: panels.prediction.plateifu == members[0], timeout=5000)
        text = panels.prediction.text()
        assert f"{NAME} #{trained.id}: toy guess " in text
    finally:
        for _ in gen:
            pass


def test_export_names_of_a_task_no_longer_registered_fall_back_to_the_default(toy):
    from kinview.tasks import export_columns

    assert export_columns(NAME, "galaxy") == ("toy_guess_galaxy", "toy_guess_galaxy_conf")
    # a model of a task whose module is gone still exports, under the default names
    assert export_columns("gone task", "gas") == ("pred_gone_task_gas", "pred_gone_task_gas_conf")


def test_labelling_queues_refuse_a_task_without_per_field_labels(survey, toy):
    from kinview.errors import KinviewError
    from kinview.training.active_learning import likely_label_errors, most_uncertain

    for queue in (most_uncertain, likely_label_errors):
        with pytest.raises(KinviewError, match="no labelling queues"):
            queue(survey, NAME)
