"""Predictions from the shipped default models on a survey that has no model of its own.

The GUI calls :func:`predict_with_shipped_models` in a worker on first start, so the galaxy
list shows P(usable) and λR_e predictions (and the confidence filters and queues work) before
anyone has trained anything.  The shipped models were trained on the synthetic demo survey;
their model cards say so.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional, Union

from kinview.progress import NULL_STATE, TaskState
from kinview.tasks import get, names
from kinview.training.registry import active_model, shipped_model_path
from kinview.training.use import predict


def shipped_tasks() -> List[str]:
    """Tasks whose shipped model is run on a survey at first start
    (:attr:`kinview.tasks.base.Task.shipped`), in menu order."""
    return [n for n in names() if get(n).shipped]


def predict_with_shipped_models(survey_dir: Union[str, Path], tasks: Optional[Iterable[str]] = None,
                                state: TaskState = NULL_STATE) -> List[str]:
    """Run each task's shipped model on the survey when the task has no active model there.

    Parameters
    ----------
    survey_dir : path-like
        An ingested survey directory.
    tasks : iterable of str, optional
        Task names (default: :func:`shipped_tasks`); tasks without a shipped model, or with
        an active model in the survey, are skipped.
    state : TaskState
        Progress and cancellation (checked between tasks and inside prediction).

    Returns
    -------
    list of str
        The tasks whose predictions were written (their shipped model is now active).
    """
    done = []
    for name in (shipped_tasks() if tasks is None else tasks):
        state.check_cancelled()
        if active_model(survey_dir, name) is not None or shipped_model_path(name) is None:
            continue
        state.set_status(f"predicting {name} with the shipped default model")
        predict(name, survey_dir, state=state)
        done.append(name)
    return done
