"""The labelling session without Qt on a 10,000-galaxy survey: what each operation costs.

Drives :class:`kinview.session.LabellingSession` exactly as the window's keys do, with no Qt
loaded: open (read the galaxy table), next, load the galaxy (MAPS + image + PA, the
prefetcher's work), label (commit + fsync), undo, filter, sort and switching expert.  The GUI's
keypress figure (``benchmarks/gui_latency.py``) is this plus the paint.

Usage::

    python benchmarks/session_speed.py [--work DIR] [--n 10000] [--unique 100] [--repeat 50]

The 10,000-galaxy survey is built as ``gui_latency.py`` builds it (hard links to a 100-galaxy
demo survey), in ``--work`` (reused when present).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _ms(times):
    a = np.asarray(times) * 1000.0
    return f"p50 {np.percentile(a, 50):7.2f} ms  p95 {np.percentile(a, 95):7.2f} ms"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=None)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--unique", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="kinview-session-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("KINVIEW_CONFIG_DIR", str(work / "config"))
    os.environ.setdefault("KINVIEW_DATA_DIR", str(work / "data"))      # never the user's folders
    from gui_latency import build_base, build_big

    from kinview.session import LabellingSession

    base = build_base(work / f"demo{args.unique}", args.unique)
    big = build_big(base, work / f"survey{args.n}", args.n)
    survey = work / f"session{args.n}"
    if survey.exists():
        shutil.rmtree(survey)
    def link_or_copy(src, dst):
        # MAPS files and images are shared; the database is this run's own
        if ".sqlite" in os.path.basename(src):
            shutil.copy2(src, dst)
        else:
            os.link(src, dst)

    shutil.copytree(big, survey, symlinks=True, copy_function=link_or_copy)
    print(f"work folder: {work}   load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    t = time.perf_counter()
    s = LabellingSession.open(survey, "bench")
    print(f"open (table of {len(s.table)} galaxies):   {(time.perf_counter() - t) * 1000:8.1f} ms")
    rows = {k: [] for k in ("next", "load", "label (commit+fsync)", "label+advance", "undo",
                            "filter unlabelled", "sort by ΔPA", "filter all")}
    for _ in range(args.repeat):
        t = time.perf_counter()
        s.next()
        rows["next"].append(time.perf_counter() - t)
        t = time.perf_counter()
        s.load()
        rows["load"].append(time.perf_counter() - t)
        t = time.perf_counter()
        s.label("stellar", "quality", 2)
        rows["label (commit+fsync)"].append(time.perf_counter() - t)
        t = time.perf_counter()
        s.label("gas", "quality", 1)
        rows["label+advance"].append(time.perf_counter() - t)
    for _ in range(min(args.repeat, 20)):
        t = time.perf_counter()
        s.undo()
        rows["undo"].append(time.perf_counter() - t)
    for _ in range(5):
        for name, op in (("filter unlabelled", lambda: s.set_filter("unlabelled")),
                         ("sort by ΔPA", lambda: s.sort("dpa")),
                         ("filter all", lambda: s.set_filter("all"))):
            t = time.perf_counter()
            op()
            rows[name].append(time.perf_counter() - t)
    for name, times in rows.items():
        print(f"{name:22s} {_ms(times)}  (n={len(times)})")
    t = time.perf_counter()
    s.switch_expert("bench-2")
    print(f"switch expert:          {(time.perf_counter() - t) * 1000:8.1f} ms")
    s.close()
    print(f"Qt loaded: {'PyQt5' in sys.modules}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
