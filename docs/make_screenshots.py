"""Render the README's screenshots: Galaxy tab, Model tab and training dock, at 1280×800 and
1920×1080, on a demo survey, and list any title or button text that does not fit its widget.

Usage::

    kinview demo --out /tmp/shots-demo --n 40 && kinview pa --survey /tmp/shots-demo
    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py /tmp/shots-demo docs/
"""
import os
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(survey, outdir, sizes=((1280, 800), (1920, 1080))):
    # never touch the user's settings: a throw-away settings folder
    os.environ["KINVIEW_CONFIG_DIR"] = tempfile.mkdtemp(prefix="kinview-shots-")
    from kinview.gui.app import create_app, wait_drawn
    from kinview.gui.main_window import MainWindow
    from kinview.gui.screenshot import clipped_texts, render_set
    from kinview.settings import Settings

    app = create_app()  # noqa: F841 - kept alive
    bad = 0
    for size in sizes:
        # a fresh window per size: its first layout is the one a screen of that size gets
        w = MainWindow(survey, expert="demo", settings=Settings())
        w.resize(*size)
        w.show()
        wait_drawn(w)
        for path in render_set(w, outdir, size):
            print(path)
            for kind, text, need, avail in clipped_texts(w):
                bad += 1
                print(f"  clipped {kind}: {text!r} needs {need} px, has {avail}")
        w.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
