"""What a task is: inputs, target, label source, architectures, metrics.

A task turns a workspace directory (a MaNGA survey, or a cluster-map dataset for
``darkmatter``) into a :class:`Dataset`, builds Keras models by architecture name, augments
batches on the fly, scores predictions and turns them into rows of the ``predictions`` table.
Nothing here imports Keras or TensorFlow at module level: builders import ``keras`` inside.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from kinview.errors import KinviewError
from kinview.progress import NULL_STATE, TaskState

Inputs = Union[np.ndarray, Dict[str, np.ndarray]]


@dataclass
class Dataset:
    """Samples ready for a network.

    Attributes
    ----------
    X : ndarray or dict of ndarray
        Network input(s), first axis = sample.  A dict for multi-input models (e.g.
        ``{"maps": ..., "attributes": ...}``).
    y : ndarray
        Targets (class index, or float for regression); NaN/-1 where unknown (prediction only).
    ids : list of (str, str)
        ``(plateifu_or_object_id, field)`` per sample; ``field`` is ``stellar``, ``gas`` or
        ``galaxy``.  Used to write predictions.
    groups : ndarray
        Split unit per sample (the galaxy / cluster id): a group never straddles splits.
    label_hash : str
        Hash of the labels the targets came from (recorded with the model).
    info : dict
        Anything else worth recording in the model card (label source, class counts...).
    """

    X: Inputs
    y: np.ndarray
    ids: List[Tuple[str, str]]
    groups: np.ndarray
    label_hash: str = ""
    info: Dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index) -> "Dataset":
        index = np.asarray(index)
        take = (lambda a: a[index])
        X = {k: take(v) for k, v in self.X.items()} if isinstance(self.X, dict) else take(self.X)
        return Dataset(X, take(self.y), [self.ids[i] for i in index], take(self.groups),
                       self.label_hash, dict(self.info))


class Task:
    """Base class of a registered task.  Subclass it in one module and ``@register`` it.

    Class attributes
    ----------------
    name : str              CLI name, e.g. ``"vfield-quality"``
    title : str             one line for menus
    kind : str              ``"binary"``, ``"multiclass"`` or ``"regression"``
    workspace : str         ``"survey"`` (MaNGA survey dir) or ``"clusters"`` (cluster dataset)
    inputs : str            what goes in, with shapes and scaling
    target : str            what comes out, with units
    label_source : str      where targets come from
    architectures : tuple   names accepted by :meth:`build_model`
    default_arch : str
    metrics : tuple         keys :meth:`evaluate` reports
    default_epochs : int
    """

    name: str = ""
    title: str = ""
    kind: str = "binary"
    workspace: str = "survey"
    inputs: str = ""
    target: str = ""
    label_source: str = ""
    architectures: Tuple[str, ...] = ()
    default_arch: str = "default"
    metrics: Tuple[str, ...] = ()
    default_epochs: int = 20
    #: Module whose ``RECIPES`` dict maps architecture -> training recipe (e.g. epochs,
    #: batch_size, learning_rate, reduce_lr), merged by :meth:`training_config`.
    recipes_module: str = ""
    #: metric of :meth:`evaluate` that says "better" (higher is better), e.g. ``roc_auc``
    primary_metric: str = ""
    #: (train, val, test) fractions of groups
    split_fractions: Tuple[float, float, float] = (0.7, 0.15, 0.15)
    #: where the task is listed in choosers (lower first; ties by name)
    menu_order: int = 100
    #: side in pixels of the colour image the task predicts from (one SDSS cutout per
    #: galaxy), or None for tasks with other inputs.  Tasks that set it run on image-only
    #: catalogues (``kinview predict TASK --catalogue``) through :meth:`image_input`.
    image_size: Optional[int] = None


    #: Input prepressings a model imported for this task may expect (``kinview models import
    #: --input``); ``kinview`` is this task's own.
    input_styles = ("kinview",)

    def import_options(self, style: str, n_outputs: int) -> dict:
        """Task options under which an imported model with ``n_outputs`` outputs per sample,
        fed inputs of ``style``, is run (:mod:`kinview.training.importer`).

        Raises
        ------
        KinviewError
            The style is not one of :attr:`input_styles`.
        """
        from kinview.errors import KinviewError

        if style not in self.input_styles:
            raise KinviewError(f"--input {style}: {self.name} takes "
                               f"{' or '.join(self.input_styles)} inputs")
        return {"input": style} if style != "kinview" else {}
    def image_input(self, rgb: np.ndarray) -> np.ndarray:
        """One colour cutout as this task's network sees it, quantised to uint8.

        The central square, cubic-resampled to :attr:`image_size` (as
        :func:`kinview.kinematics.inputs.image_input`) and rounded to 1/255 steps, exactly
        as the survey's image cache stores training inputs; the network input is this
        array ``.astype(float32) / 255`` (values in [0, 1]).

        Parameters
        ----------
        rgb : ndarray (H, W, 3) uint8, North up, East left

        Returns
        -------
        ndarray uint8 (image_size, image_size, 3)
        """
        from kinview.kinematics.inputs import image_input

        if not self.image_size:
            raise KinviewError(f"task {self.name} does not predict from colour images")
        arr = image_input(rgb, int(self.image_size))
        return np.clip(np.round(arr * 255), 0, 255).astype(np.uint8)

    def training_config(self, arch: str, options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Training recipe for ``arch``: a dict the trainer reads.

        Keys (all optional; defaults shown): ``epochs`` (:attr:`default_epochs`),
        ``batch_size`` (32), ``reduce_lr`` (dict of ``factor``, ``patience``, ``min_lr`` for
        ReduceLROnPlateau on ``val_loss``, or None), ``early_stopping`` (patience in epochs, or
        None), ``class_weight`` (True for classifiers: balanced class weights), ``n_classes``.
        """
        cfg = {"epochs": self.default_epochs, "batch_size": 32, "reduce_lr": None,
               "early_stopping": None, "class_weight": self.kind != "regression"}
        if self.recipes_module:
            import importlib

            recipes = importlib.import_module(self.recipes_module).RECIPES
            if arch not in recipes:
                raise KinviewError(f"{self.name}: unknown architecture {arch!r}; "
                                   f"known: {', '.join(self.architectures)}")
            cfg.update(recipes[arch])
        return cfg

    def normalize_options(self, options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Validate and fill in task options (e.g. ``mode``); recorded in the model card."""
        return dict(options or {})

    def build_dataset(self, workspace_dir, options: Optional[Mapping[str, Any]] = None,
                      state: TaskState = NULL_STATE, labelled_only: bool = True) -> Dataset:
        """Read samples (and targets) from a workspace directory."""
        raise NotImplementedError

    def build_model(self, arch: str, dataset: Dataset, options: Optional[Mapping[str, Any]] = None):
        """Return a compiled ``keras.Model`` for architecture ``arch`` (imports keras inside)."""
        raise NotImplementedError

    def augment(self, X: Inputs, rng: np.random.Generator) -> Inputs:
        """Augment one training batch on the fly (default: none)."""
        return X

    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray, dataset: Optional[Dataset] = None) -> Dict[str, Any]:
        """Held-out metrics as a JSON-serialisable dict."""
        raise NotImplementedError

    #: metrics of :meth:`metrics_with_intervals` shown as headline figures, in order
    interval_metrics: Tuple[str, ...] = ()

    def headline_metrics(self) -> Tuple[str, ...]:
        """Keys of :meth:`metrics_with_intervals` that the CLI and GUI show, in order."""
        if self.interval_metrics:
            return tuple(self.interval_metrics)
        if self.kind == "regression":
            return ("pearson", "spearman", "rmse", "baseline_rmse")
        return ("roc_auc", "balanced_accuracy", "accuracy", "majority_baseline")

    def metrics_with_intervals(self, y_true: np.ndarray, y_pred: np.ndarray, groups=None,
                               n_boot: int = 1000, seed: int = 0) -> Dict[str, Any]:
        """Metrics with 95 % bootstrap intervals (resampling ``groups``, the galaxies), as
        :mod:`kinview.learning.intervals` defines them: classifiers get ROC AUC, balanced
        accuracy, accuracy and the majority baseline with the class counts; regressors get
        Pearson, Spearman and RMSE.  Override for task-specific figures."""
        from kinview.learning.intervals import classification_intervals, regression_intervals

        if self.kind == "regression":
            return regression_intervals(y_true, y_pred, groups, n_boot, seed)
        return classification_intervals(y_true, y_pred, groups, n_boot, seed)

    def to_predictions(self, y_pred: np.ndarray, dataset: Dataset) -> List[Tuple[str, str, float, float, Optional[dict]]]:
        """Rows ``(id, field, value, confidence, extra)`` for the ``predictions`` table."""
        raise NotImplementedError

    def describe(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in ("name", "title", "kind", "workspace", "inputs", "target",
                                              "label_source", "architectures", "default_arch",
                                              "metrics", "default_epochs")}
