"""The cluster view on a tiny generated cluster dataset (``kinview demo-clusters`` format):
channels side by side with the stored maps, attributes, prev/next, and — after training a
darkmatter model from its own training panel — class probabilities and the confusion matrix."""
import numpy as np
import pytest

from kinview.gui import worker


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    from kinview.clusters.generator import write_demo_clusters

    root = tmp_path_factory.mktemp("clusters") / "ds"
    write_demo_clusters(root, n=24, seed=4)
    return root


def test_channels_attributes_and_navigation(qtbot, clusters):
    from kinview.clusters.dataset import load_clusters
    from kinview.gui.app import create_app
    from kinview.gui.cluster_view import open_cluster_view

    create_app()
    cs = load_clusters(clusters)
    win = open_cluster_view(clusters, expert="kim")
    qtbot.addWidget(win)
    view = win.cluster_view
    with qtbot.waitSignal(view.loaded, timeout=30000):
        pass
    assert list(view.channels) == ["mass", "xray", "stellar"]
    for c, name in enumerate(cs.channels):
        panel = view.channels[name]
        assert np.array_equal(panel.data, cs.maps[0, :, :, c])
        img = panel.image.image
        assert img.shape == (50, 50)
        # log10 scale: the brightest pixel of the map is the brightest of the image
        assert np.unravel_index(np.argmax(img), img.shape) == np.unravel_index(
            np.nanargmax(cs.maps[0, :, :, c]), img.shape)
        lo, hi = panel.bar.levels()
        assert hi > lo
    attrs = {view.attributes.item(r, 0).text(): view.attributes.item(r, 1).text()
             for r in range(view.attributes.rowCount())}
    assert float(attrs["redshift"]) == pytest.approx(cs.table["redshift"][0], abs=1e-3)
    assert float(attrs["mass"]) == pytest.approx(cs.table["mass"][0], rel=1e-3)
    assert str(cs.table["label"][0]) in view.title.text()
    # no model yet: no probabilities, no confusion matrix
    assert view.probs is None and "no active darkmatter model" in view.pred_label.text()
    assert view.confusion.rowCount() == 0
    # next / previous
    view.next()
    assert view.index == 1
    assert np.array_equal(view.channels["xray"].data, cs.maps[1, :, :, 1])
    view.previous()
    view.previous()
    assert view.index == 0
    # only cluster tasks are offered by its training panel
    tasks = [view.training.task_box.itemData(i) for i in range(view.training.task_box.count())]
    assert tasks == ["darkmatter"]
    win.close()


def test_training_from_the_view_shows_probabilities_and_confusion(qtbot, clusters):
    from kinview.gui.app import create_app
    from kinview.gui.cluster_view import open_cluster_view
    from kinview.tasks.darkmatter import active_confusion, cluster_view_data

    create_app()
    win = open_cluster_view(clusters, expert="kim")
    qtbot.addWidget(win)
    view = win.cluster_view
    with qtbot.waitSignal(view.loaded, timeout=30000):
        pass
    view.show_map(3)
    tp = view.training
    tp.select(task="darkmatter", arch="simple", epochs=1)
    lives = []
    tp.live_prediction.connect(lives.append)
    with qtbot.waitSignal(view.loaded, timeout=120000):   # reloads after the run
        tp.start()
    assert "done" in tp.status.text()
    # the live prediction was for the map on screen
    assert lives and lives[-1]["id"] == "map000003" and len(lives[-1]["rows"]) == 1
    # probabilities of the four classes for map 3, as stored by the trainer
    data = cluster_view_data(clusters, 3)
    assert view.index == 3 and data["prediction"] is not None
    assert list(view.probs) == ["CDM", "SIDM0.1", "SIDM0.3", "SIDM1"]
    assert sum(view.probs.values()) == pytest.approx(1.0, abs=1e-4)
    for k, v in data["prediction"]["probs"].items():
        assert view.probs[k] == pytest.approx(v, abs=1e-6)
    assert data["prediction"]["class"] in view.pred_label.text()
    # the confusion matrix of the active model, rows = true class
    conf = active_confusion(clusters)
    m = np.array(conf["matrix"])
    assert view.confusion.rowCount() == 4 and view.confusion.columnCount() == 4
    shown = np.array([[int(view.confusion.item(i, j).text()) for j in range(4)] for i in range(4)])
    assert np.array_equal(shown, m)
    win.close()
    worker.wait_all(30000)


def test_not_a_cluster_dataset_is_one_line_error(tmp_path):
    from kinview.clusters.dataset import ClusterFormatError
    from kinview.gui.app import create_app
    from kinview.gui.cluster_view import open_cluster_view

    create_app()
    with pytest.raises(ClusterFormatError, match="not a cluster dataset"):
        open_cluster_view(tmp_path, show=False)
