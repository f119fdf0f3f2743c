"""Write a synthetic MaNGA-like survey to disk (SPEC §5).

Layout::

    OUT/HYB10-MILESHC-MASTARSSP/<plate>/<ifu>/manga-<plate>-<ifu>-MAPS-HYB10-MILESHC-MASTARSSP.fits.gz
    OUT/images/<plate>-<ifu>.jpg          256×256 px, 0.25″/px, North up, East left
    OUT/catalogue.fits                    drpall-like columns + lambda_re
    OUT/truth.csv                         generator truth (evaluation only)

Galaxies are generated independently (seed ``(seed, index)``), in a process pool when
``jobs > 1``; the result does not depend on ``jobs``.  The catalogue and truth table are
written last (atomically), so an interrupted run never looks like a complete survey.
"""
from __future__ import annotations

import csv
import io
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import List, Optional

import numpy as np

from kinview.conventions import delta_pa
from kinview.data.images import save_jpeg
from kinview.data.maps_writer import write_maps
from kinview.demo.imaging import apparent_r_mag, render
from kinview.demo.kinematics_model import half_light_radius, make_maps
from kinview.demo.population import assign_plates, draw_galaxy
from kinview.errors import Cancelled
from kinview.progress import NULL_STATE, TaskState

DAPTYPE = "HYB10-MILESHC-MASTARSSP"

#: truth.csv columns, in order.
TRUTH_COLUMNS = ("plateifu", "stellar_pa", "gas_pa", "stel_qual", "stel_feature",
                 "halpha_qual", "halpha_feature", "halpha_notes", "lambda_re", "z",
                 "inclination", "morphology", "gas_rich", "pa_offset", "ba", "phi",
                 "re_arcsec", "log_mass", "bulge_frac", "sersic_n", "ifudesignsize",
                 "vc", "k_rot", "sigma0", "slow_rotator", "stel_scenario", "gas_scenario",
                 "snr_re", "gas_snr_re", "mag_r", "n_stellar_valid", "n_gas_valid", "seed")

#: catalogue.fits columns (drpall names) in order.
CATALOGUE_COLUMNS = ("plateifu", "mangaid", "plate", "ifudsgn", "objra", "objdec",
                     "ifudesignsize", "nsa_z", "nsa_elpetro_th50_r", "nsa_elpetro_ba",
                     "nsa_elpetro_phi", "nsa_sersic_n", "nsa_elpetro_mass", "lambda_re")


def maps_relpath(plate: int, ifu: int) -> str:
    return f"{DAPTYPE}/{plate}/{ifu}/manga-{plate}-{ifu}-MAPS-{DAPTYPE}.fits.gz"


def _global_sersic_n(g, rng) -> float:
    """A single-Sérsic index as the NSA would fit it: grows with bulge fraction, scattered."""
    n = 1.0 + 4.2 * g.bulge_frac ** 1.3 + rng.normal(0, 0.35)
    return float(np.clip(n, 0.5, 6.0))


def make_galaxy(out_dir: str, g) -> dict:
    """Generate and write one galaxy (MAPS + image); return its catalogue and truth rows."""
    rng_maps = np.random.default_rng([g.seed, g.index, 1])
    rng_img = np.random.default_rng([g.seed, g.index, 2])
    rng_cat = np.random.default_rng([g.seed, g.index, 3])
    g.re_arcsec = half_light_radius(g)
    maps = make_maps(g, rng_maps)
    out = Path(out_dir)
    kw = {k: v for k, v in maps.items()
          if k not in ("lambda_re", "stars", "neighbour", "extras", "x", "y", "stellar_vel")}
    write_maps(out / maps_relpath(g.plate, g.ifudsgn), g.plateifu, DAPTYPE,
               maps["x"], maps["y"], maps["stellar_vel"], ell_ba=g.ba, ell_pa=g.phi,
               reff=g.re_arcsec, objra=g.objra, objdec=g.objdec, z=g.z, mangaid=g.mangaid,
               ifudesignsize=g.ifudesignsize, release="DR17", gzip=True, **kw)
    img = render(g, rng_img, maps["neighbour"], maps["stars"])
    save_jpeg(out / "images" / f"{g.plateifu}.jpg", img)

    lam = float(maps["lambda_re"])
    sersic_n = _global_sersic_n(g, rng_cat)
    cat = dict(plateifu=g.plateifu, mangaid=g.mangaid, plate=g.plate, ifudsgn=str(g.ifudsgn),
               objra=g.objra, objdec=g.objdec, ifudesignsize=g.ifudesignsize, nsa_z=g.z,
               nsa_elpetro_th50_r=g.re_arcsec, nsa_elpetro_ba=g.ba,
               nsa_elpetro_phi=float(np.mod(g.phi, 180.0)), nsa_sersic_n=sersic_n,
               nsa_elpetro_mass=float(10 ** g.log_mass), lambda_re=lam)
    truth = dict(plateifu=g.plateifu, stellar_pa=round(g.stellar_pa, 3),
                 gas_pa=round(g.gas_pa, 3), stel_qual=g.stel_qual,
                 stel_feature=g.stel_feature, halpha_qual=g.halpha_qual,
                 halpha_feature=g.halpha_feature, halpha_notes=g.halpha_notes,
                 lambda_re=round(lam, 5), z=round(g.z, 6),
                 inclination=round(g.inclination, 3), morphology=g.morphology,
                 gas_rich=int(g.gas_rich),
                 pa_offset=round(float(delta_pa(g.stellar_pa, g.gas_pa)), 3),
                 ba=round(g.ba, 4), phi=round(g.phi, 3), re_arcsec=round(g.re_arcsec, 4),
                 log_mass=round(g.log_mass, 4), bulge_frac=round(g.bulge_frac, 4),
                 sersic_n=round(sersic_n, 4), ifudesignsize=g.ifudesignsize,
                 vc=round(g.vc, 2), k_rot=round(g.k_rot, 4), sigma0=round(g.sigma0, 2),
                 slow_rotator=int(g.slow_rotator), stel_scenario=g.stel_scenario,
                 gas_scenario=g.gas_scenario, snr_re=round(g.snr_scale, 3),
                 gas_snr_re=round(g.gas_snr_scale, 3), mag_r=round(apparent_r_mag(g), 3),
                 n_stellar_valid=int((maps["stellar_vel_mask"] == 0).sum()),
                 n_gas_valid=int((maps["gas_vel_mask"] == 0).sum()), seed=g.seed)
    return dict(index=g.index, catalogue=cat, truth=truth)


def _work(args):
    out_dir, g = args
    return make_galaxy(out_dir, g)


def _write_truth(path: Path, rows: List[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(TRUTH_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r[k] for k in TRUTH_COLUMNS})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(buf.getvalue())
    os.replace(tmp, path)


def _write_catalogue(path: Path, rows: List[dict], seed: int) -> None:
    from astropy.table import Table

    t = Table(rows=[[r[c] for c in CATALOGUE_COLUMNS] for r in rows],
              names=list(CATALOGUE_COLUMNS))
    t.meta["ORIGIN"] = "kinview demo"
    t.meta["SEED"] = int(seed)
    t.meta["COMMENT"] = ["Synthetic MaNGA-like survey written by kinview demo; "
                         "nsa_elpetro_phi in deg E of N, th50 in arcsec"]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    t.write(tmp, format="fits", overwrite=True)
    os.replace(tmp, path)


def _previous_plateifus(out: Path) -> set:
    """Plate-IFUs of an earlier demo written to the same folder (from its truth.csv)."""
    path = out / "truth.csv"
    if not path.is_file():
        return set()
    try:
        with open(path, newline="") as fh:
            return {row["plateifu"] for row in csv.DictReader(fh) if row.get("plateifu")}
    except (OSError, KeyError, csv.Error, UnicodeDecodeError):
        return set()


def _remove_stale(out: Path, plateifus: set) -> None:
    """Delete the MAPS files and images of an earlier demo's galaxies that are not in this one
    (only files this generator writes, and only for galaxies listed in the old truth.csv)."""
    for pifu in plateifus:
        try:
            plate, ifu = (int(v) for v in pifu.split("-"))
        except ValueError:
            continue
        for p in (out / maps_relpath(plate, ifu), out / "images" / f"{pifu}.jpg"):
            try:
                p.unlink()
            except OSError:
                pass


def generate_survey(out_dir, n: int = 400, seed: int = 0, jobs: Optional[int] = None,
                    state: TaskState = NULL_STATE) -> dict:
    """Write a synthetic survey of ``n`` galaxies to ``out_dir`` (SPEC §5).

    Parameters
    ----------
    out_dir : str or Path
        Created if needed; existing demo files are overwritten.
    n : int
        Number of galaxies.
    seed : int
        Survey seed; galaxy ``i`` uses ``default_rng([seed, i, ...])`` so the result is the
        same for any ``jobs``.
    jobs : int, optional
        Worker processes (default ``os.cpu_count()``; 1 = in this process).
    state : TaskState
        Progress (one step per galaxy) and cancellation.

    Returns
    -------
    dict
        ``n``, ``seconds``, ``seconds_per_galaxy``, ``jobs``, ``out_dir`` and class counts
        (``stel_qual``, ``halpha_qual``: {class: count}).
    """
    t0 = time.perf_counter()
    n = int(n)
    if n < 1:
        raise ValueError("n must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)
    jobs = int(jobs or os.cpu_count() or 1)
    jobs = max(1, min(jobs, n))
    galaxies = [draw_galaxy(i, seed) for i in range(n)]
    assign_plates(galaxies, seed)
    previous = _previous_plateifus(out)
    state.set_total(n)
    state.set_status(f"writing {n} galaxies")
    results = {}
    if jobs == 1:
        for g in galaxies:
            state.check_cancelled()
            r = make_galaxy(str(out), g)
            results[r["index"]] = r
            state.advance()
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")   # safe from threaded parents (the GUI)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [pool.submit(_work, (str(out), g)) for g in galaxies]
            try:
                for fut in as_completed(futures):
                    state.check_cancelled()
                    r = fut.result()
                    results[r["index"]] = r
                    state.advance()
            except (Cancelled, KeyboardInterrupt):
                for f in futures:
                    f.cancel()
                raise
    ordered = [results[i] for i in range(n)]
    _write_catalogue(out / "catalogue.fits", [r["catalogue"] for r in ordered], seed)
    _write_truth(out / "truth.csv", [r["truth"] for r in ordered])
    _remove_stale(out, previous - {g.plateifu for g in galaxies})
    seconds = time.perf_counter() - t0
    counts = {}
    for key in ("stel_qual", "halpha_qual"):
        vals = [r["truth"][key] for r in ordered]
        counts[key] = {q: vals.count(q) for q in (0, 1, 2)}
    return dict(n=n, seconds=seconds, seconds_per_galaxy=seconds / n, jobs=jobs,
                out_dir=str(out), **counts)
