"""Regression against published values: the MPL-7 catalogue's stellar PAs on real MaNGA fields.

The development material beside the project (``../shared``) holds eleven real MPL-8 stellar
velocity fields as kinemetry input text files and the public MPL-7 PA catalogue (Duckworth et
al. 2020).  Nothing of it is copied into the project; this test reads it where it exists (as
it does in CI, which checks out the project with ``shared/`` beside it).

The text files list spaxels in array-index order: XBIN runs along the MAPS rows (North) and
YBIN along the columns (West, since East is left), in 0.5″ spaxels.  So x_east = −YBIN·0.5″
and y_north = XBIN·0.5″.  With that, the fast fit must reproduce the catalogue's receding-side
PA, North through East.

Tolerances (stated, as for photutils' IRAF comparisons): median |ΔPA| ≤ 2°, every field
within 20° (the catalogue PAs were vetted by eye and rounded to 0.5°; one field has a warp),
and the receding side right on all of them (|ΔPA| < 90°).
"""
from pathlib import Path

import numpy as np
import pytest

from kinview.conventions import delta_pa
from kinview.kinematics import fit_pa

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIELDS = SHARED / "reference" / "real_mpl8_stellar_fields"
CATALOGUE = SHARED / "catalogues" / "mpl7-pa-classifications-v0_1-drpall.csv"

pytestmark = pytest.mark.skipif(not (FIELDS.is_dir() and CATALOGUE.is_file()),
                                reason="development material ../shared not present")


def _read_field(path):
    data = np.loadtxt(path)
    xbin, ybin, vel, err = data[:, 1], data[:, 2], data[:, 3], data[:, 4]
    ok = np.isfinite(err) & (err > 0) & (vel != 0)
    return -ybin[ok] * 0.5, xbin[ok] * 0.5, vel[ok]


def test_fast_pa_reproduces_mpl7_catalogue_on_real_fields():
    import pandas as pd

    catalogue = pd.read_csv(CATALOGUE).set_index("plateifu")
    diffs = []
    for path in sorted(FIELDS.glob("kinemetry_input_*.txt")):
        plateifu = path.stem.split("_")[-1]
        if plateifu not in catalogue.index or not np.isfinite(catalogue.loc[plateifu, "stellar_pa"]):
            continue
        fit = fit_pa(_read_field(path), method="fast")
        assert fit.ok, f"{plateifu}: {fit.reason}"
        diffs.append(float(delta_pa(fit.pa, catalogue.loc[plateifu, "stellar_pa"])))
    assert len(diffs) >= 8
    diffs = np.array(diffs)
    assert np.median(diffs) <= 2.0, diffs
    assert diffs.max() <= 20.0, diffs
    assert (diffs < 90).all(), "receding side wrong on a real field"
