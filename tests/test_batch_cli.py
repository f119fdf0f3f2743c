"""``kinview predict TASK --catalogue``: the command line, in this process (``--workers 0``),
resuming, and one clear line for every bad input."""
import numpy as np
import pandas as pd
import pytest

from kinview.cli.main import main

N = 7


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("cli")
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    objid = 1237648720693755918 + np.arange(N, dtype=np.int64)
    yy, xx = np.mgrid[-32:32, -32:32]
    for k, oid in enumerate(objid[:-1]):                 # the last row has no image
        blob = np.exp(-((xx / (6 + k)) ** 2 + (yy / 8.0) ** 2))[..., None] * [220, 180, 140]
        img = np.clip(blob + rng.normal(0, 3, blob.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(images / f"{oid}.jpg", quality=92)
    cat = root / "sdss.csv"
    pd.DataFrame({"objid": objid, "ra": np.linspace(150, 151, N), "dec": 2.0}).to_csv(cat, index=False)
    return root, cat, images


def _err(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kinview: error: "), err
    return err[0]


def test_predict_catalogue_in_process_then_resume_and_refuse_another_partitioning(files, capsys):
    root, cat, images = files
    out = root / "spin.parquet"
    args = ["predict", "spin", "--catalogue", str(cat), "--images", str(images), "--out", str(out),
            "--workers", "0", "--partition-rows", "3"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"{N} rows predicted in 3 parts (1 flagged)" in text
    df = pd.read_parquet(out).sort_values("row")
    assert df["objid"].tolist()[0] == "1237648720693755918"
    assert df["flag"].tolist() == [0] * (N - 1) + [2]
    assert np.isfinite(df["value"].iloc[:-1]).all() and np.isnan(df["value"].iloc[-1])
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}
    assert main(args) == 0
    assert "0 rows predicted in 0 parts, 3 already done" in capsys.readouterr().out
    assert main(args[:-1] + ["4"]) == 2
    assert "another run (different partition_rows)" in _err(capsys)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")} == mtimes    # untouched


def test_bad_inputs_get_one_line_and_exit_2(files, tmp_path, capsys):
    import dask

    root, cat, images = files
    out = str(tmp_path / "o.parquet")
    base = ["predict", "spin", "--images", str(images), "--out", out, "--workers", "0"]
    cases = [
        (base + ["--catalogue", str(tmp_path / "none.csv")], "catalogue not found"),
        (["predict", "spin", "--catalogue", str(cat), "--out", out], "needs --images"),
        (["predict", "vfield-quality", "--catalogue", str(cat)] + base[2:], "does not predict from images"),
        (["predict", "nosuchtask", "--catalogue", str(cat)] + base[2:], "unknown task"),
        (base + ["--catalogue", str(cat), "--model", str(tmp_path / "m.keras")], "no such model file"),
        (base + ["--catalogue", str(cat), "--model", "3"], "give the survey"),
        (base[:-2] + ["--catalogue", str(cat), "--workers", "-1"], "--workers must be 0 or more"),
        (base + ["--catalogue", str(cat), "--batch-size", "0"], "--batch-size must be at least 1"),
        (base[:-2] + ["--catalogue", str(cat), "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"],
         "with --scheduler ADDRESS"),
        (["predict", "spin", "--catalogue", str(cat), "--images", str(tmp_path / "no"), "--out", out],
         "no such image directory"),
        (["predict", "spin"], "predict needs --survey"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        assert needle in _err(capsys), argv
    (tmp_path / "noid.csv").write_text("name,ra,dec\nx,1,2\n")
    assert main(base + ["--catalogue", str(tmp_path / "noid.csv")]) == 2
    assert "no id column" in _err(capsys)
    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}):
        assert main(base[:-2] + ["--catalogue", str(cat), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:9" in _err(capsys)
    assert not (tmp_path / "o.parquet").exists() or not list((tmp_path / "o.parquet").glob("part-*"))


def test_pa_scheduler_and_jobs_are_exclusive(tmp_path, capsys):
    assert main(["pa", "--survey", str(tmp_path), "--scheduler", "tcp://127.0.0.1:9", "--jobs", "2"]) == 2
    assert "--jobs sets local processes" in _err(capsys)
