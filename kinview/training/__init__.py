"""Training, prediction and evaluation of kinview's task models.

Public API (Keras is imported only inside the functions)::

    from kinview.training import train, predict, evaluate, load_model, active_model
    rec = train(task_name, survey_dir, arch=None, epochs=None, seed=0,
                options={"labels": "consensus"}, state=state)   # task_name: kinview.tasks.names()

Modules: :mod:`.fit` (train: fit, save, activate), :mod:`.use` (load, run, predict a
workspace, evaluate), :mod:`.monte_carlo` (accuracy over random splits), :mod:`.registry`
(active model, activate, roll back, remove), :mod:`.promotion` (no silent downgrades), :mod:`.importer` (published
``.keras``/``.h5``/SavedModel models), :mod:`.model_card`, :mod:`.prediction`,
:mod:`.active_learning` (uncertainty queue, likely label errors), :mod:`.truth_labels`
(demo/benchmark helper), :mod:`.ship_defaults` (builds ``models/``).  Datasets, splits and
metrics live one layer down, in :mod:`kinview.learning`, shared with :mod:`kinview.tasks`.
"""
from kinview.training.fit import train
from kinview.training.registry import (ModelRecord, activate_model, active_model, list_models, remove_model,
                                       rollback, shipped_model_path)
from kinview.training.use import evaluate, load_model, predict

__all__ = ["ModelRecord", "train", "predict", "evaluate", "load_model", "active_model", "list_models",
           "shipped_model_path", "activate_model", "remove_model", "rollback"]
