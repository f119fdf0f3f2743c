"""Training: dataset → split → fit → held-out metrics → save → predictions.

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
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from kinview.db import models as models_db
from kinview.db.connection import connect, transaction
from kinview.errors import Cancelled, KinviewError
from kinview.learning.splits import class_weights, kfold_groups, split_groups
from kinview.nets.layers import random_dihedral
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.base import Dataset
from kinview.training.convex import fit_head
from kinview.training.model_card import card_path, write_card
from kinview.training.promotion import decide
from kinview.training.registry import ModelRecord
from kinview.training.use import (as_task, kinview_version, mark_rows, one_keras_thread,
                                  predict_arrays, setup_keras, take_samples)

MODELS_SUBDIR = "models"
#: options that override the architecture's recipe (``Task.training_config``)
RECIPE_OVERRIDES = ("class_weight", "batch_size", "early_stopping")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def loss_value(model, y, p) -> float:
    """Mean of the model's compiled loss on predictions ``p`` (eager, numpy in and out)."""
    import keras

    fn = keras.losses.get(model.loss)
    p = np.asarray(p, np.float32)
    y = np.asarray(y)
    if p.ndim == 2 and p.shape[1] == 1:
        y = y.reshape(-1, 1)
    return float(np.mean(keras.ops.convert_to_numpy(fn(y.astype(np.float32), p))))


def fit_model(task, model, train: Dataset, val: Dataset, cfg: Dict[str, Any], epochs: int, seed: int,
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

    if cfg.get("fit") == "convex":  # fixed features + one Dense layer: exact fit, no epochs
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
            xb = augment(take_samples(train.X, idx), rng)
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
            row["val_loss"] = loss_value(model, yval, pv)
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


def _models_dir(workspace: Path) -> Path:
    d = workspace / MODELS_SUBDIR
    d.mkdir(parents=True, exist_ok=True)
    return d


def recipe(task, arch: Optional[str], options: Optional[Dict[str, Any]], epochs: Optional[int] = None
           ) -> Tuple[str, Dict[str, Any], Dict[str, Any], int]:
    """The recipe a run of ``task`` uses: ``(arch, options, cfg, epochs)``.

    ``options`` are normalised by the task; ``arch`` defaults to the task's
    ``default_arch``; ``cfg`` is the architecture's :meth:`~kinview.tasks.base.Task.training_config`
    with the :data:`RECIPE_OVERRIDES` a caller set in ``options``; ``epochs`` defaults to the
    recipe's.  Raises :class:`KinviewError` for an unknown architecture or fewer than 1 epoch.
    """
    opts = task.normalize_options(dict(options or {}))
    arch = arch or task.default_arch
    if arch not in task.architectures:
        raise KinviewError(f"{task.name}: unknown architecture {arch!r}; known: {', '.join(task.architectures)}")
    cfg = task.training_config(arch, opts)
    for key in RECIPE_OVERRIDES:  # recipe settings a caller may override through options
        if opts.get(key) is not None:
            cfg[key] = opts[key]
    epochs = int(epochs or cfg.get("epochs") or task.default_epochs)
    if epochs < 1:
        raise KinviewError("epochs must be at least 1")
    return arch, opts, cfg, epochs


def _split_of_groups(dataset: Dataset, splits: Dict[str, np.ndarray]) -> Dict[str, str]:
    out = {}
    for name, idx in splits.items():
        for i in idx:
            out[str(dataset.groups[i])] = name
    return out


@one_keras_thread
def train(task, workspace_dir: Union[str, Path], arch: Optional[str] = None, epochs: Optional[int] = None,
          seed: int = 0, options: Optional[Dict[str, Any]] = None, state: TaskState = NULL_STATE,
          on_epoch_model: Optional[Callable] = None, label_source: Optional[str] = None,
          save: bool = True) -> ModelRecord:
    """Train a model of ``task`` on a workspace and make it the active one.

    Parameters
    ----------
    task : str or Task
        A registered task name (:func:`kinview.tasks.names`) or task.
    workspace_dir : path-like
        The task's workspace: a survey directory, or a cluster dataset.
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
    task = as_task(task)
    workspace = Path(workspace_dir).expanduser().resolve()
    opts = dict(options or {})
    if label_source:
        opts["labels"] = label_source
    if epochs is not None and int(epochs) < 1:
        raise KinviewError(f"epochs must be at least 1, not {epochs}")
    arch, opts, cfg, epochs = recipe(task, arch, opts, epochs)
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
    fit = fit_model(task, model, tr, va, cfg, epochs, seed, state, on_epoch_model, opts)

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
    rows = mark_rows(rows, group_split, oof, full)
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
        "date": _now(), "kinview_version": kinview_version(), "keras_version": keras.__version__,
        "backend": keras.backend.backend(), "n_params": int(model.count_params()),
        "notes": opts.get("card_notes") or "",
    }
    card["options"] = {k2: v for k2, v in opts.items() if k2 not in ("card_notes", "force_activate")}
    if save:  # no silent downgrades: replace the active model only if at least as good
        card["activation"] = decide(task, workspace, te, test_pred, metrics, opts, state)
    if not save:
        rec = ModelRecord(None, task.name, arch, "", card["date"], metrics, dataset.label_hash, card, False)
        rec.model = model  # type: ignore[attr-defined]  (benchmarks use it)
        return rec
    return _save_and_activate(task, workspace, arch, model, card, rows, state)


def _data_hash(dataset: Dataset) -> str:
    import hashlib

    h = hashlib.sha256()
    for (p, f), yv in zip(dataset.ids, np.asarray(dataset.y).tolist()):
        h.update(f"{p}|{f}|{yv}\n".encode())
    X = dataset.X
    for arr in (X.values() if isinstance(X, dict) else [X]):
        h.update(np.ascontiguousarray(arr).tobytes()[:: max(1, arr.nbytes // 1_000_000)])
    return h.hexdigest()[:16]


def _save_and_activate(task, workspace: Path, arch: str, model, card: Dict[str, Any], rows,
                       state: TaskState, path: Optional[Path] = None) -> ModelRecord:
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
                model_id = models_db.insert(conn, task.name, arch, str(path), card.get("metrics", {}),
                                            card.get("label_hash", ""), card, active=make_active,
                                            note=decision.get("reason", ""))
                if not make_active:
                    models_db.add_event(conn, model_id, task.name, "kept-inactive", decision.get("reason", ""))
                models_db.write_predictions(conn, model_id, rows)
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


def fold_predictions(task, dataset: Dataset, arch: str, cfg: Dict[str, Any], epochs: int, seed: int, k: int,
                     options: Optional[Dict[str, Any]] = None, state: TaskState = NULL_STATE,
                     show_progress: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions of every sample of ``dataset`` (the one fold loop: ``train``'s
    ``oof_folds`` option and :func:`kinview.training.oof.evaluate_oof` both run it).

    The samples' groups (galaxies) are dealt into ``k`` folds
    (:func:`kinview.learning.splits.kfold_groups`, fixed by ``seed``); for each fold a model is
    built and fitted with the recipe on the other ``k − 1`` folds (split again 85/15 into fit
    and validation) and predicts the held-out fold.

    Parameters
    ----------
    show_progress : bool
        Report the folds as ``state``'s progress (a run of its own); False leaves the progress
        to the caller (``train`` shows its epochs there) and sets the status line only.

    Returns
    -------
    (pred, fold): the model output per sample (first axis = sample, as ``model.predict``,
    float64) and the fold (0..k−1) that held the sample out.
    """
    import logging

    keras = setup_keras()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # k fresh models: retracing is expected
    pred = None
    fold_of = np.full(len(dataset), -1)
    if show_progress:
        state.set_total(k)
    for fold, (tr_idx, held_idx) in enumerate(kfold_groups(dataset.groups, k, seed)):
        state.check_cancelled()
        state.set_status(f"out-of-fold: training fold {fold + 1}/{k} on {len(tr_idx)} samples")
        rest = dataset.subset(tr_idx)
        inner = split_groups(rest.groups, (0.85, 0.15, 0.0), seed + fold + 1)
        keras.utils.set_random_seed(int(seed) + 1000 + fold)
        model = task.build_model(arch, rest, options)  # the held-out fold does not shape the model
        if (options or {}).get("run_eagerly"):
            model.run_eagerly = True
        quiet = TaskState()
        quiet._cancel = state._cancel  # share cancellation, not progress
        fit_model(task, model, rest.subset(inner["train"]), rest.subset(inner["val"]), cfg, epochs,
                  seed + fold, quiet, None, options)
        p = np.asarray(predict_arrays(model, dataset.subset(held_idx).X))
        if pred is None:
            pred = np.zeros((len(dataset),) + p.shape[1:], np.float64)
        pred[held_idx] = p
        fold_of[held_idx] = fold
        if show_progress:
            state.set_progress(fold + 1, k)
    return pred, fold_of


def cross_val_predict(task, dataset: Dataset, arch: str, cfg: Dict[str, Any], epochs: int, seed: int,
                      k: int = 5, options=None, state: TaskState = NULL_STATE) -> Dict:
    """k-fold out-of-fold predictions for every labelled sample (folds by group).

    Returns ``{(id, field): (value, confidence, extra)}`` from :meth:`Task.to_predictions` of
    the model that did not see the sample's group (:func:`fold_predictions`).
    """
    task = as_task(task)
    pred, _fold = fold_predictions(task, dataset, arch, cfg, epochs, seed, k, options, state)
    return {(p, f): (v, c, extra) for p, f, v, c, extra in task.to_predictions(pred, dataset)}
