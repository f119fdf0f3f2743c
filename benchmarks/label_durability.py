"""Benchmark: label write latency (committed + fsynced), concurrent readers, list state.

Usage::

    python benchmarks/label_durability.py [--seconds 10] [--galaxies 10000] [--dir DIR] [--json]

Measures, on a fresh survey database in DIR (default: a temporary folder on the same disk as
the current directory, so fsync is real):

1. ``LabelStore.add`` latency (each label committed and fsynced before it returns): p50, p95,
   max and labels/s for a single labeller.
2. Labelling for ``--seconds`` while two readers run at the same time — a training thread
   (``training_labels`` + ``label_state``) and an exporter in *another process*
   (``export_table`` on its own connection) — counting every error ("database is locked" or
   any other) and the reads each reader completed.
3. ``label_state`` for ``--galaxies`` galaxies: the first call (reads the whole log) and a
   refresh after new labels (the GUI's case).

SPEC §6 budget: a label is on disk before the next galaxy shows; kill -9 loses none (the kill
test is ``tests/test_labels_durability.py``).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from kinview.db import connect, transaction
from kinview.labels import LabelStore

EXPORTER = r"""
import sys, time
from kinview.labels import LabelStore, export_table
store = LabelStore(sys.argv[1], expert="exporter")
end = time.monotonic() + float(sys.argv[2])
n = errors = 0
while time.monotonic() < end:
    try:
        export_table(store, consensus=True)
        n += 1
    except Exception as exc:
        errors += 1
        print("ERROR", repr(exc), file=sys.stderr)
print(n, errors)
"""


def make_survey(root: Path, n: int) -> list:
    root.mkdir(parents=True, exist_ok=True)
    pifus = [f"{8000 + i // 100}-{1901 + i % 100}" for i in range(n)]
    conn = connect(root)
    with transaction(conn):
        conn.executemany("INSERT INTO galaxies (plateifu, row_index) VALUES (?, ?)",
                         [(p, i) for i, p in enumerate(pifus)])
    conn.close()
    return pifus


def bench(root: Path, seconds: float, n_galaxies: int) -> dict:
    pifus = make_survey(root, n_galaxies)
    store = LabelStore(root, expert="labeller")
    out = {"galaxies": n_galaxies}

    # 1. single-labeller latency
    lat = []
    for i in range(300):
        t0 = time.perf_counter()
        store.add(pifus[i % len(pifus)], ("stellar", "gas")[i % 2], "quality", i % 3)
        lat.append(time.perf_counter() - t0)
    lat = np.array(lat) * 1e3
    out["add_ms"] = {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
                     "max": float(lat.max()), "labels_per_s": float(1e3 / lat.mean())}
    # the same without fsync (synchronous=OFF, for comparison only): what add() costs itself
    store.conn.execute("PRAGMA synchronous=OFF")
    lat = []
    for i in range(300):
        t0 = time.perf_counter()
        store.add(pifus[i % len(pifus)], ("stellar", "gas")[i % 2], "quality", i % 3)
        lat.append(time.perf_counter() - t0)
    store.conn.execute("PRAGMA synchronous=FULL")
    lat = np.array(lat) * 1e3
    out["add_ms_without_fsync"] = {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95))}

    # 2. labelling + training-thread reader + exporter process for `seconds`
    stop = threading.Event()
    reader = {"reads": 0, "errors": []}

    def training_reader():
        mine = LabelStore(root, expert="trainer")
        while not stop.is_set():
            try:
                mine.training_labels("all")
                mine.label_state()
                reader["reads"] += 1
            except Exception as exc:  # noqa: BLE001 - counted and reported
                reader["errors"].append(repr(exc))
        mine.close()

    exporter = subprocess.Popen([sys.executable, "-c", EXPORTER, str(root), str(seconds)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    thread = threading.Thread(target=training_reader)
    thread.start()
    writes, write_errors, lat2 = 0, [], []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        try:
            t0 = time.perf_counter()
            store.add(pifus[i % len(pifus)], ("stellar", "gas")[i % 2], "quality", i % 3,
                      model_value=0.7, model_confidence=0.4)
            lat2.append(time.perf_counter() - t0)
            writes += 1
        except Exception as exc:  # noqa: BLE001
            write_errors.append(repr(exc))
        i += 1
    stop.set()
    thread.join()
    exp_out, exp_err = exporter.communicate(timeout=seconds + 120)
    n_exports, exp_errors = (int(x) for x in exp_out.split()[-2:])
    lat2 = np.array(lat2) * 1e3
    out["concurrent"] = {
        "seconds": seconds, "labels_written": writes, "write_errors": len(write_errors),
        "add_ms_p95_under_load": float(np.percentile(lat2, 95)) if len(lat2) else None,
        "training_reads": reader["reads"], "training_errors": len(reader["errors"]),
        "exports": n_exports, "export_errors": exp_errors,
        "error_samples": (write_errors + reader["errors"])[:3] + exp_err.splitlines()[:3],
    }

    # 3. label_state for the whole survey
    rng = np.random.default_rng(0)
    events = [{"plateifu": p, "field": f, "kind": "quality", "value": int(rng.integers(0, 3)),
               "expert": e} for e, share in (("alice", 0.8), ("bob", 0.5)) for p in pifus
              if rng.random() < share for f in ("stellar", "gas")]
    store.add_many(events)
    gui = LabelStore(root, expert="alice")
    t0 = time.perf_counter()
    gui.label_state()
    cold = time.perf_counter() - t0
    warm = []
    for k in range(20):
        store.add(pifus[k], "stellar", "quality", k % 3, expert="alice")
        t0 = time.perf_counter()
        gui.label_state()
        warm.append(time.perf_counter() - t0)
    out["label_state_ms"] = {"events": int(len(events) + writes + 600), "first_call": cold * 1e3,
                             "refresh_p50": float(np.median(warm) * 1e3),
                             "refresh_max": float(np.max(warm) * 1e3)}
    gui.close()
    store.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--galaxies", type=int, default=10_000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir or Path.cwd()) as tmp:
        result = bench(Path(tmp) / "survey", args.seconds, args.galaxies)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        a, c, s = result["add_ms"], result["concurrent"], result["label_state_ms"]
        print(f"add (commit + fsync): p50 {a['p50']:.2f} ms, p95 {a['p95']:.2f} ms, max {a['max']:.1f} ms, "
              f"{a['labels_per_s']:.0f} labels/s")
        b = result["add_ms_without_fsync"]
        print(f"add without fsync (comparison): p50 {b['p50']:.2f} ms, p95 {b['p95']:.2f} ms")
        print(f"{c['seconds']:.0f} s labelling with a training reader and an exporter process: "
              f"{c['labels_written']} labels (p95 {c['add_ms_p95_under_load']:.1f} ms), "
              f"{c['training_reads']} training reads, {c['exports']} exports; errors: "
              f"write {c['write_errors']}, training {c['training_errors']}, export {c['export_errors']}")
        for e in c["error_samples"]:
            print("   ", e)
        print(f"label_state, {result['galaxies']} galaxies / {s['events']} events: first call "
              f"{s['first_call']:.0f} ms, refresh p50 {s['refresh_p50']:.1f} ms, max {s['refresh_max']:.1f} ms")
    ok = not (c["write_errors"] or c["training_errors"] or c["export_errors"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
