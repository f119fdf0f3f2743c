"""Starting the GUI: display check, first-run demo survey, the window, the screenshot mode.

``kinview`` with no arguments opens the default survey (:func:`kinview.paths.default_survey_dir`);
the first run creates the demo survey there (400 galaxies, seed 0) with a progress bar, indexes
it and fits the position angles with the fast method in the background.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional, Tuple

from kinview import paths
from kinview.data.catalogue import find_catalogue
from kinview.data.survey import Survey
from kinview.demo import generate_survey
from kinview.errors import KinviewError
from kinview.gui import worker
from kinview.gui.main_window import MainWindow
from kinview.gui.screenshot import save_window
from kinview.labels.experts import needs_first_run_prompt

#: Qt platforms that need no display server.
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "minimalegl", "wayland-egl")

NO_DISPLAY_HINT = ("kinview: no display found (DISPLAY/WAYLAND_DISPLAY unset): run it under "
                   "`xvfb-run kinview`, or render the window to a picture with "
                   "`kinview gui --screenshot FILE`")


def has_display() -> bool:
    """True when Qt can open windows here (a display server or a headless Qt platform)."""
    if sys.platform in ("darwin", "win32"):
        return True
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":", 1)[0].strip().lower()
    if platform in HEADLESS_PLATFORMS:
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


#: Harmless Qt messages of the offscreen platform, not shown to the user.
_NOISE = ("propagateSizeHints", "XDG_RUNTIME_DIR not set")


def _quiet_qt_messages() -> None:
    """Drop the offscreen platform's harmless warnings; pass every other Qt message on."""
    from PyQt5 import QtCore

    previous = []

    def handler(kind, context, message):
        if any(n in message for n in _NOISE):
            return
        if previous and previous[0] is not None:
            previous[0](kind, context, message)
        else:
            sys.stderr.write(message + "\n")

    previous.append(QtCore.qInstallMessageHandler(handler))


def create_app(argv=None):
    """The QApplication (created once), with pyqtgraph configured."""
    from PyQt5 import QtCore, QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        _quiet_qt_messages()
        QtCore.QCoreApplication.setAttribute(QtCore.Qt.AA_ShareOpenGLContexts, True)
        app = QtWidgets.QApplication(list(argv or ["kinview"]))
        app.setApplicationName("kinview")
        app.setStyle("Fusion")
        font = app.font()
        if font.pointSize() < 10:
            font.setPointSize(10)
            app.setFont(font)
    import pyqtgraph as pg

    # Loader threads run Python code; a short GIL switch interval keeps the GUI thread from
    # waiting up to 5 ms for the GIL after every Qt call that released it (paints, events).
    sys.setswitchinterval(0.0005)
    pg.setConfigOptions(antialias=False, imageAxisOrder="row-major", background="w",
                        foreground="#222222")
    return app


def _has_survey(path: Path) -> bool:
    if not path.is_dir():
        return False
    if (path / "kinview.sqlite").exists():
        return True

    return find_catalogue(path) is not None


#: Size and seed of the demo survey created on the first run (SPEC §5).
DEMO_N = 400
DEMO_SEED = 0


def create_demo_survey(out: Path, n: int = DEMO_N, seed: int = DEMO_SEED, show_progress: bool = True,
                       jobs: Optional[int] = None) -> None:
    """Generate the demo survey in ``out`` (worker thread) behind a progress dialog, then
    index it.  Raises the generator's error if it fails."""
    from PyQt5 import QtCore, QtWidgets

    def job(state):
        out.mkdir(parents=True, exist_ok=True)
        state.set_status("generating the demo survey")
        generate_survey(out, n=n, seed=seed, jobs=jobs, state=state)
        state.set_status("indexing")
        Survey.open(out, ingest=True).close()
        return True

    dialog = None
    if show_progress:
        dialog = QtWidgets.QProgressDialog("Creating the demo survey (first run)…", "Cancel", 0, n)
        dialog.setWindowTitle("kinview")
        dialog.setMinimumDuration(0)
        dialog.setWindowModality(QtCore.Qt.ApplicationModal)
        dialog.show()
    w = worker.submit(job)
    if dialog is not None:
        w.progress.connect(lambda done, total: (dialog.setMaximum(int(total or n)), dialog.setValue(done)))
        w.status.connect(dialog.setLabelText)
        dialog.canceled.connect(w.cancel)
    loop = QtCore.QEventLoop()
    w.done.connect(loop.quit)
    if not w.is_done:
        loop.exec_()
    if dialog is not None:
        dialog.close()
    if w.error is not None:
        raise w.error
    if w.result is None:
        raise KinviewError("creating the demo survey was cancelled")


def start_pa_fits(window) -> None:
    """Resume the survey's unfinished PA fits, then the shipped models' predictions: the
    window's own background jobs (:meth:`kinview.gui.main_window.MainWindow.start_pa_fits`)."""
    window.start_pa_fits()


def open_window(survey_dir: Path, expert: Optional[str] = None, size: Optional[Tuple[int, int]] = None):
    window = MainWindow(survey_dir, expert=expert)
    if size is not None:
        window.resize(*size)
    return window


def schedule_first_run_prompt(window, explicit: Optional[str] = None) -> bool:
    """Ask for the expert's name once the window is up, when nothing names the expert yet
    (no ``--expert``, no ``$KINVIEW_EXPERT``, no saved name).  Returns whether it was scheduled."""
    from PyQt5 import QtCore

    if not needs_first_run_prompt(explicit, window.settings.expert or ""):
        return False
    QtCore.QTimer.singleShot(0, lambda: window.prompt_expert(first_run=True))
    return True


def wait_drawn(window, timeout_s: float = 120.0) -> bool:
    """Process events until the window has drawn its first galaxy (or failed to load)."""
    from PyQt5 import QtWidgets

    app = QtWidgets.QApplication.instance()
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        app.processEvents()
        if window.load_error is not None:
            break
        panel = getattr(window, "catalogue_panel", None)   # its card arrives from a worker
        if window.view.drawn_plateifu is not None and (
                panel is None or (panel.card or {}).get("plateifu") == window.state.current):
            break
        time.sleep(0.002)
    for _ in range(3):
        app.processEvents()
    return window.view.drawn_plateifu is not None


def run(survey_dir=None, expert: Optional[str] = None, screenshot=None,
        size: Tuple[int, int] = (1600, 1000)) -> int:
    """Open the GUI (or render a screenshot and exit); returns the exit code."""
    if screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ.setdefault("QT_XCB_GL_INTEGRATION", "none")
    elif not has_display():
        print(NO_DISPLAY_HINT, file=sys.stderr)
        return 3

    default = survey_dir is None
    survey = Path(survey_dir).expanduser() if survey_dir else paths.default_survey_dir()
    if not default and not survey.is_dir():
        raise KinviewError(f"{survey}: no such survey directory")
    app = create_app(sys.argv[:1])
    created = False
    if default and not _has_survey(survey):
        create_demo_survey(survey, show_progress=not screenshot)
        created = True
    window = open_window(survey, expert, size if screenshot else None)
    if created or default or not screenshot:
        # unfinished PA fits resume in the background (cancellable), then any survey without a
        # model of its own gets the shipped models' predictions, so the model columns, filters
        # and queues work from the first start
        window.table_loaded.connect(window.start_pa_fits)
    if screenshot:
        window.show()
        ok = wait_drawn(window)
        if window.load_error:
            raise KinviewError(window.load_error)
        if not ok:
            raise KinviewError(f"{survey}: no galaxy could be drawn for the screenshot")
        out = save_window(window, screenshot)
        print(f"kinview: screenshot of {window.view.drawn_plateifu} written to {out}")

        pa_worker = getattr(window, "pa_worker", None)
        if pa_worker is not None:
            pa_worker.cancel()        # fits done so far are kept; the next start goes on
        worker.wait_all(30000, drop_queued=True)
        return 0
    window.show()
    schedule_first_run_prompt(window, expert)
    return int(app.exec_())
