"""The task registry: every model kinview trains is a :class:`~kinview.tasks.base.Task`.

Adding a task is one module in this package that subclasses ``Task`` and decorates it with
:func:`register`; :func:`get` and :func:`names` discover the modules on first use.
"""
from kinview.tasks.registry import get, names, register

__all__ = ["get", "names", "register"]
