"""Catalogue predictions and survey PA fits on a real Dask ``LocalCluster``: two worker
processes on loopback with small memory limits, the shipped spin model, a demo survey's
real JPEG cutouts and MAPS files."""
import os
import shutil
import signal

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from kinview.batch.output import read_output  # noqa: E402
from kinview.batch.predict import FLAG_BAD_IMAGE, FLAG_NO_IMAGE, predict_catalogue  # noqa: E402
from kinview.errors import Cancelled  # noqa: E402
from kinview.progress import TaskState  # noqa: E402

N_GAL = 8


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    from kinview.demo import generate_survey

    root = tmp_path_factory.mktemp("batch") / "survey"
    generate_survey(root, n=N_GAL, seed=3, jobs=1)
    return root


@pytest.fixture(scope="module")
def catalogue(survey):
    """Parquet catalogue of the survey's galaxies (plateifu, ra, dec), and the spin values the
    survey path (``kinview predict spin --survey``) stores for them: the reference."""
    from kinview.data.catalogue import find_catalogue, read_catalogue
    from kinview.training import predict
    from kinview.training.prediction import predictions

    cat = read_catalogue(find_catalogue(survey))
    df = pd.DataFrame({"plateifu": cat["plateifu"], "ra": cat["objra"], "dec": cat["objdec"]})
    path = survey.parent / "galaxies.parquet"
    df.to_parquet(path)
    predict("spin", survey)
    ref = predictions(survey, "spin").set_index("plateifu")["value"]
    return path, ref


@pytest.fixture(scope="module")
def client():
    from kinview.batch.engine import WORKER_ENV

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       memory_limit="1.5GiB", env=dict(WORKER_ENV),
                                       silence_logs=50)
    c = distributed.Client(cluster, set_as_default=False)
    yield c
    c.close()
    cluster.close()


def _assert_matches(out, ref, n_rows):
    got = read_output(out)
    assert got["row"].tolist() == list(range(n_rows))          # none missing, none twice
    ok = got[got["flag"] == 0]
    np.testing.assert_allclose(ok["value"].to_numpy(), ref.reindex(ok["plateifu"]).to_numpy(),
                               rtol=1e-5, atol=1e-6)
    return got


def test_dask_output_equals_in_process_and_survey_predictions(tmp_path, survey, catalogue, client):
    import pyarrow.parquet as pq

    from kinview import __version__

    path, ref = catalogue
    s = predict_catalogue("spin", path, survey / "images", tmp_path / "dask.parquet", scheduler=client,
                          partition_rows=3, batch_size=2)
    assert (s["parts"], s["parts_done"], s["rows_done"], s["flagged"]) == (3, 3, N_GAL, 0)
    got = _assert_matches(tmp_path / "dask.parquet", ref, N_GAL)
    s0 = predict_catalogue("spin", path, survey / "images", tmp_path / "local.parquet", workers=0,
                           partition_rows=5)
    assert s0["where"] == "in this process"
    local = read_output(tmp_path / "local.parquet")
    np.testing.assert_allclose(got["value"], local["value"], rtol=1e-6, atol=1e-7)
    assert got["plateifu"].tolist() == local["plateifu"].tolist()
    np.testing.assert_allclose(got["ra"], pd.read_parquet(path)["ra"])
    meta = pq.read_schema(tmp_path / "dask.parquet" / "part-000000.parquet").metadata
    import json

    info = json.loads(meta[b"kinview"])
    assert info["model_id"] == "spin-default" and info["kinview_version"] == __version__
    assert len(info["model_card_sha256"]) == 64 and info["task"] == "spin"
    # every worker that ran a partition loaded the model exactly once
    from kinview.batch.predict import model_loads

    loads = client.run(model_loads)
    assert sorted(loads.values()) in ([1, 1], [0, 1])
    assert sum(loads.values()) >= 1


def test_missing_and_corrupt_images_are_flagged_rows_and_the_rest_is_right(tmp_path, survey, catalogue, client):
    path, ref = catalogue
    images = tmp_path / "images"
    shutil.copytree(survey / "images", images)
    names = sorted(p.stem for p in images.glob("*.jpg"))
    data = (images / f"{names[0]}.jpg").read_bytes()
    (images / f"{names[0]}.jpg").write_bytes(data[: len(data) // 3])     # truncated JPEG
    (images / f"{names[1]}.jpg").write_bytes(b"")                        # empty file
    (images / f"{names[2]}.jpg").unlink()                                # missing
    s = predict_catalogue("spin", path, images, tmp_path / "p.parquet", scheduler=client, partition_rows=5)
    got = _assert_matches(tmp_path / "p.parquet", ref, N_GAL).set_index("plateifu")
    assert s["flagged"] == 3
    assert got.loc[names[0], "flag"] == FLAG_BAD_IMAGE and "truncated" in got.loc[names[0], "error"]
    assert got.loc[names[1], "flag"] == FLAG_BAD_IMAGE and "empty" in got.loc[names[1], "error"]
    assert got.loc[names[2], "flag"] == FLAG_NO_IMAGE
    assert got.loc[names[:3], "value"].isna().all()
    assert (got.drop(index=names[:3])["flag"] == 0).all()
    assert got.drop(index=names[:3])["error"].isna().all()


def test_worker_killed_mid_run_job_completes_without_missing_or_duplicate_rows(tmp_path, survey, catalogue, client):
    path, ref = catalogue
    big = pd.concat([pd.read_parquet(path)] * 10, ignore_index=True)      # 80 rows, 8 images
    cat = tmp_path / "big.parquet"
    big.to_parquet(cat)
    pids = client.run(os.getpid)
    killed = []

    def on_progress(done, total):
        if done and not killed:             # the first part is back: kill a busy worker
            busy = [w for w, keys in client.processing().items() if keys and w in pids]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])

    state = TaskState(on_progress=on_progress)
    s = predict_catalogue("spin", cat, survey / "images", tmp_path / "k.parquet", scheduler=client,
                          partition_rows=10, state=state)
    assert killed, "no worker was busy when the first part came back"
    assert s["parts_done"] == 8 and s["rows_done"] == 80
    got = read_output(tmp_path / "k.parquet")
    assert got["row"].tolist() == list(range(80))
    assert len(list((tmp_path / "k.parquet").glob("part-*.parquet"))) == 8
    np.testing.assert_allclose(got["value"], ref.reindex(got["plateifu"]).to_numpy(), rtol=1e-5, atol=1e-6)


def test_rerun_after_interruption_computes_only_the_missing_parts(tmp_path, survey, catalogue, client):
    path, ref = catalogue
    out = tmp_path / "r.parquet"
    state = TaskState(on_progress=lambda done, total: done >= 4 and state.cancel())
    with pytest.raises(Cancelled):
        predict_catalogue("spin", path, survey / "images", out, scheduler=client, partition_rows=2,
                          state=state)
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert len(first) == 2                                   # 2 parts of 2 rows, then stopped
    s = predict_catalogue("spin", path, survey / "images", out, scheduler=client, partition_rows=2)
    assert (s["parts_skipped"], s["parts_done"], s["rows_done"]) == (2, 2, 4)
    assert {n: (out / n).stat().st_mtime_ns for n in first} == first     # untouched
    _assert_matches(out, ref, N_GAL)
    s = predict_catalogue("spin", path, survey / "images", out, scheduler=client, partition_rows=2)
    assert (s["parts_skipped"], s["parts_done"]) == (4, 0)


def test_pa_fits_on_dask_equal_the_local_fits_and_are_written_by_the_client(tmp_path, survey, client):
    from kinview.db import connect
    from kinview.kinematics.survey_fit import fit_survey

    local, remote = tmp_path / "local", tmp_path / "remote"
    for d in (local, remote):
        shutil.copytree(survey, d, ignore=shutil.ignore_patterns("kinview.sqlite*", "galaxies.parquet"))
    try:                         # the local reference in this process: one BLAS thread
        from threadpoolctl import threadpool_limits
    except ImportError:          # pragma: no cover
        import contextlib

        threadpool_limits = (lambda n: contextlib.nullcontext())
    with threadpool_limits(1):
        a = fit_survey(local, jobs=1)
    b = fit_survey(remote, scheduler=client, chunk=3)
    assert b["jobs"] == 2 and "2 workers" in b["where"]
    assert (a["fitted"], a["failed"]) == (b["fitted"], b["failed"]) and a["fitted"] > N_GAL

    def rows(d):
        conn = connect(d)
        try:
            return conn.execute("SELECT plateifu, field, pa, pa_err, n_used, reason FROM pa_fits "
                                "ORDER BY plateifu, field").fetchall()
        finally:
            conn.close()

    ra, rb = rows(local), rows(remote)
    assert [tuple(r)[:2] for r in ra] == [tuple(r)[:2] for r in rb]
    for x, y in zip(ra, rb):
        assert (x["pa"] is None) == (y["pa"] is None)
        if x["pa"] is not None:
            assert abs(x["pa"] - y["pa"]) < 1e-9
    assert fit_survey(remote, scheduler=client)["skipped"] == 2 * N_GAL      # resumable
