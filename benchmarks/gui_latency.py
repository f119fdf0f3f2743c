"""GUI latency benchmark: keypress → next galaxy fully drawn, and start-up on 10,000 galaxies.

Budgets (SPEC §6): p95 keypress-to-drawn ≤ 50 ms; process start → first galaxy drawn on a
10,000-galaxy survey ≤ 3 s.

What it does
------------
1. Generates a small real demo survey (``--unique`` galaxies, default 100) with
   :func:`kinview.demo.generate_survey` and fits its PAs (fast method), once, under ``--work``.
2. Builds a 10,000-galaxy survey from it cheaply: a 10,000-row catalogue whose rows cycle
   through the demo's, with new plate-ifus, MAPS files and images hard-linked (copied if links
   are impossible) under the new names, indexed with ``Survey.ingest`` and the PA fits copied.
3. Start-up: launches ``--startup-runs`` fresh processes that open the real main window
   offscreen on the 10,000-galaxy survey; each reports the wall time from just before the
   process was spawned to the first galaxy drawn (image + 2 maps + overlays set, a repaint
   forced with ``QWidget.grab()``).  Run 1 is with a cold settings folder.
4. Latency: opens the window in this process and presses → (next galaxy) ``--presses`` times
   with ``QTest.keyClick``; each latency runs from the key press until the view reports the
   new galaxy drawn and ``GalaxyView.grab()`` has repainted it.  Between presses the event
   loop runs for ``--pace`` seconds (default 0.3 s, i.e. 12,000 galaxies an hour, far faster
   than an expert) so the prefetcher works as it would in use; ``--pace 0`` is a burst with
   no pause at all (prefetch misses then count too) and is reported as well.

Usage::

    python benchmarks/gui_latency.py [--work DIR] [--n 10000] [--unique 100] [--presses 200]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_XCB_GL_INTEGRATION", "none")


# ------------------------------------------------------------------------------------------
# building the surveys
# ------------------------------------------------------------------------------------------
def build_base(base: Path, unique: int) -> Path:
    from kinview.data.survey import Survey
    from kinview.demo import generate_survey
    from kinview.kinematics.survey_fit import fit_survey

    if not (base / "kinview.sqlite").exists():
        t = time.perf_counter()
        generate_survey(base, n=unique, seed=0)
        Survey.open(base, ingest=True).close()
        print(f"  demo survey of {unique} galaxies: {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    n = fit_survey(base, method="fast")["fitted"]
    if n:
        print(f"  fitted {n} PAs (fast): {time.perf_counter() - t:.1f} s", flush=True)
    return base


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def build_big(base: Path, big: Path, n: int) -> Path:
    """A survey of ``n`` galaxies whose files are hard links to ``base``'s."""
    import pandas as pd

    from kinview.data.catalogue import find_catalogue, read_catalogue
    from kinview.data.survey import Survey
    from kinview.db.connection import connect

    if (big / "kinview.sqlite").exists():
        conn = connect(big)
        have = conn.execute("SELECT COUNT(*) FROM galaxies").fetchone()[0]
        conn.close()
        if have == n:
            return big
    if big.exists():
        shutil.rmtree(big)
    t = time.perf_counter()
    cat = read_catalogue(find_catalogue(base))
    src = Survey.open(base, ingest=False)
    gal = src.galaxies()
    conn = src.connect()
    pa_rows = conn.execute("SELECT plateifu, field, method, pa, pa_err, vsyst, n_used, nsteps, "
                           "reason, seconds, created FROM pa_fits").fetchall()
    conn.close()
    src.close()
    by_pifu = {}
    for r in pa_rows:
        by_pifu.setdefault(r[0], []).append(tuple(r))
    rows = []
    new_pa = []
    for i in range(n):
        row = cat.iloc[i % len(cat)].to_dict()
        old = row["plateifu"]
        plate, ifu = 20000 + i // 100, 1901 + i % 100
        pifu = f"{plate}-{ifu}"
        row["plateifu"] = pifu
        if "mangaid" in row:
            row["mangaid"] = f"9-{i}"
        rows.append(row)
        g = gal.loc[old]
        if isinstance(g["maps_path"], str):
            name = Path(g["maps_path"]).name.replace(f"manga-{old}-", f"manga-{pifu}-")
            _link(base / g["maps_path"], big / "maps" / str(plate) / name)
        if isinstance(g["image_path"], str):
            _link(base / g["image_path"], big / "images" / f"{pifu}{Path(g['image_path']).suffix}")
        for r in by_pifu.get(old, []):
            new_pa.append((pifu,) + r[1:])
    frame = pd.DataFrame(rows)
    frame = frame[[c for c in frame.columns if frame[c].map(lambda v: not hasattr(v, "__len__")
                                                           or isinstance(v, str)).all()]]
    big.mkdir(parents=True, exist_ok=True)
    frame.to_csv(big / "catalogue.csv", index=False)
    survey = Survey.open(big, ingest=True)
    conn = survey.connect()
    with conn:
        conn.executemany("INSERT OR REPLACE INTO pa_fits VALUES (?,?,?,?,?,?,?,?,?,?,?)", new_pa)
    conn.close()
    survey.close()
    print(f"  {n}-galaxy survey (hard links): {time.perf_counter() - t:.1f} s", flush=True)
    return big


# ------------------------------------------------------------------------------------------
# start-up (child process)
# ------------------------------------------------------------------------------------------
def child_startup(survey: str) -> None:
    t_import = time.time()
    from PyQt5 import QtWidgets

    from kinview.gui.app import create_app, open_window, wait_drawn

    app = create_app()
    window = open_window(Path(survey), "bench", (1600, 1000))
    window.show()
    ok = wait_drawn(window, 60)
    window.view.grab()
    QtWidgets.QApplication.processEvents()
    t_drawn = time.time()
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"ok": ok, "t_drawn": t_drawn, "t_import": t_import,
                      "cpu_s": ru.ru_utime + ru.ru_stime,
                      "plateifu": window.view.drawn_plateifu, "n": len(window.table)}), flush=True)
    from kinview.gui import worker

    worker.wait_all(10000, drop_queued=True)
    app.quit()


def startup_runs(big: Path, runs: int) -> list:
    out = []
    config = Path(tempfile.mkdtemp(prefix="kv-bench-config-"))
    env = dict(os.environ, KINVIEW_CONFIG_DIR=str(config))
    for i in range(runs):
        t0 = time.time()
        res = subprocess.run([sys.executable, __file__, "--child-startup", str(big)], env=env,
                             capture_output=True, text=True, timeout=300)
        line = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
        if res.returncode != 0 or not line:
            raise SystemExit(f"start-up run failed: {res.stderr[-2000:]}")
        data = json.loads(line[-1])
        data["startup_s"] = data["t_drawn"] - t0
        data["python_start_s"] = data["t_import"] - t0
        out.append(data)
        print(f"  start-up run {i + 1}: {data['startup_s']:.2f} s to first galaxy drawn "
              f"({data['n']} galaxies; interpreter start {data['python_start_s']:.2f} s; "
              f"process CPU {data['cpu_s']:.2f} s, all threads)", flush=True)
    shutil.rmtree(config, ignore_errors=True)
    return out


# ------------------------------------------------------------------------------------------
# keypress latency (this process)
# ------------------------------------------------------------------------------------------
def latency(big: Path, presses: int, pace: float, window=None):
    import numpy as np
    from PyQt5 import QtCore, QtWidgets
    from PyQt5.QtTest import QTest

    from kinview.gui.app import create_app, open_window, wait_drawn

    app = create_app()
    if window is None:
        window = open_window(big, "bench", (1600, 1000))
        window.show()
        window.activateWindow()
        wait_drawn(window, 60)

    def spin(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents(QtCore.QEventLoop.AllEvents, 5)
            time.sleep(0.001)

    spin(max(pace, 0.5))
    lat, cpu, misses = [], [], 0
    for _ in range(presses):
        idx = window.state.index
        expected = window.state.order[idx + 1]
        if window.prefetcher.get(expected) is None:
            misses += 1
        t0 = time.perf_counter()
        c0 = time.thread_time()
        QTest.keyClick(window, QtCore.Qt.Key_Right)
        while window.view.drawn_plateifu != expected:
            app.processEvents(QtCore.QEventLoop.AllEvents, 2)
            if time.perf_counter() - t0 > 30:
                raise SystemExit(f"{expected} was never drawn")
        window.view.grab()              # force the repaint of image, maps and overlays
        lat.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.thread_time() - c0) * 1000.0)
        if pace:
            spin(pace)
    lat = np.array(lat)
    cpu = np.array(cpu)
    return window, {"presses": presses, "pace_s": pace, "p50_ms": float(np.percentile(lat, 50)),
                    "gui_cpu_p50_ms": float(np.percentile(cpu, 50)),
                    "gui_cpu_p95_ms": float(np.percentile(cpu, 95)),
                    "p95_ms": float(np.percentile(lat, 95)), "max_ms": float(lat.max()),
                    "mean_ms": float(lat.mean()), "prefetch_misses": misses}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=None, help="work folder (default: a temporary folder)")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--unique", type=int, default=100)
    ap.add_argument("--presses", type=int, default=200)
    ap.add_argument("--pace", type=float, default=0.3)
    ap.add_argument("--startup-runs", type=int, default=3)
    ap.add_argument("--child-startup", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--only", choices=("startup", "latency"), default=None,
                    help="run one of the two measurements only")
    args = ap.parse_args(argv)
    if args.child_startup:
        child_startup(args.child_startup)
        return 0
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="kv-gui-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("KINVIEW_CONFIG_DIR", str(work / "config"))
    print(f"work folder: {work}   load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
          flush=True)
    base = build_base(work / f"demo{args.unique}", args.unique)
    big = build_big(base, work / f"survey{args.n}", args.n)
    starts = []
    if args.only != "latency":
        print("start-up (process start -> first galaxy drawn):", flush=True)
        starts = startup_runs(big, args.startup_runs)
    if args.only == "startup":
        med = sorted(s["startup_s"] for s in starts)[len(starts) // 2]
        cpu = sorted(s["cpu_s"] for s in starts)[len(starts) // 2]
        print(f"start-up median {med:.2f} s (≤ 3), process CPU median {cpu:.2f} s; load average "
              f"now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
        return 0 if med <= 3.0 else 1
    print(f"latency: {args.presses} presses of → at a {args.pace:.2f} s pace", flush=True)
    window, paced = latency(big, args.presses, args.pace)
    print(f"  p50 {paced['p50_ms']:.1f} ms  p95 {paced['p95_ms']:.1f} ms  max {paced['max_ms']:.1f} ms"
          f"  (prefetch misses {paced['prefetch_misses']}; GUI-thread CPU per press p50 "
          f"{paced['gui_cpu_p50_ms']:.1f} ms, p95 {paced['gui_cpu_p95_ms']:.1f} ms)", flush=True)
    print(f"latency: {args.presses} presses of → with no pause (burst)", flush=True)
    _, burst = latency(big, args.presses, 0.0, window)
    print(f"  p50 {burst['p50_ms']:.1f} ms  p95 {burst['p95_ms']:.1f} ms  max {burst['max_ms']:.1f} ms"
          f"  (prefetch misses {burst['prefetch_misses']}; GUI-thread CPU per press p50 "
          f"{burst['gui_cpu_p50_ms']:.1f} ms, p95 {burst['gui_cpu_p95_ms']:.1f} ms)", flush=True)
    startup = sorted(s["startup_s"] for s in starts) or [float("nan")]
    result = {"startup_s": [s["startup_s"] for s in starts], "startup_median_s": startup[len(startup) // 2],
              "startup_cpu_s": [s["cpu_s"] for s in starts],
              "paced": paced, "burst": burst, "n_galaxies": args.n, "cpu_count": os.cpu_count(),
              "load_average_end": os.getloadavg()[0]}
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    ok = paced["p95_ms"] <= 50.0 and (not starts or result["startup_median_s"] <= 3.0)
    print(f"budgets: keypress p95 {paced['p95_ms']:.1f} ms (≤ 50), start-up median "
          f"{result['startup_median_s']:.2f} s (≤ 3): {'MET' if ok else 'NOT MET'}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    from kinview.gui import worker

    window.close()
    worker.wait_all(10000, drop_queued=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
