"""Registry of tasks (glue's config registries, Zoobot's schemas).

Every module in :mod:`kinview.tasks` other than ``base`` and ``registry`` is a task module;
they are imported on first lookup, so registering a new task needs no edit here.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Dict, List, Tuple, Type

from kinview.errors import KinviewError

_TASKS: Dict[str, "object"] = {}
_discovered = False


def register(cls: Type) -> Type:
    """Class decorator: register a :class:`~kinview.tasks.base.Task` subclass by its ``name``."""
    if not getattr(cls, "name", ""):
        raise ValueError(f"{cls.__name__} has no task name")
    _TASKS[cls.name] = cls()
    return cls


def unregister(name: str) -> None:
    """Remove the task called ``name`` (tests register tasks of their own); no error if absent."""
    _TASKS.pop(name, None)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    import kinview.tasks as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("base", "registry") and not info.name.startswith("_"):
            importlib.import_module(f"kinview.tasks.{info.name}")
    _discovered = True


def names() -> List[str]:
    """Registered task names in the order choosers list them (``Task.menu_order``, then name)."""
    _discover()
    return sorted(_TASKS, key=lambda n: (_TASKS[n].menu_order, n))


def get(name: str):
    """The task instance called ``name``; a one-line :class:`KinviewError` if unknown."""
    _discover()
    try:
        return _TASKS[name]
    except KeyError:
        raise KinviewError(f"unknown task {name!r}; known tasks: {', '.join(sorted(_TASKS)) or 'none'}") from None


def export_columns(task_name: str, field: str) -> Tuple[str, str]:
    """The export's (value, confidence) column names of ``task_name``'s predictions for
    ``field`` (:meth:`~kinview.tasks.base.Task.export_columns`); a task no longer registered
    (a model of a removed task module) gets the default naming."""
    _discover()
    task = _TASKS.get(task_name)
    if task is None:
        from kinview.tasks.base import Task

        task = Task()
        task.name = task_name
    return task.export_columns(field)
