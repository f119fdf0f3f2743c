#!/usr/bin/env python
"""Time the ``fast`` and ``pafit`` PA methods on the same fields, in one run.

Prints the speed ratio (pafit time / fast time, both at the same number of angles) and the
p50 / p95 / max angle difference between the two methods on fields of quality ≥ 1 (from the
demo survey's truth.csv).  Times are wall-clock per field, cleaning included, one BLAS
thread; CPU time is printed too because a shared machine inflates wall time.

Usage::

    python benchmarks/pa_speed.py --survey DIR [--n 20] [--nsteps 361]
    python benchmarks/pa_speed.py --n 10            # synthetic disks, no survey needed
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _pa_common  # noqa: E402,F401  (sets single-thread BLAS before numpy loads)

import numpy as np  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--survey", default=None, help="demo survey directory (default: synthetic)")
    ap.add_argument("--n", type=int, default=20, help="number of fields (default 20)")
    ap.add_argument("--nsteps", type=int, default=361, help="angles for both methods")
    ap.add_argument("--min-quality", type=int, default=1,
                    help="only fields of at least this quality (default 1)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from kinview.conventions import delta_pa
    from kinview.kinematics import clean_field, fit_pa

    fields = _pa_common.demo_fields(args.survey, args.n, min_quality=args.min_quality)
    if not fields:
        print("no fields", file=sys.stderr)
        return 1
    # warm-up: imports (scipy, pafit, matplotlib) are not part of a fit
    fit_pa(fields[0][2], nsteps=args.nsteps)
    fit_pa(fields[0][2], method="pafit", nsteps=5)
    rows = []
    for pifu, kind, field, truth, q in fields:
        res = {}
        for method in ("fast", "pafit"):
            w0, c0 = time.perf_counter(), time.process_time()
            fit = fit_pa(field, method=method, nsteps=args.nsteps)
            res[method] = (fit, time.perf_counter() - w0, time.process_time() - c0)
        ff, pf = res["fast"][0], res["pafit"][0]
        # agreement of the fitted statistic: the [0, 180) line (and the receding side)
        d_line = float(delta_pa(2 * ff.pa_fold, 2 * pf.pa_fold)) / 2 if (
            np.isfinite(ff.pa_fold) and np.isfinite(pf.pa_fold)) else np.nan
        d_pa = float(delta_pa(ff.pa, pf.pa)) if ff.ok and pf.ok else np.nan
        rows.append(dict(plateifu=pifu, field=kind, quality=q, n=ff.n_used,
                         fast_s=res["fast"][1], pafit_s=res["pafit"][1],
                         fast_cpu=res["fast"][2], pafit_cpu=res["pafit"][2],
                         d_line=d_line, d_pa=d_pa, both_ok=ff.ok and pf.ok,
                         same_status=ff.ok == pf.ok))
        print(f"{pifu:>14s} {kind:7s} q={q} N={ff.n_used:5d}  fast {res['fast'][1]*1e3:7.1f} ms  "
              f"pafit {res['pafit'][1]:6.2f} s  fast PA {ff.pa:6.1f}  pafit PA {pf.pa:6.1f}  "
              f"Δ {d_line:5.2f}", flush=True)
    fast_t = sum(r["fast_s"] for r in rows)
    pafit_t = sum(r["pafit_s"] for r in rows)
    fast_c = sum(r["fast_cpu"] for r in rows)
    pafit_c = sum(r["pafit_cpu"] for r in rows)
    d = np.array([r["d_line"] for r in rows], float)
    d = d[np.isfinite(d)]
    dp = np.array([r["d_pa"] for r in rows], float)
    dp = dp[np.isfinite(dp)]
    summary = {
        "fields": len(rows), "nsteps": args.nsteps,
        "fast_ms_per_field": 1e3 * fast_t / len(rows),
        "pafit_s_per_field": pafit_t / len(rows),
        "speed_ratio_wall": pafit_t / fast_t,
        "speed_ratio_cpu": pafit_c / fast_c if fast_c else float("nan"),
        "angle_diff_p50": float(np.percentile(d, 50)) if d.size else None,
        "angle_diff_p95": float(np.percentile(d, 95)) if d.size else None,
        "angle_diff_max": float(d.max()) if d.size else None,
        "receding_side_disagreements": int(np.sum(dp > 90)),
        "status_disagreements": int(sum(not r["same_status"] for r in rows)),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"\n{len(rows)} fields (quality >= {args.min_quality}), {args.nsteps} angles each")
        print(f"fast : {summary['fast_ms_per_field']:.1f} ms/field    "
              f"pafit: {summary['pafit_s_per_field']:.2f} s/field")
        print(f"speed ratio pafit/fast: {summary['speed_ratio_wall']:.0f}x wall, "
              f"{summary['speed_ratio_cpu']:.0f}x CPU")
        print(f"angle difference (deg): p50 {summary['angle_diff_p50']:.2f}  "
              f"p95 {summary['angle_diff_p95']:.2f}  max {summary['angle_diff_max']:.2f}")
        print(f"receding side disagreements: {summary['receding_side_disagreements']}, "
              f"fit/no-fit disagreements: {summary['status_disagreements']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
