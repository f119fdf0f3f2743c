#!/usr/bin/env python
"""How long ``kinview pa`` takes to stop after Ctrl-C, and that it keeps what it committed.

Starts ``kinview pa --method METHOD --jobs N --refit`` on a survey in its own process group,
sends SIGINT to the group (what a terminal's Ctrl-C does) after ``--after`` seconds, and
prints the time to exit, the exit status (130) and the PA rows stored for the method.
With ``--busy N`` it does the same again while N synthetic busy processes (pure-Python spin
loops, as in ``pa_loaded.py``) compete for the cores, ``--repeat`` times each, in one run.

Usage::

    python benchmarks/pa_interrupt.py --survey DIR [--method pafit] [--jobs 2] [--after 8]
                                      [--busy 2] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import time


BUSY = "while True:\n    pass\n"


def _terminal_sigint():
    """In the child: Ctrl-C as in a terminal.  A job started in the background by a
    non-interactive shell inherits SIGINT *ignored*, and Python keeps it ignored: ``kinview pa``
    would then run to the end whatever this benchmark sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_once(args) -> float:
    """Start ``kinview pa``, Ctrl-C it after ``args.after`` s; seconds from SIGINT to exit."""
    proc = subprocess.Popen([sys.executable, "-m", "kinview", "pa", "--survey", args.survey,
                             "--method", args.method, "--jobs", args.jobs, "--refit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_terminal_sigint)
    time.sleep(args.after)
    t0 = time.perf_counter()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate()
    took = time.perf_counter() - t0
    conn = sqlite3.connect(f"file:{os.path.join(args.survey, 'kinview.sqlite')}?mode=ro", uri=True)
    n = conn.execute("SELECT COUNT(*) FROM pa_fits WHERE method = ?", (args.method,)).fetchone()[0]
    conn.close()
    print(f"exit status {proc.returncode} {took:.2f} s after Ctrl-C; {n} {args.method} rows stored;"
          f" stderr: {(err.strip().splitlines() or [''])[-1]}", flush=True)
    return took


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--survey", required=True)
    ap.add_argument("--method", default="pafit", choices=("fast", "pafit"))
    ap.add_argument("--jobs", default="2")
    ap.add_argument("--after", type=float, default=8.0, help="seconds before Ctrl-C")
    ap.add_argument("--busy", type=int, default=0,
                    help="also interrupt under this many busy processes (default 0: quiet only)")
    ap.add_argument("--repeat", type=int, default=1, help="interrupts per condition")
    args = ap.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    res = {}
    for busy in ([0, args.busy] if args.busy else [0]):
        procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
        try:
            time.sleep(0.5 if busy else 0)
            print(f"-- {'quiet' if not busy else f'{busy} busy processes'}")
            res[busy] = sorted(interrupt_once(args) for _ in range(args.repeat))
        finally:
            for p in procs:
                p.kill()
            for p in procs:
                p.wait()
    for busy, t in res.items():
        print(f"{'quiet' if not busy else f'{busy} busy':8s}: median {t[len(t) // 2]:.2f} s, "
              f"max {t[-1]:.2f} s after Ctrl-C over {len(t)} interrupts (done when <= 2 s)")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
