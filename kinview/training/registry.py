"""The model registry of a workspace: which models exist, which one each task uses.

Every trained or imported model is a row of the survey database's ``models`` table (SQL in
:mod:`kinview.db.models`) with its JSON model card; the file lives under
``WORKSPACE/models/``.  Each task has at most one *active* model, the one
:func:`kinview.training.predict`, :func:`~kinview.training.evaluate`, the GUI and the exporter
use; with none, the model shipped with kinview is used (``<task>-default.keras``, package data
in ``kinview/resources/models/``).

- :func:`activate_model` makes a model active (``kinview models activate ID``);
- :func:`rollback` re-activates the model that was active before the current one;
- :func:`remove_model` takes a model out of the list but keeps its row, file, predictions
  and history for the record (``kinview models remove ID``);
- :func:`model_events` is the history (trained, imported, activated, kept-inactive, ...).

A newly trained model replaces the active one only when it scores at least as well on the
same held-out samples (:mod:`kinview.training.promotion`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from kinview.db import models as models_db
from kinview.db.connection import connect, transaction
from kinview.errors import KinviewError
from kinview.paths import models_dir
from kinview.tasks.registry import get


@dataclass
class ModelRecord:
    """A row of the ``models`` table (``id`` None for a shipped model not yet recorded).

    ``removed`` is the ISO time the model was removed from the registry (None: listed).
    """

    id: Optional[int]
    task: str
    arch: str
    path: str
    created: str = ""
    metrics: Dict[str, Any] = field(default_factory=dict)
    label_hash: str = ""
    card: Dict[str, Any] = field(default_factory=dict)
    active: bool = False
    removed: Optional[str] = None

    @classmethod
    def from_row(cls, row) -> "ModelRecord":
        rec = models_db.decode(row)
        return cls(id=rec["id"], task=rec["task"], arch=rec["arch"], path=rec["path"],
                   created=rec["created"], metrics=rec["metrics"], label_hash=rec["label_hash"] or "",
                   card=rec["card"], active=bool(rec["active"]), removed=rec["removed"])

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @property
    def activation(self) -> Dict[str, Any]:
        """Why the model was (or was not) made active when it was trained (card ``activation``)."""
        return dict(self.card.get("activation") or {})


def _task_name(task) -> str:
    return get(task).name if isinstance(task, str) else task.name


def _conn(workspace_dir):
    return connect(workspace_dir)


def _change(conn, change, model_id: int, note: str):
    """Run one registry change (:func:`kinview.db.models.activate` or ``remove``) in a
    transaction; its refusal (``LookupError``) becomes a :class:`KinviewError`."""
    try:
        with transaction(conn):
            return change(conn, int(model_id), note)
    except LookupError as exc:
        raise KinviewError(str(exc)) from None


def active_model(workspace_dir: Union[str, Path], task) -> Optional[ModelRecord]:
    """The task's active model in the workspace database, or None."""
    row = models_db.read_active(workspace_dir, _task_name(task))
    return ModelRecord.from_row(row) if row is not None else None


def list_models(workspace_dir: Union[str, Path], task=None, include_removed: bool = False) -> List[ModelRecord]:
    """Recorded models (of one task, if given), newest first; removed ones only on request."""
    conn = _conn(workspace_dir)
    try:
        rows = models_db.rows(conn, None if task is None else _task_name(task), include_removed)
    finally:
        conn.close()
    return [ModelRecord.from_row(r) for r in rows]


def get_model(workspace_dir: Union[str, Path], model_id: int) -> ModelRecord:
    """One model's record (removed or not); :class:`KinviewError` when there is none."""
    conn = _conn(workspace_dir)
    try:
        row = models_db.get(conn, int(model_id))
    finally:
        conn.close()
    if row is None:
        raise KinviewError(f"no model {model_id} in {workspace_dir}; 'kinview models list' shows them")
    return ModelRecord.from_row(row)


def activate_model(workspace_dir: Union[str, Path], model_id: int, note: str = "") -> ModelRecord:
    """Make a model its task's active one (one transaction); returns its record.

    Its stored predictions become the ones the GUI and exporter show.  Raises
    :class:`KinviewError` for an unknown or removed model, or one whose file is gone.
    """
    conn = _conn(workspace_dir)
    try:
        row = models_db.get(conn, int(model_id))
        if row is None:
            raise KinviewError(f"no model {model_id} in {workspace_dir}; 'kinview models list' shows them")
        if not Path(row["path"]).exists():
            raise KinviewError(f"model {model_id}: its file {row['path']} is missing")
        row = _change(conn, models_db.activate, model_id, note)
    finally:
        conn.close()
    return ModelRecord.from_row(row)


def rollback(workspace_dir: Union[str, Path], task) -> ModelRecord:
    """Re-activate the model that was active before the current one; returns it.

    :class:`KinviewError` when there is no earlier model to go back to.
    """
    name = _task_name(task)
    conn = _conn(workspace_dir)
    try:
        prev = models_db.previous_active(conn, name)
    finally:
        conn.close()
    if prev is None:
        raise KinviewError(f"{name}: no earlier active model to roll back to")
    return activate_model(workspace_dir, int(prev["id"]), note="roll back")


def remove_model(workspace_dir: Union[str, Path], model_id: int, note: str = "") -> ModelRecord:
    """Remove a model from the registry's list, keeping its row, file and history.

    An active model is deactivated (the task falls back to the shipped default until another
    model is activated).  :class:`KinviewError` for an unknown or already removed model.
    """
    conn = _conn(workspace_dir)
    try:
        row = _change(conn, models_db.remove, model_id, note)
    finally:
        conn.close()
    return ModelRecord.from_row(row)


def model_events(workspace_dir: Union[str, Path], task=None, model_id: Optional[int] = None) -> List[Dict[str, Any]]:
    """The registry's history, oldest first: dicts ``id, model_id, task, event, created, note``."""
    conn = _conn(workspace_dir)
    try:
        rows = models_db.events(conn, None if task is None else _task_name(task), model_id)
    finally:
        conn.close()
    return [dict(r) for r in rows]


def shipped_model_path(task) -> Optional[Path]:
    """The default model shipped with kinview for a task (``<task>-default.keras`` in the package
    data folder :func:`kinview.paths.models_dir`), or None."""
    path = models_dir() / f"{_task_name(task)}-default.keras"
    return path if path.exists() else None
