#!/usr/bin/env python
"""PA error of a method against the demo survey's truth, per quality class.

Prints, for stellar and gas fields and each quality class (2 clean, 1 messy, 0 unusable):
the number of fields, how many got a PA, the median |ΔPA| against truth.csv and the
fraction with the receding side right (|ΔPA| < 90°).

Usage::

    python benchmarks/pa_accuracy.py --survey DIR [--n 400] [--method fast] [--nsteps 361]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _pa_common  # noqa: E402,F401

import numpy as np  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--survey", default=None, help="demo survey directory (default: synthetic)")
    ap.add_argument("--n", type=int, default=400, help="number of fields (default 400)")
    ap.add_argument("--method", default="fast", choices=("fast", "pafit"))
    ap.add_argument("--nsteps", type=int, default=361)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from kinview.conventions import delta_pa
    from kinview.kinematics import fit_pa

    fields = _pa_common.demo_fields(args.survey, args.n)
    t0 = time.perf_counter()
    rows = []
    for pifu, kind, field, truth, q in fields:
        fit = fit_pa(field, method=args.method, nsteps=args.nsteps)
        err = float(delta_pa(fit.pa, truth)) if fit.ok and np.isfinite(truth) else np.nan
        rows.append((kind, q, fit.ok, err))
    elapsed = time.perf_counter() - t0
    out = {}
    print(f"{args.method}, {len(rows)} fields, {elapsed / max(len(rows), 1) * 1e3:.1f} ms/field")
    print(f"{'field':8s} {'quality':>7s} {'n':>5s} {'with PA':>8s} {'median|dPA|':>12s} "
          f"{'p90|dPA|':>9s} {'receding right':>15s}")
    for kind in ("stellar", "gas"):
        for q in (2, 1, 0):
            sel = [r for r in rows if r[0] == kind and r[1] == q]
            if not sel:
                continue
            errs = np.array([r[3] for r in sel if r[2] and np.isfinite(r[3])])
            n_ok = len(errs)
            med = float(np.median(errs)) if n_ok else float("nan")
            p90 = float(np.percentile(errs, 90)) if n_ok else float("nan")
            right = float(np.mean(errs < 90)) if n_ok else float("nan")
            out[f"{kind}_q{q}"] = {"n": len(sel), "with_pa": n_ok, "median_abs_dpa": med,
                                   "p90_abs_dpa": p90, "receding_right": right}
            print(f"{kind:8s} {q:7d} {len(sel):5d} {n_ok:8d} {med:12.2f} {p90:9.2f} "
                  f"{100 * right:14.1f}%")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
