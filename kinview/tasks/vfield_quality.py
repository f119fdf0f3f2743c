"""Task ``vfield-quality``: is a velocity field usable? (binary, or quality 0/1/2).

Inputs   the 32×32 velocity-field input of each field (stellar and gas are separate samples):
         :func:`kinview.kinematics.inputs.vfield_input`, float32 in [−1, 1], masked spaxels 0.
Target   ``mode="binary"`` (default): usable = quality 1 or 2 → 1, quality 0 → 0;
         ``mode="3class"``: the quality code 0 (do not use), 1 (messy), 2 (clean).
Labels   experts' quality labels from the survey database (``expert:NAME``, ``consensus`` or
         ``all``; see :mod:`kinview.learning.datasets`).
Split    by galaxy: a galaxy's two fields are always in the same split.
Input    option ``input="seed32"`` builds the inputs with the seed's own preprocessing
         (:func:`kinview.kinematics.inputs.seed32_input`), for models imported with
         ``kinview models import PATH --input seed32``; the default is kinview's.
Predictions  binary: value = P(usable), confidence = max(P, 1 − P);
         3class: value = most probable quality, confidence = its probability, ``extra`` holds
         the three probabilities and P(usable) = P(1) + P(2).
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from kinview.errors import KinviewError
from kinview.progress import NULL_STATE, TaskState
from kinview.tasks.base import LABEL_SOURCE_OPTION, Dataset, ModelPlot, Task, TrainingOption, confidence_text
from kinview.tasks.registry import register

MODES = ("binary", "3class")
#: histogram bins of P(usable) in the Model tab
N_BINS = 10
#: card notes of the shipped default trained on real fields (``ship_defaults --real``)
REAL_SHIP_NOTES = (
    "Trained on {n} REAL MaNGA MPL-8 stellar velocity fields (VOR10-GAU-MILESHC; public SDSS data) "
    "with the published MPL-7 expert quality classes (Duckworth et al. 2020; label source {labels}), "
    "usable = quality >= 1, by the 'default' recipe (exact fit of one output layer on the field's "
    "summary statistics), seed {seed}, 70/15/15 split by galaxy (the recipe fits on train + "
    "validation). The test split is small (see split_sizes): judge the recipe by its 5-fold "
    "out-of-fold figures in the README (benchmarks/vfield_generalise.py). Its features are the same "
    "for gas fields, but no real gas field was in its training set.")


@register
class VFieldQuality(Task):
    name = "vfield-quality"
    title = "Velocity-field usability (stellar and gas, 32×32)"
    short_title = "Usability"
    kind = "binary"
    workspace = "survey"
    inputs = "32×32 velocity field in [−1, 1] (v / max|v|, masked spaxels 0), stellar and gas fields"
    target = "usable (quality ≥ 1) in binary mode; quality 0/1/2 in 3class mode"
    label_source = "expert quality labels from the survey database (expert:NAME | consensus | all)"
    architectures = ("default", "seed-fcn", "seed-cnn", "kinview-cnn")
    default_arch = "default"
    recipes_module = "kinview.nets.vfield"
    metrics = ("accuracy", "balanced_accuracy", "roc_auc", "confusion", "at_confidence")
    default_epochs = 40
    menu_order = 0
    primary_metric = "roc_auc"
    #: its active model's per-field predictions fill the galaxy list's model columns
    #: (:func:`kinview.tasks.registry.field_quality_tasks`)
    fills_field_columns = True

    input_styles = ("kinview", "seed32")
    shipped = True
    queue_label_kind = "quality"
    training_options = (LABEL_SOURCE_OPTION,
                        TrainingOption("mode", "mode", (("binary", "binary (usable?)", "binary"),
                                                        ("3class", "3 classes (quality 0/1/2)", "3class")),
                                       default="binary"))

    def import_options(self, style: str, n_outputs: int) -> dict:
        """Imported models: ``input`` as given, ``mode`` from the outputs (1 value: P(usable);
        3: quality 0/1/2 probabilities)."""
        opts = super().import_options(style, n_outputs)
        opts["input"] = style
        if n_outputs not in (1, 3):
            raise KinviewError(f"the model gives {n_outputs} values per sample; vfield-quality reads 1 "
                               "(P(usable)) or 3 (quality 0/1/2 probabilities)")
        opts["mode"] = "3class" if n_outputs == 3 else "binary"
        return opts

    # options -------------------------------------------------------------
    def normalize_options(self, options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        opts = dict(options or {})
        mode = opts.get("mode") or "binary"
        if mode not in MODES:
            raise KinviewError(f"vfield-quality: mode must be binary or 3class, not {mode!r}")
        opts["mode"] = mode
        fields = opts.get("fields") or ("stellar", "gas")
        if isinstance(fields, str):
            fields = tuple(f.strip() for f in fields.split(","))
        bad = [f for f in fields if f not in ("stellar", "gas")]
        if bad:
            raise KinviewError(f"vfield-quality: unknown field(s) {bad}; use stellar and/or gas")
        opts["fields"] = list(fields)
        style = opts.get("input") or "kinview"     # "seed32": the seed's preprocessing (imported models)
        if style not in ("kinview", "seed32"):
            raise KinviewError(f"vfield-quality: input must be kinview or seed32, not {style!r}")
        opts["input"] = style
        return opts

    @staticmethod
    def n_classes(options: Optional[Mapping[str, Any]]) -> int:
        return 3 if (options or {}).get("mode") == "3class" else 2

    def training_config(self, arch: str, options=None) -> Dict[str, Any]:
        cfg = super().training_config(arch, options)
        cfg["n_classes"] = self.n_classes(options)
        return cfg

    # data ----------------------------------------------------------------
    def build_dataset(self, workspace_dir, options=None, state: TaskState = NULL_STATE,
                      labelled_only: bool = True) -> Dataset:
        from kinview.learning.datasets import label_hash, open_survey, quality_labels, vfield_arrays

        opts = self.normalize_options(options)
        survey = open_survey(workspace_dir, state)
        arrays = vfield_arrays(survey, 32, state, style=opts["input"])
        labels, source = quality_labels(survey.root, opts.get("labels"))
        labels = labels[labels["field"].isin(opts["fields"])]
        row_of = {p: i for i, p in enumerate(arrays["plateifu"].tolist())}
        binary = opts["mode"] == "binary"

        def target(q: float) -> int:
            return int(q >= 1) if binary else int(q)

        X, y, ids = [], [], []
        if labelled_only:
            for pifu, fld, value in labels[["plateifu", "field", "value"]].itertuples(index=False):
                i = row_of.get(pifu)
                if i is None or not arrays["has_" + fld][i]:
                    continue
                X.append(arrays[fld][i])
                y.append(target(value))
                ids.append((pifu, fld))
        else:
            first = {}
            for pifu, fld, value in labels[["plateifu", "field", "value"]].itertuples(index=False):
                first.setdefault((pifu, fld), value)
            skipped = []
            why = {f: arrays.get("why_" + f) for f in opts["fields"]}
            for i, pifu in enumerate(arrays["plateifu"].tolist()):
                for fld in opts["fields"]:
                    if not arrays["has_" + fld][i]:
                        reason = str(why[fld][i]) if why[fld] is not None else ""
                        skipped.append((pifu, fld, reason or f"no {fld} field"))
                    if arrays["has_" + fld][i]:
                        X.append(arrays[fld][i])
                        q = first.get((pifu, fld))
                        y.append(-1 if q is None else target(q))
                        ids.append((pifu, fld))
        if labelled_only and not ids:
            raise KinviewError(f"{survey.root}: no quality labels ({source}) on fields with a velocity "
                               "map; label some fields in the GUI or 'kinview labels import' a catalogue")
        X = np.asarray(X, np.float32).reshape(-1, 32, 32)
        y = np.asarray(y, np.int64)
        n_classes = self.n_classes(opts)
        counts = np.bincount(y[y >= 0], minlength=n_classes).tolist() if len(y) else [0] * n_classes
        info = {"label_source": source, "mode": opts["mode"], "n_classes": n_classes,
                "fields": opts["fields"], "class_counts": counts, "workspace": str(survey.root)}
        if not labelled_only:
            info["skipped"] = skipped   # (plateifu, field, reason) without a prediction
        return Dataset(X, y, ids, np.asarray([p for p, _ in ids], dtype=str),
                       label_hash(labels, source), info)

    def build_model(self, arch: str, dataset: Dataset, options=None):
        from kinview.nets.vfield import build

        return build(arch, n_classes=self.n_classes(self.normalize_options(options)))

    def augment(self, X, rng: np.random.Generator):
        """Random rotation (any angle) and flips, bilinear, outside pixels 0 (= masked)."""
        from kinview.nets.layers import random_affine

        return random_affine(X, rng, max_angle=180.0, flips=True, fill=0.0)

    # results -------------------------------------------------------------
    def evaluate(self, y_true, y_pred, dataset: Optional[Dataset] = None) -> Dict[str, Any]:
        from kinview.learning.metrics import classification_metrics

        p = np.asarray(y_pred)
        n_classes = 2 if (p.ndim == 1 or p.shape[1] == 1) else p.shape[1]
        return classification_metrics(y_true, p, n_classes)

    def to_predictions(self, y_pred, dataset: Dataset) -> List[Tuple[str, str, float, float, Optional[dict]]]:
        p = np.asarray(y_pred, float)
        rows = []
        if p.ndim == 1 or p.shape[1] == 1:
            p1 = p.reshape(-1)
            for (pifu, fld), v in zip(dataset.ids, p1):
                rows.append((pifu, fld, float(v), float(max(v, 1 - v)), {"mode": "binary"}))
        else:
            for (pifu, fld), row in zip(dataset.ids, p):
                k = int(row.argmax())
                rows.append((pifu, fld, float(k), float(row[k]),
                             {"mode": "3class", "probs": [round(float(v), 5) for v in row],
                              "p_usable": float(row[1:].sum())}))
        return rows

    # GUI, export and queues ---------------------------------------------
    def describe_prediction(self, field, value, confidence, extra=None) -> str:
        """``stellar: P(usable) 0.83 (confidence 0.83)``; three-class rows give the quality."""
        extra = extra or {}
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            return f"{field}: —"
        conf = confidence_text(confidence)
        if extra.get("mode") == "3class":
            pu = extra.get("p_usable")
            pu = f", P(usable) {pu:.2f}" if pu is not None else ""
            return f"{field}: quality {int(round(value))}{conf}{pu}"
        return f"{field}: P(usable) {value:.2f}{conf}"

    def probability(self, value, extra=None) -> Optional[float]:
        """P(usable): the value of a binary row, ``extra["p_usable"]`` of a three-class row."""
        extra = extra or {}
        if extra.get("mode") == "3class":
            v = extra.get("p_usable")
        else:
            v = value
        return float("nan") if v is None else float(v)

    def label_disagreement(self, value, confidence, extra, label) -> Optional[float]:
        """Binary: usable (label ≥ 1) against P(usable) ≥ 0.5, confidence max(P, 1 − P);
        three-class: the predicted quality differs from the label, confidence = its probability."""
        extra = extra or {}
        if extra.get("mode") == "3class":
            return float(confidence) if int(round(value)) != int(label) else None
        p = self.probability(value, extra)
        return max(p, 1 - p) if (p >= 0.5) != (label >= 1) else None

    def model_plot(self, workspace, record, predictions) -> Optional[ModelPlot]:
        """Histogram of P(usable) over every predicted field (click a bar: its galaxies)."""
        pu = np.array([self.probability(v, e) for v, e in zip(predictions["value"], predictions["extra"])], float)
        mode = (record.card.get("options") or {}).get("mode") or "binary"
        acc = (record.metrics or {}).get("accuracy")
        acc = f" · test accuracy {acc:.3f}" if isinstance(acc, float) else ""
        return ModelPlot("histogram", "Predicted usability of every field — click a bar to list its galaxies",
                         "P(usable)", pu, predictions["plateifu"].astype(str).tolist(), ylabel="fields",
                         x_range=(0.0, 1.0), bins=N_BINS,
                         note=(f"{self.name} model #{record.id} ({record.arch}, {mode}): "
                               f"{int(np.isfinite(pu).sum())} fields predicted{acc}"))

    def options_for_model(self, options, n_outputs: int) -> Dict[str, Any]:
        """A card without ``mode`` (an old or imported model): 3 outputs mean three classes."""
        opts = dict(options)
        if "mode" not in opts:
            opts["mode"] = "3class" if n_outputs == 3 else "binary"
        return opts

    def ship_recipe(self, real_labels: Optional[str] = None, real: bool = False) -> Dict[str, Any]:
        """Demo: binary, on the truth; real: the survey's stellar fields and expert labels
        (the shipped model then predicts stellar and gas fields)."""
        if not real:
            return {"options": {"labels": "expert:truth", "mode": "binary"}}
        return {"options": {"labels": real_labels or None, "fields": "stellar"},
                "card_options": {"fields": ["stellar", "gas"]},
                "notes": REAL_SHIP_NOTES,
                "workspace": "{n} real MaNGA MPL-8 stellar fields with MPL-7 expert labels ({name})",
                "trained_on": "real MaNGA MPL-8 stellar velocity fields, MPL-7 expert labels"}
