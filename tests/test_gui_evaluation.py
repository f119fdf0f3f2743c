"""The training panel and the Model tab show the same held-out and out-of-fold figures, with
intervals, and say which samples each uses (offscreen, real window, real worker threads)."""

import pytest

from gui_support import labelled_demo_survey



N = 8


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return labelled_demo_survey(tmp_path_factory.mktemp("evaluation") / "survey", N, seed=5)


def test_panel_and_model_tab_show_the_same_figures_and_their_samples(model_window, survey, qtbot):
    from kinview.tasks import get
    from kinview.training import train

    w, panels = model_window
    tab, dock = panels.evaluation, panels.training.evaluation
    assert tab.task == dock.task == "vfield-quality"
    with qtbot.waitSignal(dock.refreshed, timeout=30000):
        dock.refresh()
    assert "no held-out figures yet" in dock.text.text()

    # a trained model: its held-out test split, with intervals, in both places
    rec = train("vfield-quality", survey, seed=0)
    n_test = rec.card["split_sizes"]["test"]
    with qtbot.waitSignal(tab.refreshed, timeout=30000):
        dock.refresh()
    for view in (dock, tab):
        text = view.text.text()
        assert f"held-out test split, n={n_test}" in text and f"model #{rec.id}" in text
        assert "roc_auc" in text and "[" in text and "bootstrap" in text

    # an out-of-fold run started from the Model tab shows up in both, next to the test split
    n_fields = len(get("vfield-quality").build_dataset(survey, {}, labelled_only=True))
    with qtbot.waitSignal(tab.oof_finished, timeout=180000) as sig:
        assert tab.run_oof(k=3) is not None
        assert tab.run_oof(k=3) is None and not tab.oof_button.isEnabled()   # one at a time
    result = sig.args[0]
    assert result["samples"] == f"out-of-fold, {n_fields} labelled fields, 3 folds"
    qtbot.waitUntil(lambda: result["samples"] in dock.text.text() and result["samples"] in tab.text.text(),
                    timeout=30000)
    for view in (dock, tab):
        text = view.text.text()
        assert f"held-out test split, n={n_test}" in text and f"run #{result['run_id']}" in text
        assert "balanced_accuracy" in text and "majority_baseline" in text and "counts" in text
    qtbot.waitUntil(lambda: tab.oof_button.isEnabled(), timeout=10000)
    w.tabs.setCurrentWidget(panels.browser)
    w.grab().save(str(survey / "model-tab-evaluation.png"))
