"""Using saved models: load, run, predict a workspace, evaluate on held-out labels.

- :func:`load_model` loads a ``.keras`` model safely (imported models through
  :mod:`kinview.training.importer`); :func:`setup_keras` imports Keras quietly and seeds it;
- :func:`predict_arrays` runs a model on inputs in fixed-size batches;
- :func:`resolve_model` picks the model to use (a path or registry id, the workspace's active
  model, or the shipped default) and :func:`card_options` the task options it runs under;
- :func:`predict` writes predictions for every sample of a workspace (one transaction) and
  records / activates the model; :func:`evaluate` scores a model on the workspace's labels.

Training lives in :mod:`kinview.training.fit`, the model registry in
:mod:`kinview.training.registry`.
"""
from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

import kinview.nets.layers  # noqa: F401  (registers kinview's serializable layers, if any)
from kinview import __version__
from kinview.db import models as models_db
from kinview.db.connection import connect, transaction
from kinview.errors import KinviewError
from kinview.nets.field_summary import register
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.base import Dataset
from kinview.tasks.registry import get
from kinview.training.model_card import read_card
from kinview.training.registry import ModelRecord, active_model, get_model, shipped_model_path


#: Keras/TensorFlow work runs in one thread at a time.  TensorFlow's function tracing is not
#: thread-safe: a training run starting in one GUI worker while another worker scored saved
#: models (the Models tab) crashed the process (segfault in ``graph_def_versions``).
_KERAS_LOCK = threading.RLock()


def one_keras_thread(fn):
    """Decorator: run ``fn`` holding the process-wide Keras lock (re-entrant), so that model
    work started from several threads (the GUI's workers) runs one after the other."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _KERAS_LOCK:
            return fn(*args, **kwargs)

    return wrapper


def as_task(task):
    """The registered task called ``task`` (a name), or ``task`` itself."""
    return get(task) if isinstance(task, str) else task


def kinview_version() -> str:
    """The running kinview's version (recorded in model cards)."""
    return __version__


def setup_keras(seed: Optional[int] = None, threads: Optional[int] = None):
    """Import Keras quietly (TF logs off, oneDNN off) and seed every generator; return keras."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import keras

    if threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # only to size its thread pools, before first use

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        except RuntimeError:
            pass  # already initialised: keep the existing pools
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    return keras


def load_model(path: Union[str, Path]):
    """Load a saved ``.keras`` model with ``safe_mode=True`` (no Lambda, no arbitrary code).

    Imported models (a ``.h5`` file, a SavedModel directory, or a ``.keras`` file whose card
    says ``source: imported``) are loaded by :func:`kinview.training.importer.load_external`
    and come back behind an adapter with the same ``predict_on_batch`` / ``output_shape``.
    """
    path = Path(path)
    if not path.exists():
        raise KinviewError(f"{path}: no such model file")
    if path.is_dir() or path.suffix.lower() in (".h5", ".hdf5"):
        from kinview.training.importer import load_external

        return load_external(path)

    if read_card(path).get("source") == "imported":
        from kinview.training.importer import load_external

        return load_external(path)
    keras = setup_keras()

    register()  # kinview>FieldSummary (no weights, no code from the file)

    try:
        return keras.saving.load_model(str(path), safe_mode=True, compile=False)
    except Exception as exc:
        raise KinviewError(f"{path}: cannot load model ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None


def predict_arrays(model, X, batch_size: int = 256) -> np.ndarray:
    """Run a model on inputs (array or dict) in fixed-size batches (the last one padded, so the
    backend traces one function only), without callbacks or progress."""
    n = len(next(iter(X.values()))) if isinstance(X, dict) else len(X)
    if n == 0:
        return np.zeros((0,) + tuple(int(d) for d in model.output_shape[1:]), np.float32)
    bs = int(min(batch_size, max(n, 1))) if n < batch_size else int(batch_size)
    out = []
    for start in range(0, n, bs):
        xb = take_samples(X, slice(start, start + bs))
        m = len(next(iter(xb.values()))) if isinstance(xb, dict) else len(xb)
        if m < bs:
            pad = lambda a: np.concatenate([a, np.zeros((bs - m,) + a.shape[1:], a.dtype)])  # noqa: E731
            xb = {k: pad(v) for k, v in xb.items()} if isinstance(xb, dict) else pad(xb)
        out.append(np.asarray(model.predict_on_batch(xb))[:m])
    return np.concatenate(out)


def check_inputs(model, X, path, task_name: str) -> None:
    """Refuse (one line) a model whose input shape does not fit the task's samples, e.g. an
    image model given to a velocity-field task without its card."""
    if isinstance(X, dict):
        return
    want = getattr(model, "input_shape", None)
    if not isinstance(want, tuple) or not want or isinstance(want[0], (tuple, list)):
        return
    got = tuple(np.shape(X)[1:])
    need = tuple(want[1:])
    if any(n is None for n in need):
        return
    # compare the values per sample: a (32, 32) field fits a (32, 32, 1) input (imported
    # models get a channel axis added), a (80, 80, 3) image does not
    if int(np.prod([int(n) for n in need])) != int(np.prod(got)):
        raise KinviewError(f"{path}: this model takes inputs of shape {need}, but {task_name} "
                           f"samples are {got}: not a {task_name} model")


def take_samples(X, idx):
    """The samples ``idx`` of inputs ``X`` (an array, or a dict of arrays)."""
    return {k: v[idx] for k, v in X.items()} if isinstance(X, dict) else X[idx]


def mark_rows(rows, group_split: Dict[str, str], oof: Dict, dataset: Optional[Dataset] = None):
    """Tag prediction rows with the split of their group (a galaxy, or a cluster whose
    samples are projections with ids of their own)."""
    group_of = {}
    if dataset is not None:
        group_of = {str(sid): str(g) for (sid, _field), g in zip(dataset.ids, dataset.groups)}
    out = []
    for p, f, v, c, extra in rows:
        extra = dict(extra or {})
        split = group_split.get(group_of.get(str(p), str(p)), "unlabelled")
        extra["split"] = split
        if (p, f) in oof:
            ov, oc, oextra = oof[(p, f)]
            extra.update({"oof": True, "full_value": v, "full_confidence": c})
            if oextra:
                extra.update({k: val for k, val in oextra.items() if k not in ("split",)})
            v, c = ov, oc
        elif split == "test":
            extra["oof"] = True
        out.append((p, f, v, c, extra))
    return out


def resolve_model(workspace_dir: Union[str, Path], task, model_path=None):
    """(path, ModelRecord or None, source) of the model to use: an explicit path, the
    workspace's active model, or the shipped default."""
    task = as_task(task)
    if model_path:
        path = Path(model_path).expanduser().resolve()
        if not path.exists() and str(model_path).strip().isdigit():   # a registry id

            rec = get_model(workspace_dir, int(model_path))
            if rec.task != task.name:
                raise KinviewError(f"model {rec.id} is a {rec.task} model, not {task.name}")
            if rec.removed:
                raise KinviewError(f"model {rec.id} was removed on {rec.removed}")
            return Path(rec.path), rec, "registry"
        if not path.exists():
            raise KinviewError(f"{path}: no such model file")
        return path, None, "path"
    rec = active_model(workspace_dir, task)
    if rec is not None and Path(rec.path).exists():
        return Path(rec.path), rec, "active"
    shipped = shipped_model_path(task)
    if shipped is not None:
        return shipped, None, "shipped"
    raise KinviewError(f"no {task.name} model in {workspace_dir} and none shipped; "
                       f"run 'kinview train {task.name} --survey {workspace_dir}'")


def card_options(card: Dict[str, Any], model, task=None) -> Dict[str, Any]:
    """Task options under which a saved ``model`` runs: its card's, completed by the task
    (:meth:`~kinview.tasks.base.Task.options_for_model`) from the model's outputs."""
    opts = dict(card.get("options") or {})
    task = task if task is not None else (card.get("task") or None)
    if task is None:
        return opts
    try:
        task = as_task(task)
    except KinviewError:
        return opts
    shape = getattr(model, "output_shape", None)
    n_outputs = int(shape[-1]) if isinstance(shape, tuple) and shape and shape[-1] is not None else 1
    return task.options_for_model(opts, n_outputs)


@one_keras_thread
def predict(task, workspace_dir: Union[str, Path], model_path=None, state: TaskState = NULL_STATE,
            activate: bool = True) -> ModelRecord:
    """Predict every sample of the workspace with a model and store the predictions.

    The model is ``model_path``, else the workspace's active model, else the shipped default.
    A model not yet in the ``models`` table (a path, the shipped one) is recorded; with
    ``activate`` it becomes the task's active model.  Returns its record.
    """
    task = as_task(task)
    workspace = Path(workspace_dir).expanduser().resolve()
    path, rec, source = resolve_model(workspace, task, model_path)
    card = rec.card if rec is not None and rec.card else read_card(path)
    if card.get("task") and card["task"] != task.name:
        raise KinviewError(f"{path}: a {card['task']} model, not {task.name}")
    model = load_model(path)
    opts = card_options(card, model, task)
    opts.pop("labels", None)  # targets are not needed to predict; any label source will do
    opts = task.normalize_options(opts)
    state.set_status(f"reading {task.name} samples")
    full = task.build_dataset(workspace, opts, state, labelled_only=False)
    state.check_cancelled()
    state.set_status(f"predicting {len(full)} samples")
    check_inputs(model, full.X, path, task.name)
    pred = predict_arrays(model, full.X)
    rows = mark_rows(task.to_predictions(pred, full), _groups_from_card(card, workspace), {}, full)
    state.check_cancelled()
    conn = connect(workspace)
    try:
        with transaction(conn):
            if rec is None:
                row = models_db.find_by_path(conn, task.name, str(path))
                if row is None or row["removed"] is not None:
                    card = dict(card) or {"task": task.name}
                    card.setdefault("source", source)
                    model_id = models_db.insert(conn, task.name, card.get("architecture", "unknown"), str(path),
                                                card.get("metrics", {}), card.get("label_hash", ""), card,
                                                active=activate, event="recorded", note=f"{source} model")
                else:
                    model_id = int(row["id"])
            else:
                model_id = rec.id
            if activate:
                models_db.activate(conn, model_id, note="predict")
            models_db.write_predictions(conn, model_id, rows)
        row = models_db.get(conn, model_id)
    finally:
        conn.close()
    state.set_status(f"{len(rows)} predictions written")
    out = ModelRecord.from_row(row)
    out.skipped = list(full.info.get("skipped") or [])  # (id, field, reason) not predicted
    return out


def _groups_from_card(card: Dict[str, Any], workspace: Path) -> Dict[str, str]:
    if str(card.get("workspace", "")) != str(workspace):
        return {}
    return {g: "test" for g in card.get("test_groups") or []}


@one_keras_thread
def evaluate(task, workspace_dir: Union[str, Path], model_path=None, state: TaskState = NULL_STATE,
             options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Held-out metrics of a model on the workspace's current labels.

    The held-out samples are the model's test split (groups listed in its card) when the
    workspace holds them; for a model trained elsewhere (e.g. the shipped default on another
    survey) every labelled sample is held out.  With option ``mc=K`` (default: the task's
    :attr:`~kinview.tasks.base.Task.monte_carlo_splits`) the result also holds ``mc``, the
    accuracy over K random Monte-Carlo splits (:func:`kinview.training.monte_carlo.monte_carlo`;
    ``mc_epochs`` default: the model's epochs).
    """
    task = as_task(task)
    workspace = Path(workspace_dir).expanduser().resolve()
    path, rec, source = resolve_model(workspace, task, model_path)

    card = rec.card if rec is not None and rec.card else read_card(path)
    model = load_model(path)
    opts = card_options(card, model, task)
    if source == "shipped" or str(card.get("workspace", "")) != str(workspace):
        opts.pop("labels", None)  # trained elsewhere: score against this survey's own labels
    opts.update({k: v for k, v in (options or {}).items() if v is not None})
    opts = task.normalize_options(opts)
    data = task.build_dataset(workspace, opts, state, labelled_only=True)
    test_groups = set(card.get("test_groups") or [])
    present = np.array([str(g) in test_groups for g in data.groups], bool)
    if present.any():
        held = data.subset(np.flatnonzero(present))
        which = "test split of the model card"
    else:
        held = data
        which = "all labelled samples (model trained on other data)"
    check_inputs(model, held.X, path, task.name)
    pred = predict_arrays(model, held.X)
    metrics = task.evaluate(held.y, pred, held)
    result = {"task": task.name, "model": str(path), "model_source": source,
              "architecture": card.get("architecture"), "options": opts,
              "label_source": data.info.get("label_source"), "label_hash": data.label_hash,
              "trained_label_hash": card.get("label_hash"), "held_out": which,
              "n_held_out": len(held), "metrics": metrics}
    if len(held):   # the same figures with 95 % bootstrap intervals (by galaxy)
        from kinview.training.oof import sample_description

        result["metrics_intervals"] = task.metrics_with_intervals(held.y, pred, held.groups)
        result["samples"] = (sample_description("test", len(held)) if present.any()
                             else f"all {len(held)} labelled samples (model trained on other data)")
    given = dict(opts, **(options or {}))
    k = int(given["mc"]) if given.get("mc") is not None else int(task.monte_carlo_splits or 0)
    if k > 0:   # the accuracy distribution over random splits, same recipe as the model
        from kinview.training.monte_carlo import monte_carlo

        arch = given.get("arch") or card.get("architecture") or task.default_arch
        result["mc"] = monte_carlo(task, workspace, k=k, epochs=given.get("mc_epochs") or card.get("epochs"),
                                   seed=int(given.get("seed") or 0), state=state, arch=arch, options=given)
    return result
