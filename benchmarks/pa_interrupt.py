#!/usr/bin/env python
"""How long ``kinview pa`` takes to stop after Ctrl-C, and that it keeps what it committed.

Starts ``kinview pa --method METHOD --jobs N --refit`` on a survey in its own process group,
sends SIGINT to the group (what a terminal's Ctrl-C does) after ``--after`` seconds, and
prints the time to exit, the exit status (130) and the PA rows stored for the method.

Usage::

    python benchmarks/pa_interrupt.py --survey DIR [--method pafit] [--jobs 2] [--after 8]
"""
from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--survey", required=True)
    ap.add_argument("--method", default="pafit", choices=("fast", "pafit"))
    ap.add_argument("--jobs", default="2")
    ap.add_argument("--after", type=float, default=8.0, help="seconds before Ctrl-C")
    args = ap.parse_args(argv)
    proc = subprocess.Popen([sys.executable, "-m", "kinview", "pa", "--survey", args.survey,
                             "--method", args.method, "--jobs", args.jobs, "--refit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(args.after)
    t0 = time.perf_counter()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate()
    took = time.perf_counter() - t0
    conn = sqlite3.connect(f"file:{os.path.join(args.survey, 'kinview.sqlite')}?mode=ro", uri=True)
    n = conn.execute("SELECT COUNT(*) FROM pa_fits WHERE method = ?", (args.method,)).fetchone()[0]
    conn.close()
    print(f"exit status {proc.returncode} {took:.2f} s after Ctrl-C; {n} {args.method} rows stored")
    print("stderr:", (err.strip().splitlines() or [""])[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
