"""``kinview pa`` on a tiny survey of real MAPS files: stored fits, interrupt and resume."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from kinview.conventions import delta_pa
from kinview.data.maps_writer import write_maps
from kinview.errors import Cancelled
from kinview.kinematics.survey_fit import fit_survey
from kinview.kinematics.synthetic import disk_field
from kinview.progress import TaskState


def _make_survey(root, n, seed=0, radius=6.0):
    rng = np.random.default_rng(seed)
    truth = {}
    rows = ["plateifu,mangaid,objra,objdec,nsa_z"]
    for k in range(n):
        pifu = f"{9000 + k // 5}-{1901 + k % 5}"
        spa, gpa = rng.uniform(0, 360, 2)
        st = disk_field(spa, radius=radius, noise=8, seed=seed * 1000 + k)
        gas = disk_field(gpa, radius=radius, noise=8, vmax=150, seed=seed * 1000 + k + 500)
        gas_vel = np.where(st.valid, gas.vel, np.nan)
        if k == 1:                    # a galaxy without gas emission
            gas_vel = None
        write_maps(root / "maps" / f"manga-{pifu}-MAPS-HYB10-MILESHC-MASTARSSP.fits", pifu,
                   x=st.x, y=st.y, stellar_vel=np.where(st.valid, st.vel, np.nan),
                   stellar_sigma=np.where(st.valid, st.sigma, np.nan), gas_vel=gas_vel,
                   spx_mflux=st.flux, reff=3.0, ell_ba=0.7, ell_pa=spa % 180)
        truth[pifu] = (spa, gpa)
        rows.append(f"{pifu},1-{k},{180 + k * 0.01},{30.0},0.03")
    (root / "catalogue.csv").write_text("\n".join(rows) + "\n")
    return truth


def _fits(root, method="fast"):
    conn = sqlite3.connect(root / "kinview.sqlite")
    try:
        return {(r[0], r[1]): r[2:] for r in conn.execute(
            "SELECT plateifu, field, pa, pa_err, reason, created, nsteps FROM pa_fits "
            "WHERE method = ?", (method,))}
    finally:
        conn.close()


def test_fit_survey_stores_pas_cancels_and_resumes(tmp_path):
    truth = _make_survey(tmp_path, 6)
    # cancel after two galaxies: what was fitted is committed, nothing else
    state = TaskState(on_progress=lambda done, total: state.cancel() if done >= 2 else None)
    with pytest.raises(Cancelled):
        fit_survey(tmp_path, jobs=1, state=state)
    first = _fits(tmp_path)
    # the one worker may deliver a third galaxy in the same wait: it is kept, not lost
    assert len(first) in (4, 6)
    summary = fit_survey(tmp_path, jobs=1, in_process=True)   # the worker-less path resumes
    assert summary["skipped"] == len(first)
    assert summary["fitted"] + summary["failed"] == 12 - len(first)
    fits = _fits(tmp_path)
    assert len(fits) == 12
    for key, row in first.items():
        assert fits[key] == row                       # not refitted
    for pifu, (spa, gpa) in truth.items():
        pa, err, reason, _, nsteps = fits[(pifu, "stellar")]
        assert reason is None and float(delta_pa(pa, spa)) < 3 and 0 < err < 3
        assert nsteps == 361
        pa, err, reason, _, _ = fits[(pifu, "gas")]
        if pifu.endswith("1902"):
            assert pa is None and reason                # no gas: a reason, no PA
        else:
            assert float(delta_pa(pa, gpa)) < 3
    # refit replaces rows (new nsteps), parallel path gives the same PAs
    summary = fit_survey(tmp_path, jobs=2, refit=True, nsteps=181)
    assert summary["skipped"] == 0
    again = _fits(tmp_path)
    assert {r[4] for r in again.values()} == {181}
    for key in fits:
        if fits[key][0] is not None:
            assert float(delta_pa(again[key][0], fits[key][0])) <= 1.0


def _cli(*args, **kw):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "kinview", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _terminal_sigint():
    # in the child: Ctrl-C as in a terminal.  A test run from a non-interactive shell's
    # background job inherits SIGINT *ignored*, and Python keeps it so: the child would then
    # run to its end whatever the test sends, and the test would prove nothing.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_kinview_pa_cli_interrupted_with_ctrl_c_resumes_without_refitting(tmp_path):
    n = 24
    _make_survey(tmp_path, n, seed=1, radius=4.0)
    # pafit with few angles, and enough galaxies that the run is still going a second after
    # its first results are committed (they are written in batches, once a second): on a
    # quiet machine 8 galaxies finished before the interrupt arrived
    # its own process group, which gets the SIGINT as a terminal's Ctrl-C would send it
    proc = _cli("pa", "--survey", str(tmp_path), "--method", "pafit", "--nsteps", "91",
                "--jobs", "2", start_new_session=True, preexec_fn=_terminal_sigint)
    db = tmp_path / "kinview.sqlite"
    deadline = time.time() + 120
    n_before = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            try:
                n_before = len(_fits(tmp_path, "pafit"))
            except sqlite3.OperationalError:
                continue
            if n_before:
                break
    assert proc.poll() is None, "finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)       # the whole group: kinview and its workers
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    kept = _fits(tmp_path, "pafit")
    assert 0 < len(kept) < 2 * n
    done = subprocess.run([sys.executable, "-m", "kinview", "pa", "--survey", str(tmp_path),
                           "--method", "pafit", "--nsteps", "91", "--jobs", "2", "--json"],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr
    import json

    summary = json.loads(done.stdout)
    assert summary["skipped"] == len(kept)
    final = _fits(tmp_path, "pafit")
    assert len(final) == 2 * n
    for key, row in kept.items():
        assert final[key] == row


def test_kinview_pa_bad_input_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "kinview", "pa", "--survey",
                          str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("kinview: error:") and len(out.stderr.strip().splitlines()) == 1
