"""Benchmark: the seeds' architectures against kinview's ``default`` on the same demo data.

For ``vfield-quality`` (binary; seeds ``seed-fcn`` and ``seed-cnn``) and ``spin`` (seed
``seed-cnn``), trains every architecture with the generic trainer on the same survey, split
and seed (nothing saved) and prints: seconds per epoch (median), the per-epoch cost ratio
seed / default, wall time to the best validation epoch, the full fit time, the held-out
metrics reached (accuracy and ROC AUC; Pearson and RMSE), and inference throughput of each
model (fields/s, images/s; model forward pass on cached inputs, batches of 256).

Labels: the demo survey's truth imported as expert ``truth``
(:func:`kinview.training.truth_labels.import_truth_as_expert`).

Budgets (SPEC §6): vfield-quality training ≤ 60 s on 2 cores with accuracy ≥ 0.888;
inference ≥ 2,000 fields/s and ≥ 200 images/s on 2 CPU cores; default ≥ 3× cheaper per epoch.

Usage::

    python benchmarks/train_speed.py [--survey DIR | --n 400] [--tasks vfield-quality,spin]
        [--seeds 0,1,2] [--seed-epochs N] [--json OUT.json]

``--seed-epochs`` runs the seeds for fewer epochs than their recipes (50 / 35) when time is
short; their full-recipe time is then extrapolated from the measured seconds per epoch.

``--seeds 0,1,2`` repeats every run with each seed (a different split by galaxy, initial
weights and batch order) and prints each metric as mean ± standard deviation: one test split
holds only ~115 fields, so one field is almost 1 % of accuracy and a single split cannot say
which architecture is more accurate.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ARCHS = {"vfield-quality": ("seed-fcn", "seed-cnn", "default"), "spin": ("seed-cnn", "default")}
HEAD = {"vfield-quality": ("accuracy", "balanced_accuracy", "roc_auc"), "spin": ("pearson", "spearman", "rmse")}
UNIT = {"vfield-quality": "fields/s", "spin": "images/s"}


def _mean_std(values, digits: int = 3) -> str:
    v = np.asarray([x for x in values if isinstance(x, (int, float))], float)
    if v.size == 0:
        return "n/a"
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def throughput(model, X, min_seconds: float = 2.0) -> float:
    from kinview.training.use import predict_arrays

    predict_arrays(model, X[:256])  # trace once
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_seconds:
        predict_arrays(model, X, batch_size=256)
        n += len(X)
    return n / (time.perf_counter() - t0)


def run(survey: Path, task: str, arch: str, epochs, seed: int, verbose: bool = False):
    from kinview.tasks.registry import get
    from kinview.training.fit import train

    from kinview.progress import TaskState

    opts = {"labels": "expert:truth"} if task == "vfield-quality" else {}
    primary = get(task).primary_metric

    def show(kind, row):
        if kind == "epoch" and verbose:
            print(f"  {task} {arch} epoch {row['epoch']}/{row['epochs']}: {row['seconds']:.2f} s, "
                  f"val_loss {row.get('val_loss', float('nan')):.4f}, val_{primary} "
                  f"{row.get('val_' + primary, float('nan')):.3f}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    rec = train(task, survey, arch=arch, epochs=epochs, seed=seed, options=opts, save=False,
                state=TaskState(on_event=show))
    wall = time.perf_counter() - t0
    card = rec.card
    data = get(task).build_dataset(survey, opts, labelled_only=False)
    hist = card["history"]
    return {
        "task": task, "arch": arch, "epochs": card["epochs"], "epochs_run": card["epochs_run"],
        "recipe_epochs": get(task).training_config(arch)["epochs"],
        "n_params": card["n_params"], "split_sizes": card["split_sizes"],
        "seconds_per_epoch": card["seconds_per_epoch"], "fit_seconds": card["fit_seconds"],
        "train_wall_seconds": wall, "best_epoch": card["best_epoch"],
        "seconds_to_best": sum(h["seconds"] for h in hist[:card["best_epoch"]]),
        "val_by_epoch": [h.get("val_" + primary) for h in hist],
        "metrics": {k: rec.metrics.get(k) for k in HEAD[task]},
        "throughput": throughput(rec.model, data.X),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--survey", default=None, help="demo survey (default: generate one)")
    p.add_argument("--n", type=int, default=400, help="galaxies in the generated demo survey")
    p.add_argument("--tasks", default="vfield-quality,spin")
    p.add_argument("--archs", default=None, help="comma list to restrict the architectures")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", default=None, help="comma list of seeds (overrides --seed); "
                   "metrics are then mean ± std over the seeds")
    p.add_argument("--seed-epochs", type=int, default=None, help="epochs for the seed architectures")
    p.add_argument("--default-epochs", type=int, default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--verbose", action="store_true", help="print every epoch on stderr")
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    if a.survey:
        survey = Path(a.survey)
    else:
        from kinview.demo import generate_survey

        survey = Path(tempfile.mkdtemp(prefix="kinview-bench-")) / "demo"
        t0 = time.perf_counter()
        generate_survey(survey, n=a.n, seed=0)
        print(f"demo survey of {a.n} galaxies written in {time.perf_counter() - t0:.1f} s: {survey}")
    from kinview.learning.datasets import training_labels
    from kinview.training.truth_labels import import_truth_as_expert

    if training_labels(survey, "expert:truth").empty:
        import_truth_as_expert(survey, "truth")
    from kinview.data.survey import Survey
    from kinview.learning.datasets import image_arrays, vfield_arrays

    s = Survey.open(survey)
    t0 = time.perf_counter()
    vfield_arrays(s)
    image_arrays(s)
    print(f"inputs cached in {time.perf_counter() - t0:.1f} s (cpu cores: {os.cpu_count()})")

    results = []
    only = set(a.archs.split(",")) if a.archs else None
    seeds = [int(x) for x in a.seeds.split(",")] if a.seeds else [a.seed]
    for task in a.tasks.split(","):
        for arch in ARCHS[task]:
            if only and arch not in only:
                continue
            epochs = a.default_epochs if arch == "default" else a.seed_epochs
            for seed in seeds:
                r = run(survey, task, arch, epochs, seed, a.verbose)
                r["seed"] = seed
                results.append(r)
                m = ", ".join(f"{k} {v:.3f}" for k, v in r["metrics"].items() if isinstance(v, float))
                print(f"{task:15s} {arch:9s} seed {seed} {r['n_params']:>9,d} params  "
                      f"{r['seconds_per_epoch']:.3f} s/epoch  {r['epochs_run']:>2d} epochs in "
                      f"{r['fit_seconds']:.1f} s (best epoch {r['best_epoch']}, {r['seconds_to_best']:.1f} s "
                      f"to best)  test: {m}  inference {r['throughput']:,.0f} {UNIT[task]}", flush=True)
    print()
    for task in a.tasks.split(","):
        by_arch: dict = {}
        for r in results:
            if r["task"] == task:
                by_arch.setdefault(r["arch"], []).append(r)
        if not by_arch:
            continue
        print(f"{task}, {len(seeds)} seed(s) {seeds}: held-out mean ± std")
        for arch, rs in by_arch.items():
            ms = "  ".join(f"{k} {_mean_std([r['metrics'][k] for r in rs])}" for k in HEAD[task])
            spe = float(np.median([r["seconds_per_epoch"] for r in rs]))
            print(f"  {arch:9s} {ms}  {spe:.3f} s/epoch  fit {_mean_std([r['fit_seconds'] for r in rs], 1)} s")
        if "default" not in by_arch:
            continue
        d_spe = float(np.median([r["seconds_per_epoch"] for r in by_arch["default"]]))
        d_fit = float(np.mean([r["fit_seconds"] for r in by_arch["default"]]))
        for arch, rs in by_arch.items():
            if arch == "default":
                continue
            spe = float(np.median([r["seconds_per_epoch"] for r in rs]))
            print(f"{task}: {arch} / default per-epoch cost = {spe / d_spe:.1f}x  "
                  f"({arch} recipe {rs[0]['recipe_epochs']} epochs ≈ {spe * rs[0]['recipe_epochs']:.0f} s "
                  f"(ran {rs[0]['epochs_run']}); default fit {d_fit:.0f} s)")
        budget = 2000 if task == "vfield-quality" else 200
        thr = float(np.median([r["throughput"] for r in by_arch["default"]]))
        print(f"{task}: default inference {thr:,.0f} {UNIT[task]} (budget ≥ {budget:,})")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
