#!/usr/bin/env python
"""A new-user trial of the kinview GUI under Xvfb, driven by real X key events (xdotool).

Run (Debian: ``apt-get install xvfb xdotool imagemagick x11-utils libxcb-icccm4
libxcb-keysyms1 libxcb-xinerama0 libxkbcommon-x11-0 libxcb-render-util0 libxcb-image0
libxcb-shape0 libxcb-randr0 libxcb-xfixes0 libxcb-cursor0``)::

    python docs/xdotool_trial.py [--n 50] [--size 1280x1024] [--display :99] [--shots DIR]

Everything happens in a temporary folder, as a user who has never run kinview: its own
``KINVIEW_CONFIG_DIR`` and ``KINVIEW_DATA_DIR`` (the real user folders are never touched) and
no ``KINVIEW_EXPERT``.  The script starts its own Xvfb on ``--display`` (no window manager:
windows get the keyboard through ``xdotool windowfocus``), then, as a user would:

1. ``kinview demo --out SURVEY --n N`` writes a demo survey;
2. ``kinview gui --survey SURVEY`` starts; the first-run dialog asks for the expert's name and
   the script types ``ann`` and Enter;
3. ann labels every galaxy with the keys of the README (``Q W E`` stellar quality, ``A S D``
   gas quality, ``1``-``4`` / ``5``-``8`` features, ``Z X C V`` gas notes), with answers that
   vary (seeded); a galaxy without gas takes the stellar key alone;
4. ``Ctrl+Shift+E`` (File ▸ Switch expert), types ``bob``; ``Ctrl+Home``; bob labels the same
   galaxies, disagreeing on purpose on some of them; blind mode is on, so the script looks
   at the label panel before and after bob labels a galaxy (``←`` back to it: the reveal
   strip);
5. ``Ctrl+Shift+E`` to ``carol``, ``Ctrl+J`` (the adjudication queue) and carol settles every
   disagreement with the digit keys, siding with the demo's truth; one row is chosen with the
   mouse;
6. ``Ctrl+Q``; the process must exit;
7. ``kinview labels export consensus.csv --consensus`` and ``kinview labels stats``, and the
   catalogue is checked: N galaxies, the MPL-7 columns first, adjudicated labels used.

The script only watches the survey database (read-only queries through
:class:`kinview.labels.LabelStore`) to know when a key has been stored; it never writes to it.
It prints the figures (seconds per galaxy, key → stored latency, disagreements, κ) and a JSON
summary, and leaves screenshots (``import -window root``) in ``--shots``.
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

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
STELLAR_Q, GAS_Q = "qwe", "asd"              # quality 0 / 1 / 2
STELLAR_F, GAS_F = "1234", "5678"            # feature none / KDC / warp / merger
GAS_NOTE = "zxcv"                            # none / depletion / no rotation / biased
MPL7_COLUMNS = ["plateifu", "stellar_pa", "halpha_pa", "pa_offset", "stel_qual", "stel_feature",
                "halpha_qual", "halpha_feature", "halpha_notes"]


class Trial:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="kinview-xdotool-"))
        self.survey = self.tmp / "survey"
        self.shots = Path(args.shots) if args.shots else self.tmp / "shots"
        self.shots.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("KINVIEW_EXPERT", "QT_QPA_PLATFORM")}
        self.env.update(DISPLAY=args.display, QT_QPA_PLATFORM="xcb", QT_XCB_GL_INTEGRATION="none",
                        KINVIEW_CONFIG_DIR=str(self.tmp / "config"),
                        KINVIEW_DATA_DIR=str(self.tmp / "data"), PYTHONPATH=str(ROOT),
                        TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        self.xvfb = self.gui = None
        self.store = None
        self.notes: list = []       # what a user would report
        self.figures: dict = {}
        self.shot_list: list = []

    # -------------------------------------------------------------------------------- plumbing
    def note(self, text: str) -> None:
        print(f"NOTE: {text}", flush=True)
        self.notes.append(text)

    def x(self, *cmd, check=True) -> str:
        out = subprocess.run(["xdotool", *cmd], env=self.env, capture_output=True, text=True)
        if check and out.returncode != 0:
            raise RuntimeError(f"xdotool {' '.join(cmd)}: {out.stderr.strip()}")
        return out.stdout.strip()

    def key(self, *keys, delay_ms: int = 0) -> None:
        self.x("key", "--delay", str(delay_ms), *keys)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        subprocess.run(["import", "-window", "root", str(path)], env=self.env, check=True,
                       capture_output=True)
        self.shot_list.append(path.name)
        return path

    def kinview(self, *args, check=True) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "kinview", *args], env=self.env,
                             capture_output=True, text=True, timeout=600)
        if check and out.returncode != 0:
            raise RuntimeError(f"kinview {' '.join(args)} failed: {out.stderr.strip()}")
        return out

    def wait(self, cond, timeout=20.0, step=0.01):
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            v = cond()
            if v:
                return v
            time.sleep(step)
        return None

    def window(self, pattern: str, timeout=60.0):
        def find():
            out = self.x("search", "--onlyvisible", "--name", pattern, check=False)
            return out.splitlines()[-1] if out else None
        return self.wait(find, timeout, 0.1)

    def focus(self, wid: str) -> None:
        self.x("windowfocus", "--sync", wid, check=False)

    def events(self, expert=None) -> pd.DataFrame:
        return self.store.events(expert=expert)

    # ------------------------------------------------------------------------------- the trial
    def start_display(self) -> None:
        w, h = self.args.size.split("x")
        self.xvfb = subprocess.Popen(["Xvfb", self.args.display, "-screen", "0", f"{w}x{h}x24",
                                      "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
        ok = self.wait(lambda: subprocess.run(["xdpyinfo"], env=self.env,
                                              capture_output=True).returncode == 0, 20, 0.1)
        if not ok:
            raise RuntimeError("Xvfb did not start")

    def make_survey(self) -> None:
        t0 = time.perf_counter()
        out = self.kinview("demo", "--out", str(self.survey), "--n", str(self.args.n),
                           "--seed", str(self.args.seed))
        self.figures["demo_s"] = round(time.perf_counter() - t0, 1)
        print(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-200:])
        self.truth = pd.read_csv(self.survey / "truth.csv").set_index("plateifu")

    def start_gui(self) -> None:
        t0 = time.perf_counter()
        self.gui_log = open(self.tmp / "gui.log", "w")
        self.gui = subprocess.Popen([sys.executable, "-m", "kinview", "gui", "--survey",
                                     str(self.survey)], env=self.env, stdout=self.gui_log,
                                    stderr=subprocess.STDOUT)
        dialog = self.window("who is labelling", 90)
        if dialog is None:
            self.note("no first-run prompt for the expert name appeared within 90 s")
            raise RuntimeError("no first-run prompt")
        self.figures["start_to_prompt_s"] = round(time.perf_counter() - t0, 1)
        time.sleep(0.5)
        self.shot("01-first-run-prompt")
        self.focus(dialog)
        self.x("type", "--delay", "60", "ann")
        self.key("Return")
        self.main = self.window(f"^kinview — {self.survey.name}$", 30)
        if self.main is None:
            raise RuntimeError("no main window")
        from kinview.labels import LabelStore

        self.store = LabelStore(self.survey)
        time.sleep(1.5)
        self.figures["start_to_window_s"] = round(time.perf_counter() - t0, 1)
        self.focus(self.main)
        self.shot("02-first-galaxy-ann")

    def switch_expert(self, name: str) -> None:
        self.focus(self.main)
        self.key("ctrl+shift+e")
        dialog = self.window("switch expert", 15)
        if dialog is None:
            self.note("Ctrl+Shift+E did not open the Switch expert dialog")
            raise RuntimeError("no switch dialog")
        time.sleep(0.3)
        self.focus(dialog)
        # the name field holds the current expert, selected or not: clear it first
        self.key("ctrl+a", "BackSpace")
        self.x("type", "--delay", "60", name)
        self.key("Return")
        self.wait(lambda: not self.x("search", "--onlyvisible", "--name", "switch expert",
                                     check=False), 10, 0.1)
        self.focus(self.main)
        time.sleep(0.5)

    def label_all(self, expert: str, plan) -> dict:
        """Label ``n`` galaxies as ``expert``: ``plan(i, plateifu_or_None)`` gives the answers."""
        done, times, latencies = {}, [], []
        order = []
        self.focus(self.main)
        self.key("ctrl+Home")
        time.sleep(0.8)
        t_all = time.perf_counter()
        looked = 0.0
        for i in range(self.args.n):
            t0 = time.perf_counter()
            n0 = len(self.events(expert))
            ans = plan(i)
            extra = []
            if ans.get("stellar_feature") is not None:
                extra.append(STELLAR_F[ans["stellar_feature"]])
            if ans.get("gas_feature") is not None:
                extra.append(GAS_F[ans["gas_feature"]])
            if ans.get("gas_note") is not None:
                extra.append(GAS_NOTE[ans["gas_note"]])
            for k in extra:
                self.key(k)
            n_extra = n0 + len(extra)
            if extra and not self.wait(lambda: len(self.events(expert)) >= n_extra, 10):
                self.note(f"{expert} #{i}: feature/note keys {extra} were not all stored")
            tk = time.perf_counter()
            self.key(STELLAR_Q[ans["stellar"]])

            def stellar_event():
                ev = self.events(expert)
                new = ev.iloc[n0:]
                hit = new[(new.field == "stellar") & (new.kind == "quality")]
                return hit.iloc[-1].plateifu if len(hit) else None
            pifu = self.wait(stellar_event, 10)
            if pifu is None:
                self.note(f"{expert} #{i}: the stellar key was not stored within 10 s")
                break
            latencies.append(time.perf_counter() - tk)
            order.append(pifu)
            cur = self.store.current(expert=expert, plateifu=pifu)
            has_gas_q = ((cur.field == "gas") & (cur.kind == "quality")).any()
            no_gas = False
            if has_gas_q and ans.get("gas") is not None:
                no_gas = True   # the stellar key labelled a galaxy without gas
            if not has_gas_q:
                tg = time.perf_counter()
                self.key(GAS_Q[ans["gas"]])

                def gas_event():
                    c = self.store.current(expert=expert, plateifu=pifu)
                    return ((c.field == "gas") & (c.kind == "quality")).any()
                if not self.wait(gas_event, 10):
                    self.note(f"{expert} #{i} {pifu}: the gas key was not stored within 10 s")
                    break
                latencies.append(time.perf_counter() - tg)
            done[pifu] = dict(ans, no_gas=no_gas)
            times.append(time.perf_counter() - t0)
            if self.args.think:
                time.sleep(self.args.think)
            if expert == "bob" and i in (0, 7):
                tl = time.perf_counter()
                self.look_at_reveal(i)
                looked += time.perf_counter() - tl
        total = time.perf_counter() - t_all - looked   # the deliberate looks do not count
        if len(set(order)) != len(order):
            self.note(f"{expert}: some galaxies were labelled twice "
                      f"({len(order) - len(set(order))}); the next-unlabelled order repeated")
        lat = np.array(latencies) * 1e3
        self.figures[expert] = {
            "galaxies": len(done), "total_s": round(total, 1),
            "s_per_galaxy": round(total / max(len(done), 1), 3),
            "no_gas_galaxies": sum(d["no_gas"] for d in done.values()),
            "key_to_stored_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
            "key_to_stored_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat.size else None,
        }
        self.order = getattr(self, "order", {})
        self.order[expert] = order
        return done

    def look_at_reveal(self, i: int) -> None:
        """Back to the galaxy bob just labelled: the reveal strip shows ann's labels."""
        self.key("Left")
        time.sleep(1.0)
        self.shot(f"{10 + i:02d}-reveal-strip-bob-{i}")
        self.key("Right")
        time.sleep(0.6)

    def adjudicate(self) -> dict:
        from kinview.db import adjudications as db_adj
        from kinview.labels.adjudication import adjudication_queue, queue_counts

        self.switch_expert("carol")
        q = adjudication_queue(self.store)
        n_open = int((~q.resolved).sum()) if len(q) else 0
        self.figures["disagreements"] = {"fields": n_open,
                                         "galaxies": int(q.plateifu.nunique()) if len(q) else 0,
                                         "by_key": {f"{f} {k}": int(v) for (f, k), v in
                                                    q.groupby(["field", "kind"]).size().items()}}
        self.key("ctrl+j")
        time.sleep(1.5)
        self.shot("20-adjudication-queue-open")
        # the second row is chosen with the mouse, as a user would; then the digit keys
        q = adjudication_queue(self.store)
        open_rows = q[~q.resolved].reset_index(drop=True)
        clicked = len(open_rows) > 1 and self.click_queue_row(1)
        pointer = 1 if clicked else 0
        t0 = time.perf_counter()
        decided, surprises = [], 0
        for j in range(n_open + 5):
            if queue_counts(self.store)["open"] == 0:
                break
            q = adjudication_queue(self.store)
            open_rows = q[~q.resolved].reset_index(drop=True)
            pointer = min(pointer, len(open_rows) - 1)   # the panel keeps the row index
            row = open_rows.iloc[pointer]
            value = self.truth_value(row.plateifu, row.field, row.kind)
            before = db_adj.count_events(self.store.conn)
            self.key(str(int(value)))
            if not self.wait(lambda: db_adj.count_events(self.store.conn) > before, 10):
                self.note(f"adjudication key {value} for {row.plateifu} {row.field} {row.kind} "
                          "was not stored within 10 s (is the queue focused?)")
                break
            last = db_adj.final_labels(self.store.conn)
            got = [r for r in last if (r[0], r[1], r[2]) == (row.plateifu, row.field, row.kind)]
            if not got:
                surprises += 1
            decided.append((row.plateifu, row.field, row.kind, int(value)))
            if j == 2:
                self.shot("21-adjudication-queue-working")
        if surprises:
            self.note(f"{surprises} decisions went to another row than the one the panel "
                      "seemed to have selected")
        took = time.perf_counter() - t0
        counts = queue_counts(self.store)
        self.figures["adjudication"] = {"decided": len(decided), "open_left": counts["open"],
                                        "s_per_decision": round(took / max(len(decided), 1), 3),
                                        "second_row_chosen_by_mouse": bool(clicked)}
        time.sleep(0.8)
        self.shot("22-adjudication-queue-done")
        return {"decided": decided}

    def click_queue_row(self, index: int) -> bool:
        """Click row ``index`` of the adjudication queue.  The row is found on the screen as a
        user finds it: below the highlighted (selected) first row, one row height per row."""
        from PIL import Image

        path = self.shot("20b-find-queue-row")
        self.shot_list.remove(path.name)
        img = np.asarray(Image.open(path).convert("RGB")).astype(int)
        left = img[:, :min(400, img.shape[1] // 3)]
        # the selection colour of Qt's default style on X11 (Fusion): a saturated blue; the
        # selected row is the first band of screen rows with many such pixels
        sel = (left[..., 2] > 150) & (left[..., 0] < 90) & (left[..., 1] > 100) & (left[..., 1] < 170)
        path.unlink()
        band = np.nonzero(sel.sum(axis=1) > 100)[0]
        if band.size < 5:
            self.note("could not find the selected queue row on the screen; keyboard only")
            return False
        top = band[0]
        bottom = top
        while bottom + 1 in set(band.tolist()):
            bottom += 1
        h = bottom - top + 1
        xs = np.nonzero(sel[top:bottom + 1].any(axis=0))[0]
        x = int((xs.min() + xs.max()) / 2)
        y = int(top + h * index + h / 2)
        y0 = int(top)
        geo = dict(line.split("=") for line in self.x("getwindowgeometry", "--shell",
                                                       self.main).splitlines())
        self.figures["window_geometry"] = f"{geo['WIDTH']}x{geo['HEIGHT']}+{geo['X']}+{geo['Y']}"
        self.x("mousemove", str(x), str(y), "click", "1")
        time.sleep(0.8)
        self.figures["queue_row_click"] = {"x": x, "y": y, "row_height_px": int(h), "y0": y0}
        return True

    def truth_value(self, pifu, field, kind) -> int:
        col = {("stellar", "quality"): "stel_qual", ("gas", "quality"): "halpha_qual",
               ("stellar", "feature"): "stel_feature", ("gas", "feature"): "halpha_feature",
               ("gas", "gas_note"): "halpha_notes"}[(field, kind)]
        v = self.truth.loc[pifu, col] if pifu in self.truth.index and col in self.truth else 0
        v = int(v) if pd.notna(v) and int(v) >= 0 else 0
        return min(max(v, 0), 3)

    def quit(self) -> None:
        self.focus(self.main)
        t0 = time.perf_counter()
        self.key("ctrl+q")
        try:
            self.gui.wait(timeout=30)
            self.figures["quit_s"] = round(time.perf_counter() - t0, 2)
            self.figures["gui_exit_status"] = self.gui.returncode
        except subprocess.TimeoutExpired:
            self.note("Ctrl+Q did not end the process within 30 s")
            self.gui.kill()
            self.figures["quit_s"] = None

    def export_and_check(self, ann: dict, bob: dict, adjudicated: dict) -> None:
        csv = self.tmp / "consensus.csv"
        self.kinview("labels", "export", str(csv), "--survey", str(self.survey), "--consensus")
        cat = pd.read_csv(csv)
        stats = self.kinview("labels", "stats", "--survey", str(self.survey))
        (self.shots / "labels-stats.txt").write_text(stats.stdout)
        print(stats.stdout)
        first = list(cat.columns[:len(MPL7_COLUMNS)])
        ok_cols = first == MPL7_COLUMNS
        if not ok_cols:
            self.note(f"export columns start {first}, not the MPL-7 order")
        # the adjudicated labels are the exported ones
        colmap = {("stellar", "quality"): "stel_qual", ("gas", "quality"): "halpha_qual",
                  ("stellar", "feature"): "stel_feature", ("gas", "feature"): "halpha_feature",
                  ("gas", "gas_note"): "halpha_notes"}
        c = cat.set_index("plateifu")
        wrong = [(p, f, k, v, c.loc[p, colmap[(f, k)]]) for p, f, k, v in adjudicated["decided"]
                 if int(c.loc[p, colmap[(f, k)]]) != v]
        if wrong:
            self.note(f"{len(wrong)} adjudicated labels are not in the consensus export: {wrong[:3]}")
        n_adj = int(cat["adjudicated"].notna().sum()) if "adjudicated" in cat else None
        self.figures["export"] = {"rows": len(cat), "galaxies": int(cat.plateifu.nunique()),
                                  "mpl7_columns_first": ok_cols,
                                  "adjudicated_rows": n_adj,
                                  "adjudicated_labels_used": len(adjudicated["decided"]) - len(wrong),
                                  "adjudicated_labels": len(adjudicated["decided"]),
                                  "columns": list(cat.columns)}
        shutil.copy(csv, self.shots / "consensus.csv")

    def run(self) -> dict:
        rng = np.random.default_rng(self.args.seed)
        try:
            self.start_display()
            self.make_survey()
            self.start_gui()

            def ann_plan(i):
                ans = {"stellar": int(rng.choice(3, p=[0.2, 0.3, 0.5])),
                       "gas": int(rng.choice(3, p=[0.35, 0.25, 0.4]))}
                if rng.random() < 0.2:
                    ans["stellar_feature"] = int(rng.integers(1, 4))
                if rng.random() < 0.1:
                    ans["gas_feature"] = int(rng.integers(1, 4))
                if rng.random() < 0.15:
                    ans["gas_note"] = int(rng.integers(1, 4))
                return ans
            ann = self.label_all("ann", ann_plan)
            self.shot("03-ann-done")
            self.switch_expert("bob")
            self.shot("04-bob-blind-first-galaxy")
            flip_s = set(rng.choice(self.args.n, size=max(1, self.args.n // 8), replace=False))
            flip_g = set(rng.choice(self.args.n, size=max(1, self.args.n // 10), replace=False))
            ann_order = self.order["ann"]

            def bob_plan(i):
                a = ann.get(ann_order[i], {}) if i < len(ann_order) else {}
                ans = {"stellar": a.get("stellar", 2), "gas": a.get("gas", 2)}
                for k in ("stellar_feature", "gas_feature", "gas_note"):
                    if k in a:
                        ans[k] = a[k]
                if i in flip_s:
                    ans["stellar"] = (ans["stellar"] + 1) % 3
                if i in flip_g:
                    ans["gas"] = (ans["gas"] + 2) % 3
                if i == 3:
                    ans["stellar_feature"] = 3   # a merger only bob sees
                return ans
            bob = self.label_all("bob", bob_plan)
            if self.order.get("bob") != ann_order[:len(self.order.get("bob", []))]:
                self.note("bob's galaxies came in a different order from ann's")
            self.figures["planned_flips"] = {"stellar": len(flip_s), "gas": len(flip_g)}
            adjudicated = self.adjudicate()
            self.quit()
            self.export_and_check(ann, bob, adjudicated)
        finally:
            if self.gui is not None and self.gui.poll() is None:
                self.gui.kill()
            if self.xvfb is not None:
                self.xvfb.terminate()
            if self.store is not None:
                self.store.close()
        log = (self.tmp / "gui.log").read_text() if (self.tmp / "gui.log").exists() else ""
        tracebacks = log.count("Traceback")
        if tracebacks:
            self.note(f"the GUI log holds {tracebacks} traceback(s)")
        shutil.copy(self.tmp / "gui.log", self.shots / "gui.log")
        summary = {"size": self.args.size, "n": self.args.n, "figures": self.figures,
                   "notes": self.notes, "screenshots": self.shot_list,
                   "shots_dir": str(self.shots)}
        print(json.dumps(summary, indent=2, default=str))
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--size", default="1280x1024")
    ap.add_argument("--display", default=":99")
    ap.add_argument("--shots", default=None, help="folder for the screenshots (default: temp)")
    ap.add_argument("--think", type=float, default=0.0, help="seconds to look at each galaxy")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    for tool in ("Xvfb", "xdotool", "import", "xdpyinfo"):
        if shutil.which(tool) is None:
            print(f"xdotool_trial: error: {tool} is not installed", file=sys.stderr)
            return 2
    summary = Trial(args).run()
    return 0 if not summary["notes"] else 1


if __name__ == "__main__":
    sys.exit(main())
