"""What a task is: inputs, target, label source, architectures, metrics.

A task turns a workspace directory (a MaNGA survey, or a cluster-map dataset for
``darkmatter``) into a :class:`Dataset`, builds Keras models by architecture name, augments
batches on the fly, scores predictions and turns them into rows of the ``predictions`` table.
Nothing here imports Keras or TensorFlow at module level: builders import ``keras`` inside.
"""
from __future__ import annotations

import re
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


@dataclass(frozen=True)
class TrainingOption:
    """One task option the GUI's training panel offers, as a drop-down list.

    Attributes
    ----------
    key : str
        The option's name in ``options`` (e.g. ``"mode"``).
    caption : str
        The label beside the list.
    choices : tuple of (key, text, value)
        ``key`` names the choice (``TrainingPanel.select(mode="binary")``), ``text`` is
        shown, ``value`` goes into ``options[key]``; ``{expert}`` in a value is replaced by
        the panel's expert.
    default : str
        Key of the choice selected at first.
    """

    key: str
    caption: str
    choices: Tuple[Tuple[str, str, str], ...]
    default: str = ""

    def value(self, choice_key: str, expert: str = "") -> str:
        """The option value of choice ``choice_key`` for ``expert``."""
        for k, _text, v in self.choices:
            if k == choice_key:
                return v.format(expert=expert)
        raise KeyError(f"{self.key}: no choice {choice_key!r}")


#: The label-source option of a task trained on the experts' labels.
LABEL_SOURCE_OPTION = TrainingOption(
    "labels", "labels", (("me", "my labels", "expert:{expert}"),
                         ("consensus", "consensus of experts", "consensus"),
                         ("all", "all experts' labels", "all")), default="consensus")


@dataclass
class ModelPlot:
    """What the GUI's Model tab draws for a task's active model (Qt-free data).

    Attributes
    ----------
    kind : {'histogram', 'scatter'}
        A histogram of ``x`` (clicking a bar lists the galaxies in it), or ``y`` against ``x``.
    title, xlabel, ylabel : str
        Plot title and axis labels (with units).
    x : ndarray of float
        Histogram values, or the scatter's abscissae.
    y : ndarray of float or None
        The scatter's ordinates.
    ids : list of str
        The sample (plate-ifu) of each value of ``x``.
    note : str
        One line under the plot (model number, architecture, sample count, figures).
    x_range : (float, float) or None
        Histogram range, or both axes' range of a scatter (None: from the data).
    bins : int
        Histogram bins over ``x_range``.
    diagonal : bool
        Draw the y = x line (predicted against true).
    """

    kind: str
    title: str
    xlabel: str
    x: np.ndarray
    ids: List[str]
    ylabel: str = ""
    y: Optional[np.ndarray] = None
    note: str = ""
    x_range: Optional[Tuple[float, float]] = None
    bins: int = 10
    diagonal: bool = False


def active_model_info(workspace, task_name: str) -> Optional[Dict[str, Any]]:
    """The workspace's active model of ``task_name`` as a plain dict (``id``, ``arch``,
    ``path``, ``metrics``, ``card``), or None (no database, no active model).

    For task modules, which sit below :mod:`kinview.training` (whose
    :func:`~kinview.training.registry.active_model` gives the full record).
    """
    from kinview.db import models as db_models

    row = db_models.read_active(workspace, task_name, missing_ok=True)
    if row is None:
        return None
    rec = db_models.decode(row)
    return {"id": int(rec["id"]), "arch": rec["arch"], "path": rec["path"],
            "metrics": rec["metrics"], "card": rec["card"]}


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", str(text)).strip("_").lower() or "model"


def confidence_text(confidence) -> str:
    """`` (confidence 0.83)``, or ``""`` without a finite confidence."""
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        return ""
    return f" (confidence {c:.2f})" if np.isfinite(c) else ""


class Task:
    """Base class of a registered task.  Subclass it in one module and ``@register`` it.

    Class attributes
    ----------------
    name : str              CLI name, e.g. ``"vfield-quality"``
    title : str             one line for menus
    short_title : str       a word or two for tabs (default: :attr:`title` up to " (" or " from ")
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
    short_title: str = ""
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
    #: a default model of this task ships with kinview (``models/<task>-default.keras``) and
    #: is run on a survey without a model of its own at first start
    #: (:mod:`kinview.training.shipped`)
    shipped: bool = False
    #: the kind of expert label (``labels.kind``) this task learns per field, when the
    #: GUI's "label next" and "likely label errors" queues apply to it (None: they do not)
    queue_label_kind: Optional[str] = None
    #: Monte-Carlo train/test splits ``kinview evaluate`` runs by default (option ``mc=K``
    #: overrides; 0: none), see :mod:`kinview.training.monte_carlo`
    monte_carlo_splits: int = 0
    #: options the GUI's training panel offers (:class:`TrainingOption`), in order
    training_options: Tuple[TrainingOption, ...] = ()

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

    # ---------------------------------------------------------------- hooks for the GUI and export
    def describe_prediction(self, field: str, value, confidence, extra=None) -> str:
        """One short line for a stored prediction row (the GUI's prediction box, live preview).

        Parameters
        ----------
        field : str        ``stellar``, ``gas`` or ``galaxy``
        value : float      the row's value (:meth:`to_predictions`)
        confidence : float or None
        extra : dict or None
        """
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            return f"{field}: —"
        return f"{field}: {float(value):.3g}{confidence_text(confidence)}"

    def model_plot(self, workspace, record, predictions) -> Optional[ModelPlot]:
        """What the Model tab draws for the active model ``record`` (a
        :class:`~kinview.training.registry.ModelRecord`) of this task.

        ``predictions`` is its stored rows (DataFrame ``plateifu, field, value, confidence,
        extra`` with ``extra`` a dict).  Default: a histogram of the predicted values.
        Returns None for nothing to draw.
        """
        v = np.asarray(predictions["value"], float) if len(predictions) else np.zeros(0)
        ok = np.isfinite(v)
        lo, hi = (float(v[ok].min()), float(v[ok].max())) if ok.any() else (0.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        return ModelPlot("histogram", f"{self.name}: predicted value — click a bar to list its galaxies",
                         "predicted value", v, predictions["plateifu"].astype(str).tolist(),
                         ylabel="samples", x_range=(lo, hi),
                         note=f"{self.name} model #{record.id} ({record.arch}): {int(ok.sum())} samples predicted")

    def export_columns(self, field: str) -> Tuple[str, str]:
        """Names of the (value, confidence) columns of this task's predictions for ``field``
        in a label export (:func:`kinview.labels.catalogue_io.export_table`).

        Default ``pred_<task>_<field>`` and ``pred_<task>_<field>_conf`` (task name with
        non-alphanumerics as ``_``).
        """
        name = f"pred_{_slug(self.name)}_{field}"
        return name, f"{name}_conf"

    def probability(self, value, extra=None) -> Optional[float]:
        """P(positive class) of a stored prediction row, for tasks with
        :attr:`queue_label_kind`; None when the row has none."""
        return None

    def label_disagreement(self, value, confidence, extra, label) -> Optional[float]:
        """How confidently a stored prediction disagrees with an expert label (of
        :attr:`queue_label_kind`): the confidence of the disagreement, or None when they agree."""
        return None

    def ship_recipe(self, real_labels: Optional[str] = None, real: bool = False) -> Dict[str, Any]:
        """How the shipped default model of this task is trained
        (:mod:`kinview.training.ship_defaults`): on the demo survey, whose truth is imported as
        the labels of expert ``truth``, or (``real=True``) on a survey of real data with the
        label source ``real_labels``.

        Returns
        -------
        dict: ``options`` (training options), optionally ``card_options`` (replacing options
        in the shipped card, i.e. how the shipped model predicts), and for ``real``:
        ``notes`` (card notes, ``{n}``, ``{labels}`` and ``{seed}`` filled in), ``workspace``
        and ``trained_on`` (``{n}`` and ``{name}`` filled in).

        Raises
        ------
        KinviewError
            ``real`` for a task with no real-data recipe.
        """
        if real:
            raise KinviewError(f"{self.name}: no recipe for a shipped model trained on real data")
        return {"options": {}}

    def options_for_model(self, options: Mapping[str, Any], n_outputs: int) -> Dict[str, Any]:
        """Task options under which a saved model with ``n_outputs`` outputs per sample is run,
        from the ``options`` of its card (cards of old or foreign models may lack some)."""
        return dict(options)

    def describe(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in ("name", "title", "kind", "workspace", "inputs", "target",
                                              "label_source", "architectures", "default_arch",
                                              "metrics", "default_epochs")}
