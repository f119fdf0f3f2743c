"""Sub-commands ``kinview train``, ``kinview predict`` and ``kinview evaluate``."""
from __future__ import annotations

import json
import sys


def _task_help() -> str:
    from kinview.tasks.registry import names

    try:
        return ", ".join(names())
    except Exception:  # pragma: no cover - a broken task module must not break --help
        return "vfield-quality, spin, ..."


def register(sub):
    tasks = _task_help()
    p = sub.add_parser("train", help="train a model for a task on a survey and make it active",
                       description="Train a model (Keras) for TASK on the labelled samples of a "
                       "survey, split by galaxy (70/15/15, fixed by --seed), save it with a JSON "
                       "model card under SURVEY/models/ and write predictions for every galaxy.  "
                       "It becomes the task's active model only if it scores at least as well as "
                       "the active model on the same held-out samples (else it is kept inactive "
                       f"and the reason printed; --force-activate overrides).  Tasks: {tasks}.")
    p.add_argument("task", metavar="TASK")
    p.add_argument("--survey", required=True, metavar="DIR", help="survey (or cluster dataset) directory")
    p.add_argument("--arch", default=None, metavar="NAME", help="architecture (default: the task's 'default')")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="epochs (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="split/initialisation seed (default 0)")
    p.add_argument("--labels", default=None, metavar="SOURCE",
                   help="label source: expert:NAME, consensus or all (default: the only expert, "
                        "else consensus)")
    p.add_argument("--mode", default=None, choices=("binary", "3class"),
                   help="vfield-quality: usable yes/no (default) or quality 0/1/2")
    p.add_argument("--oof", type=int, default=0, metavar="K",
                   help="also store K-fold out-of-fold predictions of labelled fields (for the "
                        "likely-label-errors queue; K trainings more)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="task option, repeatable (e.g. darkmatter: channels=mass,xray "
                        "attributes=none mc=5)")
    p.add_argument("--force-activate", action="store_true",
                   help="make the new model active even when it scores worse than the active "
                        "model on the same held-out samples (default: it is then kept inactive)")
    p.set_defaults(func=_train)

    p = sub.add_parser("predict", help="predict every galaxy with a model and make it active",
                       description="Run a model (--model, else the survey's active model, else "
                       "the shipped default) on every sample of the survey, store the "
                       "predictions and make the model active.  With --catalogue: predict an "
                       "image task for every row of a catalogue on Dask, into Parquet.")
    p.add_argument("task", metavar="TASK")
    p.add_argument("--survey", default=None, metavar="DIR",
                   help="survey directory (with --catalogue: only for --model ID)")
    p.add_argument("--model", default=None, metavar="PATH",
                   help="model file or directory, or a registry ID (kinview models list)")
    from kinview.cli import batch_cmd

    batch_cmd.add_arguments(p)
    p.add_argument("--verbose", action="store_true",
                   help="list every sample left without a prediction and why (default: a summary)")
    p.set_defaults(func=_predict)

    p = sub.add_parser("evaluate", help="held-out or out-of-fold metrics, with intervals, as JSON",
                       description="Score a model (--model, else the active one, else the shipped "
                       "default) on the held-out test split recorded in its model card (all "
                       "labelled samples when it was trained on other data).  With --oof K, "
                       "score the training recipe instead: K models, each trained on the other "
                       "folds (folds by galaxy), predict every labelled sample out of fold; the "
                       "run is stored in the survey database for the GUI.  Prints JSON on "
                       "stdout and a readable summary (metrics with 95%% bootstrap intervals "
                       "over galaxies, class counts) on stderr.")
    p.add_argument("task", metavar="TASK")
    p.add_argument("--survey", required=True, metavar="DIR")
    p.add_argument("--model", default=None, metavar="PATH")
    p.add_argument("--oof", type=int, default=0, metavar="K",
                   help="K-fold out-of-fold evaluation of the recipe (--arch, --seed, --epochs)")
    p.add_argument("--arch", default=None, metavar="NAME", help="with --oof: architecture (default: the task's)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="with --oof: fold/initialisation seed")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="with --oof: epochs (default: the recipe's)")
    p.add_argument("--labels", default=None, metavar="SOURCE",
                   help="label source to score against (default: the one the model was trained on)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="task option, repeatable (e.g. darkmatter: channels=mass,xray "
                        "attributes=none mc=5)")
    p.set_defaults(func=_evaluate)


def _options(pairs) -> dict:
    """``["channels=mass,xray", "mc=0"]`` -> ``{"channels": "mass,xray", "mc": "0"}``."""
    from kinview.errors import KinviewError

    options = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise KinviewError(f"--option takes KEY=VALUE, not {pair!r}")
        options[key.strip()] = value.strip()
    return options


def _survey_dir(path: str):
    from pathlib import Path

    from kinview.errors import SurveyError

    d = Path(path).expanduser()
    if not d.is_dir():
        raise SurveyError(f"{d}: no such survey directory")
    return d


def _fmt_metrics(metrics) -> str:
    keys = ("accuracy", "balanced_accuracy", "roc_auc", "pearson", "spearman", "rmse")
    return ", ".join(f"{k} {metrics[k]:.3f}" for k in keys if isinstance(metrics.get(k), (int, float)))


def _train(args) -> int:
    from kinview.progress import tqdm_state
    from kinview.tasks.registry import get
    from kinview.training import train

    from kinview.errors import KinviewError

    if args.epochs is not None and args.epochs < 1:
        raise KinviewError(f"--epochs must be at least 1, not {args.epochs}")
    if args.oof is not None and args.oof < 0 or args.oof == 1:
        raise KinviewError(f"--oof must be 0 (none) or at least 2 folds, not {args.oof}")
    task = get(args.task)
    survey = _survey_dir(args.survey)
    options = _options(args.option)
    if args.mode:
        options["mode"] = args.mode
    if args.labels:
        options["labels"] = args.labels
    if args.oof:
        options["oof_folds"] = args.oof
    if args.force_activate:
        options["force_activate"] = True
    with tqdm_state(f"train {task.name}", unit="epoch") as state:
        rec = train(task, survey, arch=args.arch, epochs=args.epochs, seed=args.seed, options=options,
                    state=state)
    card = rec.card
    decision = rec.activation
    if rec.active:
        print(f"model {rec.id} ({rec.arch}) saved to {rec.path} and made active"
              + (f" ({decision['reason']})" if decision.get("reason") else ""))
    else:
        print(f"model {rec.id} ({rec.arch}) saved to {rec.path} but NOT made active: {decision.get('reason')}")
        print(f"to use it anyway: kinview models activate {rec.id} --survey {survey} "
              "(or train with --force-activate)")
    print(f"trained on {card.get('n_samples')} samples ({card.get('label_source')}), split "
          f"{card.get('split_sizes')}, {card.get('epochs_run')} epochs in {card.get('fit_seconds', 0):.1f} s "
          f"(best epoch {card.get('best_epoch')})")
    print(f"test: {_fmt_metrics(rec.metrics)}")
    return 0


def _predict(args) -> int:
    from kinview.cli import batch_cmd
    from kinview.db.connection import connect
    from kinview.db.models import count_predictions
    from kinview.errors import KinviewError
    from kinview.progress import tqdm_state
    from kinview.tasks.registry import get
    from kinview.training import predict

    if batch_cmd.requested(args):
        return batch_cmd.run(args)
    if args.survey is None:
        raise KinviewError("predict needs --survey DIR (or --catalogue FILE --images DIR --out PRED.parquet)")
    task = get(args.task)
    survey = _survey_dir(args.survey)
    with tqdm_state(f"predict {task.name}", unit="file") as state:
        rec = predict(task, survey, model_path=args.model, state=state)
    conn = connect(survey)
    try:
        n = count_predictions(conn, rec.id)
    finally:
        conn.close()
    print(f"{n} {task.name} predictions written with model {rec.id} ({rec.path}); it is now active")
    skipped = getattr(rec, "skipped", None) or []
    if skipped:
        from kinview.cli.reasons import summarise

        print(f"{len(skipped)} without a prediction:")
        for line in summarise(skipped, verbose=args.verbose):
            print(line)
    return 0


def _evaluate(args) -> int:
    from kinview.tasks.registry import get
    from kinview.training import evaluate
    from kinview.strict_json import jsonable

    from kinview.errors import KinviewError
    from kinview.training.oof import format_report

    task = get(args.task)
    survey = _survey_dir(args.survey)
    options = _options(args.option)
    if args.labels:
        options["labels"] = args.labels
    if args.oof:
        from kinview.progress import tqdm_state
        from kinview.training.oof import evaluate_oof

        if args.model:
            raise KinviewError("--oof evaluates a training recipe (--arch), not a saved --model")
        if args.oof < 2:
            raise KinviewError(f"--oof needs at least 2 folds, not {args.oof}")
        with tqdm_state(f"out-of-fold {task.name}", unit="fold") as state:
            result = evaluate_oof(task, survey, k=args.oof, arch=args.arch, epochs=args.epochs,
                                  seed=args.seed, options=options, state=state)
    else:
        if args.arch or args.epochs:
            raise KinviewError("--arch and --epochs go with --oof (a held-out evaluation scores a saved model)")
        result = evaluate(task, survey, model_path=args.model, options=options or None)
    json.dump(jsonable(result), sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")
    sys.stdout.flush()
    if result.get("metrics_intervals") is not None or args.oof:
        shown = dict(result)
        if not args.oof:
            shown.update(metrics=result["metrics_intervals"], headline=list(task.headline_metrics()))
        print(format_report(shown), file=sys.stderr)
    return 0
