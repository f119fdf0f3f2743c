"""Import published models: ``kinview models import PATH --task TASK [--input seed32]``.

Accepted formats
    ``.keras``   Keras 3 archive, loaded with ``safe_mode=True``;
    ``.h5``      Keras 2 HDF5 model (``.hdf5`` too), loaded by Keras 3's legacy loader with
                 ``safe_mode=True``;
    directory    a TensorFlow SavedModel (``saved_model.pb`` + ``variables/``), run through its
                 ``serving_default`` signature.  It is loaded with ``tf.saved_model.load``;
                 SavedModels written by Keras 2 (the seed published its network so) fail there,
                 and in ``keras.layers.TFSMLayer``, with ``'_UserObject' object has no attribute
                 'add_slot'`` (their optimizer's slot variables), so those are loaded with
                 TensorFlow's v1 loader (``tf.compat.v1.saved_model.loader.load`` in a graph of
                 their own) and run in a session.

No code from a model file ever runs: Keras configs are checked before loading and refused when
they hold a ``Lambda`` layer or a class from outside Keras and kinview (custom objects), on top
of Keras' own ``safe_mode``; a SavedModel is a TensorFlow graph (no Python).

The imported model is copied to ``WORKSPACE/models/`` with a JSON model card (``source:
imported``, the original path, format, loader, input style, SHA-256), registered in the
``models`` table *inactive* (``kinview models activate ID`` makes it the task's model), and
its predictions for every sample are stored.  Its metrics are measured on every labelled
sample of the workspace (it was trained elsewhere).  Bad input (not a model, an input shape
the task does not make, an output the task cannot read, an unknown task) raises
:class:`~kinview.errors.KinviewError` before anything is written.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

import kinview.nets.layers  # noqa: F401  (kinview's own serializable layers)
from kinview.db import models as models_db
from kinview.db.connection import connect, transaction
from kinview.errors import KinviewError
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.registry import get, names
from kinview.training.model_card import card_path, write_card
from kinview.training.registry import ModelRecord
from kinview.training.use import (kinview_version, mark_rows, one_keras_thread, predict_arrays,
                                  setup_keras)

FORMATS = ("keras", "h5", "savedmodel")
#: input styles (``--input``); ``kinview`` is the task's own preprocessing
INPUT_STYLES = ("kinview", "seed32")
#: packages whose classes a model config may name (installed code, not code from the file)
TRUSTED_MODULE_PREFIXES = ("keras", "kinview.")


# ----------------------------------------------------------------------------- format
def detect_format(path: Union[str, Path]) -> str:
    """``keras``, ``h5`` or ``savedmodel`` for a model path; :class:`KinviewError` otherwise."""
    path = Path(path)
    if not path.exists():
        raise KinviewError(f"{path}: no such file or directory")
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "savedmodel"
        raise KinviewError(f"{path}: a directory but not a TensorFlow SavedModel (no saved_model.pb)")
    suffix = path.suffix.lower()
    if suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise KinviewError(f"{path}: not a Keras 3 .keras archive")
        return "keras"
    if suffix in (".h5", ".hdf5"):
        import h5py

        if not h5py.is_hdf5(str(path)):
            raise KinviewError(f"{path}: not an HDF5 file")
        return "h5"
    raise KinviewError(f"{path}: not a model; expected a .keras file, a .h5 file or a SavedModel directory")


def _keras_config(path: Path, fmt: str) -> Dict[str, Any]:
    try:
        if fmt == "keras":
            with zipfile.ZipFile(path) as z:
                return json.loads(z.read("config.json"))
        import h5py

        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            if raw is None:
                raise KinviewError(f"{path}: an HDF5 file without a Keras model in it (weights only?)")
            return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except KinviewError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file is "not a model"
        raise KinviewError(f"{path}: not a Keras model ({type(exc).__name__}: {exc})") from None


def check_config(config, where: str = "model") -> None:
    """Refuse a Keras config that would run code from the file.

    Raises :class:`KinviewError` for a ``Lambda`` layer (serialised Python) or any object
    whose ``module`` is outside Keras and kinview (a custom object the file expects the
    loader to import).
    """
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            cls = item.get("class_name")
            if cls == "Lambda":
                raise KinviewError(f"{where}: has a Lambda layer (Python code); kinview never runs "
                                   "code from a model file")
            module = item.get("module")
            if isinstance(cls, str) and isinstance(module, str) and module and \
                    not module.startswith(TRUSTED_MODULE_PREFIXES):
                raise KinviewError(f"{where}: needs custom object {cls!r} from {module!r}; kinview "
                                   "only loads Keras layers and its own")
            if isinstance(cls, str) and "registered_name" in item and isinstance(item["registered_name"], str) \
                    and ">" in item["registered_name"] and not item["registered_name"].startswith("kinview"):
                raise KinviewError(f"{where}: needs custom object {item['registered_name']!r}")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# ----------------------------------------------------------------------------- running
class SavedModelPredictor:
    """A SavedModel's ``serving_default`` signature behind ``predict_on_batch``.

    Attributes
    ----------
    input_shape, output_shape : tuple
        With ``None`` for the batch axis.
    loader : str
        ``tf.saved_model.load`` or ``tf.compat.v1.saved_model.loader.load`` (Keras 2 era).
    """

    def __init__(self, path: Union[str, Path]):
        setup_keras()
        import tensorflow as tf

        self.path = str(path)
        self._session = None
        try:
            obj = tf.saved_model.load(self.path)
            if "serving_default" not in obj.signatures:
                raise KinviewError(f"{path}: the SavedModel has no serving_default signature")
            fn = obj.signatures["serving_default"]
            inputs = fn.structured_input_signature[1]
            outputs = fn.structured_outputs
            self._obj, self._fn = obj, fn
            self._in = [(k, tuple(v.shape.as_list()), v.dtype.as_numpy_dtype) for k, v in sorted(inputs.items())]
            self._out = [(k, tuple(v.shape.as_list())) for k, v in sorted(outputs.items())]
            self.loader = "tf.saved_model.load"
        except KinviewError:
            raise
        except Exception as first:  # noqa: BLE001 - Keras 2 SavedModels: '_UserObject' ... 'add_slot'
            self._load_v1(tf, path, first)
        if len(self._in) != 1:
            raise KinviewError(f"{path}: serving_default takes {len(self._in)} inputs; kinview feeds one")
        if len(self._out) != 1:
            raise KinviewError(f"{path}: serving_default gives {len(self._out)} outputs; kinview reads one")
        shape = self._in[0][1]
        self.input_shape = (None,) + tuple(shape[1:])
        self.output_shape = (None,) + tuple(self._out[0][1][1:])

    def _load_v1(self, tf, path, first: Exception) -> None:
        graph = tf.Graph()
        try:
            with graph.as_default():
                sess = tf.compat.v1.Session(graph=graph)
                meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], self.path)
        except Exception as exc:  # noqa: BLE001
            raise KinviewError(f"{path}: cannot load the SavedModel ({type(first).__name__}: "
                               f"{str(first).splitlines()[0][:160]}; v1 loader: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:160]})") from None
        sigs = meta.signature_def
        if "serving_default" not in sigs:
            sess.close()
            raise KinviewError(f"{path}: the SavedModel has no serving_default signature")
        sig = sigs["serving_default"]

        def shape_of(info):
            if info.tensor_shape.unknown_rank:
                return ()
            return tuple(None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim)

        self._session, self._graph = sess, graph
        self._in = [(k, shape_of(v), tf.dtypes.as_dtype(v.dtype).as_numpy_dtype, v.name)
                    for k, v in sorted(sig.inputs.items())]
        self._out = [(k, shape_of(v), v.name) for k, v in sorted(sig.outputs.items())]
        self.loader = "tf.compat.v1.saved_model.loader.load"
        self.v2_error = f"{type(first).__name__}: {str(first).splitlines()[0][:200]}"

    def predict_on_batch(self, x) -> np.ndarray:
        name, shape, dtype = self._in[0][:3]
        x = np.asarray(x, dtype)
        if self._session is not None:
            out = self._session.run(self._out[0][2], feed_dict={self._in[0][3]: x})
            return np.asarray(out)
        import tensorflow as tf

        res = self._fn(**{name: tf.constant(x)})
        return np.asarray(res[self._out[0][0]])

    def count_params(self) -> Optional[int]:
        try:
            if self._session is not None:
                with self._graph.as_default():
                    return int(sum(np.prod(v.shape.as_list()) for v in
                                   self._graph.get_collection("trainable_variables") or
                                   self._graph.get_collection("variables")))
            return int(sum(np.prod(v.shape) for v in self._obj.variables))
        except Exception:  # noqa: BLE001
            return None


class InputAdapter:
    """A loaded model behind ``predict_on_batch`` that reshapes the task's inputs to the
    model's declared input shape when only the layout differs (``(n, 32, 32)`` ↔
    ``(n, 32, 32, 1)`` or ``(n, 1024)``)."""

    def __init__(self, model, fmt: str, loader: str = ""):
        self.model = model
        self.format = fmt
        self.loader = loader or ("keras.saving.load_model(safe_mode=True)" if fmt != "savedmodel" else "")
        shape = model.input_shape
        if isinstance(shape, list):
            if len(shape) != 1:
                raise KinviewError(f"the model takes {len(shape)} inputs; kinview feeds one")
            shape = shape[0]
        self.input_shape = tuple(shape)
        out = model.output_shape
        if isinstance(out, list):
            if len(out) != 1:
                raise KinviewError(f"the model gives {len(out)} outputs; kinview reads one")
            out = out[0]
        self.output_shape = tuple(out)

    def adapt(self, x) -> np.ndarray:
        x = np.asarray(x)
        want = self.input_shape[1:]
        if tuple(x.shape[1:]) == tuple(want):
            return x
        if any(d is None for d in want) or int(np.prod(want)) != int(np.prod(x.shape[1:])):
            raise KinviewError(f"the model expects inputs of shape {tuple(want)}, the task makes "
                               f"{tuple(x.shape[1:])}")
        return x.reshape((len(x),) + tuple(want))

    def predict_on_batch(self, x) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(self.adapt(x)))

    def count_params(self) -> Optional[int]:
        fn = getattr(self.model, "count_params", None)
        return fn() if fn is not None else None


def load_external(path: Union[str, Path], fmt: Optional[str] = None) -> InputAdapter:
    """Load a ``.keras``/``.h5``/SavedModel safely; returns an :class:`InputAdapter`."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "savedmodel":
        sm = SavedModelPredictor(path)
        return InputAdapter(sm, fmt, sm.loader)
    check_config(_keras_config(path, fmt), str(path))

    keras = setup_keras()

    try:
        model = keras.saving.load_model(str(path), safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001
        raise KinviewError(f"{path}: cannot load model ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    return InputAdapter(model, fmt)


# ----------------------------------------------------------------------------- import
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(f.relative_to(path).as_posix().encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _destination(workspace: Path, task_name: str, src: Path, fmt: str) -> Path:
    mdir = workspace / "models"
    mdir.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in (src.stem if src.is_file() else src.name))[:60]
    ext = {"keras": ".keras", "h5": ".h5", "savedmodel": ""}[fmt]
    n = 1
    while True:
        name = f"{task_name}-imported-{stem}-{stamp}" + (f"-{n}" if n > 1 else "") + ext
        dest = mdir / name
        if not dest.exists() and not card_path(dest).exists():
            return dest
        n += 1


@one_keras_thread
def import_model(path: Union[str, Path], task, workspace_dir: Union[str, Path],
                 input_style: Optional[str] = None, state: TaskState = NULL_STATE):
    """Import a published model into a workspace's registry (inactive); returns its record.

    Parameters
    ----------
    path : path-like
        A ``.keras`` or ``.h5`` file or a SavedModel directory.
    task : str or Task
    workspace_dir : path-like
        The survey directory.
    input_style : str, optional
        How the task's inputs are made for this model, one of the task's ``input_styles``
        (e.g. ``seed32``, the seed's own preprocessing of velocity fields,
        :func:`kinview.kinematics.inputs.seed32_input`); default kinview's.

    Returns
    -------
    ModelRecord (``active`` False); ``card["source"] == "imported"``.
    """
    task = get(task) if isinstance(task, str) else task
    src = Path(path).expanduser().resolve()
    workspace = Path(workspace_dir).expanduser().resolve()
    if not workspace.is_dir():
        raise KinviewError(f"{workspace}: no such survey directory")
    created = _new_paths(workspace)
    try:
        return _import(src, task, workspace, input_style, state)
    except BaseException:
        created.remove_new()   # a failed import into a folder that was no survey leaves no trace
        raise


class _new_paths:
    """Files a failed import may have created in a folder that was not yet a survey
    (the database and the input cache made while reading it); :meth:`remove_new` deletes
    those that did not exist before."""

    NAMES = ("kinview.sqlite", "kinview.sqlite-wal", "kinview.sqlite-shm", ".kinview-cache")

    def __init__(self, workspace: Path):
        self.workspace = workspace
        self.before = {n for n in self.NAMES if (workspace / n).exists()}

    def remove_new(self) -> None:
        if "kinview.sqlite" in self.before:
            return
        for n in self.NAMES:
            p = self.workspace / n
            if n in self.before or not p.exists():
                continue
            try:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            except OSError:
                pass


def _import(src: Path, task, workspace: Path, input_style: Optional[str], state: TaskState):
    style = input_style or "kinview"
    if style not in INPUT_STYLES:
        raise KinviewError(f"--input {style!r}: known input styles are {', '.join(INPUT_STYLES)}")
    if style not in task.input_styles:
        owners = [n for n in names() if style in get(n).input_styles]
        raise KinviewError(f"--input {style} is an input of {', '.join(owners) or 'no task'} only, "
                           f"not of {task.name}")
    fmt = detect_format(src)
    state.set_status(f"loading {src.name} ({fmt})")
    model = load_external(src, fmt)

    # the task's inputs for every sample, run through the model: shape errors surface here
    out_dims = model.output_shape[1:]
    n_out = int(np.prod([d for d in out_dims if d is not None])) if out_dims else 1
    try:
        opts: Dict[str, Any] = task.import_options(style, n_out)
    except KinviewError as exc:
        raise KinviewError(f"{src}: {exc}") from None
    opts = task.normalize_options(opts)
    full = task.build_dataset(workspace, opts, state, labelled_only=False)
    if len(full) == 0:
        raise KinviewError(f"{workspace}: no {task.name} samples to run the model on")
    X = full.X
    if isinstance(X, dict):
        raise KinviewError(f"{task.name}: its models take several inputs; import is for single-input models")
    model.adapt(X[:1])          # a clear error when the shapes disagree
    state.set_status(f"predicting {len(full)} samples")
    try:
        pred = predict_arrays(model, X)
    except KinviewError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise KinviewError(f"{src}: the model fails on {task.name} inputs ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    pred = np.asarray(pred, np.float32)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred.reshape(-1, 1)
    if not np.isfinite(pred).all():
        raise KinviewError(f"{src}: the model gives non-finite outputs on {task.name} inputs")
    rows = mark_rows(task.to_predictions(pred, full), {}, {}, full)

    # metrics on every labelled sample (the model was trained elsewhere)
    metrics: Dict[str, Any] = {}
    label_source = ""
    try:
        data = task.build_dataset(workspace, opts, state, labelled_only=True)
        label_source = data.info.get("label_source", "")
        index = {tuple(map(str, s)): i for i, s in enumerate(full.ids)}
        rows_idx = [index.get(tuple(map(str, s))) for s in data.ids]
        keep = [i for i, r in enumerate(rows_idx) if r is not None]
        if keep:
            held = data.subset(np.asarray(keep, int))
            metrics = task.evaluate(held.y, pred[np.asarray([rows_idx[i] for i in keep], int)], held)
            metrics["n_held_out"] = len(held)
    except KinviewError:
        pass   # no labels yet: imported without metrics

    dest = _destination(workspace, task.name, src, fmt)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    card = {
        "task": task.name, "title": task.title, "source": "imported", "architecture": f"imported-{fmt}",
        "format": fmt, "loader": model.loader, "imported_from": str(src), "sha256": _sha256(src),
        "input": style, "options": {k: v for k, v in opts.items() if k != "labels"},
        "inputs": ("the seed's preprocessing (kinview.kinematics.inputs.seed32_input): whole MAPS grid, "
                   "v / max|v| of unmasked spaxels, OpenCV INTER_CUBIC to 32×32" if style == "seed32"
                   else task.inputs),
        "target": task.target, "input_shape": list(model.input_shape), "output_shape": list(model.output_shape),
        "workspace": str(workspace), "label_source": label_source, "metrics": metrics,
        "held_out": "all labelled samples (model trained elsewhere)", "n_samples": int(len(full)),
        "date": now, "kinview_version": kinview_version(), "n_params": model.count_params(),
        "notes": f"Imported from {src} ({fmt}); trained outside kinview: its training data are not known here.",
    }
    if getattr(model.model, "v2_error", None):
        card["v2_load_error"] = model.model.v2_error
    card["path"] = str(dest)
    try:
        if fmt == "savedmodel":
            shutil.copytree(src, dest)
        else:
            shutil.copyfile(src, dest)
        write_card(card_path(dest), card)
        conn = connect(workspace)
        try:
            with transaction(conn):
                model_id = models_db.insert(conn, task.name, card["architecture"], str(dest), metrics, "",
                                            card, active=False, event="imported", note=f"from {src}")
                models_db.write_predictions(conn, model_id, rows)
            row = models_db.get(conn, model_id)
        finally:
            conn.close()
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True) if dest.is_dir() else None
        for p in (dest, card_path(dest)):
            try:
                if p.is_file():
                    p.unlink()
            except OSError:
                pass
        raise
    state.set_status(f"imported as model {row['id']}")
    return ModelRecord.from_row(row)


def describe(rec) -> List[Tuple[str, str]]:
    """(key, value) lines that describe an imported model (for the CLI)."""
    card = rec.card or {}
    return [(k, str(card.get(k))) for k in ("format", "loader", "input", "input_shape", "output_shape",
                                            "imported_from") if card.get(k) is not None]
