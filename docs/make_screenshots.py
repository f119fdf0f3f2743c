"""Render the README's screenshots at 1280×800 and 1920×1080 and list any clipped text.

Views (``kinview.gui.screenshot.VIEWS``): the Galaxy tab, the Model tab and the training dock
open, as dana, a new expert (blind mode: others' labels hidden); the reveal strip (bob on a
galaxy where he and ann disagree) and the adjudication queue (carol).  The survey is a fresh demo survey of ``--n`` galaxies with PA fits, the shipped
models' predictions, an imported "published catalogue" (the demo truth, as expert ``mpl7``)
and the labels of two experts, ann and bob, who disagree on every seventh galaxy.

Usage::

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py [--n 40] [--out docs]

Settings and data go to a temporary folder (``KINVIEW_CONFIG_DIR``, ``KINVIEW_DATA_DIR``),
never the user's.  Each PNG is quantised to 256 colours.  Exit status 1 when
:func:`kinview.gui.screenshot.clipped_texts` finds anything in any view.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_XCB_GL_INTEGRATION", "none")

SIZES = ((1280, 800), (1920, 1080))
#: view → file name stem (the names the README shows)
NAMES = {"galaxy": "kinview-galaxy", "model": "kinview-model", "training": "kinview-training",
         "reveal": "reveal-strip", "adjudication": "adjudication-queue"}


def make_survey(root: Path, n: int):
    """Demo survey + PA fits + shipped predictions + catalogue + ann's and bob's labels;
    returns the plate-ifus where ann and bob disagree."""
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from expert_trial import make_survey as trial_survey   # demo, PA fits, "mpl7" catalogue
    from kinview.labels.store import LabelStore
    from kinview.training.shipped import predict_with_shipped_models

    truth = trial_survey(root, n)
    predict_with_shipped_models(root)
    disputed = []
    for who in ("ann", "bob"):
        store = LabelStore(root, expert=who)
        try:
            for i, (pifu, row) in enumerate(truth.iterrows()):
                sq = int(row["stel_qual"])
                gq = max(int(row["halpha_qual"]), 0) if pd.notna(row["halpha_qual"]) else 0
                if who == "bob" and i % 7 == 0:
                    sq = (sq + 1) % 3
                    disputed.append(pifu)
                store.add(pifu, "stellar", "quality", sq)
                store.add(pifu, "gas", "quality", gq)
                if who == "bob" and i % 7 == 0:
                    store.add(pifu, "gas", "gas_note", 3)
                    store.add(pifu, "galaxy", "note", "inner twist: bar or KDC?")
        finally:
            store.close()
    return disputed


def quantise(path: Path) -> None:
    """256 colours (the screenshots are flat UI colours and smooth maps: no visible loss)."""
    from PIL import Image

    img = Image.open(path).convert("RGB")
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="kinview-shots-"))
    os.environ["KINVIEW_CONFIG_DIR"] = str(tmp / "config")      # never the user's settings
    os.environ["KINVIEW_DATA_DIR"] = str(tmp / "data")
    root = tmp / "survey"
    disputed = make_survey(root, args.n)

    from PyQt5 import QtWidgets

    from kinview.gui import worker
    from kinview.gui.app import create_app
    from kinview.gui.main_window import MainWindow
    from kinview.gui.screenshot import clipped_texts, save_window, settle, show_view
    from kinview.settings import Settings

    app = create_app()

    def wait(cond, timeout=60.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not cond():
            app.processEvents()
            time.sleep(0.01)
        for _ in range(30):                   # timers after the paint (reveal strip, docks)
            app.processEvents()
            time.sleep(0.005)

    bad = 0
    for size in SIZES:
        # a fresh window per size: its first layout is the one a screen of that size gets
        w = MainWindow(root, expert="dana", settings=Settings())
        w.resize(*size)
        w.show()
        wait(lambda: w.view.drawn_plateifu is not None)
        w.statusBar().showMessage(f"{args.n} galaxies in {root}", 600000)
        strip = w.label_panel.reveal_strip
        for view in ("galaxy", "model", "training", "reveal", "adjudication"):
            if view in ("reveal", "adjudication"):
                w.switch_expert("bob" if view == "reveal" else "carol")
            show_view(w, view, plateifu=disputed[0])
            if view in ("reveal", "adjudication"):
                wait(lambda: w.view.drawn_plateifu == disputed[0] and strip.reveal is not None
                     and strip.reveal.plateifu == disputed[0] and len(strip.reveal.raters) >= 2)
                if view == "adjudication":
                    w.adjudication.table.setFocus()
            else:
                wait(lambda: w.view.drawn_plateifu is not None)
            settle(10)
            path = save_window(w, args.out / f"{NAMES[view]}-{size[0]}x{size[1]}.png")
            quantise(path)
            print(f"{path}  {path.stat().st_size // 1024} KB")
            for kind, text, need, avail in clipped_texts(w):
                bad += 1
                print(f"  clipped {kind}: {text!r} needs {need} px, has {avail}")
        w.close()
        worker.wait_all(30000)
    QtWidgets.QApplication.processEvents()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
