"""Benchmark: index a 10,000-galaxy survey and load its galaxy table.

Builds a survey skeleton in a temporary directory: a drpall-style ``catalogue.fits`` with
10,000 rows (the kinview columns plus 100 extra scalar columns and 16 7-band array columns,
about the width of drpall DR17), and 10,000 MAPS files laid out as in the SDSS SAS tree
(``spectro/analysis/<drpver>/<dapver>/<daptype>/<plate>/<ifu>/``), 10 % of galaxies with a
second DAPTYPE, and one image per galaxy.  The MAPS "files" are hard links to one small
placeholder (ingest never opens them), so the skeleton costs almost no disk.

Prints the wall and CPU time (CPU time is the fair figure on a shared machine) of :meth:`Survey.ingest` (cold and again on an existing index), of
:meth:`Survey.galaxies` (with and without the ``extra`` JSON column) and of ``Survey.open``
+ ``galaxies(extra=False)`` as a GUI start-up does
(budget: GUI start to first galaxy ≤ 3 s on 10,000 galaxies).

Usage::

    python benchmarks/ingest_speed.py [--n 10000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def build_skeleton(root: Path, n: int, seed: int = 0) -> None:
    from astropy.table import Table

    rng = np.random.default_rng(seed)
    sizes = np.array([19, 37, 61, 91, 127])
    plates = 7443 + np.arange(n) // 17
    ifus = np.array([size * 100 + (i % 17) + 1 for size, i in zip(rng.choice(sizes, n), range(n))])
    t = Table()
    t["PLATEIFU"] = [f"{p}-{i}" for p, i in zip(plates, ifus)]
    t["MANGAID"] = [f"1-{k}" for k in range(n)]
    t["PLATE"] = plates
    t["IFUDSGN"] = [str(i) for i in ifus]
    t["OBJRA"] = rng.uniform(0, 360, n)
    t["OBJDEC"] = rng.uniform(-10, 70, n)
    t["IFUDESIGNSIZE"] = ifus // 100
    t["NSA_Z"] = rng.uniform(0.01, 0.15, n)
    t["NSA_ELPETRO_TH50_R"] = rng.uniform(1, 20, n)
    t["NSA_ELPETRO_BA"] = rng.uniform(0.1, 1, n)
    t["NSA_ELPETRO_PHI"] = rng.uniform(0, 180, n)
    t["NSA_SERSIC_N"] = rng.uniform(0.5, 6, n)
    t["NSA_ELPETRO_MASS"] = 10 ** rng.uniform(9, 11.5, n)
    t["NSA_ELPETRO_ABSMAG"] = rng.normal(-20, 1, (n, 7))
    # drpall DR17 has ~150 columns, ~20 of them 7-band NSA arrays
    for k in range(100):
        t[f"EXTRA_{k:03d}"] = rng.normal(size=n)
    for k in range(15):
        t[f"NSA_BAND_{k:02d}"] = rng.normal(size=(n, 7)).astype(np.float32)
    t.write(root / "catalogue.fits")
    placeholder = root / "placeholder.fits"
    placeholder.write_bytes(b"SIMPLE  =                    T" + b" " * 2850)
    (root / "images").mkdir()
    img = root / "images" / "placeholder.jpg"
    img.write_bytes(b"\xff\xd8\xff\xd9")
    daptypes = ["HYB10-MILESHC-MASTARSSP", "VOR10-MILESHC-MASTARSSP"]
    for k, (p, i) in enumerate(zip(plates, ifus)):
        for daptype in daptypes[: 2 if k % 10 == 0 else 1]:
            d = root / "spectro" / "analysis" / "v3_1_1" / "3.1.0" / daptype / str(p) / str(i)
            d.mkdir(parents=True, exist_ok=True)
            os.link(placeholder, d / f"manga-{p}-{i}-MAPS-{daptype}.fits.gz")
        os.link(img, root / "images" / f"{p}-{i}.jpg")
    img.unlink()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=None,
                        help="build the skeleton here and keep it")
    args = parser.parse_args(argv)
    from kinview.data.survey import Survey

    tmp = None
    if args.keep is not None:
        root = args.keep
        root.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="kinview-ingest-")
        root = Path(tmp)
    try:
        t0 = time.perf_counter()
        build_skeleton(root, args.n)
        t_build = time.perf_counter() - t0

        t0, c0 = time.perf_counter(), time.process_time()
        survey = Survey.open(root, ingest=False)
        report = survey.ingest()
        t_ingest, c_ingest = time.perf_counter() - t0, time.process_time() - c0

        t0 = time.perf_counter()
        survey.ingest()
        t_reingest = time.perf_counter() - t0

        t0 = time.perf_counter()
        frame = survey.galaxies()
        t_galaxies = time.perf_counter() - t0

        t0 = time.perf_counter()
        survey.galaxies(extra=False)
        t_galaxies_noextra = time.perf_counter() - t0

        t0, c0 = time.perf_counter(), time.process_time()
        fresh = Survey.open(root)
        first = fresh.plateifus()[0]
        fresh.galaxies(extra=False)
        fresh.maps_path(first)
        t_startup, c_startup = time.perf_counter() - t0, time.process_time() - c0

        result = {
            "n": args.n, "build_s": round(t_build, 2), "ingest_s": round(t_ingest, 3), "ingest_cpu_s": round(c_ingest, 3),
            "reingest_s": round(t_reingest, 3), "galaxies_s": round(t_galaxies, 3),
            "galaxies_no_extra_s": round(t_galaxies_noextra, 3),
            "open_and_load_s": round(t_startup, 3),
            "open_and_load_cpu_s": round(c_startup, 3), "rows": len(frame),
            "with_maps": report["with_maps"], "with_images": report["with_images"],
            "maps_files": report["maps_files"],
            "db_mb": round(survey.db_path.stat().st_size / 1e6, 2),
        }
        print(json.dumps(result, indent=1))
        assert len(frame) == args.n and report["with_maps"] == args.n
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
