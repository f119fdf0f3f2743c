"""Test and benchmark helper: import a demo survey's ``truth.csv`` as one expert's labels.

This is the only code in kinview that reads ``truth.csv``, and training never calls it: tests,
benchmarks and :mod:`kinview.training.ship_defaults` call it to stand in for an expert who
labelled every field of a synthetic demo survey perfectly.  The labels go through the label
store like any expert's (source ``import:truth.csv``), so they can be undone or exported.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from kinview.data.survey import Survey
from kinview.errors import KinviewError
from kinview.labels.store import LabelStore

#: truth.csv column -> (field, kind)
COLUMNS = {
    "stel_qual": ("stellar", "quality"),
    "stel_feature": ("stellar", "feature"),
    "halpha_qual": ("gas", "quality"),
    "halpha_feature": ("gas", "feature"),
    "halpha_notes": ("gas", "gas_note"),
}


def import_truth_as_expert(survey_dir: Union[str, Path], expert: str = "truth",
                           kinds=("quality",)) -> int:
    """Import ``SURVEY/truth.csv`` classes as expert ``expert``'s labels; return how many.

    Parameters
    ----------
    survey_dir : path-like
        A demo survey (``kinview demo --out DIR``).
    expert : str
        Name the labels are filed under (train with ``labels="expert:truth"``).
    kinds : iterable of str
        Which label kinds to import (``quality``, ``feature``, ``gas_note``).

    Missing values (−99 or empty) are skipped.  All labels are written in one transaction.
    """
    survey_dir = Path(survey_dir)
    path = survey_dir / "truth.csv"
    if not path.exists():
        raise KinviewError(f"{path}: no truth.csv (only demo surveys have one)")
    truth = pd.read_csv(path, dtype={"plateifu": str})
    survey = Survey.open(survey_dir, ingest=True)
    known = set(survey.plateifus())
    survey.close()
    events = []
    for col, (field, kind) in COLUMNS.items():
        if kind not in kinds or col not in truth.columns:
            continue
        for pifu, value in zip(truth["plateifu"], pd.to_numeric(truth[col], errors="coerce")):
            if pifu in known and np.isfinite(value) and value >= 0:
                events.append({"plateifu": pifu, "field": field, "kind": kind, "value": int(value),
                               "expert": expert})
    store = LabelStore(survey_dir, expert=expert)
    try:
        store.add_many(events, source="import:truth.csv")
    finally:
        store.close()
    return len(events)
