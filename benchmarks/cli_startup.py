"""Start-up time of ``kinview --help`` (a fresh interpreter each run), against a peer checkout.

Usage::

    python benchmarks/cli_startup.py [--peer DIR] [--runs 15] [--command "--help"]

Runs ``python -m kinview <command>`` with this checkout's package first on ``PYTHONPATH``,
alternating with ``DIR``'s package when ``--peer`` is given (e.g. a ``git worktree`` of the
commit before a change), and prints the median and minimum wall time of each, their ratio,
and how many modules the command imports.  Note the machine load beside any figure.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(tree: Path, args) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONSAFEPATH="1")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "kinview", *args], env=env, cwd=tree,
                         capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"kinview {' '.join(args)} failed in {tree}: {out.stderr.strip()[-300:]}")
    return dt


def _modules(tree: Path, args) -> int:
    code = ("import sys\nfrom kinview.cli.main import build_parser\np = build_parser()\n"
            "print(len(sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONSAFEPATH="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tree, capture_output=True,
                         text=True, check=True)
    return int(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", type=Path, help="another checkout to compare against")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--command", default="--help", help="arguments after `kinview` (default --help)")
    a = ap.parse_args()
    args = a.command.split()
    trees = {"this": ROOT}
    if a.peer:
        trees["peer"] = a.peer.resolve()
    times = {k: [] for k in trees}
    for name, tree in trees.items():          # warm the file cache once
        _run(tree, args)
    for _ in range(a.runs):
        for name, tree in trees.items():
            times[name].append(_run(tree, args))
    print(f"load {os.getloadavg()[0]:.2f}; kinview {' '.join(args)}; {a.runs} runs each")
    for name, tree in trees.items():
        ts = times[name]
        print(f"  {name:5s} median {statistics.median(ts) * 1e3:6.0f} ms   min {min(ts) * 1e3:6.0f} ms"
              f"   modules {_modules(tree, args)}   ({tree})")
    if "peer" in times:
        r = statistics.median(times["this"]) / statistics.median(times["peer"])
        rmin = min(times["this"]) / min(times["peer"])
        print(f"  this / peer: median {r:.2f}, min {rmin:.2f}")


if __name__ == "__main__":
    main()
