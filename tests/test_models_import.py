"""Importing published models (.keras, .h5, SavedModel) and the model registry commands.

Every model here is built and saved by the test itself: a tiny Keras model in the Keras 3
``.keras`` and Keras 2 ``.h5`` formats, and a SavedModel written with ``tf.saved_model.save``
whose object graph carries optimizer slot variables the way Keras 2 SavedModels do, so that
``keras.layers.TFSMLayer`` fails on it with the same ``'_UserObject' object has no attribute
'add_slot'`` as on the seed's published network.  The survey is the tiny real-file survey of
``test_training_pipeline``."""
import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from test_training_pipeline import build_survey

TASK = "vfield-quality"


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    root = tmp_path_factory.mktemp("import-survey")
    build_survey(root, n=12, seed=3)
    return root


def _cli(args, capsys):
    from kinview.cli.main import main

    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def _keras_model(input_shape=(32, 32, 1), seed=0, lambda_layer=False):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape)
    x = keras.layers.Flatten()(inp)
    if lambda_layer:
        x = keras.layers.Lambda(lambda t: t * 2.0)(x)
    out = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inp, out)
    w = np.random.default_rng(seed).normal(0, 0.2, (int(np.prod(input_shape)), 1)).astype(np.float32)
    model.layers[-1].set_weights([w, np.array([0.1], np.float32)])
    return model


def _keras2_savedmodel(path: Path, seed=0):
    """A SavedModel with a (None, 32, 32) float32 input and a sigmoid output ``dense_3`` (the
    seed's FCN signature), whose object graph has a slot variable on a plain object: the
    Keras 2 optimizer pattern that TF 2.16+ / Keras 3 cannot restore."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.2, (1024, 1)).astype(np.float32)
    b = np.array([0.3], np.float32)

    class Net(tf.Module):
        def __init__(self):
            super().__init__()
            self.kernel = tf.Variable(w, name="kernel")
            self.bias = tf.Variable(b, name="bias")
            self.optimizer = tf.Module()
            self.optimizer.m = tf.Variable(tf.zeros_like(w), name="m")

        @tf.function(input_signature=[tf.TensorSpec([None, 32, 32], tf.float32, name="flatten_input")])
        def serve(self, x):
            return {"dense_3": tf.sigmoid(tf.matmul(tf.reshape(x, [-1, 1024]), self.kernel) + self.bias)}

    net = Net()
    tf.saved_model.save(net, str(path), signatures={"serving_default": net.serve})
    pb = path / "saved_model.pb"
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString(pb.read_bytes())
    graph = sm.meta_graphs[0].object_graph_def
    ids = {c.local_name: c.node_id for c in graph.nodes[0].children}
    opt = graph.nodes[ids["optimizer"]]
    ref = opt.slot_variables.add()
    ref.original_variable_node_id = ids["kernel"]
    ref.slot_name = "m"
    ref.slot_variable_node_id = {c.local_name: c.node_id for c in opt.children}["m"]
    pb.write_bytes(sm.SerializeToString())
    return path


def _db_state(survey):
    conn = sqlite3.connect(survey / "kinview.sqlite")
    try:
        rows = conn.execute("SELECT id, active, removed FROM models ORDER BY id").fetchall()
        n_pred = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
        n_ev = conn.execute("SELECT COUNT(*) FROM model_events").fetchone()[0]
    finally:
        conn.close()
    files = sorted(p.name for p in (survey / "models").iterdir()) if (survey / "models").exists() else []
    return rows, n_pred, n_ev, files


def _predictions(survey, model_id):
    conn = sqlite3.connect(survey / "kinview.sqlite")
    try:
        rows = conn.execute("SELECT plateifu, field, value FROM predictions WHERE model_id = ? "
                            "ORDER BY plateifu, field", (model_id,)).fetchall()
    finally:
        conn.close()
    return {(p, f): v for p, f, v in rows}


def _inputs(survey, style="kinview"):
    from kinview.tasks import get

    data = get(TASK).build_dataset(survey, {"input": style}, labelled_only=False)
    return data


# ----------------------------------------------------------------------------- seed32
def test_seed32_input_is_the_seeds_opencv_preprocessing():
    cv2 = pytest.importorskip("cv2")
    from kinview.kinematics.inputs import seed32_input

    rng = np.random.default_rng(4)
    for shape in [(74, 74), (34, 34), (32, 32), (22, 22), (44, 60)]:
        vel = (rng.normal(0, 120, shape)).astype(np.float32)
        masked = rng.random(shape) < 0.3
        field = np.ma.MaskedArray(vel, mask=masked)
        # the seed's process_velocity_field, verbatim in effect
        ref = cv2.resize(field.data / np.abs(field).max(), dsize=(32, 32), interpolation=cv2.INTER_CUBIC)
        np.testing.assert_allclose(seed32_input(field), ref, atol=2e-6, rtol=0)


REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "mpl8_stellar_dev" / "maps"


@pytest.mark.skipif(not REAL.is_dir(), reason="real MaNGA dev fields (../shared) not present")
def test_seed32_on_real_maps_equals_the_seed_on_the_fits_file():
    """kinview's reader + seed32_input against the seed's own steps on the raw FITS file."""
    cv2 = pytest.importorskip("cv2")
    from astropy.io import fits

    from kinview.data.maps import read_maps
    from kinview.kinematics.inputs import seed32_input

    files = sorted(REAL.glob("*.fits*"))[:12]
    assert files
    for f in files:
        with fits.open(f) as hdu:
            vel = hdu["STELLAR_VEL"].data
            field = np.ma.MaskedArray(vel, mask=hdu[hdu["STELLAR_VEL"].header["QUALDATA"]].data > 0)
            ref = cv2.resize(field.data / np.abs(field).max(), dsize=(32, 32), interpolation=cv2.INTER_CUBIC)
        np.testing.assert_allclose(seed32_input(read_maps(f).stellar), ref, atol=2e-6, rtol=0)


def test_seed32_keeps_masked_values_and_the_whole_grid():
    from kinview.kinematics.inputs import seed32_input, vfield_input

    vel = np.zeros((40, 40), np.float32)
    vel[10:20, 10:20] = 100.0
    vel[0, 0] = 500.0                    # masked, but its stored value stays (as in the seed)
    masked = np.ones_like(vel, bool)
    masked[10:20, 10:20] = False
    out = seed32_input((vel, masked))
    assert out.shape == (32, 32) and out.dtype == np.float32
    assert out.max() > 1.5               # the masked 500 km/s spaxel / 100 km/s scale
    assert np.allclose(out[20:, 20:], 0)  # the whole grid is kept: the field sits in a corner
    assert np.abs(vfield_input((vel, ~masked))).max() <= 1.0
    assert not seed32_input((vel, np.ones_like(masked))).any()     # nothing unmasked: zeros


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_keras_and_h5_models_round_trip(survey, tmp_path, capsys, fmt):
    model = _keras_model(seed=1 if fmt == "keras" else 2)
    path = tmp_path / f"published.{fmt}"
    model.save(str(path))
    rc, out, err = _cli(["models", "import", str(path), "--task", TASK, "--survey", str(survey)], capsys)
    assert rc == 0, err
    model_id = int(out.strip().splitlines()[-1])          # the last line is the new id
    data = _inputs(survey)
    expected = np.asarray(model.predict_on_batch(data.X[..., None])).reshape(-1)
    got = _predictions(survey, model_id)
    assert len(got) == len(data)
    np.testing.assert_allclose([got[tuple(i)] for i in data.ids], expected, atol=1e-6)

    from kinview.training.registry import get_model

    rec = get_model(survey, model_id)
    assert rec.card["source"] == "imported" and rec.card["format"] == fmt and not rec.active
    assert Path(rec.path).parent == survey / "models" and Path(rec.path).exists()
    assert rec.card["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

    # evaluate, then activate and predict like any other model
    rc, out, err = _cli(["evaluate", TASK, "--survey", str(survey), "--model", str(model_id)], capsys)
    assert rc == 0, err and '"n_held_out"' in out
    rc, out, err = _cli(["models", "activate", str(model_id), "--survey", str(survey)], capsys)
    assert rc == 0 and "now the active" in out
    rc, out, err = _cli(["predict", TASK, "--survey", str(survey)], capsys)
    assert rc == 0, err
    assert f"model {model_id} " in out
    again = _predictions(survey, model_id)
    np.testing.assert_allclose([again[k] for k in sorted(got)], [got[k] for k in sorted(got)], atol=1e-6)


def test_keras2_savedmodel_with_seed32_predicts_as_called_directly(survey, tmp_path, capsys):
    import keras
    import tensorflow as tf
    from astropy.io import fits

    path = _keras2_savedmodel(tmp_path / "optimal_FCN_50epoch_ReduceLRonPlateau")
    with pytest.raises(AttributeError, match="add_slot"):      # what Keras 3 does with it
        keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")

    rc, out, err = _cli(["models", "import", str(path), "--task", TASK, "--survey", str(survey),
                         "--input", "seed32"], capsys)
    assert rc == 0, err
    model_id = int(out.strip().splitlines()[-1])
    assert "tf.compat.v1" in out                              # loaded by the v1 loader
    got = _predictions(survey, model_id)

    # directly: the seed's preprocessing on the FITS file, then the graph in a v1 session
    try:
        import cv2

        def prep(field):
            return cv2.resize(field.data / np.abs(field).max(), dsize=(32, 32), interpolation=cv2.INTER_CUBIC)
    except ImportError:       # OpenCV is optional: the numpy version equals it (test above)
        from kinview.kinematics.inputs import seed32_input as prep

    names, X = [], []
    for f in sorted((survey / "maps").glob("*.fits*")):
        with fits.open(f) as hdu:
            vel = hdu["STELLAR_VEL"].data
            field = np.ma.MaskedArray(vel, mask=hdu[hdu["STELLAR_VEL"].header["QUALDATA"]].data > 0)
            names.append(hdu[0].header["PLATEIFU"])
            X.append(prep(field))
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(path))
        sig = meta.signature_def["serving_default"]
        direct = sess.run(sig.outputs["dense_3"].name,
                          feed_dict={sig.inputs["flatten_input"].name: np.asarray(X, np.float32)}).reshape(-1)
    stored = np.array([got[(p, "stellar")] for p in names])
    np.testing.assert_allclose(stored, direct, atol=1e-5)
    assert np.ptp(direct) > 0.05                              # the values carry information

    from kinview.training.registry import get_model

    card = get_model(survey, model_id).card
    assert card["input"] == "seed32" and card["options"]["input"] == "seed32"
    assert "add_slot" in card.get("v2_load_error", "")


# ----------------------------------------------------------------------------- bad input
def test_bad_imports_get_one_line_and_change_nothing(survey, tmp_path, capsys):
    not_a_model = tmp_path / "notes.keras"
    not_a_model.write_text("not a model")
    import h5py

    text_h5 = tmp_path / "weights.h5"          # HDF5, but weights only: no model in it
    with h5py.File(text_h5, "w") as f:
        f["dense/kernel"] = np.zeros((4, 1))
    garbled_h5 = tmp_path / "garbled.h5"
    garbled_h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"0" * 64)
    empty_dir = tmp_path / "empty_dir"
    empty_dir.mkdir()
    wrong_shape = tmp_path / "wrong.keras"
    _keras_model(input_shape=(16, 16, 1)).save(str(wrong_shape))
    with_lambda = tmp_path / "lambda.keras"
    _keras_model(lambda_layer=True).save(str(with_lambda))
    good = tmp_path / "good.keras"
    _keras_model().save(str(good))
    # make sure the survey has its database before taking the snapshot
    _cli(["models", "list", "--survey", str(survey)], capsys)
    before = _db_state(survey)
    cases = [
        ([str(not_a_model), "--task", TASK], "not a Keras"),
        ([str(text_h5), "--task", TASK], "without a Keras model"),
        ([str(garbled_h5), "--task", TASK], "not a Keras model"),
        ([str(empty_dir), "--task", TASK], "not a TensorFlow SavedModel"),
        ([str(tmp_path / "missing.keras"), "--task", TASK], "no such file"),
        ([str(wrong_shape), "--task", TASK], "expects inputs of shape"),
        ([str(with_lambda), "--task", TASK], "Lambda"),
        ([str(good), "--task", "no-such-task"], "unknown task"),
        ([str(good), "--task", "spin", "--input", "seed32"], "vfield-quality only"),
    ]
    for args, words in cases:
        rc, out, err = _cli(["models", "import"] + args + ["--survey", str(survey)], capsys)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert rc == 2, (args, out, err)
        assert len(lines) == 1 and lines[0].startswith("kinview: error:") and words in lines[0], (args, err)
        assert _db_state(survey) == before, args
    # a folder that is no survey stays as it was
    nowhere = tmp_path / "not_a_survey"
    nowhere.mkdir()
    rc, out, err = _cli(["models", "import", str(good), "--task", TASK, "--survey", str(nowhere)], capsys)
    assert rc == 2 and err.startswith("kinview: error:") and len(err.strip().splitlines()) == 1
    assert list(nowhere.iterdir()) == []


# ----------------------------------------------------------------------------- registry
def test_registry_activate_remove_rollback(survey, tmp_path, capsys):
    a, b = tmp_path / "a.keras", tmp_path / "b.keras"
    _keras_model(seed=5).save(str(a))
    _keras_model(seed=6).save(str(b))
    ids = []
    for p in (a, b):
        rc, out, err = _cli(["models", "import", str(p), "--task", TASK, "--survey", str(survey)], capsys)
        assert rc == 0, err
        ids.append(int(out.strip().splitlines()[-1]))
    ia, ib = ids
    assert _cli(["models", "activate", str(ia), "--survey", str(survey)], capsys)[0] == 0
    assert _cli(["models", "activate", str(ib), "--survey", str(survey)], capsys)[0] == 0
    rc, out, _ = _cli(["models", "list", "--survey", str(survey), "--task", TASK], capsys)
    line = next(ln for ln in out.splitlines() if ln.split()[0] == str(ib))
    assert "active" in line and "imported-keras" in line
    rc, out, _ = _cli(["models", "rollback", TASK, "--survey", str(survey)], capsys)
    assert rc == 0 and f"model {ia} " in out

    from kinview.training.registry import active_model, list_models, model_events

    assert active_model(survey, TASK).id == ia
    rc, out, _ = _cli(["models", "remove", str(ia), "--survey", str(survey)], capsys)
    assert rc == 0 and "kept" in out
    assert active_model(survey, TASK) is None                 # the shipped default is used now
    assert ia not in [r.id for r in list_models(survey, TASK)]
    kept = [r for r in list_models(survey, TASK, include_removed=True) if r.id == ia]
    assert kept and kept[0].removed and Path(kept[0].path).exists()
    assert _predictions(survey, ia)                           # predictions kept for the record
    rc, out, _ = _cli(["models", "list", "--survey", str(survey), "--all"], capsys)
    assert any(ln.split()[0] == str(ia) and "removed" in ln for ln in out.splitlines()[1:])
    events = [e["event"] for e in model_events(survey, TASK, ia)]
    assert events[0] == "imported" and events[-2:] == ["deactivated", "removed"]
    before = _db_state(survey)
    for args, words in ((["activate", str(ia)], "removed"), (["remove", str(ia)], "already removed"),
                        (["activate", "9999"], "no model 9999")):
        rc, out, err = _cli(["models"] + args + ["--survey", str(survey)], capsys)
        assert rc == 2 and err.startswith("kinview: error:") and words in err, (args, err)
        assert len(err.strip().splitlines()) == 1
    assert _db_state(survey) == before


def test_cli_train_keeps_a_worse_model_inactive_unless_forced(survey, tmp_path, capsys):
    """The active model here is an imported one (run on its own inputs); a 1-epoch model is
    compared with it on the new model's test split.  Whatever the comparison says, the CLI
    prints it; --force-activate makes the new model active."""
    from kinview.training.registry import active_model, get_model

    path = tmp_path / "active.keras"
    _keras_model(seed=9).save(str(path))
    rc, out, err = _cli(["models", "import", str(path), "--task", TASK, "--survey", str(survey),
                         "--activate"], capsys)
    assert rc == 0, err
    imported = int(out.strip().splitlines()[-1])
    assert active_model(survey, TASK).id == imported
    args = ["train", TASK, "--survey", str(survey), "--epochs", "1", "--option", "run_eagerly=1"]
    rc, out, err = _cli(args, capsys)
    assert rc == 0, err
    first = out.splitlines()[0]
    new_id = int(first.split()[1])
    decision = get_model(survey, new_id).card["activation"]
    assert decision["active_model"] == imported and decision["metric"] in ("roc_auc", "accuracy")
    assert f"of active model #{imported} on the same {decision['n_held_out']} held-out samples" in first
    if decision["activate"]:
        assert "made active" in first and active_model(survey, TASK).id == new_id
    else:
        assert "NOT made active" in first and active_model(survey, TASK).id == imported
        assert f"kinview models activate {new_id}" in out
    # forced: active whatever the figures
    assert _cli(["models", "activate", str(imported), "--survey", str(survey)], capsys)[0] == 0
    rc, out, err = _cli(args + ["--force-activate", "--seed", "7"], capsys)
    assert rc == 0, err
    forced = int(out.splitlines()[0].split()[1])
    assert active_model(survey, TASK).id == forced
    assert get_model(survey, forced).card["activation"]["forced"] is True
