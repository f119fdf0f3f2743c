"""Task ``photoz``: photometric redshift z from a 128×128×3 colour image.

Seed: "Inferring Photometric Redshifts from Multichannel Images" (a VGG-like CNN on 128×128
SDSS colour cutouts of 10,000 spectroscopic galaxies; R² = 0.94 on 8,000 images after 50
epochs, 4 h 10 min on a CPU).

Workspace  a survey directory: ``images/<id>.jpg`` and a catalogue with the spectroscopic
           redshift — ``nsa_z`` (MaNGA drpall / the demo survey) or ``z`` (an SDSS SpecObj
           query from ``kinview sdss query``).  Surveys whose catalogue has a ``plateifu``
           column are read through :class:`kinview.data.survey.Survey` (inputs cached);
           a catalogue without it is read directly, the image id taken from its first column
           among ``objid``, ``specobjid``, ``id``, ``name``.
Inputs     :func:`kinview.kinematics.inputs.image_input` (rgb, 128): float32 (128, 128, 3) in
           [0, 1], North up, East left.
Target     z (dimensionless).
Split      70/15/15 by galaxy.
Augment    random flips and quarter-turns (exact; redshift does not depend on orientation).
Metrics    with Δz = z_pred − z_true:

           - ``r2``: 1 − Σ(Δz)² / Σ(z_true − mean z_true)²
           - ``rmse``: sqrt(mean Δz²)
           - ``bias``: mean of Δz / (1 + z_true)
           - ``sigma_nmad``: 1.4826 × median(|Δz/(1+z) − median(Δz/(1+z))|)
           - ``outlier_fraction``: fraction with |Δz| / (1 + z_true) > 0.15
Predictions  value = z, confidence NULL (a regressor).

GUI helper: :func:`predicted_vs_true` (true and predicted z of the active model's test split).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from kinview.db import models as db_models
from kinview.errors import KinviewError, SurveyError
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.base import Dataset, ModelPlot, Task, active_model_info
from kinview.tasks.registry import register

SIZE = 128
OUTLIER_THRESHOLD = 0.15
NMAD_FACTOR = 1.4826
ID_COLUMNS = ("objid", "specobjid", "id", "name")
Z_COLUMNS = ("nsa_z", "z")


def photoz_metrics(z_true, z_pred) -> Dict[str, Any]:
    """Photo-z quality metrics (non-finite pairs ignored).

    Returns
    -------
    dict: ``n``, ``r2``, ``rmse``, ``bias`` (mean Δz/(1+z)), ``sigma_nmad``,
    ``outlier_fraction`` (|Δz|/(1+z) > 0.15), ``mean_abs_dz``.
    """
    t = np.asarray(z_true, float).reshape(-1)
    p = np.asarray(z_pred, float).reshape(-1)
    ok = np.isfinite(t) & np.isfinite(p)
    t, p = t[ok], p[ok]
    out: Dict[str, Any] = {"n": int(len(t))}
    if len(t) == 0:
        return out
    dz = p - t
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    out["r2"] = float(1 - np.sum(dz ** 2) / ss_tot) if ss_tot > 0 else float("nan")
    out["rmse"] = float(np.sqrt(np.mean(dz ** 2)))
    rel = dz / (1 + t)
    out["bias"] = float(np.mean(rel))
    out["sigma_nmad"] = float(NMAD_FACTOR * np.median(np.abs(rel - np.median(rel))))
    out["outlier_fraction"] = float(np.mean(np.abs(rel) > OUTLIER_THRESHOLD))
    out["mean_abs_dz"] = float(np.mean(np.abs(dz)))
    return out


# ----------------------------------------------------------------------------- catalogue access
def _plain_catalogue(root: Path):
    """(DataFrame with ``id``, ``z``; id column name) of a catalogue without ``plateifu``."""
    import pandas as pd

    from kinview.data.catalogue import find_catalogue

    path = find_catalogue(root)
    if path is None:
        raise SurveyError(f"{root}: no catalogue (catalogue.fits/.csv/.ecsv/.parquet or drpall-*.fits)")
    name = path.name.lower()
    try:
        if name.endswith(".csv"):
            df = pd.read_csv(path, low_memory=False)
        elif name.endswith(".parquet"):
            df = pd.read_parquet(path)
        else:
            from astropy.table import Table

            tab = Table.read(path, format="ascii.ecsv" if name.endswith(".ecsv") else None)
            df = pd.DataFrame({c: np.asarray(tab[c]) for c in tab.colnames if tab[c].ndim == 1})
    except Exception as exc:  # noqa: BLE001
        raise SurveyError(f"{path}: cannot read catalogue ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    idcol = next((c for c in ID_COLUMNS if c in df.columns), None)
    zcol = next((c for c in Z_COLUMNS if c in df.columns), None)
    if idcol is None or zcol is None:
        raise SurveyError(f"{path}: a photoz catalogue needs an id column ({', '.join(('plateifu',) + ID_COLUMNS)}) "
                          f"and a redshift column ({', '.join(Z_COLUMNS)})")
    ids = df[idcol].map(lambda v: str(int(v)) if isinstance(v, (int, np.integer)) or
                        (isinstance(v, float) and v.is_integer()) else str(v).strip())
    z = pd.to_numeric(df[zcol], errors="coerce").to_numpy(float)
    z = np.where(z <= -0.5, np.nan, z)            # drpall/SDSS "missing" sentinels
    return pd.DataFrame({"id": ids.to_numpy(str), "z": z}).drop_duplicates("id"), idcol


def _has_plateifu(root: Path) -> bool:
    from kinview.data.catalogue import find_catalogue, read_catalogue

    path = find_catalogue(root)
    if path is None:
        return True       # let Survey explain what is missing
    try:
        read_catalogue(path)
        return True
    except SurveyError as exc:
        if "plateifu" in str(exc):
            return False
        raise


def _image_file(root: Path, sid: str) -> Optional[Path]:
    for suffix in (".jpg", ".jpeg", ".png"):
        p = root / "images" / f"{sid}{suffix}"
        if p.is_file():
            return p
    return None


def redshift_table(workspace: Union[str, Path]):
    """Catalogue redshifts of a survey: DataFrame with ``id`` and ``z`` (NaN when unknown)."""
    import pandas as pd

    root = Path(workspace).expanduser().resolve()
    if _has_plateifu(root):
        from kinview.learning.datasets import open_survey

        gal = open_survey(root).galaxies()
        return pd.DataFrame({"id": gal.index.to_numpy(str), "z": gal["z"].to_numpy(float)})
    return _plain_catalogue(root)[0]


def _load_images(root: Path, ids: List[str], state: TaskState) -> Tuple[np.ndarray, np.ndarray]:
    """(float32 (n, 128, 128, 3), has_image bool (n,)) for a catalogue without plate-ifus."""
    from kinview.data.images import load_image
    from kinview.kinematics.inputs import image_input

    out = np.zeros((len(ids), SIZE, SIZE, 3), np.float32)
    has = np.zeros(len(ids), bool)
    state.set_status(f"reading {len(ids)} images")
    state.set_total(len(ids))
    for i, sid in enumerate(ids):
        state.check_cancelled()
        path = _image_file(root, sid)
        if path is not None:
            try:
                out[i] = image_input(load_image(path), SIZE)
                has[i] = True
            except (KinviewError, OSError, ValueError):
                pass
        state.set_progress(i + 1, len(ids))
    return out, has


@register
class PhotoZ(Task):
    name = "photoz"
    title = "Photometric redshift from the colour image (128×128×3)"
    short_title = "Photo-z"
    kind = "regression"
    workspace = "survey"
    inputs = "128×128×3 SDSS gri colour image in [0, 1] (central square of the cutout)"
    target = "z: spectroscopic redshift (catalogue nsa_z, or z for an SDSS query)"
    label_source = "catalogue nsa_z (MaNGA, demo) or z (SDSS SpecObj query) column"
    architectures = ("default", "seed-vgg")
    default_arch = "default"
    recipes_module = "kinview.nets.photoz"
    metrics = ("r2", "rmse", "sigma_nmad", "outlier_fraction", "bias")
    default_epochs = 40
    menu_order = 20
    primary_metric = "r2"
    image_size = SIZE

    def build_dataset(self, workspace_dir, options=None, state: TaskState = NULL_STATE,
                      labelled_only: bool = True) -> Dataset:
        root = Path(workspace_dir).expanduser().resolve()
        if _has_plateifu(root):
            from kinview.learning.datasets import image_arrays, open_survey

            survey = open_survey(root, state)
            arrays = image_arrays(survey, SIZE, state)
            gal = survey.galaxies()
            ids_all = arrays["plateifu"].tolist()
            z = gal["z"].reindex(ids_all).to_numpy(dtype=float)
            images, has = arrays["images"], arrays["has_image"]
            source = "catalogue nsa_z"
        else:
            cat, idcol = _plain_catalogue(root)
            ids_all = cat["id"].tolist()
            z = cat["z"].to_numpy(float)
            images, has = _load_images(root, ids_all, state)
            source = "catalogue z"
        keep = has & (np.isfinite(z) if labelled_only else True)
        idx = np.flatnonzero(keep)
        if labelled_only and len(idx) == 0:
            raise KinviewError(f"{root}: no galaxy has both an image (images/<id>.jpg) and a redshift")
        ids = [(ids_all[i], "galaxy") for i in idx]
        y = z[idx].astype(np.float32)
        h = hashlib.sha256(source.encode())
        for (p, _), v in zip(ids, y):
            if np.isfinite(v):
                h.update(f"{p}|{float(v):.6g}\n".encode())
        fin = y[np.isfinite(y)]
        info = {"label_source": source, "n_with_target": int(len(fin)),
                "z_mean": float(fin.mean()) if len(fin) else None,
                "z_std": float(fin.std()) if len(fin) else None, "workspace": str(root)}
        return Dataset(images[idx], y, ids, np.asarray([p for p, _ in ids], dtype=str),
                       h.hexdigest()[:16], info)

    def build_model(self, arch: str, dataset: Dataset, options=None):
        from kinview.nets.photoz import build

        y = np.asarray(dataset.y, float)
        y = y[np.isfinite(y)]
        z_mean = float(y.mean()) if len(y) else 0.1
        z_std = float(y.std()) if len(y) > 1 and y.std() > 0 else 0.05
        return build(arch, size=int(dataset.X.shape[1]), z_mean=z_mean, z_std=z_std)

    def augment(self, X, rng: np.random.Generator):
        """Random flips and quarter-turns per image (exact resampling)."""
        from kinview.nets.layers import random_dihedral

        return random_dihedral(X, rng)

    def evaluate(self, y_true, y_pred, dataset: Optional[Dataset] = None) -> Dict[str, Any]:
        return photoz_metrics(y_true, y_pred)

    def to_predictions(self, y_pred, dataset: Dataset) -> List[Tuple[str, str, float, float, Optional[dict]]]:
        p = np.asarray(y_pred, float).reshape(-1)
        return [(sid, fld, float(v), None, None) for (sid, fld), v in zip(dataset.ids, p)]

    def describe_prediction(self, field, value, confidence, extra=None) -> str:
        if value is None or not np.isfinite(float(value)):
            return f"{field}: —"
        return f"z {float(value):.4f}"

    def model_plot(self, workspace, record, predictions) -> Optional[ModelPlot]:
        """Predicted against spectroscopic z of the held-out test split (every galaxy when
        the model has no test split here); None for a catalogue without redshifts."""
        try:
            pz = predicted_vs_true(workspace, "test")
            if pz is not None and len(pz["ids"]) == 0:
                pz = predicted_vs_true(workspace, "all")
        except (KinviewError, KeyError, ValueError):
            return None
        if pz is None:
            return None
        m = pz.get("metrics") or {}
        figures = [f"{k} {m[k]:.3f}" for k in ("r2", "sigma_nmad", "outlier_fraction")
                   if isinstance(m.get(k), float) and np.isfinite(m[k])]
        hi = (float(max(np.nanmax(pz["z_true"]), np.nanmax(pz["z_pred"]))) * 1.05) if len(pz["ids"]) else None
        return ModelPlot("scatter", "Photo-z", "spectroscopic z", pz["z_true"], pz["ids"], ylabel="predicted z",
                         y=pz["z_pred"], x_range=None if hi is None else (0.0, hi), diagonal=True,
                         note=(f"photoz model #{pz['model_id']} ({pz['arch']}), {pz['split']} split: "
                               f"{len(pz['ids'])} galaxies" + (" · " + " · ".join(figures) if figures else "")))


def predicted_vs_true(workspace: Union[str, Path], split: str = "test") -> Optional[Dict[str, Any]]:
    """True vs predicted redshift of the active photoz model, for the GUI's scatter plot.

    Parameters
    ----------
    split : ``"test"`` (default: the model's held-out galaxies), ``"all"``, or any split name
        the trainer records (``train``, ``val``, ``test``, ``unlabelled``).

    Returns
    -------
    None without an active photoz model; else a dict with ``ids`` (list), ``z_true`` and
    ``z_pred`` (float arrays, galaxies with a catalogue redshift only), ``metrics``
    (:func:`photoz_metrics` of these points), ``model_id``, ``arch``, ``split``.
    """
    from kinview.db.connection import connect

    root = Path(workspace).expanduser().resolve()
    rec = active_model_info(root, PhotoZ.name)
    if rec is None:
        return None
    conn = connect(root)
    try:
        rows = db_models.prediction_rows(conn, rec["id"])
    finally:
        conn.close()
    pred = {}
    for r in rows:
        extra = json.loads(r["extra"] or "{}")
        if split == "all" or extra.get("split") == split:
            pred[r["plateifu"]] = r["value"]
    cat = redshift_table(root)
    ztrue = dict(zip(cat["id"], cat["z"]))
    ids = [i for i in pred if i in ztrue and ztrue[i] is not None and np.isfinite(ztrue[i])
           and pred[i] is not None]
    zt = np.array([ztrue[i] for i in ids], float)
    zp = np.array([pred[i] for i in ids], float)
    return {"ids": ids, "z_true": zt, "z_pred": zp, "metrics": photoz_metrics(zt, zp),
            "model_id": rec["id"], "arch": rec["arch"], "split": split}
