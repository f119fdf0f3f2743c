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


def _group(pgid):
    """Pids of the live (not zombie) processes of process group ``pgid`` (Linux /proc)."""
    import os

    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) "
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(d))
    return pids


def test_kinview_pa_jobs_1_ctrl_c_fits_in_a_worker_and_keeps_the_committed_fits(tmp_path):
    """``--jobs 1`` fits in one worker process, so the process that gets Ctrl-C only waits:
    the terminal's SIGINT (sent to the whole process group) ends it with status 130, the fits
    committed so far kept, and no worker left running."""
    import os
    import signal
    import sqlite3
    import time

    from kinview.demo import generate_survey

    if not os.path.isdir("/proc/self"):
        import pytest

        pytest.skip("needs /proc to see the worker process")
    generate_survey(tmp_path, n=30, seed=2, jobs=1)
    proc = subprocess.Popen([sys.executable, "-m", "kinview", "pa", "--survey", str(tmp_path),
                             "--method", "pafit", "--nsteps", "91", "--jobs", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # its own process group, as a terminal's foreground job, with
                            # SIGINT as a terminal gives it (a test run as a background job
                            # inherits it ignored)
                            start_new_session=True,
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
    # the fits run in another process of the group (the worker; the forkserver beside it)
    assert len(_group(proc.pid)) >= 2
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    kept = stored()
    assert 0 < len(kept) < 60
    # the database is consistent after the fast exit
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    conn.close()
    # the worker was terminated, not left fitting on its own (the forkserver ends with it)
    deadline = time.time() + 30
    while _group(proc.pid) and time.time() < deadline:
        time.sleep(0.1)
    assert _group(proc.pid) == []


def test_kinview_pa_ctrl_c_while_the_forkserver_starts_prints_no_traceback(tmp_path):
    """A Ctrl-C while the worker's forkserver (in the same process group) still does its
    start-up imports: one line, status 130, no traceback from the forkserver or a half-started
    worker, and nothing left running."""
    import os
    import signal
    import time

    from kinview.demo import generate_survey

    generate_survey(tmp_path, n=4, seed=3, jobs=1)
    proc = subprocess.Popen([sys.executable, "-m", "kinview", "pa", "--survey", str(tmp_path),
                             "--jobs", "1", "--refit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    def forkserver_started():
        for pid in _group(proc.pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if b"multiprocessing.forkserver" in fh.read():
                        return True
            except OSError:
                pass
        return False

    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not forkserver_started():
        time.sleep(0.002)
    assert proc.poll() is None, "finished before the forkserver started"
    # the wait above ends on its deadline too: without this the Ctrl-C below would test a run
    # that never reached the forkserver's start-up, and pass all the same
    assert forkserver_started(), "no forkserver in the process group within 60 s"
    time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)       # the forkserver is most likely still importing
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    deadline = time.time() + 30
    while _group(proc.pid) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)                          # a late traceback would come from a child's stderr
    assert _group(proc.pid) == []
