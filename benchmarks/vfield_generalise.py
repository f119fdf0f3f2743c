"""Benchmark: does a vfield-quality recipe generalise?  Three label sets, one run.

Sets
    real   the 153 real MaNGA MPL-8 stellar fields of ``../shared/realdata/mpl8_stellar_dev``
           with the published MPL-7 expert labels (usable = quality ≥ 1: 130 usable, 23 not);
           read in place through a work folder of symlinks (nothing is copied)
    demo   ``kinview demo --n 400 --seed 0`` with its truth imported as expert ``truth``
    vor10  ``kinview demo --style vor10 --n 300 --seed 0`` (the second synthetic family) with
           its truth imported as expert ``truth``

For every recipe (the ``default`` and the seeds ``seed-fcn`` and ``seed-cnn``; ``--archs``
adds e.g. ``kinview-cnn``, the earlier default) it prints, on each set, the 5-fold
out-of-fold ROC AUC with its 95 % bootstrap interval (by galaxy), the balanced accuracy and
accuracy with theirs, and the majority baseline; then the transfer test: trained on all of the
demo's labels, evaluated on every vor10 field (AUC with interval).  ``--l2 1,10,100`` also
prints the default recipe's out-of-fold AUC on the three sets for each L2 penalty and their
mean (how the shipped value was chosen: best mean over the three sets, never one).

Usage::

    python benchmarks/vfield_generalise.py [--work DIR] [--archs default,seed-fcn,seed-cnn]
        [--k 5] [--seed 0] [--seed-epochs N] [--l2 1,10,100] [--json OUT.json]

``--seed-epochs`` runs the seed recipes for fewer epochs than their 50 (noted in the output)
when time is short.  Surveys are generated once under ``--work`` (default: a temporary folder)
and reused.  Runs single-threaded TensorFlow (2 shared cores).
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

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "mpl8_stellar_dev"


def prepare(work: Path) -> dict:
    """Create (or reuse) the three surveys under ``work``; return {name: (dir, label source)}."""
    from kinview.training.truth_labels import import_truth_as_expert

    sets = {}
    if REAL.is_dir():
        real = work / "real"
        if not (real / "kinview.sqlite").exists():
            real.mkdir(parents=True, exist_ok=True)
            for name in ("catalogue.fits", "maps"):
                if not (real / name).exists():
                    os.symlink(REAL / name, real / name)
            from kinview.data.survey import Survey

            Survey.open(real, ingest=True).close()
            _run_cli(["labels", "import", str(REAL / "labels_mpl7.csv"), "--survey", str(real),
                      "--expert", "mpl7"])
        sets["real"] = (real, "expert:mpl7")
    else:
        print(f"(no {REAL}: the real set is skipped)", file=sys.stderr)
    for name, style, n in (("demo", "default", 400), ("vor10", "vor10", 300)):
        d = work / name
        if not (d / "kinview.sqlite").exists():
            _run_cli(["demo", "--out", str(d), "--n", str(n), "--seed", "0", "--style", style, "--jobs", "1",
                      "--force"])
            import_truth_as_expert(d)
        sets[name] = (d, "expert:truth")
    return sets


def _run_cli(argv):
    from kinview.cli.main import main

    rc = main(argv)
    if rc:
        raise SystemExit(f"kinview {' '.join(argv)} failed ({rc})")


def fmt(m) -> str:
    from kinview.learning.intervals import format_metric

    return format_metric(m)


def transfer(src, dst, arch: str, seed: int, epochs=None) -> dict:
    """Train ``arch`` on every labelled field of ``src`` (85/15 fit/validation), score ``dst``."""
    from kinview.tasks.registry import get
    from kinview.training.fit import recipe
    from kinview.learning.splits import split_groups
    from kinview.training.fit import fit_model
    from kinview.training.use import predict_arrays, setup_keras
    from kinview.progress import NULL_STATE

    task = get("vfield-quality")
    keras = setup_keras(seed)
    arch, opts, cfg, ep = recipe(task, arch, {"labels": src[1]}, epochs)
    a = task.build_dataset(src[0], opts, labelled_only=True)
    b = task.build_dataset(dst[0], {"labels": dst[1]}, labelled_only=True)
    sp = split_groups(a.groups, (0.85, 0.15, 0.0), seed)
    keras.utils.set_random_seed(seed)
    model = task.build_model(arch, a, opts)
    fit_model(task, model, a.subset(sp["train"]), a.subset(sp["val"]), cfg, ep, seed, NULL_STATE)
    return task.metrics_with_intervals(b.y, predict_arrays(model, b.X), b.groups, seed=seed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=None, help="folder for the generated surveys (reused)")
    ap.add_argument("--archs", default="default,seed-fcn,seed-cnn")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seed-epochs", type=int, default=None, help="epochs for the seed recipes (default: theirs)")
    ap.add_argument("--l2", default="", help="comma list of L2 penalties to compare for the default")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from kinview.training.use import setup_keras

    setup_keras(args.seed, threads=1)
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    from kinview.training.oof import evaluate_oof

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="kinview-vfgen-"))
    work.mkdir(parents=True, exist_ok=True)
    sets = prepare(work)
    load = os.getloadavg()
    print(f"vfield-quality generalisation, {args.k}-fold out-of-fold (folds by galaxy), seed {args.seed}; "
          f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores ('loaded' if > 2)")
    results = {"sets": {}, "transfer": {}, "l2": {}, "load": load}
    archs = [a for a in args.archs.split(",") if a]
    for arch in archs:
        epochs = args.seed_epochs if (arch.startswith("seed-") and args.seed_epochs) else None
        for name, (d, labels) in sets.items():
            t0 = time.perf_counter()
            r = evaluate_oof("vfield-quality", d, k=args.k, arch=arch, epochs=epochs, seed=args.seed,
                             options={"labels": labels}, store=False)
            m = r["metrics"]
            results["sets"][f"{arch}/{name}"] = r
            note = f" ({epochs} epochs)" if epochs else ""
            print(f"{arch:<12}{note} {name:<6} n={m['n']:<4} counts {m['class_counts']}  "
                  f"AUC {fmt(m['roc_auc'])}  bal.acc {fmt(m['balanced_accuracy'])}  "
                  f"acc {fmt(m['accuracy'])}  majority {fmt(m['majority_baseline'])}  "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    if "demo" in sets and "vor10" in sets:
        for arch in archs:
            epochs = args.seed_epochs if (arch.startswith("seed-") and args.seed_epochs) else None
            m = transfer(sets["demo"], sets["vor10"], arch, args.seed, epochs)
            results["transfer"][arch] = m
            print(f"{arch:<12} trained on demo -> vor10 (n={m['n']}): AUC {fmt(m['roc_auc'])}  "
                  f"bal.acc {fmt(m['balanced_accuracy'])}", flush=True)
    if args.l2:
        import kinview.nets.vfield as vf

        base = dict(vf.RECIPES["default"])
        for l2 in [float(v) for v in args.l2.split(",")]:
            vf.RECIPES["default"] = dict(base, l2=l2)
            aucs = {}
            for name, (d, labels) in sets.items():
                r = evaluate_oof("vfield-quality", d, k=args.k, seed=args.seed, options={"labels": labels},
                                 store=False, n_boot=200)
                aucs[name] = r["metrics"]["roc_auc"]["value"]
            results["l2"][l2] = aucs
            print(f"default l2={l2:<6g} OOF AUC " + "  ".join(f"{k} {v:.3f}" for k, v in aucs.items())
                  + f"  mean {np.mean(list(aucs.values())):.3f}", flush=True)
        vf.RECIPES["default"] = base
    if args.json:
        from kinview.strict_json import jsonable

        Path(args.json).write_text(json.dumps(jsonable(results), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
