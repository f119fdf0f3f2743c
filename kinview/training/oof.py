"""Out-of-fold evaluation: ``kinview evaluate TASK --survey DIR --oof K``.

Every labelled sample gets a prediction from a model that never saw its galaxy: the galaxies
are dealt into K folds (:func:`kinview.learning.splits.kfold_groups`, fixed by the seed), and
for each fold a model is trained with the task's recipe on the other K − 1 folds (split again
85/15 into fit and validation, as :func:`kinview.training.fit.train` does) and predicts the
held-out fold.  The metrics over all out-of-fold predictions, with 95 % bootstrap intervals
over galaxies (:meth:`kinview.tasks.base.Task.metrics_with_intervals`), say how the *recipe*
does on these labels, using every label once as a test case, where a single held-out test
split of a few hundred labels holds a few dozen.

The run and its predictions are stored in the survey database
(:mod:`kinview.db.oof_runs`) so the GUI can show them.
"""
from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from kinview.db.oof_runs import latest_run, save_run
from kinview.errors import KinviewError
from kinview.learning.intervals import format_metric
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.base import Dataset
from kinview.tasks.registry import get
from kinview.training.fit import fold_predictions, recipe
from kinview.training.registry import active_model
from kinview.training.use import one_keras_thread, setup_keras


def oof_predict(task, dataset: Dataset, arch: str, cfg: Dict[str, Any], epochs: int, seed: int, k: int,
                options: Optional[Dict[str, Any]] = None, state: TaskState = NULL_STATE
                ) -> Tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions of every sample of ``dataset``, the folds shown as ``state``'s
    progress (:func:`kinview.training.fit.fold_predictions`, after checking that ``k`` folds can be
    made).

    Returns
    -------
    (pred, fold): the model output per sample (first axis = sample, as ``model.predict``)
    and the fold (0..k−1) that held the sample out.
    """
    n_groups = len(np.unique(np.asarray(dataset.groups).astype(str)))
    if k < 2:
        raise KinviewError(f"--oof needs at least 2 folds, not {k}")
    if n_groups < k:
        raise KinviewError(f"{task.name}: {n_groups} labelled galaxies cannot make {k} folds")
    return fold_predictions(task, dataset, arch, cfg, epochs, seed, k, options, state, show_progress=True)


def sample_description(kind: str, n: int, k: Optional[int] = None, unit: str = "labelled fields") -> str:
    """What a set of figures was measured on, in words (the GUI and the CLI print it)."""
    if kind == "oof":
        return f"out-of-fold, {n} {unit}, {k} folds"
    return f"held-out test split, n={n}"


@one_keras_thread
def evaluate_oof(task, workspace_dir: Union[str, Path], k: int = 5, arch: Optional[str] = None,
                 epochs: Optional[int] = None, seed: int = 0, options: Optional[Dict[str, Any]] = None,
                 state: TaskState = NULL_STATE, store: bool = True, n_boot: int = 1000) -> Dict[str, Any]:
    """K-fold out-of-fold evaluation of ``task``'s recipe (``arch``) on a workspace's labels.

    Parameters
    ----------
    task : str or Task
    workspace_dir : path-like
        Survey (or cluster dataset) directory.
    k : int
        Folds (by galaxy / group).
    arch, epochs, seed, options
        As for :func:`kinview.training.fit.train` (``options["labels"]`` picks the label
        source).
    store : bool
        Write the run and its predictions to the survey database.
    n_boot : int
        Bootstrap resamples for the intervals.

    Returns
    -------
    dict: ``task``, ``architecture``, ``k``, ``seed``, ``samples`` (in words), ``n_samples``,
    ``n_groups``, ``label_source``, ``label_hash``, ``metrics`` (with intervals),
    ``headline`` (metric keys to show, in order), ``seconds``, ``run_id`` (when stored).
    """
    task = get(task) if isinstance(task, str) else task
    workspace = Path(workspace_dir).expanduser().resolve()
    arch, opts, cfg, epochs = recipe(task, arch, options, epochs)
    setup_keras(seed)
    t0 = time.perf_counter()
    state.set_status(f"reading {task.name} samples")
    dataset = task.build_dataset(workspace, opts, state, labelled_only=True)
    state.check_cancelled()
    pred, fold = oof_predict(task, dataset, arch, cfg, epochs, seed, int(k), opts, state)
    metrics = task.metrics_with_intervals(dataset.y, pred, dataset.groups, n_boot=n_boot, seed=seed)
    n_groups = int(len(np.unique(np.asarray(dataset.groups).astype(str))))
    unit = "labelled fields" if task.workspace == "survey" and task.kind != "regression" else "labelled samples"
    result: Dict[str, Any] = {
        "task": task.name, "architecture": arch, "k": int(k), "seed": int(seed),
        "samples": sample_description("oof", len(dataset), int(k), unit),
        "n_samples": len(dataset), "n_groups": n_groups,
        "label_source": dataset.info.get("label_source"), "label_hash": dataset.label_hash,
        "options": {key: v for key, v in opts.items()}, "epochs": epochs,
        "metrics": metrics, "headline": list(task.headline_metrics()),
        "seconds": time.perf_counter() - t0,
    }
    if store:
        rows = []
        y = np.asarray(dataset.y)
        for (pifu, fld, v, c, extra), target, f in zip(task.to_predictions(pred, dataset), y, fold):
            rows.append((pifu, fld, v, c, target, int(f), extra))
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        summary = {kk: result[kk] for kk in ("samples", "n_samples", "n_groups", "label_source", "epochs",
                                            "headline", "seconds", "options")}
        result["run_id"] = save_run(workspace, task.name, arch, int(k), int(seed), dataset.label_hash, created,
                                    metrics, summary, rows)
    return result


def format_report(result: Dict[str, Any]) -> str:
    """The readable form of an out-of-fold (or held-out) result: one metric a line with its
    interval, then the class counts."""
    m = result.get("metrics") or {}
    lines = [f"{result.get('task')} ({result.get('architecture')}): {result.get('samples')}"
             f" ({result.get('n_groups', m.get('n_groups'))} galaxies), labels {result.get('label_source')}"]
    width = max([len(k) for k in result.get("headline") or []] + [8])
    for key in result.get("headline") or []:
        lines.append(f"  {key:<{width}}  {format_metric(m.get(key))}")
    if m.get("class_counts") is not None:
        counts = ", ".join(f"class {i}: {c}" for i, c in enumerate(m["class_counts"]))
        lines.append(f"  class counts: {counts} (majority class {m.get('majority_class')})")
    if m.get("interval"):
        lines.append(f"  intervals: {m['interval']}")
    return "\n".join(lines)


def evaluation_summary(workspace_dir: Union[str, Path], task) -> Dict[str, Any]:
    """What the GUI shows about a task's models on a survey, read from the database.

    Returns
    -------
    dict with ``task``, ``headline`` (metric keys), and two blocks, each None when absent:
    ``test`` — the active model's held-out test split (``samples`` in words, ``model_id``,
    ``architecture``, ``metrics`` with intervals, from the model card); ``oof`` — the latest
    out-of-fold run (``samples``, ``run_id``, ``architecture``, ``created``, ``metrics``,
    ``current``: whether it was run on today's labels).
    """
    task = get(task) if isinstance(task, str) else task
    out: Dict[str, Any] = {"task": task.name, "headline": list(task.headline_metrics()), "test": None, "oof": None}
    rec = active_model(workspace_dir, task)
    if rec is not None and (rec.card or {}).get("metrics_intervals"):
        card = rec.card
        n_test = int((card.get("split_sizes") or {}).get("test") or card["metrics_intervals"].get("n") or 0)
        out["test"] = {"samples": sample_description("test", n_test), "model_id": rec.id,
                       "architecture": rec.arch, "metrics": card["metrics_intervals"]}
    run = latest_run(workspace_dir, task.name)
    if run is not None:
        current = None
        if rec is not None and rec.label_hash and run.get("label_hash"):
            current = rec.label_hash == run["label_hash"]
        out["oof"] = {"samples": (run.get("summary") or {}).get("samples")
                      or sample_description("oof", int((run.get("metrics") or {}).get("n") or 0), run["k"]),
                      "run_id": run["id"], "architecture": run["arch"], "created": run["created"],
                      "metrics": run.get("metrics") or {}, "same_labels_as_active_model": current}
    return out


def summary_line(block: Dict[str, Any], headline, digits: int = 2) -> str:
    """One line of figures with intervals: ``roc_auc 0.90 [0.83, 0.96] · balanced_accuracy …``
    and the class counts."""
    m = block.get("metrics") or {}
    parts = [f"{k} {format_metric(m.get(k), digits)}" for k in headline if m.get(k)]
    if m.get("class_counts") is not None:
        parts.append("counts " + "/".join(str(c) for c in m["class_counts"]))
    return " · ".join(parts)
