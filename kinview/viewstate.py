"""The galaxy table, its filters and the plain view state (no Qt here).

A :class:`ViewState` belongs to the :class:`kinview.session.LabellingSession`, the one model
the classification window binds to; tests and benchmarks drive the same session without Qt.
The view state holds *what is shown*: the survey, the ordered list of
galaxies after filtering and sorting, the current position, the colour clip, the map toggles
and the expert's name.  Observers are plain callables ``fn(name, value)`` called after a
change, from the thread that made it (the GUI only changes it on its own thread).

It also holds the galaxy table (:func:`load_table`): one row per galaxy with the catalogue
values, this expert's labels, every expert's qualities, the stored position angles and the
active model's predictions, read with a handful of SQL queries so that a 10,000-galaxy survey
loads in well under a second.  Filters (:data:`FILTERS`) and sorting are pure functions of that
table.

Conventions: PAs in degrees East of North to the receding side, [0, 360); ΔPA in [0, 180]
(:func:`kinview.conventions.delta_pa`); quality 0/1/2.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional

import numpy as np

from kinview.conventions import MISALIGNED_DEG, delta_pa
from kinview.db import galaxies as db_galaxies
from kinview.db import labels as db_labels
from kinview.db import models as db_models
from kinview.db import pa_fits as db_pa_fits
from kinview.db.pa_fits import preferred_fits
from kinview.labels.visibility import gave_quality, may_see_others
from kinview.tasks.registry import field_quality_tasks

#: Filters offered in the galaxy list: key -> label shown to the user.
FILTERS: Dict[str, str] = {
    "all": "All galaxies",
    "unlabelled": "Unlabelled (by me)",
    "mine": "Labelled by me",
    "disagree_experts": "Experts disagree",
    "disagree_model": "Disagree with model",
    "low_confidence": "Low model confidence",
    "quality": "Quality = k",
    "misaligned": "Misaligned (ΔPA ≥ 30°)",
    "pa_unfitted": "PA not fitted yet",
    "pa_none": "No PA (fit failed)",
}

#: Model confidence below which a galaxy counts as "low confidence".
LOW_CONFIDENCE = 0.7

#: Table columns and their headers in the galaxy list, in display order.
COLUMNS: Dict[str, str] = {
    "plateifu": "plate-ifu",
    "z": "z",
    "ifusize": "IFU",
    "stel_qual": "★Q",
    "gas_qual": "gasQ",
    "stellar_pa": "PA★",
    "gas_pa": "PAgas",
    "dpa": "ΔPA",
    "pred_stellar": "model★",
    "conf_stellar": "conf★",
    "pred_gas": "modelgas",
    "conf_gas": "confgas",
    "n_experts": "experts",
}

#: PA fit methods in order of preference (the rule lives in :mod:`kinview.db.pa_fits`).
PA_METHOD_PREFERENCE = db_pa_fits.PA_METHOD_PREFERENCE


# ---------------------------------------------------------------------------------------------
# the galaxy table
# ---------------------------------------------------------------------------------------------
def _latest_labels(conn: sqlite3.Connection):
    """Rows (plateifu, field, kind, expert, value_num, value_text) of the current labels
    (the label store's rule: latest event per galaxy, field, kind and expert)."""
    return db_labels.current_label_rows(conn)


def load_table(conn: sqlite3.Connection, expert: str, blind: bool = False):
    """Build the galaxy table of a survey database.

    Parameters
    ----------
    conn : sqlite3.Connection
        An open survey database (schema v1).
    expert : str
        Whose labels fill ``stel_qual``/``gas_qual`` and the ``labels`` dictionary.
    blind : bool
        Blind mode: other experts' labels are counted only for galaxies ``expert`` has
        labelled (:func:`refresh_derived`); recorded in ``table.attrs['blind']``.

    Returns
    -------
    pandas.DataFrame
        Index = plateifu in catalogue order; columns :data:`COLUMNS` plus ``has_maps``,
        ``has_image``, ``maps_path``/``image_path`` (relative to the survey root, None when
        missing), ``ra``, ``dec``, ``re_arcsec``, ``ba``, ``phi`` (photometric PA, deg E
        of N), ``stellar_pa_err``, ``gas_pa_err``, and
        ``quals``: a dict ``{(field, expert): quality}`` of every expert's current quality.
    dict
        ``{plateifu: {(field, kind): value}}`` of ``expert``'s current labels (value is a float
        code/PA or a note string; cleared labels are absent).
    """
    import pandas as pd

    rows = db_galaxies.table_rows(conn)
    pifus = [r[0] for r in rows]
    n = len(pifus)
    table = pd.DataFrame({
        "plateifu": pifus,
        "z": np.array([r[1] for r in rows], float),
        "ifusize": np.array([r[2] if r[2] is not None else -1 for r in rows], int),
        "ra": np.array([r[3] for r in rows], float),
        "dec": np.array([r[4] for r in rows], float),
        "re_arcsec": np.array([r[5] for r in rows], float),
        "ba": np.array([r[6] for r in rows], float),
        "phi": np.array([r[7] for r in rows], float),
        "has_maps": np.array([r[8] is not None for r in rows], bool),
        "has_image": np.array([r[9] is not None for r in rows], bool),
        "maps_path": [r[8] for r in rows],
        "image_path": [r[9] for r in rows],
    }, index=pd.Index(pifus, name="plateifu"))
    pos = {p: i for i, p in enumerate(pifus)}

    _set_pa_columns(table, conn, pos)

    # labels
    mine: Dict[str, Dict[tuple, object]] = {}
    quals: List[Dict[tuple, float]] = [dict() for _ in range(n)]
    for pifu, fld, kind, who, num, text in _latest_labels(conn):
        i = pos.get(pifu)
        if i is None:
            continue
        value = text if kind == "note" else num
        if value is None:
            continue
        if kind == "quality":
            quals[i][(fld, who)] = float(num)
        if who == expert:
            mine.setdefault(pifu, {})[(fld, kind)] = value
    table["quals"] = quals

    _set_prediction_columns(table, conn, pos)
    refresh_derived(table, mine, blind=blind)
    table.attrs["blind"] = bool(blind)
    return table, mine


def prediction_table(conn: sqlite3.Connection):
    """The prediction columns of the galaxy table alone (``pred_stellar``, ``conf_stellar``,
    ``pred_gas``, ``conf_gas``, ``model_id``; index = plateifu; ``attrs['model_id']``), as
    :func:`load_table` fills them: what a re-read after the active model changed needs,
    without re-reading labels and PA fits."""
    import pandas as pd

    pifus = db_galaxies.plateifus_in_order(conn)
    table = pd.DataFrame(index=pd.Index(pifus, name="plateifu"))
    _set_prediction_columns(table, conn, {p: i for i, p in enumerate(pifus)})
    return table


def _set_prediction_columns(table, conn: sqlite3.Connection, pos: Dict[str, int]) -> Optional[int]:
    """Fill the predictions of the newest active model of a task that grades velocity fields
    (the task registry says which: :func:`kinview.tasks.registry.field_quality_tasks`), NaN
    where there is none; the model id goes to the ``model_id`` column and to
    ``table.attrs['model_id']`` (read by :mod:`kinview.gui.model_panels`).  Returns it."""
    n = len(table)
    pred = {f: np.full(n, np.nan) for f in ("stellar", "gas")}
    conf = {f: np.full(n, np.nan) for f in ("stellar", "gas")}
    model_id = db_models.latest_active_id_of(conn, field_quality_tasks())
    if model_id is not None:
        for pifu, fld, value, confidence, _extra in db_models.prediction_rows(conn, model_id):
            i = pos.get(pifu)
            if i is None or fld not in pred:
                continue
            pred[fld][i] = np.nan if value is None else value
            conf[fld][i] = np.nan if confidence is None else confidence
    table["pred_stellar"] = pred["stellar"]
    table["conf_stellar"] = conf["stellar"]
    table["pred_gas"] = pred["gas"]
    table["conf_gas"] = conf["gas"]
    table["model_id"] = np.full(n, np.nan if model_id is None else float(model_id))
    table.attrs["model_id"] = model_id
    return model_id


def _set_pa_columns(table, conn: sqlite3.Connection, pos: Dict[str, int]) -> None:
    """Fill the PA columns of ``table`` from the preferred stored fits (:mod:`kinview.db.pa_fits`).

    ``pa_method_<field>`` is None (NaN in a string column) for a field that has no stored fit at all (*not fitted yet*);
    a stored but failed fit leaves the PA NaN with the method and ``pa_reason_<field>`` set
    (*no PA*).  A fit's systemic-velocity correction is not copied here: the field loader
    (:mod:`kinview.session.loading`) applies it to the velocities it draws.
    """
    n = len(table)
    pa = {f: np.full(n, np.nan) for f in ("stellar", "gas")}
    err = {f: np.full(n, np.nan) for f in ("stellar", "gas")}
    meth = {f: [None] * n for f in ("stellar", "gas")}
    why = {f: [None] * n for f in ("stellar", "gas")}
    for fit in preferred_fits(conn):
        i = pos.get(fit.plateifu)
        if i is None or fit.field not in pa:
            continue
        fld = fit.field
        pa[fld][i] = np.nan if fit.pa is None else fit.pa
        err[fld][i] = np.nan if fit.pa_err is None else fit.pa_err
        meth[fld][i] = fit.method
        why[fld][i] = fit.reason if fit.pa is None else None
    table["stellar_pa"] = pa["stellar"]
    table["gas_pa"] = pa["gas"]
    table["stellar_pa_err"] = err["stellar"]
    table["gas_pa_err"] = err["gas"]
    table["pa_method_stellar"] = meth["stellar"]
    table["pa_method_gas"] = meth["gas"]
    table["pa_reason_stellar"] = why["stellar"]
    table["pa_reason_gas"] = why["gas"]


def refresh_pa_fits(table, mine: Dict[str, Dict[tuple, object]], conn: sqlite3.Connection,
                    **derive_kw):
    """Re-read the stored PA fits into ``table`` (after background fits landed) and recompute
    the columns that depend on them (PA with the expert's overrides, ΔPA); ``derive_kw`` go to
    :func:`refresh_derived`."""
    pos = {p: i for i, p in enumerate(table.index)}
    _set_pa_columns(table, conn, pos)
    for fld in ("stellar", "gas"):
        table[f"{fld}_pa_fit"] = table[f"{fld}_pa"].to_numpy(dtype=float, copy=True)
    return refresh_derived(table, mine, **derive_kw)


def pa_fit_counts(table) -> Dict[str, int]:
    """How many galaxies with a MAPS file have a stellar PA (``fitted``), a failed stellar fit
    (``no_pa``) or no stellar fit stored yet (``unfitted``)."""
    has_maps = table["has_maps"].to_numpy(bool) if "has_maps" in table.columns else np.ones(len(table), bool)
    fitted_any = np.array([isinstance(m, str) for m in table["pa_method_stellar"]], bool)
    pa = table["stellar_pa_fit" if "stellar_pa_fit" in table.columns else "stellar_pa"].to_numpy(float)
    return {"fitted": int((has_maps & np.isfinite(pa)).sum()),
            "no_pa": int((has_maps & fitted_any & ~np.isfinite(pa)).sum()),
            "unfitted": int((has_maps & ~fitted_any).sum())}


def refresh_derived(table, mine: Dict[str, Dict[tuple, object]], rows: Optional[Iterable[str]] = None,
                    blind: bool = False, no_gas: Iterable[str] = ()):
    """Recompute the columns that depend on labels and PAs (all rows, or ``rows`` only).

    ``stel_qual``/``gas_qual`` are this expert's qualities (NaN = not labelled), the PA columns
    take this expert's ``pa_override`` labels into account, ``dpa`` is ΔPA in [0, 180] and
    ``n_experts`` counts experts who gave any quality.  ``revealed`` says whether other
    experts' labels of the galaxy may be shown: always without ``blind``; in blind mode only
    once this expert has labelled it (:func:`kinview.labels.visibility.has_labelled`, the galaxies in ``no_gas`` needing
    no gas quality) — until then ``n_experts`` counts this expert alone, so neither the
    column, nor a sort by it, nor a filter (:func:`filter_mask`) tells what others said.
    Works on numpy arrays (a full refresh of 10,000 rows takes milliseconds).
    """
    if "stellar_pa_fit" not in table.columns:
        table["stellar_pa_fit"] = table["stellar_pa"].to_numpy(dtype=float, copy=True)
        table["gas_pa_fit"] = table["gas_pa"].to_numpy(dtype=float, copy=True)
    if rows is None:
        pos = np.arange(len(table))
    else:
        pos = table.index.get_indexer(list(rows))
        pos = pos[pos >= 0]
    if pos.size == 0:
        return table
    pifus = table.index.to_numpy()[pos]
    quals = table["quals"].to_numpy()[pos]
    labs = [mine.get(p, {}) for p in pifus]
    no_gas = no_gas if isinstance(no_gas, (set, frozenset, dict)) else set(no_gas)
    # the rule lives in kinview.labels.visibility (``blind`` here: others hidden until labelled)
    revealed = np.array([may_see_others(lab, p not in no_gas, blind=blind)
                         for p, lab in zip(pifus, labs)], dtype=float)
    values = {
        "stel_qual": np.array([float(lab.get(("stellar", "quality"), np.nan)) for lab in labs]),
        "gas_qual": np.array([float(lab.get(("gas", "quality"), np.nan)) for lab in labs]),
        "n_experts": np.array([len({who for (_, who) in q}) if seen else float(gave_quality(lab))
                               for q, lab, seen in zip(quals, labs, revealed)], dtype=float),
        "revealed": revealed,
    }
    for fld in ("stellar", "gas"):
        fit = table[f"{fld}_pa_fit"].to_numpy(dtype=float)[pos]
        over = np.array([float(lab.get((fld, "pa_override"), np.nan)) for lab in labs])
        values[f"{fld}_pa"] = db_pa_fits.resolve_pa(over, fit)
    values["dpa"] = np.asarray(delta_pa(values["stellar_pa"], values["gas_pa"]), dtype=float)
    for col, val in values.items():
        if rows is None:
            table[col] = val
            continue
        if col not in table.columns:
            table[col] = np.nan
        j = table.columns.get_loc(col)
        if pos.size <= 32:
            for i, v in zip(pos, val):
                table.iat[int(i), j] = float(v)
        else:
            table.iloc[pos, j] = val
    return table


def filter_mask(table, name: str, k: Optional[int] = None, expert: Optional[str] = None):
    """Boolean numpy mask of the rows of ``table`` that pass filter ``name`` (:data:`FILTERS`).

    ``k`` is the quality for the ``quality`` filter (a galaxy passes when either of this
    expert's qualities equals k).  ``disagree_experts`` passes only galaxies whose ``revealed``
    column (:func:`refresh_derived`; blind mode) allows other experts' labels to be seen.
    Unknown filter names raise ValueError.
    """
    n = len(table)
    if name not in FILTERS:
        raise ValueError(f"unknown filter {name!r}; choose from {', '.join(FILTERS)}")
    sq = table["stel_qual"].to_numpy(float)
    gq = table["gas_qual"].to_numpy(float)
    if name == "all":
        return np.ones(n, bool)
    if name == "unlabelled":
        return ~np.isfinite(sq) | ~np.isfinite(gq)
    if name == "mine":
        return np.isfinite(sq) | np.isfinite(gq)
    if name == "quality":
        if k is None:
            return np.ones(n, bool)
        return (sq == k) | (gq == k)
    if name == "misaligned":
        return table["dpa"].to_numpy(float) >= MISALIGNED_DEG
    if name in ("pa_unfitted", "pa_none"):
        has_maps = table["has_maps"].to_numpy(bool)
        out = np.zeros(n, bool)
        for fld in ("stellar", "gas"):
            stored = np.array([isinstance(m, str) for m in table[f"pa_method_{fld}"]], bool)
            if name == "pa_unfitted":
                out |= ~stored
            else:
                out |= stored & ~np.isfinite(table[f"{fld}_pa_fit"].to_numpy(float))
        return out & has_maps
    if name == "disagree_experts":
        out = np.zeros(n, bool)
        for i, q in enumerate(table["quals"]):
            for fld in ("stellar", "gas"):
                values = {v for (f, _), v in q.items() if f == fld}
                if len(values) > 1:
                    out[i] = True
        if "revealed" in table.columns:
            out &= table["revealed"].to_numpy(float) > 0
        return out
    if name == "low_confidence":
        cs = table["conf_stellar"].to_numpy(float)
        cg = table["conf_gas"].to_numpy(float)
        with np.errstate(invalid="ignore"):
            return (cs < LOW_CONFIDENCE) | (cg < LOW_CONFIDENCE)
    if name == "disagree_model":
        out = np.zeros(n, bool)
        for fld, q in (("stellar", sq), ("gas", gq)):
            p = table[f"pred_{fld}"].to_numpy(float)
            ok = np.isfinite(p) & np.isfinite(q)
            # the model predicts P(usable) in [0, 1] or a class 0/1/2
            binary = np.nanmax(np.where(np.isfinite(p), p, 0.0)) <= 1.0 if n else True
            if binary:
                out |= ok & ((p >= 0.5) != (q >= 1))
            else:
                out |= ok & (np.rint(p) != q)
        return out
    raise AssertionError(name)  # pragma: no cover


def ordered_rows(table, filter_name: str = "all", k: Optional[int] = None,
                 sort_key: Optional[str] = None, descending: bool = False) -> List[str]:
    """Plate-ifus passing the filter, in catalogue order or sorted by ``sort_key``."""
    mask = filter_mask(table, filter_name, k)
    sub = table[mask]
    if sort_key and sort_key in sub.columns and sort_key != "quals":
        sub = sub.sort_values(sort_key, ascending=not descending, kind="stable", na_position="last")
    return list(sub.index)


# ---------------------------------------------------------------------------------------------
# the view state
# ---------------------------------------------------------------------------------------------
Observer = Callable[[str, object], None]


@dataclass
class ViewState:
    """What the classification window shows; widgets observe it.

    Attributes
    ----------
    survey_dir : str or None
    expert : str
    order : list of str
        Plate-ifus currently listed (after filter and sort), in display order.
    index : int
        Position of the current galaxy in ``order`` (-1 when empty).
    filter_name, filter_k, sort_key, descending
        The galaxy list's filter and sort (see :data:`FILTERS`).
    clip_percentile : float
        Percentile of |v − v_sys| that sets the symmetric colour limits (e.g. 98).
    toggles : dict
        ``sigma``, ``flux`` (extra map rows), ``cleaned`` (show spaxels the cleaning removed),
        ``wedge`` (PA error wedge), ``auto_advance``, ``wide_image`` (the whole colour cutout
        rather than the IFU's sky), ``keep_zoom`` (a hand-set zoom carries over to the next
        galaxy), ``shared_vscale`` (one velocity scale for the stellar and gas maps),
        ``marks`` (kpc scale bar and PSF FWHM on the panels).
    """

    survey_dir: Optional[str] = None
    expert: str = "expert"
    order: List[str] = field(default_factory=list)
    index: int = -1
    filter_name: str = "all"
    filter_k: Optional[int] = None
    sort_key: Optional[str] = None
    descending: bool = False
    clip_percentile: float = 98.0
    toggles: Dict[str, bool] = field(default_factory=lambda: {
        "sigma": False, "flux": False, "cleaned": False, "wedge": True, "auto_advance": True,
        "wide_image": False, "keep_zoom": False, "shared_vscale": False, "marks": True})
    _observers: List[Observer] = field(default_factory=list, repr=False)

    # observers -------------------------------------------------------------------------------
    def subscribe(self, fn: Observer) -> Callable[[], None]:
        """Call ``fn(name, value)`` after every change; returns an unsubscribe function."""
        self._observers.append(fn)
        return lambda: self._observers.remove(fn) if fn in self._observers else None

    def _notify(self, name: str, value) -> None:
        for fn in list(self._observers):
            fn(name, value)

    def set(self, name: str, value) -> None:
        """Set an attribute (or a toggle, as ``toggles.<name>``) and notify on change."""
        if name.startswith("toggles."):
            key = name.split(".", 1)[1]
            if self.toggles.get(key) == value:
                return
            self.toggles[key] = bool(value)
            self._notify(name, bool(value))
            return
        if getattr(self, name) == value:
            return
        setattr(self, name, value)
        self._notify(name, value)

    # navigation ------------------------------------------------------------------------------
    @property
    def current(self) -> Optional[str]:
        """Plate-ifu of the current galaxy, or None."""
        if 0 <= self.index < len(self.order):
            return self.order[self.index]
        return None

    def set_order(self, order: List[str], keep: Optional[str] = None) -> None:
        """Replace the listed galaxies, staying on ``keep`` (or the current galaxy) if listed."""
        keep = keep if keep is not None else self.current
        self.order = list(order)
        self._notify("order", self.order)
        if keep in self.order:
            idx = self.order.index(keep)
        else:
            idx = 0 if self.order else -1
        self.index = -2  # force a notification
        self.go(idx)

    def go(self, index: int) -> Optional[str]:
        """Move to position ``index`` (clamped) and notify ``index``."""
        if not self.order:
            index = -1
        else:
            index = max(0, min(int(index), len(self.order) - 1))
        if index != self.index:
            self.index = index
            self._notify("index", index)
        return self.current

    def goto(self, plateifu: str) -> bool:
        """Move to ``plateifu`` if it is listed; return whether it is."""
        if plateifu in self.order:
            self.go(self.order.index(plateifu))
            return True
        return False

    def next(self) -> Optional[str]:
        return self.go(self.index + 1)

    def previous(self) -> Optional[str]:
        return self.go(self.index - 1)

    def next_where(self, predicate: Callable[[str], bool]) -> Optional[str]:
        """Move to the next listed galaxy (wrapping) for which ``predicate`` holds."""
        n = len(self.order)
        for step in range(1, n + 1):
            i = (self.index + step) % n
            if predicate(self.order[i]):
                self.go(i)
                return self.current
        return None
