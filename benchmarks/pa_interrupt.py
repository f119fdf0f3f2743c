#!/usr/bin/env python
"""How long ``kinview pa`` takes to stop after Ctrl-C, and that it keeps what it committed.

Starts ``kinview pa --method METHOD --jobs N --refit`` on a survey in its own process group,
sends SIGINT to the group (what a terminal's Ctrl-C does) after ``--after`` seconds, and
prints the time to exit, the exit status (130) and the PA rows stored for the method.
With ``--busy N`` it does the same again while N synthetic busy processes (pure-Python spin
loops, as in ``pa_loaded.py``) compete for the cores, ``--repeat`` times each, in one run.

It reports, per condition, the median and maximum time to exit, how many interrupts took
more than 2 s, any exit status other than 130, and any process of the group (a worker) still
alive after ``kinview pa`` exited.  ``--no-quiet`` skips the quiet condition.

Usage::

    python benchmarks/pa_interrupt.py --survey DIR [--method pafit] [--jobs 2] [--after 8]
                                      [--busy 2] [--repeat 5] [--no-quiet]
"""
from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import time

from _procfs import stat_fields


BUSY = "while True:\n    pass\n"


def _terminal_sigint():
    """In the child: Ctrl-C as in a terminal.  A job started in the background by a
    non-interactive shell inherits SIGINT *ignored*, and Python keeps it ignored: ``kinview pa``
    would then run to the end whatever this benchmark sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _group_alive(pgid: int) -> int:
    """Live (not zombie) processes of process group ``pgid`` (Linux /proc; 0 elsewhere)."""
    n = 0
    for d in (os.listdir("/proc") if os.path.isdir("/proc") else ()):
        f = stat_fields(d) if d.isdigit() else None
        if f is not None:
            n += f[0] != "Z" and int(f[2]) == pgid
    return n


def interrupt_once(args) -> tuple:
    """Start ``kinview pa``, Ctrl-C it after ``args.after`` s.

    Returns (seconds from SIGINT to the exit of ``kinview pa``, seconds until no process of
    its group is left, exit status, rows stored by this run, processes of the group still
    alive 1 s after the exit).  The first is what a terminal waits for (the shell waits for
    the command's process); the second includes the multiprocessing forkserver, which ends
    once it sees its parent gone and would hold a pipe such as ``| tee`` open until then.
    """
    import tempfile
    from datetime import datetime, timezone

    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", "kinview", "pa", "--survey", args.survey,
                                 "--method", args.method, "--jobs", args.jobs, "--refit"],
                                stdout=out, stderr=err, text=True,
                                start_new_session=True, preexec_fn=_terminal_sigint)
        time.sleep(args.after)
        t0 = time.perf_counter()
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait()
        took = time.perf_counter() - t0
        while _group_alive(proc.pid) and time.perf_counter() - t0 < took + 10:
            time.sleep(0.005)
        took_all = time.perf_counter() - t0
        time.sleep(1.0)
        left = _group_alive(proc.pid)
        err.seek(0)
        err_text = err.read()
    conn = sqlite3.connect(f"file:{os.path.join(args.survey, 'kinview.sqlite')}?mode=ro", uri=True)
    n = conn.execute("SELECT COUNT(*) FROM pa_fits WHERE method = ? AND created >= ?",
                     (args.method, since)).fetchone()[0]
    conn.close()
    print(f"exit status {proc.returncode} {took:.2f} s after Ctrl-C (whole group {took_all:.2f} s);"
          f" {n} {args.method} rows stored by this run; {left} processes left;"
          f" stderr: {(err_text.strip().splitlines() or [''])[-1]}", flush=True)
    if "Traceback" in err_text:
        print(err_text, flush=True)
    return took, took_all, proc.returncode, n, left, "Traceback" in err_text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--survey", required=True)
    ap.add_argument("--method", default="pafit", choices=("fast", "pafit"))
    ap.add_argument("--jobs", default="2")
    ap.add_argument("--after", type=float, default=8.0, help="seconds before Ctrl-C")
    ap.add_argument("--busy", type=int, default=0,
                    help="also interrupt under this many busy processes (default 0: quiet only)")
    ap.add_argument("--repeat", type=int, default=1, help="interrupts per condition")
    ap.add_argument("--no-quiet", action="store_true",
                    help="only the busy condition (with --busy)")
    args = ap.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    res = {}
    conditions = [0, args.busy] if args.busy else [0]
    if args.no_quiet and args.busy:
        conditions = [args.busy]
    for busy in conditions:
        procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
        try:
            time.sleep(0.5 if busy else 0)
            print(f"-- {'quiet' if not busy else f'{busy} busy processes'}")
            res[busy] = [interrupt_once(args) for _ in range(args.repeat)]
        finally:
            for p in procs:
                p.kill()
            for p in procs:
                p.wait()
    print(f"kinview pa --method {args.method} --jobs {args.jobs}, Ctrl-C after {args.after} s")
    for busy, runs in res.items():
        t = sorted(r[0] for r in runs)
        t_all = sorted(r[1] for r in runs)
        over = sum(x > 2.0 for x in t)
        bad = [r[2] for r in runs if r[2] != 130]
        empty = sum(r[3] == 0 for r in runs)
        left = sum(r[4] > 0 for r in runs)
        tbs = sum(r[5] for r in runs)
        print(f"{'quiet' if not busy else f'{busy} busy':8s}: median {t[len(t) // 2]:.2f} s, "
              f"max {t[-1]:.2f} s after Ctrl-C over {len(t)} interrupts, {over} over 2 s "
              f"(done when <= 2 s); whole process group gone: median {t_all[len(t) // 2]:.2f} s,"
              f" max {t_all[-1]:.2f} s; exit status other than 130: {bad or 'none'}; "
              f"runs with no row kept: {empty}; runs leaving a process behind: {left}; "
              f"runs printing a traceback: {tbs}")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
