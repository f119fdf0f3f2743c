"""Build the default models shipped in ``models/`` from a demo survey.

Usage (documented in ``models/README.md``)::

    kinview demo --out /tmp/demo --n 400 --seed 0
    python -m kinview.training.ship_defaults /tmp/demo [--out models] [--seed 0] [--tasks A,B]
        [--real TASK=REAL_SURVEY ... [--real-labels expert:NAME]]

The tasks default to those that ship a model (:attr:`kinview.tasks.base.Task.shipped`).  With
``--real TASK=DIR`` that task is trained on that survey's expert labels instead (e.g.
``vfield-quality`` on the real MaNGA MPL-8 stellar fields of
``../shared/realdata/mpl8_stellar_dev`` with the MPL-7 expert classes: public SDSS data), as the
task's :meth:`~kinview.tasks.base.Task.ship_recipe` says, and its card says so.

The demo survey's ``truth.csv`` is imported as the labels of an expert called ``truth``
(:func:`kinview.training.truth_labels.import_truth_as_expert`; a perfect synthetic
labeller), then each task's ``default`` architecture is trained with its recipe and seed 0,
and the model is copied to ``<out>/<task>-default.keras`` with a card that says so.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from kinview.data.survey import Survey
from kinview.learning.datasets import quality_labels, training_labels
from kinview.paths import models_dir
from kinview.progress import tqdm_state
from kinview.tasks import get
from kinview.training.fit import train
from kinview.training.model_card import card_path, write_card
from kinview.training.shipped import shipped_tasks
from kinview.training.truth_labels import import_truth_as_expert

NOTES = ("Trained on a SYNTHETIC kinview demo survey (kinview demo --n {n} --seed {demo_seed}), not on "
         "real MaNGA data. Labels: the demo generator's truth (truth.csv) imported as expert "
         "'truth' by kinview.training.truth_labels.import_truth_as_expert, i.e. a perfect synthetic "
         "labeller. Metrics are on the demo's held-out test split. Use it to get started; retrain "
         "on your own labels ('kinview train TASK --survey DIR') before trusting it on real data.")


def ship(survey_dir, out_dir: Optional[Path] = None, seed: int = 0,
         tasks: Optional[Sequence[str]] = None, demo_seed: int = 0,
         real: Optional[Dict[str, Path]] = None, real_labels: Optional[str] = None) -> Dict[str, Path]:
    """Train and copy the default models; return ``{task: shipped path}``.

    ``tasks`` default to the tasks that ship a model; ``real`` maps a task to a survey of real
    data whose expert labels (``real_labels``, default: its only expert) it is trained on
    instead of the demo's truth."""
    survey_dir = Path(survey_dir).resolve()
    out_dir = Path(out_dir or models_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    n = len(Survey.open(survey_dir).plateifus())
    if training_labels(survey_dir, "expert:truth").empty:
        import_truth_as_expert(survey_dir, expert="truth")
    notes = NOTES.format(n=n, demo_seed=demo_seed)
    real = {k: Path(v) for k, v in (real or {}).items()}
    shipped = {}
    for task in (shipped_tasks() if tasks is None else tasks):
        recipe = get(task).ship_recipe(real_labels, real=task in real)
        opts = dict(recipe.get("options") or {}, card_notes=notes)
        where = survey_dir
        workspace = f"synthetic demo survey (kinview demo --n {n} --seed {demo_seed})"
        trained_on = "synthetic demo survey"
        if task in real:
            where = real[task].resolve()
            _, source = quality_labels(where, real_labels)   # the label source resolved
            n_real = len(Survey.open(where).plateifus())
            opts["card_notes"] = recipe.get("notes", "").format(n=n_real, labels=source, seed=seed)
            workspace = recipe.get("workspace", "{name}").format(n=n_real, name=where.name)
            trained_on = recipe.get("trained_on", "").format(n=n_real, name=where.name)
        with tqdm_state(f"train {task}", unit="epoch") as state:
            rec = train(task, where, arch="default", seed=seed, options=opts, state=state)
        dest = out_dir / f"{task}-default.keras"
        shutil.copyfile(rec.path, dest)
        card = dict(rec.card)
        card.update(path=dest.name, workspace=workspace, notes=opts["card_notes"], trained_on=trained_on,
                    shipped=True)
        card.get("dataset_info", {}).pop("workspace", None)
        if recipe.get("card_options"):   # how the shipped model predicts (e.g. every field)
            card["options"] = dict(card.get("options") or {}, **recipe["card_options"])
        write_card(card_path(dest), card)
        m = rec.metrics
        print(f"{task}: {dest} ({dest.stat().st_size / 1e6:.2f} MB) "
              + ", ".join(f"{k}={m[k]:.3f}" for k in ("accuracy", "roc_auc", "pearson", "rmse")
                          if isinstance(m.get(k), float)))
        shipped[task] = dest
    return shipped


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m kinview.training.ship_defaults",
                                description="Train the shipped default models on a demo survey.")
    p.add_argument("survey", help="a demo survey written by 'kinview demo' (has truth.csv)")
    p.add_argument("--out", default=None, help="output folder (default: kinview's models/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--demo-seed", type=int, default=0, help="the --seed the demo was made with (for the card)")
    p.add_argument("--tasks", default=None, help="comma-separated (default: every task that ships a model)")
    p.add_argument("--real", action="append", default=[], metavar="TASK=DIR",
                   help="train TASK on this survey's expert labels (e.g. real MaNGA fields); repeatable")
    p.add_argument("--real-labels", default=None, help="label source there (default: its only expert)")
    a = p.parse_args(argv)
    real = {}
    for pair in a.real:
        task, sep, where = pair.partition("=")
        if not sep:
            p.error(f"--real takes TASK=DIR, not {pair!r}")
        real[task.strip()] = Path(where)
    ship(a.survey, Path(a.out) if a.out else None, a.seed, a.tasks.split(",") if a.tasks else None,
         a.demo_seed, real, a.real_labels)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
