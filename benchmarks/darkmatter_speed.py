"""Benchmark: darkCNN's two architectures on synthetic cluster maps, with Monte-Carlo splits.

Generates (or reads) a cluster dataset (``kinview demo-clusters``; default 800 maps, 267
clusters, balanced over CDM / SIDM0.1 / SIDM0.3 / SIDM1), trains ``simple`` and ``inception``
with the generic trainer (split 70/15/15 by cluster, on-the-fly rotation/flip augmentation,
nothing saved) and prints seconds per epoch, held-out accuracy, per-class accuracy and the
confusion matrix; then the accuracy distribution over K Monte-Carlo train/test splits
(:func:`kinview.training.monte_carlo.monte_carlo`, 30 % of the clusters held out each time), as
darkCNN reports it.

Usage::

    python benchmarks/darkmatter_speed.py [--clusters DIR] [--n 800] [--epochs 30]
                                          [--archs simple,inception] [--mc 5] [--mc-epochs 15]
                                          [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", type=Path, default=None, help="cluster dataset (default: generate one)")
    ap.add_argument("--n", type=int, default=800)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--archs", default="simple,inception")
    ap.add_argument("--mc", type=int, default=5, help="Monte-Carlo splits (0: skip)")
    ap.add_argument("--mc-arch", default="simple")
    ap.add_argument("--mc-epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from kinview.training.monte_carlo import monte_carlo
    from kinview.training.fit import train

    tmp = None
    root = args.clusters
    if root is None:
        from kinview.clusters.generator import write_demo_clusters

        tmp = tempfile.TemporaryDirectory(prefix="kinview-dm-bench-")
        root = Path(tmp.name)
        t = time.perf_counter()
        write_demo_clusters(root, n=args.n, seed=0)
        print(f"demo clusters: {args.n} maps in {time.perf_counter() - t:.1f} s", file=sys.stderr)

    out = {"results": {}}
    for arch in [a for a in args.archs.split(",") if a]:
        print(f"training {arch} for {args.epochs} epochs ...", file=sys.stderr)
        rec = train("darkmatter", root, arch=arch, epochs=args.epochs, seed=args.seed, save=False)
        m, card = rec.metrics, rec.card
        out["results"][arch] = {"accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"],
                                "per_class_accuracy": m["per_class_accuracy"], "confusion": m["confusion"],
                                "classes": m["classes"], "n_test": m["n"], "n_params": card["n_params"],
                                "seconds_per_epoch": card["seconds_per_epoch"], "fit_seconds": card["fit_seconds"],
                                "best_epoch": card["best_epoch"]}
        r = out["results"][arch]
        print(f"{arch:10s} params {r['n_params']:8d}  {r['seconds_per_epoch']:.2f} s/epoch  "
              f"test accuracy {r['accuracy']:.3f} (balanced {r['balanced_accuracy']:.3f}, n={r['n_test']})")
        print("  per class: " + ", ".join(f"{c} {v:.2f}" for c, v in r["per_class_accuracy"].items() if v is not None))
        print("  confusion (rows true, cols predicted, " + "/".join(r["classes"]) + "): " + json.dumps(r["confusion"]))
    if args.mc > 0:
        print(f"Monte-Carlo: {args.mc} splits of {args.mc_arch}, {args.mc_epochs} epochs each ...", file=sys.stderr)
        t = time.perf_counter()
        mc = monte_carlo("darkmatter", root, k=args.mc, epochs=args.mc_epochs, seed=args.seed, arch=args.mc_arch)
        mc["seconds"] = time.perf_counter() - t
        out["mc"] = mc
        print(f"MC accuracy over {mc['k']} splits ({mc['arch']}, {mc['epochs']} epochs): "
              f"{mc['mean']:.3f} ± {mc['std']:.3f} (min {mc['min']:.3f}, max {mc['max']:.3f}); "
              f"{[round(a, 3) for a in mc['accuracies']]}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
