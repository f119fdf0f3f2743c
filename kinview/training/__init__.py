"""Training, prediction and evaluation of kinview's task models.

Public API (Keras is imported only inside the functions)::

    from kinview.training import train, predict, evaluate, load_model, active_model
    rec = train("vfield-quality", survey_dir, arch=None, epochs=None, seed=0,
                options={"mode": "binary", "labels": "consensus"}, state=state)

Modules: :mod:`.trainer` (fit/save/activate), :mod:`.registry` (active model, activate,
roll back, remove), :mod:`.promotion` (no silent downgrades), :mod:`.importer` (published
``.keras``/``.h5``/SavedModel models), :mod:`.model_card`, :mod:`.prediction`,
:mod:`.active_learning` (uncertainty queue, likely label errors), :mod:`.truth_labels`
(demo/benchmark helper), :mod:`.ship_defaults` (builds ``models/``).  Datasets, splits and
metrics live one layer down, in :mod:`kinview.learning`, shared with :mod:`kinview.tasks`.
"""
from kinview.training.registry import activate_model, remove_model, rollback
from kinview.training.trainer import (ModelRecord, active_model, evaluate, list_models, load_model,
                                      predict, shipped_model_path, train)

__all__ = ["ModelRecord", "train", "predict", "evaluate", "load_model", "active_model", "list_models",
           "shipped_model_path", "activate_model", "remove_model", "rollback"]
