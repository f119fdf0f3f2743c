#!/usr/bin/env python
"""PA fits in-process (``--jobs 1``) on a quiet and on a busy machine, in one run.

``kinview pa --jobs 1`` and the GUI's live fits run the fit in the calling process, which
does not get the one-thread BLAS environment of the pool workers; kinview limits BLAS to
one thread around every fit itself (:mod:`kinview.blas_threads`).  This benchmark shows
what that buys: it times :func:`kinview.kinematics.survey_fit.fit_survey` with ``jobs=1``
for the fast and the pafit methods, first quiet, then while two synthetic busy processes
(pure-Python spin loops) compete for the cores, and (``--unlimited``) the fast method under
load with the limit switched off, which is the old behaviour.

BLAS is **not** limited through the environment here (unlike the other PA benchmarks):
the point is to measure what an ordinary process gets.

Usage::

    python benchmarks/pa_loaded.py [--survey DIR] [--n 12] [--unlimited] [--no-pafit]
                                   [--repeat 3] [--json]

Without ``--survey`` a demo survey of ``--n`` galaxies is written to a temporary folder.
The survey's ``pa_fits`` table is refitted (``refit=True``) on a temporary copy.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.pop(_k, None)   # measure the ordinary (threaded BLAS) process
os.environ.setdefault("MPLBACKEND", "Agg")

BUSY = "import time\nwhile True:\n    pass\n"


@contextlib.contextmanager
def busy_processes(n: int):
    """``n`` processes spinning on a core each, stopped on exit."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n)]
    time.sleep(0.5)
    try:
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def run_fit(survey: Path, method: str, repeat: int = 1) -> dict:
    """Median wall time of ``repeat`` runs of ``fit_survey(jobs=1, refit=True)``."""
    from kinview.kinematics.survey_fit import fit_survey

    runs = []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        s = fit_survey(survey, method=method, jobs=1, refit=True)
        runs.append((time.perf_counter() - w0, time.process_time() - c0))
    runs.sort()
    wall, cpu = runs[len(runs) // 2]
    return {"wall_s": wall, "cpu_s": cpu, "runs_wall_s": [r[0] for r in runs],
            "fields": s["fitted"] + s["failed"], "fitted": s["fitted"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--survey", type=Path, default=None, help="survey (default: a demo of --n)")
    ap.add_argument("--n", type=int, default=12, help="galaxies of the demo survey (default 12)")
    ap.add_argument("--busy", type=int, default=2, help="busy processes for 'loaded' (default 2)")
    ap.add_argument("--no-pafit", action="store_true", help="time the fast method only")
    ap.add_argument("--unlimited", action="store_true",
                    help="also time the fast method under load without the one-thread limit")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of the fast method per condition; the median is reported")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import kinview.blas_threads as bt
    from kinview.kinematics.survey_fit import fit_survey

    tmp = Path(tempfile.mkdtemp(prefix="kinview-pa-loaded-"))
    try:
        survey = tmp / "survey"
        if args.survey is None:
            from kinview.demo import generate_survey

            generate_survey(survey, n=args.n, seed=0, jobs=1)
        else:
            shutil.copytree(args.survey, survey)
        fit_survey(survey, method="fast", jobs=1, refit=True)   # warm-up: imports, caches
        methods = ["fast"] + ([] if args.no_pafit else ["pafit"])
        if "pafit" in methods:
            from kinview.kinematics.pa_pafit import fit_pa_pafit  # noqa: F401  (import once)
        res = {}
        for cond in ("quiet", "loaded"):
            ctx = busy_processes(args.busy) if cond == "loaded" else contextlib.nullcontext()
            with ctx:
                for m in methods:
                    res[f"{m}_{cond}"] = r = run_fit(survey, m, args.repeat if m == "fast" else 1)
                    print(f"{m:5s} {cond:6s}: {r['wall_s']:7.2f} s wall, {r['cpu_s']:7.2f} s CPU, "
                          f"{r['fields']} fields", flush=True)
                if cond == "loaded" and args.unlimited:
                    saved = bt.single_threaded
                    bt.single_threaded = contextlib.nullcontext
                    try:
                        res["fast_loaded_unlimited"] = r = run_fit(survey, "fast")
                    finally:
                        bt.single_threaded = saved
                    print(f"fast  loaded, threaded BLAS (old): {r['wall_s']:7.2f} s wall", flush=True)
        summary = {"galaxies": args.n if args.survey is None else None, "busy_processes": args.busy,
                   "load_average": os.getloadavg(), "cpus": os.cpu_count(), **res,
                   "fast_loaded_over_quiet": res["fast_loaded"]["wall_s"] / res["fast_quiet"]["wall_s"]}
        if "pafit" in methods:
            for cond in ("quiet", "loaded"):
                summary[f"pafit_over_fast_{cond}"] = (res[f"pafit_{cond}"]["wall_s"]
                                                      / res[f"fast_{cond}"]["wall_s"])
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print(f"\nfast loaded / quiet: {summary['fast_loaded_over_quiet']:.2f}x "
                  f"(done when <= 1.5x)")
            if "pafit" in methods:
                print(f"pafit / fast: {summary['pafit_over_fast_quiet']:.0f}x quiet, "
                      f"{summary['pafit_over_fast_loaded']:.0f}x loaded (done when >= 50x)")
            print(f"load average at the end: {summary['load_average']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
