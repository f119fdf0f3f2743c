#!/usr/bin/env python
"""PA fits at ``--jobs 1`` on a quiet and on a busy machine, in one run.

``kinview pa --jobs 1`` fits in one worker process (so that the process that gets Ctrl-C
only waits); the GUI's live fits and ``fit_survey(in_process=True)`` fit in the calling
process, which does not get the one-thread BLAS environment of the workers, so kinview limits
BLAS to one thread around every fit itself (:mod:`kinview.blas_threads`).  This benchmark
times :func:`kinview.kinematics.survey_fit.fit_survey` with ``jobs=1`` (one worker) for the
fast and the pafit methods and, beside it, the fast method in process, first quiet, then
while two synthetic busy processes (pure-Python spin loops) compete for the cores, and
(``--unlimited``) the fast method in process under load with the limit switched off, which
is the old behaviour.  CPU times include the worker's (read from ``/proc``).

BLAS is **not** limited through the environment here (unlike the other PA benchmarks):
the point is to measure what an ordinary process gets.

Usage::

    python benchmarks/pa_loaded.py [--survey DIR] [--n 12] [--unlimited] [--no-pafit]
                                   [--repeat 3] [--json]

Without ``--survey`` a demo survey of ``--n`` galaxies is written to a temporary folder.

Beside each fit it runs a peer in the same conditions (``--no-kernel`` skips it): a pure-numpy
micro-kernel (small-array sorts, reductions and matrix products, one BLAS thread, about as
long as the fast fit) that does no I/O and no SQLite.  If the kernel's CPU time and wall-time
ratio rise under load as the fit's do, the rise belongs to the machine (cores shared with the
busy processes, caches, the hypervisor), not to kinview.  On Linux each figure also gives the
time spent runnable but waiting for a core (``/proc/self/schedstat``), so that
wall ≈ CPU + run-queue wait + sleep (I/O).
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

from _procfs import stat_fields

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


def _schedstat(pid=None):
    """(on-CPU ns, run-queue wait ns) of a process's main thread (default: this one), or
    None off Linux."""
    pid = os.getpid() if pid is None else pid
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as fh:
            run, wait, _ = fh.read().split()
        return int(run), int(wait)
    except (OSError, ValueError):
        return None


class ChildMeter:
    """CPU and run-queue wait of this process's multiprocessing children (the fit's worker),
    sampled from ``/proc`` every few milliseconds while they live.

    The workers are started by the forkserver, so ``os.times()`` never counts them; the last
    sample of each is taken at most ``period`` s before it exits, and a worker is idle then.
    """

    def __init__(self, period: float = 0.01):
        import threading

        self.period = period
        self.last = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        import multiprocessing as mp

        tick = os.sysconf("SC_CLK_TCK")
        for p in mp.active_children():
            f = stat_fields(p.pid)
            if f is None:
                continue
            cpu = (int(f[11]) + int(f[12])) / tick          # utime + stime
            ss = _schedstat(p.pid)
            self.last[p.pid] = (cpu, ss[1] / 1e9 if ss else float("nan"))

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def cpu_s(self) -> float:
        return sum(v[0] for v in self.last.values())

    @property
    def wait_s(self) -> float:
        return sum(v[1] for v in self.last.values())


def kernel(iterations: int = 3000) -> None:
    """A pure-numpy CPU kernel: no I/O, no SQLite, small arrays like the fit's
    (about 0.1 ms of CPU per iteration here)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.normal(size=(64, 64))
    v = rng.normal(size=4096)
    for _ in range(int(iterations)):
        b = a @ a.T
        w = np.sort(v * b[0, 0])
        a = a + 1e-9 * np.tanh(w[:4096].reshape(64, 64))


def run_timed(func, repeat: int) -> dict:
    """Median wall and CPU time of ``repeat`` calls of ``func`` (and run-queue wait)."""
    runs = []
    for _ in range(repeat):
        s0 = _schedstat()
        with ChildMeter() as kids:
            w0, c0 = time.perf_counter(), time.process_time()
            out = func()
            w, c = time.perf_counter() - w0, time.process_time() - c0
        s1 = _schedstat()
        wait = (s1[1] - s0[1]) / 1e9 if s0 and s1 else float("nan")
        if kids.last:                 # fitted in a worker: the main thread mostly waited
            c += kids.cpu_s
            wait = kids.wait_s
        runs.append((w, c, wait, out))
    runs.sort(key=lambda r: r[0])
    wall, cpu, wait, out = runs[len(runs) // 2]
    return {"wall_s": wall, "cpu_s": cpu, "runqueue_wait_s": wait,
            "runs_wall_s": [r[0] for r in runs], "runs_cpu_s": [r[1] for r in runs], "out": out}


def run_fit(survey: Path, method: str, repeat: int = 1, in_process: bool = False) -> dict:
    """Median wall time of ``repeat`` runs of ``fit_survey(jobs=1, refit=True)``."""
    from kinview.kinematics.survey_fit import fit_survey

    r = run_timed(lambda: fit_survey(survey, method=method, jobs=1, refit=True,
                                     in_process=in_process), repeat)
    s = r.pop("out")
    r.update(fields=s["fitted"] + s["failed"], fitted=s["fitted"])
    return r


def calibrate_kernel(cpu_s: float) -> int:
    """Iterations of :func:`kernel` that take about ``cpu_s`` of CPU (measured quiet)."""
    import kinview.blas_threads as bt

    with bt.single_threaded():
        kernel(300)                       # warm-up
        c0 = time.process_time()
        kernel(1000)
        per = (time.process_time() - c0) / 1000
    return max(100, int(cpu_s / per))


def run_kernel(repeat: int, iterations: int) -> dict:
    """The micro-kernel, one BLAS thread (as the fit), median of ``repeat`` runs."""
    import kinview.blas_threads as bt

    def once():
        with bt.single_threaded():
            kernel(iterations)
    r = run_timed(once, repeat)
    r.pop("out")
    return r


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
    ap.add_argument("--no-kernel", action="store_true", help="skip the numpy micro-kernel peer")
    ap.add_argument("--no-in-process", action="store_true",
                    help="skip the fast method in process (fit_survey(in_process=True))")
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
        fit_survey(survey, method="fast", jobs=1, refit=True)   # warm-up: imports, forkserver
        fit_survey(survey, method="fast", jobs=1, refit=True, in_process=True)
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
                          f"{r['runqueue_wait_s']:5.2f} s waiting for a core, "
                          f"{r['fields']} fields (one worker)", flush=True)
                if not args.no_in_process:
                    res[f"fastinproc_{cond}"] = r = run_fit(survey, "fast", args.repeat, True)
                    print(f"fast  {cond:6s}: {r['wall_s']:7.2f} s wall, {r['cpu_s']:7.2f} s CPU, "
                          f"{r['runqueue_wait_s']:5.2f} s waiting for a core, "
                          f"{r['fields']} fields (in process)", flush=True)
                if not args.no_kernel:
                    if cond == "quiet":      # the peer takes as much CPU as the quiet fast fit
                        iterations = calibrate_kernel(res["fast_quiet"]["cpu_s"])
                    res[f"kernel_{cond}"] = r = run_kernel(args.repeat, iterations)
                    print(f"numpy kernel {cond:6s}: {r['wall_s']:7.2f} s wall, {r['cpu_s']:7.2f} s CPU, "
                          f"{r['runqueue_wait_s']:5.2f} s waiting for a core", flush=True)
                if cond == "loaded" and args.unlimited:
                    saved = bt.single_threaded
                    bt.single_threaded = contextlib.nullcontext
                    try:
                        res["fast_loaded_unlimited"] = r = run_fit(survey, "fast", in_process=True)
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
        for name in ("fast", "fastinproc", "kernel"):
            if f"{name}_loaded" in res:
                q, lo = res[f"{name}_quiet"], res[f"{name}_loaded"]
                summary[f"{name}_cpu_loaded_over_quiet"] = lo["cpu_s"] / q["cpu_s"]
                summary[f"{name}_share_loaded"] = lo["cpu_s"] / lo["wall_s"]
        if "fastinproc_loaded" in res:
            summary["fastinproc_loaded_over_quiet"] = (res["fastinproc_loaded"]["wall_s"]
                                                       / res["fastinproc_quiet"]["wall_s"])
            for cond in ("quiet", "loaded"):
                summary[f"worker_over_in_process_{cond}"] = (res[f"fast_{cond}"]["wall_s"]
                                                             / res[f"fastinproc_{cond}"]["wall_s"])
        if "kernel_loaded" in res:
            summary["kernel_loaded_over_quiet"] = (res["kernel_loaded"]["wall_s"]
                                                   / res["kernel_quiet"]["wall_s"])
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print(f"\nfast loaded / quiet: {summary['fast_loaded_over_quiet']:.2f}x wall "
                  f"(done when <= 1.5x), CPU {summary['fast_cpu_loaded_over_quiet']:.2f}x, "
                  f"share of a core under load {summary['fast_share_loaded']:.2f}")
            if "fastinproc_loaded" in res:
                print(f"fast in process loaded / quiet: {summary['fastinproc_loaded_over_quiet']:.2f}x"
                      f" wall, CPU {summary['fastinproc_cpu_loaded_over_quiet']:.2f}x, share of a "
                      f"core under load {summary['fastinproc_share_loaded']:.2f}; one worker / in "
                      f"process: {summary['worker_over_in_process_quiet']:.2f}x quiet, "
                      f"{summary['worker_over_in_process_loaded']:.2f}x loaded")
            if "kernel_loaded" in res:
                print(f"numpy kernel loaded / quiet: {summary['kernel_loaded_over_quiet']:.2f}x wall,"
                      f" CPU {summary['kernel_cpu_loaded_over_quiet']:.2f}x, "
                      f"share of a core under load {summary['kernel_share_loaded']:.2f}")
            if "pafit" in methods:
                print(f"pafit / fast: {summary['pafit_over_fast_quiet']:.0f}x quiet, "
                      f"{summary['pafit_over_fast_loaded']:.0f}x loaded (done when >= 50x)")
            print(f"load average at the end: {summary['load_average']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
