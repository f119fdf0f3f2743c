"""Benchmark: the seed's VGG photo-z network against kinview's ``default`` on the same data.

Trains both architectures of the ``photoz`` task with the generic trainer (same split, same
seed, same on-the-fly augmentation, nothing saved) on a survey — by default a fresh 400-galaxy
demo survey — and prints, for each: seconds per epoch, seconds per image-epoch, total fit time,
the held-out R², RMSE, σ_NMAD, outlier fraction, and the epoch at which the best validation
loss was reached.  The seed's full recipe (50 epochs) is extrapolated from its measured
seconds per epoch when it is run for fewer epochs (``--seed-epochs``).

Goal: the seed's R² (0.94 in the paper, 4 h 10 min on a CPU for 8,000 images × 50 epochs,
i.e. 37.5 ms per image-epoch) in a small fraction of its time.

Usage::

    python benchmarks/photoz_speed.py [--survey DIR] [--n 400] [--seed-epochs 2]
                                      [--default-epochs 40] [--json OUT.json] [--steps-only]

``--steps-only`` times single training steps of both networks on a random batch (a minute),
the per-image cost ratio without training either to convergence.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

SEED_PAPER = {"r2": 0.94, "seconds": 4 * 3600 + 10 * 60, "images": 8000, "epochs": 50}


def run_arch(survey: Path, arch: str, epochs: int, seed: int):
    from kinview.training.fit import train

    t0 = time.perf_counter()
    rec = train("photoz", survey, arch=arch, epochs=epochs, seed=seed, save=False)
    wall = time.perf_counter() - t0
    card = rec.card
    n_train = card["split_sizes"]["train"]
    spe = card["seconds_per_epoch"]
    hist = card["history"]
    return {
        "arch": arch, "epochs": epochs, "n_train": n_train, "n_test": card["split_sizes"]["test"],
        "n_params": card["n_params"], "seconds_per_epoch": spe,
        "ms_per_image_epoch": 1000 * spe / max(n_train, 1),
        "fit_seconds": card["fit_seconds"], "wall_seconds": wall, "best_epoch": card["best_epoch"],
        "val_r2_by_epoch": [h.get("val_r2") for h in hist],
        "metrics": {k: rec.metrics.get(k) for k in ("r2", "rmse", "sigma_nmad", "outlier_fraction", "bias", "n")},
        "predict_per_second": card.get("predict_per_second"),
    }


def step_timing(arch: str, batches: int = 3, batch_size: int = 32, size: int = 128):
    """Median seconds of one training step (forward + backward + update) on a random batch,
    after one warm-up step; the per-image cost of an architecture independent of the data."""
    import numpy as np

    from kinview.nets.photoz import build
    from kinview.training.use import setup_keras

    setup_keras(0)
    model = build(arch, size=size, z_mean=0.05, z_std=0.03)
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, size, size, 3)).astype("f4")
    y = rng.uniform(0.01, 0.15, (batch_size, 1)).astype("f4")
    model.train_on_batch(x, y)
    times = []
    for _ in range(batches):
        t = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - t)
    return {"arch": arch, "batch_size": batch_size, "seconds_per_step": float(np.median(times)),
            "ms_per_image": 1000 * float(np.median(times)) / batch_size, "n_params": int(model.count_params())}


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--survey", type=Path, default=None, help="survey directory (default: a new demo survey)")
    ap.add_argument("--n", type=int, default=400, help="galaxies in the generated demo survey")
    ap.add_argument("--seed-epochs", type=int, default=2, help="epochs of seed-vgg actually run (recipe: 50)")
    ap.add_argument("--default-epochs", type=int, default=40, help="epochs of default (its recipe: 40)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--steps-only", action="store_true",
                    help="only time training steps of both architectures on random batches")
    args = ap.parse_args(argv)

    steps = {arch: step_timing(arch) for arch in ("default", "seed-vgg")}
    for r in steps.values():
        print(f"{r['arch']:9s} training step of {r['batch_size']} images at 128x128: "
              f"{r['seconds_per_step']:.3f} s ({r['ms_per_image']:.2f} ms/image, {r['n_params']} parameters)")
    ratio = steps["seed-vgg"]["seconds_per_step"] / steps["default"]["seconds_per_step"]
    print(f"seed-vgg / default time per training step: {ratio:.0f}x")
    if args.steps_only:
        if args.json:
            args.json.write_text(json.dumps({"steps": steps, "step_ratio": ratio}, indent=1))
        return 0

    tmp = None
    survey = args.survey
    if survey is None:
        from kinview.demo import generate_survey

        tmp = tempfile.TemporaryDirectory(prefix="kinview-photoz-bench-")
        survey = Path(tmp.name) / "demo"
        t = time.perf_counter()
        generate_survey(survey, n=args.n, seed=0)
        print(f"demo survey: {args.n} galaxies in {time.perf_counter() - t:.1f} s", file=sys.stderr)

    results = {}
    for arch, epochs in (("default", args.default_epochs), ("seed-vgg", args.seed_epochs)):
        if epochs <= 0:
            continue
        print(f"training {arch} for {epochs} epochs ...", file=sys.stderr)
        results[arch] = run_arch(survey, arch, epochs, args.seed)

    print(f"{'arch':9s} {'params':>9s} {'s/epoch':>8s} {'ms/img-ep':>9s} {'epochs':>6s} {'fit s':>8s} "
          f"{'R2':>6s} {'RMSE':>7s} {'sNMAD':>7s} {'outl':>5s}")
    for r in results.values():
        m = r["metrics"]
        print(f"{r['arch']:9s} {r['n_params']:9d} {r['seconds_per_epoch']:8.2f} {r['ms_per_image_epoch']:9.2f} "
              f"{r['epochs']:6d} {r['fit_seconds']:8.1f} {m['r2']:6.3f} {m['rmse']:7.4f} "
              f"{m['sigma_nmad']:7.4f} {m['outlier_fraction']:5.2f}")
    summary = {"results": results, "seed_paper": SEED_PAPER, "steps": steps, "step_ratio": ratio}
    if "default" in results and "seed-vgg" in results:
        d, s = results["default"], results["seed-vgg"]
        seed_recipe_seconds = s["seconds_per_epoch"] * SEED_PAPER["epochs"]
        summary["seed_vgg_50_epoch_seconds_extrapolated"] = seed_recipe_seconds
        summary["default_fraction_of_seed_recipe_time"] = d["fit_seconds"] / seed_recipe_seconds
        summary["per_image_epoch_speedup"] = s["ms_per_image_epoch"] / d["ms_per_image_epoch"]
        print(f"seed-vgg 50-epoch recipe on this data: {seed_recipe_seconds:.0f} s (extrapolated from "
              f"{s['epochs']} epochs); default's whole fit: {d['fit_seconds']:.0f} s = "
              f"{100 * summary['default_fraction_of_seed_recipe_time']:.1f} % of it; "
              f"{summary['per_image_epoch_speedup']:.0f}x faster per image-epoch")
    if "default" in results:
        d = results["default"]
        paper_ms = 1000 * SEED_PAPER["seconds"] / (SEED_PAPER["images"] * SEED_PAPER["epochs"])
        print(f"seed paper: R2 {SEED_PAPER['r2']} in {SEED_PAPER['seconds'] / 3600:.2f} h "
              f"({paper_ms:.1f} ms per image-epoch); default here: R2 {d['metrics']['r2']:.3f}, "
              f"{d['ms_per_image_epoch']:.2f} ms per image-epoch")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
