"""Benchmark: ``kinview predict spin --catalogue`` at 10⁴ and 10⁵ rows, in one process against
Dask with 1 and 2 local workers, in the same run.

A synthetic SDSS-like catalogue (``objid``, ``ra``, ``dec``, Parquet) is written for each size,
with one ``<objid>.jpg`` per row.  The cutouts are ``--base`` distinct small JPEGs
(``--side`` pixels, made from a demo survey's colour images with random shifts, flips, quarter
turns and noise) hard-linked under every row's name, so 10⁵ rows cost a few MB of disk and a
directory of 10⁵ entries.  Every configuration runs the same code path
(:func:`kinview.batch.predict.predict_catalogue`) on the same files with the shipped spin model:

``in-process``  ``--workers 0``: one process, partitions in order, TensorFlow's own threads
``dask-1``      a ``LocalCluster`` of 1 worker process (1 thread)
``dask-2``      a ``LocalCluster`` of 2 worker processes (1 thread each)

Images/s is rows / wall seconds from the first task submitted to the last part written
(model loading on the workers included).  TensorFlow's import is outside the timing on both
paths: this process imports it before any run, and each worker imports it as part of the
cluster start-up, which is reported apart (``startup_seconds``).  Peak memory per
worker is the worker process's peak RSS (``getrusage``) at the end of the run; each
configuration gets a fresh cluster, so the peaks of the two sizes are independent.  The
per-image cost split (read + decode, resample, network) is timed in this process on
``--profile`` images.  The projection for 10⁶ and 5 × 10⁶ rows scales the measured per-worker
rate by the number of cores, and states the I/O rate that would need.

Usage::

    python benchmarks/scale_predict.py [--sizes 10000 100000] [--side 128] [--base 240]
                                       [--partition-rows 10000] [--json OUT.json] [--keep DIR]

Note the load (``uptime``) printed beside the figures: the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

OBJID0 = 1237648720693755918


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def make_base_images(root: Path, n_base: int, side: int, seed: int = 0):
    """``n_base`` jittered ``side``-pixel JPEGs from a small demo survey's cutouts."""
    from PIL import Image

    from kinview.data.images import load_image
    from kinview.demo import generate_survey

    demo = root / "demo"
    generate_survey(demo, n=max(8, min(24, n_base)), seed=seed, jobs=1)
    sources = [load_image(p) for p in sorted((demo / "images").glob("*.jpg"))]
    rng = np.random.default_rng(seed)
    out = root / "base"
    out.mkdir()
    paths = []
    for k in range(n_base):
        img = sources[k % len(sources)].astype(np.float32)
        h = img.shape[0]
        crop = int(h * rng.uniform(0.7, 1.0))
        r0, c0 = rng.integers(0, h - crop + 1, 2)
        cut = img[r0:r0 + crop, c0:c0 + crop]
        cut = np.rot90(cut, int(rng.integers(4)))
        if rng.random() < 0.5:
            cut = cut[:, ::-1]
        cut = cut * rng.uniform(0.85, 1.15) + rng.normal(0, 4, cut.shape)
        im = Image.fromarray(np.clip(cut, 0, 255).astype(np.uint8)).resize((side, side), Image.BICUBIC)
        p = out / f"b{k:04d}.jpg"
        im.save(p, quality=90)
        paths.append(p)
    shutil.rmtree(demo)
    return paths


def make_catalogue(root: Path, n: int, base) -> tuple:
    """(catalogue.parquet, images dir) of ``n`` rows; images are hard links to ``base``."""
    import pandas as pd

    d = root / f"n{n}"
    images = d / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(n)
    objid = OBJID0 + np.arange(n, dtype=np.int64)
    for i, oid in enumerate(objid):
        src = base[i % len(base)]
        try:
            os.link(src, images / f"{oid}.jpg")
        except OSError:      # no hard links on this file system: a symbolic link will do
            os.symlink(src, images / f"{oid}.jpg")
    cat = d / "catalogue.parquet"
    pd.DataFrame({"objid": objid, "ra": rng.uniform(0, 360, n),
                  "dec": np.degrees(np.arcsin(rng.uniform(-0.2, 1, n)))}).to_parquet(cat)
    return cat, images


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _import_keras() -> bool:
    import keras  # noqa: F401

    return True


def run_config(name: str, cat: Path, images: Path, out: Path, workers: int, partition_rows: int):
    from kinview.batch.engine import dask_client
    from kinview.batch.predict import predict_catalogue

    res = {"config": name, "load_before": load()}
    t0 = time.perf_counter()
    if workers == 0:
        c0 = cpu_seconds()
        s = predict_catalogue("spin", cat, images, out, workers=0, partition_rows=partition_rows)
        res["startup_seconds"] = 0.0
        cpu = cpu_seconds() - c0
    else:
        with dask_client(None, workers) as client:
            # TensorFlow is imported before any timing in this process (main()); the workers
            # import it before timing too, so both paths are timed on the same work.  What the
            # import costs a worker is reported as part of startup_seconds.
            client.run(_import_keras)
            res["startup_seconds"] = time.perf_counter() - t0
            w0 = client.run(cpu_seconds)
            c0 = cpu_seconds()
            s = predict_catalogue("spin", cat, images, out, scheduler=client, partition_rows=partition_rows)
            cpu_client = cpu_seconds() - c0
            w1 = client.run(cpu_seconds)
            peaks = client.run(peak_rss_mb)
            res["worker_peak_rss_mb"] = sorted(round(v, 1) for v in peaks.values())
            res["client_cpu_seconds"] = cpu_client
            cpu = cpu_client + sum(w1[k] - w0.get(k, 0.0) for k in w1)
    # CPU per image (all processes and threads, model loading included) and the cores the
    # run kept busy: on a shared machine the wall-clock rate also depends on others' load.
    res["cpu_seconds"] = cpu
    res["cpu_ms_per_image"] = 1000 * cpu / max(s["rows_done"], 1)
    res["cores_used"] = cpu / s["run_seconds"] if s.get("run_seconds") else None
    res.update(rows=s["rows_done"], flagged=s["flagged"], seconds=s["run_seconds"],
               images_per_second=s["images_per_second"], total_seconds=time.perf_counter() - t0,
               load_after=load())
    return res


def profile(images: Path, n: int):
    """Per-image milliseconds of read + decode, resample, and the network (batch 256)."""
    from kinview.batch.predict import ModelRef, _one_blas_thread, _predict_fixed, worker_model
    from kinview.data.images import load_image
    from kinview.tasks.registry import get
    from kinview.training.registry import shipped_model_path

    task = get("spin")
    files = sorted(images.iterdir())[:n]
    with _one_blas_thread():                  # as predict_partition does
        t0 = time.perf_counter()
        rgbs = [load_image(p) for p in files]
        t1 = time.perf_counter()
        u8 = np.stack([task.image_input(r) for r in rgbs])
        t2 = time.perf_counter()
    path = shipped_model_path("spin")
    from kinview.batch.predict import _sha256_file

    model = worker_model(ModelRef(str(path), _sha256_file(path), "spin-default", ""), 80)
    X = u8.astype(np.float32) / 255.0
    _predict_fixed(model, X[:256], 256)
    t3 = time.perf_counter()
    _predict_fixed(model, X, 256)
    t4 = time.perf_counter()
    return {"images": len(files), "bytes_per_image": float(np.mean([p.stat().st_size for p in files])),
            "read_decode_ms": 1000 * (t1 - t0) / len(files), "resample_ms": 1000 * (t2 - t1) / len(files),
            "network_ms": 1000 * (t4 - t3) / len(files), "threads": "this process (TensorFlow default)"}


def projection(rate_per_worker: float, efficiency: float, bytes_per_image: float):
    """Hours for 10⁶ and 5 × 10⁶ rows on N machines of C cores (one worker per core)."""
    rows = []
    for machines, cores in ((1, 2), (1, 32), (10, 32), (50, 32)):
        workers = machines * cores
        rate = rate_per_worker * workers * efficiency
        rows.append({"machines": machines, "cores_each": cores, "images_per_second": rate,
                     "hours_1e6": 1e6 / rate / 3600, "hours_5e6": 5e6 / rate / 3600,
                     "read_MB_per_s": rate * bytes_per_image / 1e6,
                     "tasks_per_second_at_10k_rows": rate / 1e4})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--side", type=int, default=128, help="JPEG side in pixels (default 128)")
    ap.add_argument("--base", type=int, default=240, help="distinct JPEGs (default 240)")
    ap.add_argument("--partition-rows", type=int, default=None,
                    help="rows per partition (default: kinview's, rows/64 in [500, 10000])")
    ap.add_argument("--profile", type=int, default=1000, help="images in the per-image profile")
    ap.add_argument("--configs", nargs="+", default=["in-process", "dask-2", "dask-1"])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")
    args = ap.parse_args(argv)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))     # clean up on kill

    import keras  # noqa: F401  (import TensorFlow once before any timing)

    work = args.keep or Path(tempfile.mkdtemp(prefix="kinview-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    report = {"load_start": load(), "cpus": os.cpu_count(), "side": args.side, "base": args.base,
              "partition_rows": args.partition_rows, "runs": []}
    try:
        base = make_base_images(work, args.base, args.side)
        workers_of = {"in-process": 0, "dask-1": 1, "dask-2": 2}
        for n in args.sizes:
            cat, images = make_catalogue(work, n, base)
            if n == args.sizes[0]:
                report["profile"] = profile(images, min(args.profile, n))
                print(f"profile: {json.dumps(report['profile'])}", flush=True)
            for name in args.configs:
                out = work / f"n{n}" / f"{name}.parquet"
                res = run_config(name, cat, images, out, workers_of[name], args.partition_rows)
                res["n"] = n
                report["runs"].append(res)
                print(json.dumps(res), flush=True)
                shutil.rmtree(out)
            if n != args.sizes[-1] and not args.keep:
                shutil.rmtree(work / f"n{n}")
        by = {(r["n"], r["config"]): r for r in report["runs"]}
        summary = {}
        for n in args.sizes:
            ip = by.get((n, "in-process"), {}).get("images_per_second")
            for name in ("dask-1", "dask-2"):
                r = by.get((n, name))
                if r and ip:
                    summary[f"{name}_vs_in_process_{n}"] = r["images_per_second"] / ip
        small, large = min(args.sizes), max(args.sizes)
        for name in ("dask-1", "dask-2"):
            a, b = by.get((small, name)), by.get((large, name))
            if a and b and small != large:
                summary[f"{name}_peak_rss_ratio_{large}_vs_{small}"] = (
                    max(b["worker_peak_rss_mb"]) / max(a["worker_peak_rss_mb"]))
        d2 = by.get((large, "dask-2"))
        if d2:
            per_worker = d2["images_per_second"] / 2
            d1 = by.get((large, "dask-1"))
            eff = min(1.0, d2["images_per_second"] / (2 * d1["images_per_second"])) if d1 else 1.0
            summary["per_worker_images_per_second"] = per_worker
            summary["two_worker_efficiency"] = eff
            report["projection"] = projection(per_worker, 1.0, report["profile"]["bytes_per_image"])
        report["summary"] = summary
        report["load_end"] = load()
        print(json.dumps({"summary": summary, "projection": report.get("projection"),
                          "load_start": report["load_start"], "load_end": report["load_end"]}, indent=1))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
