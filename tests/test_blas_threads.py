"""Every PA fit runs with one BLAS thread, in any process and any thread: the GUI's live fits
(a galaxy load in a worker thread) as well as ``fit_survey(in_process=True)``."""
import threading

import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    """Thread counts of the BLAS libraries loaded in this process (OpenBLAS here)."""
    return {i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}


def test_a_live_fit_in_a_gui_worker_thread_runs_single_threaded_blas(tmp_path, monkeypatch):
    import numpy  # noqa: F401  (loads BLAS)

    import kinview.kinematics.pa as pa
    from kinview.demo import generate_survey
    from kinview.session.loading import load_galaxy

    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    generate_survey(tmp_path, n=2, seed=4, jobs=1)
    maps = sorted(tmp_path.rglob("manga-*-MAPS-*.fits*"))[0]
    plateifu = maps.name.split("-MAPS")[0][len("manga-"):]
    seen = []
    inner = pa._points_from

    def observed(*args, **kwargs):       # called inside fit_pa, before the fit proper
        seen.append(_blas_threads())
        return inner(*args, **kwargs)

    monkeypatch.setattr(pa, "_points_from", observed)
    result = {}
    from kinview.blas_threads import single_threaded

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with single_threaded():          # a fit in the main thread first (threadpoolctl then
            pass                         # let only the main thread change the OpenBLAS limit)
        before = _blas_threads()
        # as the GUI does: the galaxy is loaded (and its missing PAs fitted) off the main thread
        t = threading.Thread(target=lambda: result.update(
            data=load_galaxy(tmp_path, plateifu, {"maps_path": str(maps)}, fit_missing=True)))
        t.start()
        t.join(120)
        after = _blas_threads()
    assert not t.is_alive() and "data" in result
    assert before == after == {2}          # the limit is the fit's only, restored afterwards
    assert seen and all(s == {1} for s in seen), seen
    data = result["data"]
    assert any(f is not None for f in data.fields.values())
