"""Training orchestration: dataset → split → fit → held-out metrics → save → predictions.

:func:`train` is generic over :class:`kinview.tasks.base.Task`: it asks the task for its
dataset, model, recipe (:meth:`~kinview.tasks.base.Task.training_config`), augmentation,
metrics and prediction rows.  The GUI calls it from a worker thread:

- every epoch: ``state.emit("epoch", {"epoch", "epochs", "loss", "val_loss", <metrics>, "lr",
  "seconds"})`` and ``state.set_progress(epoch, epochs)``; with ``on_epoch_model`` given, it is
  called *in the training thread* as ``on_epoch_model(epoch, predict_fn)`` and
  ``state.emit("epoch_model", predict_fn)`` is sent, where ``predict_fn(X) -> ndarray`` runs
  the current model on a batch of inputs (call it synchronously, from the handler);
- ``state.cancel()`` stops training after the current batch: :class:`kinview.errors.Cancelled`
  is raised and nothing is written (no file, no row; the previously active model stays active);
- at the end the model is saved under ``WORKSPACE/models/`` (``.keras`` + JSON card), a row is
  added to the ``models`` table and made the task's only active model — unless it scores
  worse than the active model on the same held-out samples (:mod:`kinview.training.promotion`;
  the card's ``activation`` says why) — and predictions for every sample of the workspace are
  written to ``predictions`` — one transaction, on a connection this function opens in its
  own thread and closes.

Samples of the held-out test split get ``extra["oof"] = true`` (out-of-sample predictions,
used by :func:`kinview.training.active_learning.likely_label_errors`); with
``options={"oof_folds": k}`` every labelled sample gets a k-fold out-of-fold prediction.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np

from kinview.errors import Cancelled, KinviewError
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.base import Dataset

MODELS_SUBDIR = "models"
#: options that override the architecture's recipe (``Task.training_config``)
RECIPE_OVERRIDES = ("class_weight", "batch_size", "early_stopping")


# ----------------------------------------------------------------------------- records
# the model registry (rows, activation, removal) lives in kinview.training.registry; these
# names stay importable from here
from kinview.training.registry import (ModelRecord, activate_model, active_model, list_models,  # noqa: E402,F401
                                       remove_model, shipped_model_path)


def _task(task):
    from kinview.tasks.registry import get

    return get(task) if isinstance(task, str) else task


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


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
    from kinview.training.model_card import read_card

    if read_card(path).get("source") == "imported":
        from kinview.training.importer import load_external

        return load_external(path)
    keras = setup_keras()
    import kinview.nets.layers  # noqa: F401  (registers kinview's serializable layers, if any)
    from kinview.nets.field_summary import register

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
        xb = _take(X, slice(start, start + bs))
        m = len(next(iter(xb.values()))) if isinstance(xb, dict) else len(xb)
        if m < bs:
            pad = lambda a: np.concatenate([a, np.zeros((bs - m,) + a.shape[1:], a.dtype)])  # noqa: E731
            xb = {k: pad(v) for k, v in xb.items()} if isinstance(xb, dict) else pad(xb)
        out.append(np.asarray(model.predict_on_batch(xb))[:m])
    return np.concatenate(out)


def check_inputs(model, X, path, task_name: str) -> None:
    """Refuse (one line) a model whose input shape does not fit the task's samples, e.g. a
    spin model given to ``predict vfield-quality`` without its card."""
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


# ----------------------------------------------------------------------------- fitting
def _take(X, idx):
    return {k: v[idx] for k, v in X.items()} if isinstance(X, dict) else X[idx]


def _loss_value(model, y, p) -> float:
    """Mean of the model's compiled loss on predictions ``p`` (eager, numpy in and out)."""
    import keras

    fn = keras.losses.get(model.loss)
    p = np.asarray(p, np.float32)
    y = np.asarray(y)
    if p.ndim == 2 and p.shape[1] == 1:
        y = y.reshape(-1, 1)
    return float(np.mean(keras.ops.convert_to_numpy(fn(y.astype(np.float32), p))))


def _fit(task, model, train: Dataset, val: Dataset, cfg: Dict[str, Any], epochs: int, seed: int,
         state: TaskState, on_epoch_model: Optional[Callable] = None, options=None) -> Dict[str, Any]:
    """Fit ``model`` in place with a numpy batch loop (``train_on_batch``) and restore the
    weights of the best validation epoch; return the history.

    Per epoch: shuffle, augment each batch with ``task.augment`` (numpy, seeded), weight
    samples by balanced class weights (classifiers), then score the validation split; the
    learning rate is reduced on a ``val_loss`` plateau (``cfg["reduce_lr"]``) and training
    stops early after ``cfg["early_stopping"]`` epochs without improvement.  Works the same
    under every Keras backend.  Raises :class:`Cancelled` when ``state`` was cancelled.
    """
    import keras

    from kinview.learning.splits import class_weights

    if cfg.get("fit") == "convex":  # fixed features + one Dense layer: exact fit, no epochs
        from kinview.training.convex import fit_head

        out = fit_head(task, model, train, val, cfg, state)
        if on_epoch_model is not None:
            def predict_fn(X, _m=model):
                return predict_arrays(_m, X)

            on_epoch_model(1, predict_fn)
            state.emit("epoch_model", predict_fn)
        return out
    y = np.asarray(train.y)
    if cfg.get("class_weight") and cfg.get("n_classes"):
        cw = class_weights(y, int(cfg["n_classes"]))
        w = np.asarray([cw[int(v)] for v in y], np.float32)
    else:
        cw = None
        w = np.ones(len(y), np.float32)
    ytr = y.astype(np.float32) if task.kind == "regression" else y
    yval = np.asarray(val.y)
    yval = yval.astype(np.float32) if task.kind == "regression" else yval
    has_val = len(val) > 0
    monitor = "val_loss" if has_val else "loss"
    rng = np.random.default_rng(seed)
    bs = int(cfg.get("batch_size", 32))
    n = len(y)
    primary = getattr(task, "primary_metric", "")
    rl = dict(cfg.get("reduce_lr") or {})
    es = cfg.get("early_stopping")
    history: List[Dict[str, Any]] = []
    best = {"value": np.inf, "weights": None, "epoch": 0, "time_to_best": 0.0}
    plateau_best, plateau_wait = np.inf, 0
    t0 = time.perf_counter()
    state.set_total(epochs)
    state.set_status(f"training {task.name} on {n} samples")

    augment = task.augment
    if cfg.get("augment") == "dihedral":        # a recipe may ask for the exact grid symmetries
        from kinview.nets.layers import random_dihedral

        augment = random_dihedral

    def get_lr() -> float:
        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))

    for epoch in range(epochs):
        t_epoch = time.perf_counter()
        order = rng.permutation(n)
        sums: Dict[str, float] = {}
        seen = 0
        # equal-size batches (the remainder is dropped; a new order every epoch), so the
        # backend traces the train step once
        n_batches = max(1, n // bs) if n >= bs else 1
        step = min(bs, n)
        for b in range(n_batches):
            if state.cancelled:
                raise Cancelled()
            idx = order[b * step:(b + 1) * step]
            xb = augment(_take(train.X, idx), rng)
            logs = model.train_on_batch(xb, ytr[idx], sample_weight=w[idx], return_dict=True)
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
            seen += len(idx)
        if state.cancelled:
            raise Cancelled()
        row: Dict[str, Any] = {"epoch": epoch + 1, "epochs": epochs}
        row.update({k: v / max(seen, 1) for k, v in sums.items()})
        if has_val:
            pv = predict_arrays(model, val.X)
            row["val_loss"] = _loss_value(model, yval, pv)
            vm = task.evaluate(val.y, pv, val)
            for k in ("accuracy", "rmse", primary):
                if k and isinstance(vm.get(k), float) and np.isfinite(vm[k]):
                    row["val_" + k] = vm[k]
        row["lr"] = get_lr()
        row["seconds"] = time.perf_counter() - t_epoch
        value = row.get(monitor, np.inf)
        if value < best["value"]:
            best.update(value=value, weights=model.get_weights(), epoch=epoch + 1,
                        time_to_best=time.perf_counter() - t0)
        history.append(row)
        state.set_progress(epoch + 1, epochs)
        state.emit("epoch", row)
        if on_epoch_model is not None:
            def predict_fn(X, _m=model):
                return predict_arrays(_m, X)

            on_epoch_model(epoch + 1, predict_fn)
            state.emit("epoch_model", predict_fn)
        # ReduceLROnPlateau (Keras semantics: min_delta 1e-4, cooldown 0)
        if rl:
            if value < plateau_best - 1e-4:
                plateau_best, plateau_wait = value, 0
            else:
                plateau_wait += 1
                if plateau_wait >= int(rl.get("patience", 5)):
                    lr = get_lr()
                    new = max(lr * float(rl.get("factor", 0.2)), float(rl.get("min_lr", 0.0)))
                    if new < lr:
                        model.optimizer.learning_rate = new
                    plateau_wait = 0
        if es and epoch + 1 - best["epoch"] >= int(es):
            break
    if state.cancelled:
        raise Cancelled()
    if best["weights"] is not None:
        model.set_weights(best["weights"])
    seconds = time.perf_counter() - t0
    return {"history": history, "best_epoch": best["epoch"], "epochs_run": len(history),
            "seconds": seconds, "time_to_best": best["time_to_best"],
            "seconds_per_epoch": (float(np.median([h["seconds"] for h in history])) if history else None),
            "class_weight": cw}


# ----------------------------------------------------------------------------- database
def _models_dir(workspace: Path) -> Path:
    d = workspace / MODELS_SUBDIR
    d.mkdir(parents=True, exist_ok=True)
    return d


def _insert_model(conn, task: str, arch: str, path: str, metrics, label_hash: str, card,
                  active: bool = True, event: str = "trained", note: str = "") -> int:
    from kinview.db import models as models_db

    return models_db.insert(conn, task, arch, path, metrics, label_hash, card, active=active,
                            event=event, note=note)


def _write_predictions(conn, model_id: int, rows) -> int:
    from kinview.db import models as models_db

    return models_db.write_predictions(conn, model_id, rows)


# ----------------------------------------------------------------------------- train
def _split_of_groups(dataset: Dataset, splits: Dict[str, np.ndarray]) -> Dict[str, str]:
    out = {}
    for name, idx in splits.items():
        for i in idx:
            out[str(dataset.groups[i])] = name
    return out


def train(task, workspace_dir: Union[str, Path], arch: Optional[str] = None, epochs: Optional[int] = None,
          seed: int = 0, options: Optional[Dict[str, Any]] = None, state: TaskState = NULL_STATE,
          on_epoch_model: Optional[Callable] = None, label_source: Optional[str] = None,
          save: bool = True) -> ModelRecord:
    """Train a model of ``task`` on a workspace and make it the active one.

    Parameters
    ----------
    task : str or Task
        e.g. ``"vfield-quality"``.
    workspace_dir : path-like
        The survey directory (or cluster dataset for ``darkmatter``).
    arch : str, optional
        Architecture name (default: the task's ``default_arch``).
    epochs : int, optional
        Default: the architecture's recipe.
    seed : int
        Fixes the split, the initial weights, the batch order and the augmentation.
    options : dict, optional
        Task options (``mode="binary"|"3class"``, ``labels="expert:NAME"|"consensus"|"all"``,
        ``oof_folds=k``, ``card_notes="..."``, and recipe overrides ``class_weight``,
        ``batch_size``, ``early_stopping``; ``run_eagerly=True`` skips graph compilation, which
        is faster for a handful of steps on tiny data and for debugging).
    state : TaskState
        Progress, ``epoch`` events, cancellation.
    on_epoch_model : callable(epoch, predict_fn), optional
        Called in this thread after every epoch.
    label_source : str, optional
        Shorthand for ``options["labels"]``.
    save : bool
        False: train and evaluate only (benchmarks); the record has ``id=None`` and no path.

    Returns
    -------
    ModelRecord of the new (active) model.

    Raises
    ------
    Cancelled
        ``state`` was cancelled; nothing was written.
    KinviewError
        No labelled samples, unknown architecture, unusable workspace.
    """
    from kinview.learning.splits import split_groups

    task = _task(task)
    workspace = Path(workspace_dir).expanduser().resolve()
    opts = dict(options or {})
    if label_source:
        opts["labels"] = label_source
    opts = task.normalize_options(opts)
    arch = arch or task.default_arch
    if arch not in task.architectures:
        raise KinviewError(f"{task.name}: unknown architecture {arch!r}; known: {', '.join(task.architectures)}")
    cfg = task.training_config(arch, opts)
    for key in RECIPE_OVERRIDES:  # recipe settings a caller may override through options
        if opts.get(key) is not None:
            cfg[key] = opts[key]
    if epochs is not None and int(epochs) < 1:
        raise KinviewError(f"epochs must be at least 1, not {epochs}")
    epochs = int(epochs or cfg.get("epochs") or task.default_epochs)
    if epochs < 1:
        raise KinviewError("epochs must be at least 1")
    keras = setup_keras(seed)
    t_start = time.perf_counter()

    state.set_status(f"reading {task.name} samples")
    dataset = task.build_dataset(workspace, opts, state, labelled_only=True)
    state.check_cancelled()
    fractions = tuple(cfg.get("split") or task.split_fractions)
    splits = split_groups(dataset.groups, fractions, seed)
    tr, va, te = (dataset.subset(splits[k]) for k in ("train", "val", "test"))
    if len(tr) == 0:
        raise KinviewError(f"{task.name}: too few labelled samples to train ({len(dataset)})")
    keras.utils.set_random_seed(int(seed))
    model = task.build_model(arch, dataset, opts)
    if opts.get("run_eagerly"):
        model.run_eagerly = True  # no graph tracing: slower steps, faster start (tiny data, debugging)
    fit = _fit(task, model, tr, va, cfg, epochs, seed, state, on_epoch_model, opts)

    test_pred = predict_arrays(model, te.X) if len(te) else None
    metrics = task.evaluate(te.y, test_pred, te) if len(te) else {}
    val_metrics = task.evaluate(va.y, predict_arrays(model, va.X), va) if len(va) else {}
    state.check_cancelled()

    # predictions for every sample of the workspace
    full = task.build_dataset(workspace, opts, state, labelled_only=False)
    t_pred = time.perf_counter()
    full_pred = predict_arrays(model, full.X)
    pred_seconds = time.perf_counter() - t_pred
    rows = task.to_predictions(full_pred, full)
    group_split = _split_of_groups(dataset, splits)
    oof = {}
    k = int(opts.get("oof_folds") or 0)
    if k >= 2:
        oof = cross_val_predict(task, dataset, arch, cfg, max(1, epochs), seed, k, opts, state)
    rows = _mark_rows(rows, group_split, oof, full)
    state.check_cancelled()

    train_seconds = time.perf_counter() - t_start
    card = {
        "task": task.name, "title": task.title, "architecture": arch, "options": opts,
        "inputs": task.inputs, "target": task.target,
        "workspace": str(workspace), "label_source": dataset.info.get("label_source", ""),
        "label_hash": dataset.label_hash, "data_hash": _data_hash(dataset),
        "n_samples": len(dataset), "n_groups": int(len(np.unique(dataset.groups))),
        "dataset_info": dataset.info,
        "split_sizes": {k2: int(len(v)) for k2, v in splits.items()},
        "split_fractions": list(fractions),
        "split_class_counts": ({k2: np.bincount(np.asarray(d.y, int), minlength=int(cfg.get("n_classes") or 2)).tolist()
                                for k2, d in (("train", tr), ("val", va), ("test", te))}
                               if task.kind != "regression" else None),
        "test_groups": sorted(set(str(g) for g in te.groups)),
        "metrics": metrics, "val_metrics": val_metrics,
        "metrics_intervals": (task.metrics_with_intervals(te.y, test_pred, te.groups, seed=seed)
                              if len(te) else None),
        "seed": int(seed), "epochs": epochs, "epochs_run": fit["epochs_run"], "best_epoch": fit["best_epoch"],
        "batch_size": cfg.get("batch_size"), "learning_rate": cfg.get("learning_rate"),
        "reduce_lr": cfg.get("reduce_lr"), "class_weight": fit["class_weight"],
        "seconds_per_epoch": fit["seconds_per_epoch"], "fit_seconds": fit["seconds"],
        "total_seconds": train_seconds, "predict_per_second": (len(full) / pred_seconds if pred_seconds > 0 else None),
        "history": fit["history"],
        "date": _now(), "kinview_version": _version(), "keras_version": keras.__version__,
        "backend": keras.backend.backend(), "n_params": int(model.count_params()),
        "notes": opts.get("card_notes") or "",
    }
    card["options"] = {k2: v for k2, v in opts.items() if k2 not in ("card_notes", "force_activate")}
    if save:  # no silent downgrades: replace the active model only if at least as good
        from kinview.training.promotion import decide

        card["activation"] = decide(task, workspace, te, test_pred, metrics, opts, state)
    if not save:
        rec = ModelRecord(None, task.name, arch, "", card["date"], metrics, dataset.label_hash, card, False)
        rec.model = model  # type: ignore[attr-defined]  (benchmarks use it)
        return rec
    return _save_and_activate(task, workspace, arch, model, card, rows, state)


def _version() -> str:
    from kinview import __version__

    return __version__


def _data_hash(dataset: Dataset) -> str:
    import hashlib

    h = hashlib.sha256()
    for (p, f), yv in zip(dataset.ids, np.asarray(dataset.y).tolist()):
        h.update(f"{p}|{f}|{yv}\n".encode())
    X = dataset.X
    for arr in (X.values() if isinstance(X, dict) else [X]):
        h.update(np.ascontiguousarray(arr).tobytes()[:: max(1, arr.nbytes // 1_000_000)])
    return h.hexdigest()[:16]


def _mark_rows(rows, group_split: Dict[str, str], oof: Dict, dataset: Optional[Dataset] = None):
    """Tag prediction rows with the split of their group (a galaxy, or a cluster for
    darkmatter, whose samples are projections with ids of their own)."""
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


def _save_and_activate(task, workspace: Path, arch: str, model, card: Dict[str, Any], rows,
                       state: TaskState, path: Optional[Path] = None) -> ModelRecord:
    from kinview.db import models as models_db
    from kinview.db.connection import connect, transaction
    from kinview.training.model_card import card_path, write_card

    state.check_cancelled()
    mdir = _models_dir(workspace)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = mdir / f"{task.name}-{arch}-{stamp}-s{card.get('seed', 0)}.keras"
    n = 1
    while path.exists() or card_path(path).exists():
        n += 1
        path = mdir / f"{task.name}-{arch}-{stamp}-s{card.get('seed', 0)}-{n}.keras"
    tmp = mdir / f".tmp-{os.getpid()}-{stamp}-{path.stem}.keras"
    card = dict(card)
    card["path"] = str(path)
    try:
        model.save(str(tmp))
        os.replace(tmp, path)
        write_card(card_path(path), card)
        conn = connect(workspace)  # this thread's own connection
        try:
            # card["activation"] (kinview.training.promotion) says whether the new model
            # replaces the active one; without it, it does
            decision = card.get("activation") or {}
            make_active = bool(decision.get("activate", True))
            with transaction(conn):
                model_id = _insert_model(conn, task.name, arch, str(path), card.get("metrics", {}),
                                         card.get("label_hash", ""), card, active=make_active,
                                         note=decision.get("reason", ""))
                if not make_active:
                    models_db.add_event(conn, model_id, task.name, "kept-inactive", decision.get("reason", ""))
                _write_predictions(conn, model_id, rows)
            row = models_db.get(conn, model_id)
        finally:
            conn.close()
    except BaseException:
        for p in (tmp, path, card_path(path)):
            try:
                p.unlink()
            except OSError:
                pass
        raise
    state.set_status(f"saved {path.name}")
    return ModelRecord.from_row(row)


def cross_val_predict(task, dataset: Dataset, arch: str, cfg: Dict[str, Any], epochs: int, seed: int,
                      k: int = 5, options=None, state: TaskState = NULL_STATE) -> Dict:
    """k-fold out-of-fold predictions for every labelled sample (folds by group).

    Returns ``{(id, field): (value, confidence, extra)}`` from :meth:`Task.to_predictions` of
    the model that did not see the sample's group.
    """
    from kinview.learning.splits import kfold_groups, split_groups

    task = _task(task)
    out = {}
    import keras

    for fold, (tr_idx, held_idx) in enumerate(kfold_groups(dataset.groups, k, seed)):
        state.check_cancelled()
        state.set_status(f"out-of-fold predictions: fold {fold + 1}/{k}")
        rest = dataset.subset(tr_idx)
        inner = split_groups(rest.groups, (0.85, 0.15, 0.0), seed + fold + 1)
        keras.utils.set_random_seed(int(seed) + 1000 + fold)
        model = task.build_model(arch, dataset, options)
        if (options or {}).get("run_eagerly"):
            model.run_eagerly = True
        quiet = TaskState()
        quiet._cancel = state._cancel  # share cancellation, not progress
        _fit(task, model, rest.subset(inner["train"]), rest.subset(inner["val"]), cfg, epochs,
             seed + fold, quiet, None, options)
        held = dataset.subset(held_idx)
        for p, f, v, c, extra in task.to_predictions(predict_arrays(model, held.X), held):
            out[(p, f)] = (v, c, extra)
    return out


# ----------------------------------------------------------------------------- use
def resolve_model(workspace_dir: Union[str, Path], task, model_path=None):
    """(path, ModelRecord or None, source) of the model to use: an explicit path, the
    workspace's active model, or the shipped default."""
    task = _task(task)
    if model_path:
        path = Path(model_path).expanduser().resolve()
        if not path.exists() and str(model_path).strip().isdigit():   # a registry id
            from kinview.training.registry import get_model

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


def _card_options(card: Dict[str, Any], model) -> Dict[str, Any]:
    opts = dict(card.get("options") or {})
    if "mode" not in opts and card.get("task") == "vfield-quality":
        shape = model.output_shape
        opts["mode"] = "3class" if shape[-1] == 3 else "binary"
    return opts


def predict(task, workspace_dir: Union[str, Path], model_path=None, state: TaskState = NULL_STATE,
            activate: bool = True) -> ModelRecord:
    """Predict every sample of the workspace with a model and store the predictions.

    The model is ``model_path``, else the workspace's active model, else the shipped default.
    A model not yet in the ``models`` table (a path, the shipped one) is recorded; with
    ``activate`` it becomes the task's active model.  Returns its record.
    """
    from kinview.db import models as models_db
    from kinview.db.connection import connect, transaction
    from kinview.training.model_card import read_card

    task = _task(task)
    workspace = Path(workspace_dir).expanduser().resolve()
    path, rec, source = resolve_model(workspace, task, model_path)
    card = rec.card if rec is not None and rec.card else read_card(path)
    if card.get("task") and card["task"] != task.name:
        raise KinviewError(f"{path}: a {card['task']} model, not {task.name}")
    model = load_model(path)
    opts = _card_options(card, model)
    opts.pop("labels", None)  # targets are not needed to predict; any label source will do
    opts = task.normalize_options(opts)
    state.set_status(f"reading {task.name} samples")
    full = task.build_dataset(workspace, opts, state, labelled_only=False)
    state.check_cancelled()
    state.set_status(f"predicting {len(full)} samples")
    check_inputs(model, full.X, path, task.name)
    pred = predict_arrays(model, full.X)
    rows = _mark_rows(task.to_predictions(pred, full), _groups_from_card(card, workspace), {}, full)
    state.check_cancelled()
    conn = connect(workspace)
    try:
        with transaction(conn):
            if rec is None:
                row = models_db.find_by_path(conn, task.name, str(path))
                if row is None or row["removed"] is not None:
                    card = dict(card) or {"task": task.name}
                    card.setdefault("source", source)
                    model_id = _insert_model(conn, task.name, card.get("architecture", "unknown"), str(path),
                                             card.get("metrics", {}), card.get("label_hash", ""), card,
                                             active=activate, event="recorded", note=f"{source} model")
                else:
                    model_id = int(row["id"])
            else:
                model_id = rec.id
            if activate:
                models_db.activate(conn, model_id, note="predict")
            _write_predictions(conn, model_id, rows)
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


def evaluate(task, workspace_dir: Union[str, Path], model_path=None, state: TaskState = NULL_STATE,
             options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Held-out metrics of a model on the workspace's current labels.

    The held-out samples are the model's test split (groups listed in its card) when the
    workspace holds them; for a model trained elsewhere (e.g. the shipped default on another
    survey) every labelled sample is held out.  A task with an ``evaluate_extra(workspace,
    model, options, state) -> dict`` method adds its blocks to the result.
    """
    task = _task(task)
    workspace = Path(workspace_dir).expanduser().resolve()
    path, rec, source = resolve_model(workspace, task, model_path)
    from kinview.training.model_card import read_card

    card = rec.card if rec is not None and rec.card else read_card(path)
    model = load_model(path)
    opts = _card_options(card, model)
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
    extra = getattr(task, "evaluate_extra", None)  # task-specific blocks (e.g. darkmatter's MC splits)
    if extra is not None:
        result.update(extra(workspace, model, dict(opts, **(options or {})), state) or {})
    return result
