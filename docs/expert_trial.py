"""A scripted two-expert trial of the workspace, offscreen, and the multi-expert screenshots.

Run::

    QT_QPA_PLATFORM=offscreen python docs/expert_trial.py [--n 50] [--out docs]

What it does, as a user would with the keyboard (Qt key events into the real window):

1. writes a demo survey of ``n`` galaxies (seed 3) in a temporary folder, fits its PAs, and
   imports a "published catalogue" (the demo's truth flags, in the MPL-7 CSV format) as
   expert ``mpl7``;
2. expert **ann** labels every galaxy (stellar quality key, then the gas quality key unless
   the gas map has no valid spaxels), then File ▸ Switch expert to **bob**, who does the
   same; each expert reads the truth and errs on about 15 % of the fields (seeded), as real
   experts disagree;
3. **carol** opens Label ▸ Adjudication queue and settles every disagreement with the keys
   ``0``–``2`` (she sides with the published catalogue where it exists);
4. ``kinview labels export consensus.csv --consensus`` and ``kinview labels stats``.

It prints the figures and writes ``reveal-strip-<w>x<h>.png`` and
``adjudication-queue-<w>x<h>.png`` (1280×800 and 1920×1080) into ``--out``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_XCB_GL_INTEGRATION", "none")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SIZES = ((1280, 800), (1920, 1080))
QUALITY_KEYS = {"stellar": "QWE", "gas": "ASD"}


def _wait(app, cond, timeout=60.0):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.002)
    return False


def _key(w, char_or_key, modifier=None):
    from PyQt5 import QtCore
    from PyQt5.QtTest import QTest

    key = getattr(QtCore.Qt, f"Key_{char_or_key}") if isinstance(char_or_key, str) else char_or_key
    QTest.keyClick(w, key, modifier or QtCore.Qt.NoModifier)


def _noisy(value, rng, rate=0.15):
    if rng.random() < rate:
        return int(rng.choice([v for v in (0, 1, 2) if v != value]))
    return int(value)


def make_survey(root: Path, n: int) -> pd.DataFrame:
    from kinview.data.survey import Survey
    from kinview.demo import generate_survey
    from kinview.kinematics.survey_fit import resume_fits
    from kinview.labels import LabelStore, import_catalogue

    generate_survey(root, n=n, seed=3, jobs=2)
    Survey.open(root, ingest=True).close()
    resume_fits(root, jobs=2)
    truth = pd.read_csv(root / "truth.csv")
    cat = truth[["plateifu", "stellar_pa", "gas_pa", "pa_offset", "stel_qual", "stel_feature",
                 "halpha_qual", "halpha_feature", "halpha_notes"]].rename(columns={"gas_pa": "halpha_pa"})
    path = root.parent / "mpl7-like-catalogue.csv"
    cat.to_csv(path, index=False)
    with LabelStore(root, expert="mpl7") as store:
        import_catalogue(store, path, expert="mpl7")
    return truth.set_index("plateifu")


def label_all(app, w, truth, rng, n):
    """Label every galaxy as the window's expert with quality keys; returns seconds/galaxy."""
    from PyQt5 import QtCore

    w.set_filter("all")
    w.state.go(0)
    t0 = time.perf_counter()
    done = 0
    for _ in range(n * 3):
        pifu = w.state.current
        _wait(app, lambda: w.view.drawn_plateifu == pifu)
        if w.is_labelled(pifu):
            break
        t = truth.loc[pifu]
        _key(w, QUALITY_KEYS["stellar"][_noisy(t["stel_qual"], rng)])
        if w.state.current == pifu and not w.is_labelled(pifu):
            gas = int(t["halpha_qual"]) if t["halpha_qual"] >= 0 else 0
            _key(w, QUALITY_KEYS["gas"][_noisy(gas, rng)])
        done += 1
        if w.n_labelled >= n:
            break
        if w.state.current == pifu:
            _key(w, QtCore.Qt.Key_N)
    return (time.perf_counter() - t0) / max(done, 1), done


def shoot(app, w, name, out: Path, prepare):
    from kinview.gui.screenshot import save_window

    paths = []
    for width, height in SIZES:
        w.resize(width, height)
        w.default_dock_sizes()
        prepare()
        for _ in range(20):
            app.processEvents()
            time.sleep(0.01)
        paths.append(save_window(w, out / f"{name}-{width}x{height}.png"))
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="kinview-trial-"))
    os.environ["KINVIEW_CONFIG_DIR"] = str(tmp / "config")   # never the user's settings
    os.environ["KINVIEW_DATA_DIR"] = str(tmp / "data")
    root = tmp / "survey"
    t0 = time.perf_counter()
    truth = make_survey(root, args.n)
    print(f"survey of {args.n} galaxies with PAs and an imported catalogue in {time.perf_counter() - t0:.1f} s")

    from PyQt5 import QtCore

    from kinview.gui.app import create_app
    from kinview.gui.main_window import MainWindow
    from kinview.gui import worker
    from kinview.labels import LabelStore
    from kinview.labels.adjudication import adjudication_queue, queue_counts
    from kinview.settings import Settings

    app = create_app()
    rng = np.random.default_rng(15)
    w = MainWindow(root, expert="ann", settings=Settings())
    w.resize(1280, 800)
    w.show()
    w.activateWindow()
    _wait(app, lambda: w.view.drawn_plateifu is not None)
    per, n_ann = label_all(app, w, truth, rng, args.n)
    print(f"ann labelled {w.n_labelled} galaxies ({per * 1000:.0f} ms per galaxy, keys + draw)")
    w.switch_expert("bob")                       # File ▸ Switch expert (the dialog's result)
    assert w.n_labelled == 0
    per, n_bob = label_all(app, w, truth, rng, args.n)
    print(f"bob labelled {w.n_labelled} galaxies ({per * 1000:.0f} ms per galaxy)")

    # the reveal strip: bob on a galaxy where he and ann disagree
    q = adjudication_queue(w.store)
    target = q["plateifu"].iloc[0] if len(q) else w.state.order[0]
    w.goto(target)
    _wait(app, lambda: w.view.drawn_plateifu == target)
    _wait(app, lambda: w.label_panel.reveal_strip.reveal is not None
          and w.label_panel.reveal_strip.reveal.plateifu == target)
    shots = shoot(app, w, "reveal-strip", args.out, lambda: None)

    # carol adjudicates with the keys, siding with the published catalogue
    w.switch_expert("carol")
    counts0 = queue_counts(w.store)
    _key(w, QtCore.Qt.Key_J, QtCore.Qt.ControlModifier)      # Label ▸ Adjudication queue
    _wait(app, lambda: w.adjudication.table.rowCount() > 0 or counts0["open"] == 0)
    panel = w.adjudication
    panel.table.setFocus()
    shots += shoot(app, w, "adjudication-queue", args.out, w.size_adjudication_dock)
    decided = 0
    t1 = time.perf_counter()
    while panel.table.rowCount() and decided < 10 * args.n:
        key = panel.selected_key()
        if key is None:
            panel.table.selectRow(0)
            continue
        pifu, fld, kind = key
        col = {"stellar": "stel_qual", "gas": "halpha_qual"}[fld]
        value = int(truth.loc[pifu, col]) if kind == "quality" and truth.loc[pifu, col] >= 0 else 0
        _key(panel.table, QtCore.Qt.Key_0 + value)
        decided += 1
    print(f"carol settled {decided} of {counts0['open']} disagreements on {counts0['galaxies_open']} "
          f"galaxies ({(time.perf_counter() - t1) / max(decided, 1) * 1000:.0f} ms each)")
    w.close()
    worker.wait_all(30000)

    out_csv = tmp / "consensus.csv"
    env = dict(os.environ)
    res = subprocess.run([sys.executable, "-m", "kinview", "labels", "export", str(out_csv), "--survey",
                          str(root), "--consensus", "--labelled-only"], capture_output=True, text=True,
                         env=env)
    print(res.stdout.strip() or res.stderr.strip())
    cons = pd.read_csv(out_csv).set_index("plateifu")
    with LabelStore(root, expert="carol") as store:
        ann = store.current("ann", kinds=["quality"])
        stats = subprocess.run([sys.executable, "-m", "kinview", "labels", "stats", "--survey", str(root)],
                               capture_output=True, text=True, env=env).stdout
    ann_s = ann[ann["field"] == "stellar"].set_index("plateifu")["value"]
    t = truth.loc[cons.index]
    acc_cons = float((cons["stel_qual"] == t["stel_qual"]).mean())
    acc_ann = float((ann_s.reindex(cons.index) == t["stel_qual"]).mean())
    print(f"stellar quality vs the demo truth: ann {acc_ann:.1%}, consensus {acc_cons:.1%}; "
          f"{int((cons['adjudicated'].fillna('') != '').sum())} galaxies carry adjudicated flags")
    print("\n".join(line for line in stats.splitlines() if "kappa" in line or "disagreements" in line))
    for p in shots:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
