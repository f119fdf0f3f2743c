#!/usr/bin/env python
"""How long a labelling expert waits while a large catalogue import runs.

Builds a survey database with ``--rows`` galaxies (default 100,000) and a label catalogue
with one row per galaxy (about 7 label events each), starts ``kinview labels import`` in
another process, and meanwhile writes one label every 0.1 s through
:class:`kinview.labels.LabelStore` (what the GUI uses), timing each acknowledged write.
Reports the import's wall time and the p50 / p95 / max latency of the expert's writes.

Usage::

    python benchmarks/label_lock_wait.py [--rows 100000] [--dir DIR] [--json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kinview.db import connect, transaction
from kinview.labels import LabelStore

HEADER = ("plateifu,stellar_pa,halpha_pa,pa_offset,stel_qual,stel_feature,halpha_qual,"
          "halpha_feature,halpha_notes")


def build(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    pifus = [f"{10000 + i // 1000}-{1000 + i % 1000}" for i in range(n)]
    conn = connect(root)
    with transaction(conn):
        conn.executemany("INSERT INTO galaxies (plateifu, row_index) VALUES (?, ?)",
                         [(p, i) for i, p in enumerate(pifus)])
    conn.close()
    rng = np.random.default_rng(0)
    cat = root.parent / "big-labels.csv"
    with open(cat, "w") as fh:
        fh.write(HEADER + "\n")
        for p in pifus:
            s, g = rng.uniform(0, 360, 2)
            fh.write(f"{p},{s:.1f},{g:.1f},{abs((s - g + 180) % 360 - 180):.1f},"
                     f"{rng.integers(0, 3)},{rng.integers(0, 4)},{rng.integers(0, 3)},"
                     f"{rng.integers(0, 4)},{rng.integers(0, 4)}\n")
    return cat


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="kinview-lock-", dir=args.dir))
    root = base / "survey"
    cat = build(root, args.rows)
    store = LabelStore(root, expert="gui-expert")
    pifus = store.plateifus()[:50]
    store.add(pifus[0], "stellar", "quality", 1)     # warm
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kinview", "labels", "import", str(cat),
                             "--survey", str(root), "--expert", "importer"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lat, errors, k = [], [], 0
    while proc.poll() is None:
        k += 1
        a = time.perf_counter()
        try:
            store.add(pifus[k % len(pifus)], "stellar", "quality", k % 3)
            lat.append(time.perf_counter() - a)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(str(exc))
        time.sleep(0.1)
    import_s = time.perf_counter() - t0
    out, err = proc.communicate()
    n_import = store.conn.execute("SELECT COUNT(*) FROM labels WHERE expert = 'importer'").fetchone()[0]
    store.close()
    lat = np.asarray(lat) if lat else np.zeros(1)
    res = {"rows": args.rows, "import_exit": proc.returncode, "import_seconds": round(import_s, 2),
           "imported_events": int(n_import), "expert_writes": int(len(lat)), "errors": errors[:3],
           "latency_p50_ms": round(1e3 * float(np.percentile(lat, 50)), 1),
           "latency_p95_ms": round(1e3 * float(np.percentile(lat, 95)), 1),
           "latency_max_ms": round(1e3 * float(lat.max()), 1)}
    print(json.dumps(res, indent=2) if args.json else
          "\n".join(f"{k}: {v}" for k, v in res.items()))
    if proc.returncode:
        print(err.strip().splitlines()[-1:], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
