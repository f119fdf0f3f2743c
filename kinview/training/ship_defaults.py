"""Build the default models shipped in ``models/`` from a demo survey.

Usage (documented in ``models/README.md``)::

    kinview demo --out /tmp/demo --n 400 --seed 0
    python -m kinview.training.ship_defaults /tmp/demo [--out models] [--seed 0]
        [--vfield-survey REAL_SURVEY [--vfield-labels expert:NAME]]

With ``--vfield-survey``, ``vfield-quality`` is trained on that survey's expert labels instead
(e.g. the real MaNGA MPL-8 stellar fields of ``../shared/realdata/mpl8_stellar_dev`` with the
MPL-7 expert classes: public SDSS data), and its card says so.

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

NOTES = ("Trained on a SYNTHETIC kinview demo survey (kinview demo --n {n} --seed {demo_seed}), not on "
         "real MaNGA data. Labels: the demo generator's truth (truth.csv) imported as expert "
         "'truth' by kinview.training.truth_labels.import_truth_as_expert, i.e. a perfect synthetic "
         "labeller. Metrics are on the demo's held-out test split. Use it to get started; retrain "
         "on your own labels ('kinview train TASK --survey DIR') before trusting it on real data.")


NOTES_REAL = ("Trained on {n} REAL MaNGA MPL-8 stellar velocity fields (VOR10-GAU-MILESHC; public SDSS data) "
              "with the published MPL-7 expert quality classes (Duckworth et al. 2020; label source {labels}), "
              "usable = quality >= 1, by the 'default' recipe (exact fit of one output layer on the field's "
              "summary statistics), seed {seed}, 70/15/15 split by galaxy (the recipe fits on train + "
              "validation). The test split is small (see split_sizes): judge the recipe by its 5-fold "
              "out-of-fold figures in the README (benchmarks/vfield_generalise.py). Its features are the same "
              "for gas fields, but no real gas field was in its training set.")


def ship(survey_dir, out_dir: Optional[Path] = None, seed: int = 0,
         tasks: Sequence[str] = ("vfield-quality", "spin"), demo_seed: int = 0,
         vfield_survey: Optional[Path] = None, vfield_labels: Optional[str] = None) -> Dict[str, Path]:
    """Train and copy the default models; return ``{task: shipped path}``.

    ``vfield_survey`` (with ``vfield_labels``, default: its only expert) trains
    ``vfield-quality`` on a survey of real fields with expert labels instead of the demo."""
    from kinview.data.survey import Survey
    from kinview.paths import models_dir
    from kinview.progress import tqdm_state
    from kinview.learning.datasets import training_labels
    from kinview.training.model_card import card_path, write_card
    from kinview.training.trainer import train
    from kinview.training.truth_labels import import_truth_as_expert

    survey_dir = Path(survey_dir).resolve()
    out_dir = Path(out_dir or models_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    n = len(Survey.open(survey_dir).plateifus())
    if training_labels(survey_dir, "expert:truth").empty:
        import_truth_as_expert(survey_dir, expert="truth")
    notes = NOTES.format(n=n, demo_seed=demo_seed)
    shipped = {}
    for task in tasks:
        opts = {"card_notes": notes}
        where = survey_dir
        workspace = f"synthetic demo survey (kinview demo --n {n} --seed {demo_seed})"
        trained_on = "synthetic demo survey"
        if task == "vfield-quality":
            opts.update(labels="expert:truth", mode="binary")
            if vfield_survey is not None:
                where = Path(vfield_survey).resolve()
                opts.update(labels=vfield_labels or None, fields="stellar")
                from kinview.learning.datasets import quality_labels

                _, source = quality_labels(where, vfield_labels)
                n_real = len(Survey.open(where).plateifus())
                opts["card_notes"] = NOTES_REAL.format(n=n_real, labels=source, seed=seed)
                workspace = f"{n_real} real MaNGA MPL-8 stellar fields with MPL-7 expert labels ({where.name})"
                trained_on = "real MaNGA MPL-8 stellar velocity fields, MPL-7 expert labels"
        with tqdm_state(f"train {task}", unit="epoch") as state:
            rec = train(task, where, arch="default", seed=seed, options=opts, state=state)
        dest = out_dir / f"{task}-default.keras"
        shutil.copyfile(rec.path, dest)
        card = dict(rec.card)
        card.update(path=dest.name, workspace=workspace, notes=opts["card_notes"], trained_on=trained_on,
                    shipped=True)
        card.get("dataset_info", {}).pop("workspace", None)
        if vfield_survey is not None and task == "vfield-quality":
            card["options"] = dict(card.get("options") or {}, fields=["stellar", "gas"])  # predicts both
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
    p.add_argument("--tasks", default="vfield-quality,spin")
    p.add_argument("--vfield-survey", default=None,
                   help="train vfield-quality on this survey's expert labels (e.g. real MaNGA fields)")
    p.add_argument("--vfield-labels", default=None, help="label source there (default: its only expert)")
    a = p.parse_args(argv)
    ship(a.survey, Path(a.out) if a.out else None, a.seed, a.tasks.split(","), a.demo_seed,
         Path(a.vfield_survey) if a.vfield_survey else None, a.vfield_labels)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
