"""Exact fit of a linear classifier head on fixed features (recipes with ``fit="convex"``).

With a few hundred labels, stochastic training of even a small network picks its best epoch
on a validation split of a few dozen fields, and that choice is mostly noise.  When a network
is fixed features (a layer without weights, e.g. :class:`kinview.nets.field_summary`) followed
by one ``Dense`` output layer, the best weights are the solution of a convex problem:
L2-regularised, class-weighted logistic regression (softmax for more than two classes) on the
standardised features.  :func:`fit_head` solves it with L-BFGS (scipy) and writes the weights
into the Keras model, with the standardisation folded in (W/σ, b − Σ W μ/σ), so the saved
model is an ordinary Keras model.  It is deterministic, takes milliseconds, and needs no
epochs, learning rate or early stopping.

Recipe keys read (``Task.training_config``): ``features_layer`` (name of the feature layer,
default ``"summary"``), ``head_layer`` (default ``"out"``), ``l2`` (penalty on the
standardised weights, default 1.0; the sum of the sample weights is the data term, so the
penalty is comparable across survey sizes only through ``l2 / n``), ``class_weight`` (True:
balanced class weights), ``fit_on_val`` (default True: the validation split joins the fit,
since there is no epoch to choose; validation metrics are then in-sample and the history says
so).
"""
from __future__ import annotations

import time
from typing import Any, Dict

import numpy as np

from kinview.learning.splits import class_weights
from kinview.progress import TaskState


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def solve_logistic(F: np.ndarray, y: np.ndarray, n_classes: int, weights: np.ndarray, l2: float):
    """Weighted, L2-regularised logistic (``n_classes == 2``, one output) or softmax regression
    on features ``F`` (already standardised).  Returns ``(W (d, k), b (k,))``, k = 1 or
    n_classes.  The intercept is not penalised."""
    from scipy.optimize import minimize

    n, d = F.shape
    k = 1 if n_classes == 2 else n_classes
    y = np.asarray(y, int)
    w = np.asarray(weights, float)
    onehot = np.eye(n_classes)[y] if k > 1 else None

    def loss(theta):
        W = theta[: d * k].reshape(d, k)
        b = theta[d * k:]
        z = F @ W + b
        if k == 1:
            z = z[:, 0]
            # log(1 + e^z) - y z, stable
            nll = np.logaddexp(0, z) - y * z
            g = 1 / (1 + np.exp(-z)) - y
            gW = F.T @ (w * g)
            gb = np.array([np.sum(w * g)])
            val = np.sum(w * nll)
            gW = gW[:, None]
        else:
            p = _softmax(z)
            val = -np.sum(w * np.log(np.clip((p * onehot).sum(1), 1e-300, None)))
            g = (p - onehot) * w[:, None]
            gW, gb = F.T @ g, g.sum(0)
        val += 0.5 * l2 * np.sum(W ** 2)
        gW = gW + l2 * W
        return val, np.concatenate([gW.ravel(), gb])

    theta0 = np.zeros(d * k + k)
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[: d * k].reshape(d, k), res.x[d * k:]


def _features(extractor, X, batch: int = 1024) -> np.ndarray:
    """Features of ``X`` by calling the feature sub-model eagerly (no traced predict function
    per fold, so K-fold runs do not retrace)."""
    n = len(next(iter(X.values()))) if isinstance(X, dict) else len(X)
    out = []
    for s in range(0, n, batch):
        xb = {k: v[s:s + batch] for k, v in X.items()} if isinstance(X, dict) else X[s:s + batch]
        out.append(np.asarray(extractor(xb, training=False), float))
    return np.concatenate(out) if out else np.zeros((0, 0))


def _probabilities(F: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Output of the fitted head on raw features: sigmoid column (k = 1) or softmax rows."""
    z = F @ W + b
    if z.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-z))
    return _softmax(z)


def fit_head(task, model, train, val, cfg: Dict[str, Any], state: TaskState) -> Dict[str, Any]:
    """Fit the ``Dense`` head of ``model`` exactly on the fixed features of ``train`` (and
    ``val`` when ``cfg["fit_on_val"]``); same return value as the trainer's SGD loop."""
    import keras

    from kinview.training.fit import loss_value

    t0 = time.perf_counter()
    state.set_total(1)
    feat_name = cfg.get("features_layer", "summary")
    head_name = cfg.get("head_layer", "out")
    extractor = keras.Model(model.input, model.get_layer(feat_name).output)
    use_val = bool(cfg.get("fit_on_val", True)) and len(val) > 0
    X = train.X
    y = np.asarray(train.y, int)
    if use_val:
        X = {k: np.concatenate([train.X[k], val.X[k]]) for k in train.X} if isinstance(train.X, dict) \
            else np.concatenate([train.X, val.X])
        y = np.concatenate([y, np.asarray(val.y, int)])
    state.set_status(f"fitting {task.name} head on {len(y)} samples")
    F = _features(extractor, X)
    n_classes = int(cfg.get("n_classes") or 2)
    cw = class_weights(y, n_classes) if cfg.get("class_weight") else None
    w = np.asarray([cw[int(v)] for v in y], float) if cw else np.ones(len(y))
    mu = F.mean(axis=0)
    sd = F.std(axis=0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    W, b = solve_logistic((F - mu) / sd, y, n_classes, w, float(cfg.get("l2", 1.0)))
    Wk = W / sd[:, None]
    bk = b - (mu / sd) @ W
    head = model.get_layer(head_name)
    head.set_weights([Wk.astype(np.float32), bk.astype(np.float32)])
    row: Dict[str, Any] = {"epoch": 1, "epochs": 1}
    row["loss"] = loss_value(model, y, _probabilities(F, Wk, bk))
    if len(val):
        pv = _probabilities(_features(extractor, val.X), Wk, bk)
        row["val_loss"] = loss_value(model, np.asarray(val.y), pv)
        vm = task.evaluate(val.y, pv, val)
        for key in ("accuracy", getattr(task, "primary_metric", "")):
            if key and isinstance(vm.get(key), float) and np.isfinite(vm[key]):
                row["val_" + key] = vm[key]
        if use_val:
            row["val_in_fit"] = True
    row["lr"] = 0.0
    row["seconds"] = time.perf_counter() - t0
    state.set_progress(1, 1)
    state.emit("epoch", row)
    return {"history": [row], "best_epoch": 1, "epochs_run": 1, "seconds": row["seconds"],
            "time_to_best": row["seconds"], "seconds_per_epoch": row["seconds"], "class_weight": cw,
            "fit": "convex", "l2": float(cfg.get("l2", 1.0)), "fit_on_val": use_val}
