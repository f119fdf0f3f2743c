"""Shared helpers of the PA benchmarks: demo fields (or synthetic disks) and truth."""
from __future__ import annotations

import os

# One BLAS thread: both methods are timed on one core, like the survey workers run them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from pathlib import Path  # noqa: E402
from typing import List, Optional, Tuple  # noqa: E402

import numpy as np  # noqa: E402


def demo_fields(survey: Optional[str], n: int, seed: int = 0, min_quality: int = 0,
                fields=("stellar", "gas")) -> List[Tuple[str, str, object, float, int]]:
    """``[(plateifu, field, VelocityField, true_pa, quality)]`` for up to ``n`` fields.

    From a demo survey (``truth.csv`` + MAPS files) when ``survey`` is given, else synthetic
    disks (quality 2, random PA, inclination, noise and footprint).
    """
    out = []
    if survey:
        import pandas as pd

        from kinview.data.maps import read_maps
        from kinview.data.survey import Survey

        s = Survey.open(survey)
        truth = pd.read_csv(Path(survey) / "truth.csv").set_index("plateifu")
        cols = {"stellar": ("stellar_pa", "stel_qual"), "gas": ("gas_pa", "halpha_qual")}
        for pifu in s.plateifus():
            if len(out) >= n:
                break
            if pifu not in truth.index or s.maps_path(pifu) is None:
                continue
            maps = read_maps(s.maps_path(pifu))
            for f in fields:
                pa_col, q_col = cols[f]
                q = truth.at[pifu, q_col]
                if maps.field(f) is None or not np.isfinite(q) or q < min_quality:
                    continue
                out.append((pifu, f, maps.field(f), float(truth.at[pifu, pa_col]), int(q)))
        return out[:n]
    from kinview.kinematics.synthetic import disk_field

    rng = np.random.default_rng(seed)
    for i in range(n):
        pa = rng.uniform(0, 360)
        f = disk_field(pa, inc=rng.uniform(25, 75), vmax=rng.uniform(80, 250),
                       noise=rng.uniform(5, 20), radius=float(rng.choice([6, 8.5, 11, 13.5, 16])),
                       seed=i, center=tuple(rng.normal(0, 0.3, 2)))
        out.append((f"synthetic-{i}", "stellar", f, pa, 2))
    return out
