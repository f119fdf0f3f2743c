"""An interrupted command exits at once: output flushed, atexit handlers run, no teardown."""
import subprocess
import sys
import textwrap


def test_exit_now_flushes_runs_atexit_and_skips_teardown(tmp_path):
    script = textwrap.dedent("""
        import atexit, sys
        from kinview.cli.main import exit_now

        class Teardown:
            def __del__(self):
                print("teardown ran", flush=True)

        keep = Teardown()                      # freed only by the interpreter's teardown
        atexit.register(lambda: print("atexit ran", flush=True))
        sys.stdout.write("buffered line\\n")   # not flushed yet
        exit_now(130)
        print("not reached")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 130, out.stderr
    assert out.stdout.splitlines() == ["buffered line", "atexit ran"]


def test_kinview_pa_jobs_1_ctrl_c_keeps_the_committed_fits(tmp_path):
    import os
    import signal
    import sqlite3
    import time

    from kinview.demo import generate_survey

    generate_survey(tmp_path, n=30, seed=2, jobs=1)
    proc = subprocess.Popen([sys.executable, "-m", "kinview", "pa", "--survey", str(tmp_path),
                             "--method", "pafit", "--nsteps", "91", "--jobs", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OPENBLAS_NUM_THREADS="1"),
                            # Ctrl-C as in a terminal, even when pytest runs as a background job
                            # (which inherits SIGINT ignored)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    db = tmp_path / "kinview.sqlite"

    def stored():
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                return conn.execute("SELECT plateifu, field, pa FROM pa_fits "
                                    "WHERE method = 'pafit' ORDER BY 1, 2").fetchall()
            finally:
                conn.close()
        except sqlite3.OperationalError:
            return []

    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not stored():
        time.sleep(0.2)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    kept = stored()
    assert 0 < len(kept) < 60
    # the database is consistent after the fast exit
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    conn.close()
