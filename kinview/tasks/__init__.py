"""The task registry: every model kinview trains is a :class:`~kinview.tasks.base.Task`.

Adding a task is one module in this package that subclasses ``Task`` and decorates it with
:func:`register`; :func:`get` and :func:`names` discover the modules on first use.  Nothing
outside this package names a task: the CLI (``kinview train TASK``), the GUI's training
panel, prediction box and Model tab, the labelling queues and the label export ask the task
through its hooks (``training_options``, ``describe_prediction``, ``model_plot``,
``queue_label_kind``, ``export_columns``, ``shipped``; see :class:`~kinview.tasks.base.Task`).
"""
from kinview.tasks.registry import export_columns, get, names, register, unregister

__all__ = ["get", "names", "register", "unregister", "export_columns"]
