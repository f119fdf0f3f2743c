"""Task ``darkmatter``: the dark-matter model (CDM, SIDM0.1, SIDM0.3, SIDM1) of a galaxy cluster
from its multi-channel maps and attributes (after darkCNN).

Workspace  a cluster-map dataset directory (:mod:`kinview.clusters.dataset`: ``clusters.npz``
           + ``clusters.csv`` + ``clusters.json``), made by ``kinview demo-clusters`` or
           ``kinview clusters import``; ``kinview.sqlite`` beside them holds models and
           predictions.
Inputs     ``X = {"maps": (n, 50, 50, c), "attributes": (n, k)}``:

           - maps: the channels chosen with option ``channels`` (default
             ``"mass,xray,stellar"``), each map divided by its own 99.5th percentile (so the
             network sees shapes — core size, roundness, concentration — while the cluster's
             mass enters through the attributes);
           - attributes (option ``attributes``, default
             ``"redshift,mass,xrayConc,BCG_e1,BCG_e2"``, ``"none"`` for maps only): redshift,
             log10(M200 / Msun) − 14.5, X-ray concentration, BCG ellipticity components.
Target     class index into the dataset's classes (``clusters.json``; CDM, SIDM0.1, SIDM0.3,
           SIDM1 for the demo); maps without a label are predicted, never trained on.
Split      70/15/15 by ``clusterID``: the projections of one cluster never straddle splits.
Augment    on the fly, per training batch: a random quarter-turn, then (half of the batches'
           samples) an arbitrary-angle bilinear rotation, and random flips; the BCG
           ellipticity (e1, e2) is rotated by twice the angle (and e2 mirrored by a flip) so
           the attributes stay consistent with the rotated maps.  The dataset is never
           multiplied in memory (darkCNN stored 10 rotated copies of every map).
Metrics    accuracy, balanced accuracy, per-class accuracy, confusion matrix (rows = true,
           columns = predicted, in ``classes`` order); ``kinview evaluate`` also reports the
           accuracy distribution over K random Monte-Carlo train/test splits (option ``mc=K``,
           default 3; :func:`kinview.training.monte_carlo.monte_carlo`), as darkCNN did.
Predictions  value = predicted class index, confidence = its probability, extra = class
           probabilities by name.

GUI helpers: :func:`cluster_view_data` (one map's channels, attributes, true label and the
active model's probabilities) and :func:`active_confusion` (the active model's held-out
confusion matrix).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from kinview.clusters.dataset import sample_id  # the map ids in the predictions table
from kinview.db import models as db_models
from kinview.errors import KinviewError
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.base import Dataset, Task, active_model_info, confidence_text
from kinview.tasks.registry import register

CHANNELS = ("mass", "xray", "stellar")
ATTRIBUTES = ("redshift", "mass", "xrayConc", "BCG_e1", "BCG_e2")
#: Monte-Carlo splits run by ``kinview evaluate`` unless option ``mc`` says otherwise
DEFAULT_MC = 3
DEFAULT_OPTIONS = {"channels": ",".join(CHANNELS), "attributes": ",".join(ATTRIBUTES)}


def _split_names(value, known: Sequence[str], what: str) -> List[str]:
    if value is None:
        return list(known)
    if isinstance(value, (list, tuple)):
        names = [str(v).strip() for v in value]
    else:
        text = str(value).strip()
        if text.lower() in ("", "none"):
            return []
        names = [v.strip() for v in text.split(",") if v.strip()]
    bad = [n for n in names if n not in known]
    if bad:
        raise KinviewError(f"darkmatter: unknown {what} {', '.join(bad)}; choose from {','.join(known)}")
    return [n for n in known if n in names]       # canonical order


def normalise_maps(maps: np.ndarray) -> np.ndarray:
    """Divide every map channel by its own 99.5th percentile (float32, same shape)."""
    maps = np.asarray(maps, np.float32)
    scale = np.percentile(maps, 99.5, axis=(1, 2), keepdims=True).astype(np.float32)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return maps / scale


def attribute_matrix(table, names: Sequence[str]) -> np.ndarray:
    """Attribute columns as the network sees them (NaN → 0; mass as log10(M) − 14.5)."""
    import pandas as pd

    cols = []
    for name in names:
        if name not in table:
            raise KinviewError(f"darkmatter: the dataset has no attribute column {name!r}")
        v = pd.to_numeric(table[name], errors="coerce").to_numpy(float)
        if name == "mass":
            v = np.log10(np.where(v > 0, v, np.nan)) - 14.5
        cols.append(np.nan_to_num(v, nan=0.0))
    if not cols:
        return np.zeros((len(table), 0), np.float32)
    return np.stack(cols, axis=1).astype(np.float32)


@register
class DarkMatter(Task):
    name = "darkmatter"
    title = "Dark-matter model (CDM / SIDM) from cluster maps + attributes (darkCNN)"
    kind = "multiclass"
    workspace = "clusters"
    inputs = ("maps (n, 50, 50, c): mass, xray, stellar channels, each / its 99.5th percentile; "
              "attributes (n, k): redshift, log10 M200 - 14.5, xrayConc, BCG_e1, BCG_e2")
    target = "dark-matter model class (CDM, SIDM0.1, SIDM0.3, SIDM1; cross-section in cm^2/g)"
    label_source = "clusters.csv 'label' column of the cluster dataset"
    architectures = ("simple", "inception")
    default_arch = "simple"
    recipes_module = "kinview.nets.darkmatter"
    metrics = ("accuracy", "balanced_accuracy", "per_class_accuracy", "confusion", "mc")
    default_epochs = 30
    menu_order = 30
    primary_metric = "accuracy"
    monte_carlo_splits = DEFAULT_MC

    def __init__(self):
        # attribute names of the last dataset built (augment needs the BCG_e1/e2 columns)
        self._attr_names: Tuple[str, ...] = ATTRIBUTES

    # ------------------------------------------------------------------ options / recipe
    def normalize_options(self, options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """``channels`` and ``attributes`` as canonical comma lists; ``mc`` / ``mc_epochs`` ints."""
        opts = dict(options or {})
        opts["channels"] = ",".join(_split_names(opts.get("channels"), CHANNELS, "channel"))
        if not opts["channels"]:
            raise KinviewError("darkmatter: choose at least one channel of mass,xray,stellar")
        opts["attributes"] = ",".join(_split_names(opts.get("attributes"), ATTRIBUTES, "attribute")) or "none"
        for key in ("mc", "mc_epochs"):
            if key in opts and opts[key] is not None:
                try:
                    opts[key] = int(opts[key])
                except (TypeError, ValueError):
                    raise KinviewError(f"darkmatter: option {key} must be an integer, not {opts[key]!r}") from None
        return opts

    def training_config(self, arch: str, options=None) -> Dict[str, Any]:
        cfg = super().training_config(arch, options)
        cfg["class_weight"] = True
        return cfg

    # ------------------------------------------------------------------ data
    def build_dataset(self, workspace_dir, options=None, state: TaskState = NULL_STATE,
                      labelled_only: bool = True) -> Dataset:
        from kinview.clusters.dataset import load_clusters

        opts = self.normalize_options(options)
        cs = load_clusters(workspace_dir)
        channels = opts["channels"].split(",")
        names = [] if opts["attributes"] == "none" else opts["attributes"].split(",")
        have = cs.channels
        missing = [c for c in channels if c not in have]
        if missing:
            raise KinviewError(f"{cs.root}: no channel {', '.join(missing)} (the dataset has {', '.join(have)})")
        classes = cs.classes
        labels = cs.table["label"]
        known = labels.notna() & labels.isin(classes)
        unknown = sorted(set(labels[labels.notna() & ~labels.isin(classes)].astype(str)))
        if unknown:
            raise KinviewError(f"{cs.root}: labels {', '.join(unknown)} are not among the classes "
                               f"{', '.join(classes)} of clusters.json")
        keep = np.flatnonzero(known.to_numpy(bool)) if labelled_only else np.arange(len(cs))
        if labelled_only and len(keep) == 0:
            raise KinviewError(f"{cs.root}: no labelled cluster maps")
        state.set_status(f"{len(keep)} cluster maps")
        maps = normalise_maps(cs.maps[keep][..., [have.index(c) for c in channels]])
        table = cs.table.iloc[keep]
        y = np.array([classes.index(str(v)) if isinstance(v, str) and v in classes else -1
                      for v in table["label"].tolist()], dtype=np.int64)
        X: Dict[str, np.ndarray] = {"maps": maps}
        if names:
            X["attributes"] = attribute_matrix(table, names)
        self._attr_names = tuple(names)
        ids = [(sample_id(i), "galaxy") for i in keep]
        groups = np.asarray([str(g) for g in table["clusterID"].tolist()])
        h = hashlib.sha256(("|".join(classes)).encode())
        for i, v in zip(keep, y):
            h.update(f"{i}:{v}\n".encode())
        info = {"label_source": "clusters.csv label column", "classes": list(classes),
                "channels": channels, "attributes": names,
                "class_counts": np.bincount(y[y >= 0], minlength=len(classes)).tolist(),
                "workspace": str(cs.root), "dataset_source": cs.meta.get("source", "")}
        return Dataset(X, y, ids, groups, h.hexdigest()[:16], info)

    def build_model(self, arch: str, dataset: Dataset, options=None):
        from kinview.nets.darkmatter import build

        X = dataset.X
        maps = X["maps"]
        n_attr = X["attributes"].shape[1] if "attributes" in X else 0
        n_classes = len(dataset.info.get("classes") or np.unique(dataset.y))
        return build(arch, size=maps.shape[1], n_channels=maps.shape[-1], n_attributes=n_attr,
                     n_classes=n_classes)

    def augment(self, X, rng: np.random.Generator):
        """Rotate (quarter turns + arbitrary angles) and flip a batch; keep e1/e2 consistent.

        Returns a new dict with the same keys and shapes; the input batch is not modified.
        """
        from kinview.nets.layers import affine_batch

        maps = np.asarray(X["maps"], np.float32)
        n = len(maps)
        quarter = rng.integers(0, 4, n) * 90.0
        free = np.where(rng.random(n) < 0.5, rng.uniform(0.0, 90.0, n), 0.0)
        angle = quarter + free
        fx = rng.random(n) < 0.5
        fy = rng.random(n) < 0.5
        out = dict(X)
        out["maps"] = affine_batch(maps, angle, flip_x=fx, flip_y=fy, fill=0.0)
        if "attributes" in X and "BCG_e1" in self._attr_names and "BCG_e2" in self._attr_names \
                and X["attributes"].shape[1] == len(self._attr_names):
            a = np.array(X["attributes"], np.float32, copy=True)
            i1, i2 = self._attr_names.index("BCG_e1"), self._attr_names.index("BCG_e2")
            e1, e2 = a[:, i1].astype(np.float64), a[:, i2].astype(np.float64)
            e2 = np.where(fx ^ fy, -e2, e2)                  # a mirror flips the position angle
            t = np.deg2rad(2 * angle)
            a[:, i1] = e1 * np.cos(t) - e2 * np.sin(t)
            a[:, i2] = e1 * np.sin(t) + e2 * np.cos(t)
            out["attributes"] = a
        return out

    # ------------------------------------------------------------------ metrics / rows
    def evaluate(self, y_true, y_pred, dataset: Optional[Dataset] = None) -> Dict[str, Any]:
        from kinview.learning.metrics import classification_metrics

        p = np.asarray(y_pred, float)
        classes = list((dataset.info.get("classes") if dataset is not None else None)
                       or [str(i) for i in range(p.shape[1])])
        y_true = np.asarray(y_true).astype(int)
        out = classification_metrics(y_true, p, n_classes=len(classes))
        out.pop("at_confidence", None)
        out["classes"] = classes
        y_hat = p.argmax(axis=1) if len(p) else np.zeros(0, int)
        out["per_class_accuracy"] = {c: (float(np.mean(y_hat[y_true == k] == k)) if np.any(y_true == k) else None)
                                     for k, c in enumerate(classes)}
        return out

    def to_predictions(self, y_pred, dataset: Dataset) -> List[Tuple[str, str, float, float, Optional[dict]]]:
        classes = dataset.info.get("classes") or []
        p = np.asarray(y_pred, float)
        rows = []
        for (sid, fld), pr in zip(dataset.ids, p):
            k = int(np.argmax(pr))
            rows.append((sid, fld, float(k), float(pr[k]),
                         {"class": classes[k] if k < len(classes) else str(k),
                          "probs": {(classes[j] if j < len(classes) else str(j)): float(v)
                                    for j, v in enumerate(pr)}}))
        return rows

    def describe_prediction(self, field, value, confidence, extra=None) -> str:
        """The predicted class with its probability, e.g. ``SIDM0.3 (confidence 0.71)``."""
        extra = extra or {}
        if value is None or not np.isfinite(float(value)):
            return f"{field}: —"
        return f"{extra.get('class', int(value))}{confidence_text(confidence)}"


# ---------------------------------------------------------------------------- GUI helpers
def _active_record(workspace):
    return active_model_info(workspace, DarkMatter.name)


def _prediction(workspace, model_id: int, sid: str) -> Optional[Dict[str, Any]]:
    from kinview.db.connection import connect

    conn = connect(workspace)
    try:
        row = db_models.prediction_of(conn, model_id, sid)
    finally:
        conn.close()
    if row is None:
        return None
    extra = json.loads(row["extra"] or "{}")
    return {"class_index": None if row["value"] is None else int(row["value"]),
            "confidence": row["confidence"], "class": extra.get("class"),
            "probs": extra.get("probs"), "split": extra.get("split")}


def cluster_view_data(workspace: Union[str, Path], index: int) -> Dict[str, Any]:
    """Everything the GUI shows for cluster map ``index`` of a cluster dataset.

    Returns
    -------
    dict
        ``index``, ``id`` (predictions id), ``n`` (maps in the dataset), ``channels`` (dict
        name → float32 (h, w) array in the stored physical units: mass and stellar in
        Msun/kpc^2, X-ray arbitrary), ``pixel_kpc``, ``attributes`` (dict of the table row:
        clusterID, redshift, mass, xrayConc, BCG_e1, BCG_e2 ...), ``label`` (true class name or
        None), ``classes``, and ``prediction`` — None without an active model, else
        ``{"class", "class_index", "confidence", "probs": {class: p}, "split", "model_id",
        "arch"}``.
    """
    from kinview.clusters.dataset import load_clusters

    cs = load_clusters(workspace)
    n = len(cs)
    if not 0 <= int(index) < n:
        raise KinviewError(f"{cs.root}: no cluster map {index} (the dataset has {n})")
    i = int(index)
    row = cs.table.iloc[i]
    attrs = {}
    for key, val in row.items():
        if key == "label":
            continue
        if isinstance(val, (np.integer,)):
            val = int(val)
        elif isinstance(val, (np.floating,)):
            val = float(val)
        elif val is not None and not isinstance(val, (int, float, str)):
            val = str(val)
        attrs[str(key)] = val
    label = row["label"]
    label = None if label is None or (not isinstance(label, str) and np.isnan(label)) or str(label) == "<NA>" else str(label)
    out = {"index": i, "id": sample_id(i), "n": n,
           "channels": {name: cs.maps[i, :, :, c] for c, name in enumerate(cs.channels)},
           "pixel_kpc": cs.meta.get("pixel_kpc"), "attributes": attrs, "label": label,
           "classes": cs.classes, "prediction": None}
    rec = _active_record(cs.root)
    if rec is not None:
        pred = _prediction(cs.root, rec["id"], sample_id(i))
        if pred is not None:
            pred.update(model_id=rec["id"], arch=rec["arch"])
            out["prediction"] = pred
    return out


def active_confusion(workspace: Union[str, Path]) -> Optional[Dict[str, Any]]:
    """The active darkmatter model's held-out confusion matrix, or None without a model.

    Returns
    -------
    dict: ``classes``, ``matrix`` (rows = true class, columns = predicted), ``accuracy``,
    ``n``, ``model_id``, ``arch``, ``source`` (``"test split"``).
    """
    rec = _active_record(workspace)
    if rec is None or not rec["metrics"].get("confusion"):
        return None
    m = rec["metrics"]
    return {"classes": m.get("classes") or (rec["card"].get("dataset_info") or {}).get("classes"),
            "matrix": m["confusion"], "accuracy": m.get("accuracy"), "n": m.get("n"),
            "model_id": rec["id"], "arch": rec["arch"], "source": "test split"}
