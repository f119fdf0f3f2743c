"""Cluster-map datasets: the synthetic generator, the safe native format, the darkCNN importer."""
import os
import pickle

import numpy as np
import pandas as pd
import pytest

from kinview.clusters.dataset import ClusterFormatError, load_clusters, save_clusters
from kinview.clusters.generator import CLASSES, generate_clusters, write_demo_clusters
from kinview.clusters.pickle_import import UnsafePickleError, import_pickle
from kinview.cli.main import main
from kinview.errors import KinviewError


def test_generator_is_deterministic_for_a_seed_and_differs_between_seeds():
    m1, t1 = generate_clusters(8, seed=3)
    m2, t2 = generate_clusters(8, seed=3)
    m3, _ = generate_clusters(8, seed=4)
    assert m1.shape == (8, 50, 50, 3) and m1.dtype == np.float32
    assert np.array_equal(m1, m2)
    pd.testing.assert_frame_equal(t1, t2)
    assert not np.allclose(m1, m3)


def test_generated_maps_and_attributes_are_physically_consistent():
    maps, table = generate_clusters(24, seed=1)
    assert set(table["label"]) == set(CLASSES)              # balanced over the four models
    assert table.groupby("clusterID").size().max() == 3      # three projections per cluster
    # one cluster's projections share redshift, mass and class
    for _, g in table.groupby("clusterID"):
        assert g["redshift"].nunique() == 1 and g["mass"].nunique() == 1 and g["label"].nunique() == 1
    assert set(table["redshift"]) <= {0.0, 0.125, 0.25, 0.375}
    assert table["mass"].between(1e14, 1e15).all()
    # SIDM cores grow with the cross-section; CDM has none
    core = table.groupby("cross_section")["core_kpc"].mean()
    assert core[0.0] == 0 and core[0.1] < core[1.0]
    # X-ray (gas density squared) is more centrally concentrated than the total mass
    c = np.hypot(*np.meshgrid(np.arange(50) - 24.5, np.arange(50) - 24.5))
    inner = c < 5
    mass_frac = (maps[..., 0] * inner).sum((1, 2)) / maps[..., 0].sum((1, 2))
    xray_frac = (maps[..., 1] * inner).sum((1, 2)) / maps[..., 1].sum((1, 2))
    assert np.all(xray_frac > mass_frac)
    # BCG ellipticity is a valid ellipticity; xrayConc is a flux ratio
    e = np.hypot(table["BCG_e1"], table["BCG_e2"])
    assert (e < 1).all() and table["xrayConc"].between(0, 1).all()
    # the stellar channel peaks near the centre (the BCG)
    peak = np.array([np.unravel_index(np.argmax(m[..., 2]), (50, 50)) for m in maps])
    assert np.median(np.hypot(peak[:, 0] - 24.5, peak[:, 1] - 24.5)) < 3


def test_native_format_round_trips_and_loads_without_pickle(tmp_path):
    summary = write_demo_clusters(tmp_path / "c", n=5, seed=2)
    assert summary["n"] == 5
    cs = load_clusters(tmp_path / "c")
    maps, table = generate_clusters(5, seed=2)
    assert np.array_equal(cs.maps, maps)
    assert list(cs.table["label"]) == list(table["label"])
    assert cs.channels == ["mass", "xray", "stellar"] and cs.classes == list(CLASSES)
    with np.load(tmp_path / "c" / "clusters.npz", allow_pickle=False) as z:   # no object arrays
        assert z["maps"].dtype == np.float32


def test_load_clusters_reports_a_missing_or_mismatched_file(tmp_path):
    with pytest.raises(ClusterFormatError, match="clusters.npz: missing"):
        load_clusters(tmp_path)
    save_clusters(tmp_path, np.zeros((3, 4, 4, 3)), {"label": ["CDM", "SIDM1", "CDM"]})
    pd.DataFrame({"label": ["CDM"]}).to_csv(tmp_path / "clusters.csv", index=False)
    with pytest.raises(ClusterFormatError, match="1 rows but 3 maps"):
        load_clusters(tmp_path)


def _darkcnn_pickle(path, protocol):
    rng = np.random.default_rng(0)
    n = 6
    images = [rng.random((50, 50, 3)).astype(np.float64) for _ in range(n)]
    params = {
        "label": np.array([0.0, 0.1, 0.3, 1.0, 0.0, 1.0]),
        "redshift": np.array([0.0, 0.125, 0.25, 0.375, 0.0, 0.125]),
        "mass": list(10 ** rng.uniform(14, 15, n)),
        "clusterID": np.array([0, 0, 1, 1, 2, 2]),
        "galaxy_catalogue": [rng.random((k, 3)) for k in (3, 5, 2, 7, 1, 4)],
        "BCG_e1": rng.normal(0, 0.1, n), "BCG_e2": rng.normal(0, 0.1, n),
        "xrayConc": rng.random(n), "lensing_norm": np.ones(n), "xray_norm": np.ones(n) * 2,
    }
    with open(path, "wb") as fh:
        pickle.dump((params, images), fh, protocol=protocol)
    return params, np.asarray(images, np.float32)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_darkcnn_pickle_round_trips_with_trust(tmp_path, protocol):
    params, images = _darkcnn_pickle(tmp_path / "data.pkl", protocol)
    summary = import_pickle(tmp_path / "data.pkl", tmp_path / "out", trust=True)
    assert summary["n"] == 6
    cs = load_clusters(tmp_path / "out")
    assert np.array_equal(cs.maps, images)
    assert list(cs.table["label"]) == ["CDM", "SIDM0.1", "SIDM0.3", "SIDM1", "CDM", "SIDM1"]
    assert np.allclose(cs.table["redshift"], params["redshift"])
    assert np.allclose(cs.table["BCG_e1"], params["BCG_e1"])
    assert list(cs.table["clusterID"]) == [0, 0, 1, 1, 2, 2]
    assert cs.classes == ["CDM", "SIDM0.1", "SIDM0.3", "SIDM1"]


def test_untrusted_pickle_is_refused_with_one_clear_line(tmp_path, capsys):
    _darkcnn_pickle(tmp_path / "data.pkl", 4)
    with pytest.raises(KinviewError, match="refusing to unpickle.*--trust"):
        import_pickle(tmp_path / "data.pkl", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    rc = main(["clusters", "import", str(tmp_path / "data.pkl"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--trust" in err
    assert not (tmp_path / "out").exists()


class _RunsCode:
    """Unpickling this calls os.system (writing a marker file) under a naive pickle.load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _WritesFile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("payload", [_RunsCode, _WritesFile])
def test_a_pickle_built_to_run_code_is_never_executed(tmp_path, payload, capsys):
    marker = tmp_path / "marker"
    with open(tmp_path / "evil.pkl", "wb") as fh:
        pickle.dump(({"label": [0.0]}, [payload(str(marker))]), fh)
    # without --trust: refused before reading
    assert main(["clusters", "import", str(tmp_path / "evil.pkl"), "--out", str(tmp_path / "o")]) == 2
    assert not marker.exists()
    # with --trust: the restricted unpickler refuses the global before calling it
    with pytest.raises(UnsafePickleError, match="refused to load global"):
        import_pickle(tmp_path / "evil.pkl", tmp_path / "o", trust=True)
    assert main(["clusters", "import", str(tmp_path / "evil.pkl"), "--out", str(tmp_path / "o"), "--trust"]) == 2
    assert "refused to load global" in capsys.readouterr().err
    assert not marker.exists()
    assert not (tmp_path / "o").exists()


def test_demo_clusters_command_writes_a_loadable_dataset(tmp_path, capsys):
    rc = main(["demo-clusters", "--out", str(tmp_path / "dc"), "--n", "7", "--seed", "5"])
    assert rc == 0
    assert '"n": 7' in capsys.readouterr().out
    cs = load_clusters(tmp_path / "dc")
    assert len(cs) == 7 and cs.maps.shape[1:] == (50, 50, 3)
    assert main(["demo-clusters", "--out", str(tmp_path / "bad"), "--n", "0"]) == 2
