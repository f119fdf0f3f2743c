"""``kinview models list|activate|remove|rollback|import``: the survey's model registry.

::

    kinview models list --survey DIR [--task T] [--all] [--json]
    kinview models activate ID --survey DIR
    kinview models rollback TASK --survey DIR
    kinview models remove ID --survey DIR
    kinview models import PATH --task TASK --survey DIR [--input seed32]

``remove`` keeps the row, the file and the predictions for the record (``list --all`` shows
them); ``import`` prints the new model's id on its last line.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub):
    p = sub.add_parser("models", help="list, activate, remove and import models",
                       description="The survey's model registry: every trained or imported model "
                       "with its card; one active model per task (the one predict, evaluate, the "
                       "GUI and the exporter use).")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", parser_class=type(p))
    msub.required = True

    ls = msub.add_parser("list", help="the models of the survey, newest first")
    _survey(ls)
    ls.add_argument("--task", default=None, metavar="TASK", help="only this task's models")
    ls.add_argument("--all", action="store_true", help="also list removed models")
    ls.add_argument("--json", action="store_true", help="print the records as JSON")
    ls.set_defaults(func=_list)

    act = msub.add_parser("activate", help="make a model its task's active model")
    act.add_argument("id", type=int, metavar="ID")
    _survey(act)
    act.set_defaults(func=_activate)

    rb = msub.add_parser("rollback", help="re-activate the model that was active before the current one")
    rb.add_argument("task", metavar="TASK")
    _survey(rb)
    rb.set_defaults(func=_rollback)

    rm = msub.add_parser("remove", help="take a model out of the list (its row, file and "
                         "predictions are kept for the record)")
    rm.add_argument("id", type=int, metavar="ID")
    _survey(rm)
    rm.set_defaults(func=_remove)

    imp = msub.add_parser("import", help="import a published model (.keras, .h5 or SavedModel directory)",
                          description="Import a Keras 3 .keras file, a Keras 2 .h5 file or a "
                          "TensorFlow SavedModel directory as a model of TASK.  Nothing from the "
                          "file is run as code (Keras safe_mode; no Lambda layers or custom "
                          "objects).  The model is copied into SURVEY/models/ with a card "
                          "(source: imported), its predictions are stored, and it is registered "
                          "inactive: 'kinview models activate ID' makes it the task's model.  The "
                          "last line printed is the new model's id.")
    imp.add_argument("path", type=Path, metavar="PATH")
    imp.add_argument("--task", required=True, metavar="TASK")
    _survey(imp)
    imp.add_argument("--input", default=None, choices=("kinview", "seed32"),
                     help="input preprocessing: kinview's (default) or seed32, the seed's own "
                          "(whole MAPS grid, v/max|v|, OpenCV cubic resize to 32x32)")
    imp.add_argument("--activate", action="store_true", help="also make it the task's active model")
    imp.set_defaults(func=_import)
    return p


def _survey(p):
    p.add_argument("--survey", required=True, type=Path, metavar="DIR", help="survey directory")


def _dir(path: Path, need_db: bool = True) -> Path:
    from kinview.db.connection import DB_NAME
    from kinview.errors import SurveyError

    d = Path(path).expanduser()
    if not d.is_dir():
        raise SurveyError(f"{d}: no such survey directory")
    if need_db and not (d / DB_NAME).exists():
        raise SurveyError(f"{d}: not a kinview survey (no {DB_NAME}); it has no models")
    return d


def _headline(metrics) -> str:
    keys = ("roc_auc", "balanced_accuracy", "accuracy", "pearson", "rmse", "r2")
    return ", ".join(f"{k} {metrics[k]:.3f}" for k in keys if isinstance(metrics.get(k), (int, float)))[:80]


def _list(args) -> int:
    from kinview.tasks.registry import get
    from kinview.strict_json import jsonable
    from kinview.training.registry import list_models

    survey = _dir(args.survey)
    task = get(args.task).name if args.task else None
    recs = list_models(survey, task, include_removed=args.all)
    if args.json:
        json.dump(jsonable([dict(r.to_dict(), card={k: v for k, v in r.card.items() if k != "history"})
                            for r in recs]), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if not recs:
        print(f"no {task + ' ' if task else ''}models in {survey}"
              + ("" if args.all else " (removed ones: --all)"))
        return 0
    print(f"{'id':>4}  {'':6}  {'task':15} {'architecture':18} {'date':20} {'labels':22} {'n':>5}  metrics")
    for r in recs:
        card = r.card or {}
        flag = "active" if r.active else ("removed" if r.removed else "")
        src = card.get("label_source") or ("imported" if card.get("source") == "imported" else "")
        n = card.get("n_samples") if card.get("source") != "imported" else (r.metrics or {}).get("n_held_out")
        print(f"{r.id:>4}  {flag:6}  {r.task:15} {r.arch[:18]:18} {r.created[:19]:20} {str(src)[:22]:22} "
              f"{'' if n is None else n:>5}  {_headline(r.metrics or {})}")
    return 0


def _activate(args) -> int:
    from kinview.training.registry import activate_model

    rec = activate_model(_dir(args.survey), args.id, note="cli")
    print(f"model {rec.id} ({rec.task}, {rec.arch}) is now the active {rec.task} model")
    return 0


def _rollback(args) -> int:
    from kinview.training.registry import rollback

    rec = rollback(_dir(args.survey), args.task)
    print(f"rolled back: model {rec.id} ({rec.task}, {rec.arch}) is active again")
    return 0


def _remove(args) -> int:
    from kinview.training.registry import remove_model

    rec = remove_model(_dir(args.survey), args.id, note="cli")
    print(f"model {rec.id} ({rec.task}) removed from the list; its row, file and predictions are kept "
          "('kinview models list --all' shows it)")
    return 0


def _import(args) -> int:
    from kinview.progress import tqdm_state
    from kinview.tasks.registry import get
    from kinview.training.importer import describe, import_model
    from kinview.training.registry import activate_model

    task = get(args.task)
    survey = _dir(args.survey, need_db=False)
    with tqdm_state(f"import {task.name}", unit="file") as state:
        rec = import_model(args.path, task, survey, input_style=args.input, state=state)
    for key, value in describe(rec):
        print(f"{key}: {value}")
    if rec.metrics:
        print(f"on {rec.metrics.get('n_held_out')} labelled samples: {_headline(rec.metrics)}")
    if args.activate:
        rec = activate_model(survey, rec.id, note="import --activate")
        print(f"model {rec.id} is now the active {task.name} model")
    else:
        print(f"registered inactive; 'kinview models activate {rec.id} --survey {survey}' makes it active")
    print(rec.id)
    return 0
