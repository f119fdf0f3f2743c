"""Task ``spin``: λR_e (Emsellem et al. 2007) from the SDSS colour image.

Inputs   80×80×3 colour image in [0, 1]: :func:`kinview.kinematics.inputs.image_input`
         of the galaxy's cutout (central square, cubic resampling).
Target   λR_e, dimensionless in [0, 1]: the catalogue's ``lambda_re`` column (a spin
         value-added catalogue, galaxies table), else computed from the MAPS file
         (:mod:`kinview.kinematics`).
Split    70/15/15 by galaxy.
Predictions  value = λR_e, confidence NULL (a regressor).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from kinview.errors import KinviewError
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.base import Dataset, ModelPlot, Task
from kinview.tasks.registry import register


@register
class Spin(Task):
    name = "spin"
    title = "Spin parameter λR_e from the colour image (80×80×3)"
    short_title = "Spin λR_e"
    kind = "regression"
    workspace = "survey"
    inputs = "80×80×3 SDSS gri colour image in [0, 1] (central square of the cutout)"
    target = "lambda_re: λR_e within the half-light ellipse (dimensionless)"
    label_source = "catalogue lambda_re column, else computed from the MAPS file"
    architectures = ("default", "seed-cnn")
    default_arch = "default"
    recipes_module = "kinview.nets.spin"
    metrics = ("pearson", "spearman", "rmse", "bias", "binned")
    default_epochs = 40
    menu_order = 10
    primary_metric = "pearson"
    image_size = 80
    shipped = True

    def build_dataset(self, workspace_dir, options=None, state: TaskState = NULL_STATE,
                      labelled_only: bool = True) -> Dataset:
        from kinview.learning.datasets import image_arrays, open_survey, vfield_arrays

        survey = open_survey(workspace_dir, state)
        arrays = image_arrays(survey, 80, state)
        gal = survey.galaxies()
        pifus = arrays["plateifu"].tolist()
        lam = gal["lambda_re"].reindex(pifus).to_numpy(dtype=float)
        source = "catalogue"
        missing = ~np.isfinite(lam) & arrays["has_image"]
        if missing.any():
            maps = vfield_arrays(survey, 32, state)
            from_maps = pd.Series(maps["lambda_re_maps"], index=maps["plateifu"]).reindex(pifus).to_numpy(float)
            lam = np.where(np.isfinite(lam), lam, from_maps)
            source = "catalogue+maps" if np.isfinite(gal["lambda_re"]).any() else "maps"
        keep = arrays["has_image"] & (np.isfinite(lam) if labelled_only else True)
        idx = np.flatnonzero(keep)
        if labelled_only and len(idx) == 0:
            raise KinviewError(f"{survey.root}: no galaxy has both an image and a λR_e value "
                               "(catalogue column lambda_re, or MAPS files)")
        ids = [(pifus[i], "galaxy") for i in idx]
        y = np.where(np.isfinite(lam[idx]), lam[idx], np.nan).astype(np.float32)
        import hashlib

        h = hashlib.sha256(source.encode())
        for (p, _), v in zip(ids, y):
            if np.isfinite(v):
                h.update(f"{p}|{float(v):.6g}\n".encode())
        info = {"label_source": source, "n_with_target": int(np.isfinite(y).sum()),
                "target_mean": float(np.nanmean(y)) if np.isfinite(y).any() else None,
                "workspace": str(survey.root)}
        if not labelled_only:
            why = arrays.get("why_image")
            info["skipped"] = [(p, "galaxy", str(why[i]) if why is not None and why[i] else "no image")
                               for i, p in enumerate(pifus) if not keep[i]]
        return Dataset(arrays["images"][idx], y, ids, np.asarray([p for p, _ in ids], dtype=str),
                       h.hexdigest()[:16], info)

    def build_model(self, arch: str, dataset: Dataset, options=None):
        from kinview.nets.spin import build

        return build(arch)

    def augment(self, X, rng: np.random.Generator):
        """Zoom ±25 %, rotation ±45°, flips, shifts ±5 % (bilinear, outside pixels 0)."""
        from kinview.nets.layers import random_affine

        return random_affine(X, rng, max_angle=45.0, zoom_range=0.25, shift_frac=0.05, flips=True)

    def evaluate(self, y_true, y_pred, dataset: Optional[Dataset] = None) -> Dict[str, Any]:
        from kinview.learning.metrics import regression_metrics

        return regression_metrics(y_true, y_pred)

    def to_predictions(self, y_pred, dataset: Dataset) -> List[Tuple[str, str, float, float, Optional[dict]]]:
        p = np.asarray(y_pred, float).reshape(-1)
        return [(pifu, fld, float(v), None, None) for (pifu, fld), v in zip(dataset.ids, p)]

    def describe_prediction(self, field, value, confidence, extra=None) -> str:
        if value is None or not np.isfinite(float(value)):
            return f"{field}: —"
        return f"λR_e {float(value):.3f}"

    def model_plot(self, workspace, record, predictions) -> Optional[ModelPlot]:
        """Predicted against catalogue λR_e (galaxies with a catalogue value)."""
        from kinview.db.connection import connect
        from kinview.db.galaxies import column_by_plateifu

        conn = connect(workspace)
        try:
            cat = column_by_plateifu(conn, "lambda_re")
        finally:
            conn.close()
        ids = [p for p, v in zip(predictions["plateifu"], predictions["value"])
               if v is not None and cat.get(p) is not None and np.isfinite(cat[p])]
        pred = dict(zip(predictions["plateifu"], predictions["value"]))
        x = np.array([cat[p] for p in ids], float)
        y = np.array([pred[p] for p in ids], float)
        r = float(np.corrcoef(x, y)[0, 1]) if len(ids) > 2 and np.std(y) > 0 else float("nan")
        return ModelPlot("scatter", "Spin λR_e", "catalogue λR_e", x, ids, ylabel="predicted λR_e", y=y,
                         x_range=(0.0, 1.0), diagonal=True,
                         note=(f"spin model #{record.id} ({record.arch}): {len(ids)} galaxies"
                               + (f", Pearson r {r:.2f}" if np.isfinite(r) else "")))
