"""First run of ``kinview``: the demo survey is created in the user data folder behind a
progress dialog, indexed, opened, and its position angles fitted in the background."""
from kinview import paths
from kinview.db.connection import connect
from kinview.gui import worker


def test_first_run_creates_the_demo_survey_and_fits_pas(qtbot, make_main_window):
    from kinview.gui.app import _has_survey, create_app, create_demo_survey

    create_app()
    out = paths.default_survey_dir()
    assert not _has_survey(out)
    create_demo_survey(out, n=3, jobs=1)
    assert _has_survey(out) and (out / "kinview.sqlite").is_file()
    w = make_main_window(out, "first", wait=False)
    w.table_loaded.connect(w.start_pa_fits)      # as `kinview` does at every start
    qtbot.waitUntil(lambda: w.view.drawn_plateifu is not None, timeout=60000)
    assert len(w.table) == 3
    qtbot.waitUntil(lambda: getattr(w, "pa_worker", None) is not None and w.pa_worker.is_done,
                    timeout=120000)
    conn = connect(out)
    try:
        fitted = conn.execute("SELECT COUNT(DISTINCT plateifu) FROM pa_fits WHERE method='fast'"
                              ).fetchone()[0]
    finally:
        conn.close()
    assert fitted == 3
    w.close()
    worker.wait_all(30000)
