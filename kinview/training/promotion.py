"""No silent downgrades: does a newly trained model replace the task's active model?

:func:`decide` scores the task's active model on the *new* model's held-out test split (the
same samples, the same labels, the same metric) and lets the new model take over only when
it is at least as good on the task's primary metric (``Task.primary_metric``, e.g. ROC AUC,
Pearson r, R² or accuracy; every one higher-is-better).  Otherwise the new model is stored inactive, and the decision
(with both figures and the reason) is written into its model card as ``activation`` so that
the CLI and the training panel can say why and offer to activate it anyway.

The new model is activated without a comparison when the task has no active model in the
workspace, when the split has no held-out sample, when the active model cannot be run on
these samples (missing file, different inputs or classes), or when ``force_activate`` is
set; the reason says which.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from kinview.errors import KinviewError
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.base import Dataset
from kinview.tasks.registry import get
from kinview.training.registry import active_model, list_models
from kinview.training.use import card_options, load_model, one_keras_thread, predict_arrays

#: figures compared, in order of preference (first finite pair wins); all higher-is-better
FALLBACK_METRICS = ("accuracy",)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and bool(np.isfinite(v))


def _to_target_space(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Old-model outputs in the new model's output space, or KinviewError when impossible.

    Same shape: unchanged.  New binary P(usable) (n,) or (n, 1) against old class
    probabilities (n, k ≥ 2): P(class ≥ 1) = 1 − P(0), the usable probability of the
    three quality classes.
    """
    old = np.asarray(old, float)
    new = np.asarray(new, float)
    if old.shape[1:] == new.shape[1:]:
        return old
    new_binary = new.ndim == 1 or (new.ndim == 2 and new.shape[1] == 1)
    if new_binary and old.ndim == 2 and old.shape[1] >= 2:
        p = 1.0 - old[:, 0]
        return p.reshape(new.shape)
    if new_binary and (old.ndim == 1 or old.shape[1] == 1):
        return old.reshape(new.shape)
    raise KinviewError(f"outputs of shape {old.shape[1:]} cannot be compared with {new.shape[1:]}")


def score_model_on(task, workspace: Path, rec, held: Dataset, new_pred, options: Dict[str, Any],
                   state: TaskState = NULL_STATE) -> Dict[str, Any]:
    """Metrics of a recorded model ``rec`` on the samples of ``held`` (matched by id).

    The model sees its own inputs (built with the options in its card, e.g. an imported
    model's ``input: seed32``); targets are ``held.y``.  Raises :class:`KinviewError` when
    the model cannot be run or does not cover every held-out sample.
    """
    card = rec.card or {}
    model = load_model(rec.path)
    opts = card_options(card, model, task)
    opts.pop("labels", None)           # inputs only: targets come from the new model's split
    opts.pop("oof_folds", None)
    for key in ("fields",):            # score every sample the new model was scored on
        if key in options:
            opts[key] = options[key]
    opts = task.normalize_options(opts)
    data = task.build_dataset(workspace, opts, state, labelled_only=False)
    index = {tuple(map(str, sid)): i for i, sid in enumerate(data.ids)}
    rows = [index.get(tuple(map(str, sid))) for sid in held.ids]
    if any(r is None for r in rows):
        missing = sum(r is None for r in rows)
        raise KinviewError(f"it has no input for {missing} of the {len(rows)} held-out samples")
    sub = data.subset(np.asarray(rows, int))
    old_pred = _to_target_space(predict_arrays(model, sub.X), new_pred)
    return task.evaluate(held.y, old_pred, held)


def decide(task, workspace: Path, held: Dataset, new_pred, new_metrics: Dict[str, Any],
           options: Optional[Dict[str, Any]] = None, state: TaskState = NULL_STATE) -> Dict[str, Any]:
    """Whether the new model becomes active, and why.

    Parameters
    ----------
    task : Task
    workspace : Path
    held : Dataset
        The new model's held-out test split (samples and labels).
    new_pred : ndarray
        The new model's outputs on ``held``.
    new_metrics : dict
        ``task.evaluate(held.y, new_pred, held)``.
    options : dict
        Training options; ``force_activate=True`` activates whatever the comparison says.

    Returns
    -------
    dict
        ``activate`` (bool), ``reason`` (one sentence), ``metric``, ``new`` and ``active``
        (the two figures, or None), ``active_model`` (id or None), ``active_metrics``,
        ``n_held_out``, ``held_out`` (what the samples are), ``forced`` (bool).
    """
    options = dict(options or {})
    forced = bool(options.get("force_activate"))
    out: Dict[str, Any] = {"activate": True, "forced": forced, "metric": None, "new": None, "active": None,
                           "active_model": None, "active_metrics": None, "n_held_out": int(len(held)),
                           "held_out": "the new model's test split"}
    rec = active_model(workspace, task)
    if rec is None:
        out["reason"] = "no model was active for this task"
        return out
    out["active_model"] = rec.id
    if len(held) == 0 or new_pred is None:
        out["reason"] = f"no held-out samples to compare with active model #{rec.id}"
        return out
    state.set_status(f"scoring active model #{rec.id} on the same {len(held)} held-out samples")
    try:
        old_metrics = score_model_on(task, workspace, rec, held, new_pred, options, state)
    except KinviewError as exc:
        out["reason"] = f"active model #{rec.id} cannot be scored on these samples ({exc})"
        return out
    out["active_metrics"] = old_metrics
    for key in (task.primary_metric or "accuracy",) + FALLBACK_METRICS:
        if _finite(new_metrics.get(key)) and _finite(old_metrics.get(key)):
            new_v, old_v = float(new_metrics[key]), float(old_metrics[key])
            break
    else:
        out["reason"] = (f"no figure to compare with active model #{rec.id} on {len(held)} held-out "
                         "samples (one class only?)")
        return out
    out.update(metric=key, new=new_v, active=old_v)
    where = f"on the same {len(held)} held-out samples"
    if new_v >= old_v - 1e-9:
        out["reason"] = f"{key} {new_v:.3f} ≥ {old_v:.3f} of active model #{rec.id} {where}"
        return out
    if forced:
        out["reason"] = (f"activated on request although {key} {new_v:.3f} < {old_v:.3f} of model "
                         f"#{rec.id} {where}")
        return out
    out["activate"] = False
    out["reason"] = (f"{key} {new_v:.3f} is worse than {old_v:.3f} of active model #{rec.id} {where}; "
                     f"model #{rec.id} stays active")
    return out


@one_keras_thread
def compare_models(task, workspace_dir, records=None, state: TaskState = NULL_STATE) -> Dict[str, Any]:
    """Metrics of several models of one task on the *same* held-out samples.

    The samples are the test split of the newest listed model trained in this workspace
    (the groups in its card), scored against the workspace's current labels (the label
    source that model was trained on); when no listed model was trained here, every labelled
    sample.  Each model sees its own inputs (:func:`score_model_on`).

    Parameters
    ----------
    task : str or Task
    workspace_dir : path-like
    records : list of ModelRecord, optional
        Default: every listed model of the task.

    Returns
    -------
    dict
        ``held_out`` (which samples, in words), ``n_held_out``, ``reference`` (model id or
        None), ``scores`` ``{model id: metrics dict}`` and ``errors`` ``{model id: message}``.
    """
    task = get(task) if isinstance(task, str) else task
    workspace = Path(workspace_dir).expanduser().resolve()
    records = list(records) if records is not None else list_models(workspace, task)
    ref = next((r for r in records if r.card.get("test_groups")
                and str(r.card.get("workspace", "")) == str(workspace)), None)
    opts: Dict[str, Any] = {}
    if ref is not None:
        opts = {k: v for k, v in (ref.card.get("options") or {}).items() if k in ("labels", "mode", "fields")}
    opts = task.normalize_options(opts)
    out: Dict[str, Any] = {"reference": None if ref is None else ref.id, "scores": {}, "errors": {},
                           "n_held_out": 0, "held_out": ""}
    try:
        data = task.build_dataset(workspace, opts, state, labelled_only=True)
    except KinviewError as exc:
        out["held_out"] = f"no labelled samples ({exc})"
        return out
    if ref is not None:
        groups = set(ref.card.get("test_groups") or [])
        idx = np.flatnonzero([str(g) in groups for g in data.groups])
        held = data.subset(idx)
        out["held_out"] = f"test split of model #{ref.id}"
    else:
        held = data
        out["held_out"] = "all labelled samples"
    out["n_held_out"] = len(held)
    if len(held) == 0:
        return out
    n_classes = int(held.info.get("n_classes") or 2)
    dummy = np.zeros((len(held), 1)) if n_classes == 2 or task.kind == "regression" else np.zeros((len(held), n_classes))
    for rec in records:
        state.check_cancelled()
        try:
            out["scores"][rec.id] = score_model_on(task, workspace, rec, held, dummy, {}, state)
        except KinviewError as exc:
            out["errors"][rec.id] = str(exc)
        except Exception as exc:  # noqa: BLE001 - one broken model must not hide the others
            out["errors"][rec.id] = f"{type(exc).__name__}: {exc}"
    return out
