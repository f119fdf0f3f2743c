#!/usr/bin/env python
"""Should the PA fit weigh a Voronoi bin once, or once per spaxel?  A measurement.

In a Voronoi-binned (VOR10, HYB10 stellar) MAPS file every spaxel of a bin carries the bin's
velocity, so a fit over spaxels weighs a bin of 10 spaxels 10 times.  On the real MPL-8
development fields (``../shared/realdata/mpl8_stellar_dev``, stel_qual >= 1) this script fits
each cleaned field three ways and compares them:

``spaxel``
    kinview's fast method on every kept spaxel (what ``kinview pa`` does);
``bin``
    the fast method on one point per bin (the mean position of the bin's kept spaxels; the
    dev set's maps carry each bin's velocity on all its spaxels, so equal velocities are a
    bin);
``pafit-bin``
    ``pafit.fit_kinematic_pa`` on the same bin centres (the reference algorithm, as the
    MaNGA papers run it on binned maps).

and reports, per pair and against the published MPL-8 PAs (``reference_pa.csv``), the p50 /
p95 of the PA difference and the number of receding-side flips (> 90°).

Usage::

    python benchmarks/pa_binned.py [--data DIR] [--n 200] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "mpl8_stellar_dev"


def bin_points(cleaned):
    """One point per bin of the kept spaxels: mean x, mean y, the bin's velocity.

    Bins come from ``BINID``; when it names every spaxel apart (the dev set's BINID was
    rebuilt per spaxel), spaxels of exactly equal velocity form a bin, which recovers the
    DAP's Voronoi bins of these binned maps."""
    f = cleaned.field
    kept = cleaned.kept
    x, y, v = f.x[kept], f.y[kept], f.vel[kept] - cleaned.vsyst
    binid = f.binid[kept] if f.binid is not None else np.arange(kept.sum())
    if len(np.unique(binid)) == binid.size:
        binid = np.unique(f.vel[kept], return_inverse=True)[1]
    order = np.argsort(binid, kind="stable")
    ids, start, counts = np.unique(binid[order], return_index=True, return_counts=True)
    sums = lambda a: np.add.reduceat(a[order], start)  # noqa: E731
    return sums(x) / counts, sums(y) / counts, sums(v) / counts, counts


def stats(d):
    d = np.asarray([a for a in d if np.isfinite(a)])
    if not d.size:
        return {"n": 0}
    return {"n": int(d.size), "p50": round(float(np.percentile(d, 50)), 2),
            "p95": round(float(np.percentile(d, 95)), 2),
            "flips": int((d > 90).sum())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not (args.data / "reference_pa.csv").is_file():
        print(f"{args.data}: no reference_pa.csv (the real dev set is not here)", file=sys.stderr)
        return 1
    import pandas as pd

    from kinview.conventions import delta_pa
    from kinview.data.maps import read_maps
    from kinview.kinematics import clean_field, fit_pa

    ref = pd.read_csv(args.data / "reference_pa.csv").set_index("plateifu")
    ref = ref[ref["stel_qual"] >= 1]
    rows = []
    t0 = time.perf_counter()
    for pifu in ref.index[: args.n]:
        path = next((args.data / "maps").glob(f"manga-{pifu}-MAPS-*.fits*"), None)
        if path is None:
            continue
        field = read_maps(path).stellar
        cleaned = clean_field(field)
        spx = fit_pa(cleaned)
        xb, yb, vb, counts = bin_points(cleaned)
        binned = fit_pa((xb, yb, vb + cleaned.vsyst))
        pf = fit_pa((xb, yb, vb + cleaned.vsyst), method="pafit")
        r = float(ref.at[pifu, "stellar_pa_mpl8"])
        d = lambda a, b: float(delta_pa(a, b)) if np.isfinite(a) and np.isfinite(b) else np.nan  # noqa: E731
        rows.append({"plateifu": pifu, "q": int(ref.at[pifu, "stel_qual"]),
                     "n_spaxels": int(cleaned.n_kept), "n_bins": int(len(counts)),
                     "max_bin": int(counts.max()) if len(counts) else 0,
                     "spaxel": spx.pa, "bin": binned.pa, "pafit_bin": pf.pa, "ref": r,
                     "spaxel_vs_pafit_bin": d(spx.pa, pf.pa), "bin_vs_pafit_bin": d(binned.pa, pf.pa),
                     "spaxel_vs_ref": d(spx.pa, r), "bin_vs_ref": d(binned.pa, r),
                     "pafit_bin_vs_ref": d(pf.pa, r)})
    df = pd.DataFrame(rows)
    out = {"fields": len(df), "seconds": round(time.perf_counter() - t0, 1),
           "median_spaxels": float(df["n_spaxels"].median()),
           "median_bins": float(df["n_bins"].median()),
           "fields_with_multi_spaxel_bins": int((df["max_bin"] > 1).sum())}
    for col in ("spaxel_vs_pafit_bin", "bin_vs_pafit_bin", "spaxel_vs_ref", "bin_vs_ref",
                "pafit_bin_vs_ref"):
        out[col] = stats(df[col])
    for q in (2, 1):
        sub = df[df["q"] == q]
        out[f"q{q}"] = {c: stats(sub[c]) for c in ("spaxel_vs_ref", "bin_vs_ref", "pafit_bin_vs_ref")}
    print(json.dumps(out, indent=2) if args.json else
          "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
