"""Test configuration: offscreen Qt, quiet TensorFlow, isolated user folders."""
import os

# Before anything imports Qt or TensorFlow.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_XCB_GL_INTEGRATION", "none")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import platformdirs  # noqa: E402
import pytest  # noqa: E402

# The real user's folders, as kinview would find them without the overrides below.  They are
# read here only to prove, at the end of the session, that no test touched them.
REAL_USER_DIRS = (Path(platformdirs.user_config_dir("kinview", appauthor=False)),
                  Path(platformdirs.user_data_dir("kinview", appauthor=False)))


def _snapshot(folders):
    """``{path: (size, mtime_ns)}`` of every file under ``folders`` (absent folders: empty)."""
    out = {}
    for folder in folders:
        if folder.is_dir():
            for f in folder.rglob("*"):
                try:
                    st = f.stat()
                except OSError:
                    continue
                out[str(f)] = (st.st_size, st.st_mtime_ns)
        out[str(folder)] = folder.exists()
    return out


_REAL_BEFORE = _snapshot(REAL_USER_DIRS)

# Session-wide isolation, set before any fixture of any scope runs: module- and session-scoped
# fixtures (a shared main window, say) are set up before the per-test fixture below, so without
# this they would read and write the real settings.  Each test still gets fresh folders.
_SESSION_USER = Path(tempfile.mkdtemp(prefix="kinview-test-user-"))
os.environ["KINVIEW_DATA_DIR"] = str(_SESSION_USER / "data")
os.environ["KINVIEW_CONFIG_DIR"] = str(_SESSION_USER / "config")


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if any test created, changed or removed a file in the real user folders."""
    if _snapshot(REAL_USER_DIRS) != _REAL_BEFORE:
        print(f"\nkinview tests touched the real user folders {[str(d) for d in REAL_USER_DIRS]}")
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Never read or write the real user's data or settings folders from a test."""
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("KINVIEW_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("KINVIEW_CONFIG_DIR", str(base / "config"))


@pytest.fixture
def make_main_window(qtbot):
    """Factory of classification windows: ``make_main_window(survey, expert="ann",
    settings=None, size=(1600, 1000), wait=True)`` opens a :class:`MainWindow` on ``survey``,
    shows it and (with ``wait``) processes events until its first galaxy is drawn or the
    survey failed to open.  Every window made is closed, and the worker pools drained, when
    the test ends, so no window outlives its test (and no test depends on another's)."""
    from kinview.gui import worker
    from kinview.gui.app import create_app
    from kinview.gui.main_window import MainWindow

    made = []

    def make(survey, expert="ann", settings=None, size=(1600, 1000), wait=True):
        create_app()
        w = MainWindow(survey, expert=expert, settings=settings)
        qtbot.addWidget(w)
        made.append(w)
        if size is not None:
            w.resize(*size)
        w.show()
        w.activateWindow()
        if wait:
            qtbot.waitUntil(lambda: w.view.drawn_plateifu is not None or w.load_error is not None,
                            timeout=60000)
        return w

    yield make
    for w in made:
        if not w._closing:
            w.close()
    worker.wait_all(60000)


@pytest.fixture
def model_window(make_main_window, survey, request):
    """``(window, window.model_panels)``: a main window on the test module's ``survey``
    fixture, for expert ``kim`` (the model GUI tests' labelled demo survey,
    :func:`gui_support.labelled_demo_survey`), sized ``WINDOW_SIZE`` of the module if it
    sets one."""
    w = make_main_window(survey, "kim", size=getattr(request.module, "WINDOW_SIZE", (1600, 1000)))
    return w, w.model_panels
