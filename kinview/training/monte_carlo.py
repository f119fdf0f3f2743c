"""Monte-Carlo cross-validation of a classifier: accuracy over random train/test splits.

darkCNN reported its accuracy as a distribution over random splits of the clusters; a task
asks for it with :attr:`kinview.tasks.base.Task.monte_carlo_splits` (the default number of
splits ``kinview evaluate`` runs; option ``mc=K`` overrides, 0 skips).
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from kinview.errors import KinviewError
from kinview.learning.splits import split_groups
from kinview.progress import NULL_STATE, TaskState
from kinview.training.fit import fit_model
from kinview.training.use import as_task, predict_arrays, setup_keras


def monte_carlo(task, workspace, k: int = 5, epochs: Optional[int] = None, seed: int = 0,
                state: TaskState = NULL_STATE, arch: Optional[str] = None,
                options: Optional[Mapping[str, Any]] = None,
                test_fraction: float = 0.3) -> Dict[str, Any]:
    """Accuracy of a classifier ``task`` over ``k`` random Monte-Carlo train/test splits by
    group (e.g. by cluster), as darkCNN reports.

    Each split draws ``test_fraction`` of the groups as the test set (seed ``seed + i``),
    holds out 15 % of the rest for validation, trains a fresh model of ``arch`` with the
    generic fitting loop (:func:`kinview.training.fit.fit_model`: on-the-fly augmentation,
    class weights, best validation weights) and scores it (:meth:`Task.evaluate`, which must
    report ``accuracy`` and ``confusion``) on the test samples.  Nothing is saved.

    Returns
    -------
    dict: ``k``, ``arch``, ``epochs``, ``test_fraction``, ``accuracies`` (list), ``mean``,
    ``std`` (sample std, ddof=1 when k > 1), ``min``, ``max``, ``per_class_accuracy``
    (mean over splits), ``confusion`` (summed over splits; rows true, columns predicted) and
    ``splits`` (per split: seed, n_train, n_test, accuracy, confusion).
    """
    task = as_task(task)
    opts = task.normalize_options(options)
    arch = arch or task.default_arch
    cfg = task.training_config(arch, opts)
    epochs = int(epochs or cfg.get("epochs") or task.default_epochs)
    k = int(k)
    if k < 1:
        raise KinviewError(f"{task.name}: the number of Monte-Carlo splits must be at least 1")
    keras = setup_keras(seed)
    data = task.build_dataset(workspace, opts, NULL_STATE, labelled_only=True)
    classes = list(data.info.get("classes") or range(int(cfg.get("n_classes") or 2)))
    accs, per_class, conf = [], [], np.zeros((len(classes), len(classes)), int)
    splits: List[Dict[str, Any]] = []
    state.set_total(k)
    for i in range(k):
        state.check_cancelled()
        state.set_status(f"Monte-Carlo split {i + 1}/{k}")
        sp = split_groups(data.groups, (1 - test_fraction, 0.0, test_fraction), seed + i)
        rest = data.subset(sp["train"])
        inner = split_groups(rest.groups, (0.85, 0.15, 0.0), seed + 1000 + i)
        keras.utils.set_random_seed(int(seed) + i)
        model = task.build_model(arch, data, opts)
        quiet = TaskState()
        quiet._cancel = state._cancel if hasattr(state, "_cancel") else quiet._cancel
        fit_model(task, model, rest.subset(inner["train"]), rest.subset(inner["val"]), cfg, epochs,
                  seed + i, quiet, None, opts)
        test = data.subset(sp["test"])
        m = task.evaluate(test.y, predict_arrays(model, test.X), test)
        accs.append(float(m["accuracy"]))
        pca = m.get("per_class_accuracy") or {}
        per_class.append([pca[c] if pca.get(c) is not None else np.nan for c in classes])
        conf += np.asarray(m["confusion"], int)
        splits.append({"seed": int(seed + i), "n_train": int(len(inner["train"])), "n_test": int(len(test)),
                       "accuracy": accs[-1], "confusion": m["confusion"]})
        state.emit("mc_split", splits[-1])
        state.advance()
        del model
        keras.backend.clear_session()
    a = np.asarray(accs)
    pc = np.nanmean(np.asarray(per_class, float), axis=0) if per_class else []
    return {"k": k, "arch": arch, "epochs": epochs, "test_fraction": float(test_fraction),
            "accuracies": accs, "mean": float(a.mean()), "std": float(a.std(ddof=1)) if k > 1 else 0.0,
            "min": float(a.min()), "max": float(a.max()), "classes": classes,
            "per_class_accuracy": {c: (None if not np.isfinite(v) else float(v)) for c, v in zip(classes, pc)},
            "confusion": conf.tolist(), "splits": splits}
