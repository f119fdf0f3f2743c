"""Several experts on one survey: blind labelling, the reveal, adjudication and agreement.

No Qt here: the GUI binds widgets to these functions (a future labelling session owns them),
the CLI and the tests call them directly.

Blind mode
    Other experts' labels of a galaxy (and a published catalogue's, when one was imported)
    stay hidden from an expert until that expert has labelled the galaxy: its stellar quality,
    and its gas quality unless the galaxy has no gas map.  Then :func:`reveal` returns
    everyone's labels.
Published catalogue
    Labels imported from a file (``source='import:<file>'``, e.g. the MPL-7 catalogue imported
    with ``kinview labels import FILE --expert mpl7``) are shown as that catalogue's labels,
    not as a person's.  They still count as a rater in the consensus and in κ.
Adjudication
    Where experts who labelled the same field disagree on a categorical label (quality,
    feature, gas note), an adjudicator records the final label.  It is an event of its own in
    the append-only ``adjudications`` log (:mod:`kinview.db.adjudications`), never a label of
    an expert: it does not change anyone's labels, κ or the disagreement itself, but the
    consensus (``kinview labels export --consensus``, training on ``consensus``) uses it instead
    of the majority — also where the majority was a tie.  The latest decision on a
    (galaxy, field, kind) is the final label; withdrawing it (value None) restores the majority.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from kinview.conventions import VOCABULARIES
from kinview.db import adjudications as db_adj
from kinview.labels.consensus import CATEGORICAL, disagreements
from kinview.labels.store import LabelValueError, current_labels_sql, normalize_value, utc_now
from kinview.labels.visibility import has_labelled, may_see_others

#: (field, kind) pairs that can disagree and be adjudicated, in display order.
ADJUDICABLE: Tuple[Tuple[str, str], ...] = (
    ("stellar", "quality"), ("gas", "quality"), ("stellar", "feature"), ("gas", "feature"),
    ("gas", "gas_note"))

#: Columns of :func:`adjudication_queue`.
QUEUE_COLUMNS = ["plateifu", "field", "kind", "experts", "n_experts", "tie", "majority", "final",
                 "adjudicator", "resolved"]

#: Prefix of the ``source`` of imported labels.
IMPORT_PREFIX = "import:"


# ---------------------------------------------------------------------------------------------
# recording final labels
# ---------------------------------------------------------------------------------------------
def _check_key(field: str, kind: str) -> None:
    if (field, kind) not in ADJUDICABLE:
        allowed = ", ".join(f"{f} {k}" for f, k in ADJUDICABLE)
        raise LabelValueError(f"cannot adjudicate {field} {kind}: use one of {allowed}")


def basis_text(store, plateifu: str, field: str, kind: str) -> str:
    """The experts' current labels of one key as ``"name=value;..."`` sorted by name."""
    cur = store.current(plateifu=plateifu, kinds=[kind])
    cur = cur[cur["field"] == field].sort_values("expert", kind="stable")
    return ";".join(f"{e}={int(v)}" for e, v in zip(cur["expert"], cur["value"]) if v == v)


def adjudicate(store, plateifu: str, field: str, kind: str, value, adjudicator: Optional[str] = None,
               source: str = "gui") -> int:
    """Record the final label of a galaxy's field (an adjudication event); return its id.

    Parameters
    ----------
    store : kinview.labels.LabelStore
    plateifu : str
    field : {'stellar', 'gas'}
    kind : {'quality', 'feature', 'gas_note'}
    value : int or None
        A code of the kind's vocabulary, or None to withdraw the final label.
    adjudicator : str, optional
        Default: the store's expert.
    source : str
        ``gui`` or ``cli``.

    Returns
    -------
    int
        The event id, once committed and fsynced.

    Raises
    ------
    LabelValueError
        Unknown galaxy, a field/kind that cannot be adjudicated, or a value outside the
        vocabulary.
    """
    _check_key(field, kind)
    num, _ = normalize_value(field, kind, value)
    who = store._expert(adjudicator)
    store._check_galaxy(plateifu)
    return db_adj.add(store.conn, plateifu, field, kind, num, who, utc_now(),
                      basis_text(store, plateifu, field, kind), source)


def withdraw(store, plateifu: str, field: str, kind: str, adjudicator: Optional[str] = None,
             source: str = "gui") -> int:
    """Withdraw the final label of a key (append an event with no value); return its id."""
    return adjudicate(store, plateifu, field, kind, None, adjudicator, source)


def final_labels(store, plateifu: Optional[str] = None) -> pd.DataFrame:
    """Current final labels: ``plateifu, field, kind, value, adjudicator, created, basis, id``."""
    df = pd.DataFrame(db_adj.final_labels(store.conn, plateifu), columns=db_adj.FINAL_COLUMNS)
    df["value"] = df["value"].astype("float64")
    return df


def apply_final(consensus: pd.DataFrame, finals: pd.DataFrame) -> pd.DataFrame:
    """The consensus table with the adjudicators' final labels in place of the majority.

    Parameters
    ----------
    consensus : DataFrame
        From :func:`kinview.labels.consensus.consensus_table`.
    finals : DataFrame
        From :func:`final_labels`.

    Returns
    -------
    DataFrame
        A copy with ``value`` replaced (and ``tie`` False) where a final label exists, and a
        column ``adjudicator`` (name, or ``""`` where the majority stands).
    """
    out = consensus.copy()
    out["adjudicator"] = ""
    if finals is None or len(finals) == 0 or len(out) == 0:
        return out
    key = pd.MultiIndex.from_frame(out[["plateifu", "field", "kind"]])
    fin = finals.drop_duplicates(["plateifu", "field", "kind"], keep="last").set_index(
        ["plateifu", "field", "kind"])
    value = fin["value"].reindex(key)
    has = value.notna().to_numpy()
    out.loc[has, "value"] = value.to_numpy()[has]
    out.loc[has, "tie"] = False
    out.loc[has, "adjudicator"] = fin["adjudicator"].reindex(key).to_numpy()[has]
    return out


# ---------------------------------------------------------------------------------------------
# the queue
# ---------------------------------------------------------------------------------------------
def adjudication_queue(store, include_resolved: bool = False) -> pd.DataFrame:
    """Galaxy fields where experts disagree, to adjudicate.

    Parameters
    ----------
    store : kinview.labels.LabelStore
    include_resolved : bool
        Also list disagreements that already have a final label (after the open ones).

    Returns
    -------
    DataFrame
        :data:`QUEUE_COLUMNS`: ``experts`` (``"name=value;..."``), ``n_experts``, ``tie`` (no
        majority), ``majority`` (the majority value, NaN for a tie), ``final`` (the final label,
        NaN when none) with its ``adjudicator``, and ``resolved``.  Open items first, then in
        catalogue order and field/kind order, so an adjudicator works galaxy by galaxy.
    """
    dis = disagreements(store.current(kinds=list(CATEGORICAL)))
    dis = dis[[(f, k) in ADJUDICABLE for f, k in zip(dis["field"], dis["kind"])]]
    if len(dis) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in QUEUE_COLUMNS})
    finals = final_labels(store)
    withfinal = apply_final(dis, finals)
    out = pd.DataFrame({
        "plateifu": dis["plateifu"].to_numpy(), "field": dis["field"].to_numpy(),
        "kind": dis["kind"].to_numpy(), "experts": dis["experts"].to_numpy(),
        "n_experts": dis["n_experts"].to_numpy(), "tie": dis["tie"].to_numpy(),
        "majority": dis["value"].to_numpy(dtype=float),
        "final": np.where(withfinal["adjudicator"].to_numpy() != "", withfinal["value"].to_numpy(dtype=float),
                          np.nan),
        "adjudicator": withfinal["adjudicator"].to_numpy()})
    out["resolved"] = out["adjudicator"] != ""
    if not include_resolved:
        out = out[~out["resolved"]]
    order = {p: i for i, p in enumerate(store.plateifus())}
    rank = {k: i for i, k in enumerate(ADJUDICABLE)}
    out = out.assign(_g=[order.get(p, len(order)) for p in out["plateifu"]],
                     _k=[rank[(f, k)] for f, k in zip(out["field"], out["kind"])])
    out = out.sort_values(["resolved", "_g", "plateifu", "_k"], kind="stable")
    return out[QUEUE_COLUMNS].reset_index(drop=True)


def queue_counts(source) -> Dict[str, int]:
    """``{"open": n, "resolved": n, "galaxies_open": n}`` of the adjudication queue.

    ``source`` is a LabelStore, or a queue already read with ``include_resolved=True``.
    """
    q = source if isinstance(source, pd.DataFrame) else adjudication_queue(source, include_resolved=True)
    open_ = q[~q["resolved"].astype(bool)] if len(q) else q
    return {"open": int(len(open_)), "resolved": int(len(q) - len(open_)),
            "galaxies_open": int(open_["plateifu"].nunique()) if len(open_) else 0}


# ---------------------------------------------------------------------------------------------
# blind mode and the reveal
# ---------------------------------------------------------------------------------------------
@dataclass
class RaterLabels:
    """One rater's current labels of a galaxy, for the reveal strip.

    ``labels`` maps (field, kind) to an int code, a float PA (degrees E of N to the receding
    side) or a note text.  ``catalogue`` is the imported file's name when every one of the
    rater's labels of this galaxy came from an import (a published catalogue), else None.
    """

    name: str
    labels: Dict[Tuple[str, str], object]
    catalogue: Optional[str] = None


@dataclass
class Reveal:
    """What an expert may see of the other raters' labels of one galaxy.

    ``hidden`` is True in blind mode until the expert has labelled the galaxy; then ``raters``
    is empty and only ``n_others`` (how many others labelled it) is told.  ``final`` maps
    (field, kind) to ``(value, adjudicator)``; ``disputed`` lists the (field, kind) on which
    the raters (the expert included) disagree.
    """

    plateifu: str
    expert: str
    labelled: bool
    hidden: bool
    n_others: int
    mine: Dict[Tuple[str, str], object] = dc_field(default_factory=dict)
    raters: List[RaterLabels] = dc_field(default_factory=list)
    final: Dict[Tuple[str, str], Tuple[float, str]] = dc_field(default_factory=dict)
    disputed: List[Tuple[str, str]] = dc_field(default_factory=list)


def _value(kind, value, text):
    if kind == "note":
        return text
    if kind == "pa_override":
        return float(value)
    return int(value)


def reveal(store, plateifu: str, expert: Optional[str] = None, has_gas: bool = True,
           blind: bool = True, adjudicating: bool = False, rater: bool = False) -> Reveal:
    """The other raters' labels of ``plateifu`` as ``expert`` may see them.

    Parameters
    ----------
    store : kinview.labels.LabelStore
    plateifu : str
    expert : str, optional
        Who is looking (default: the store's expert).
    has_gas : bool
        False for a galaxy without a gas map (then the stellar quality alone ends blind mode).
    blind : bool
        Blind mode: hide the others' labels until ``expert`` has labelled the galaxy.
    adjudicating : bool
        ``expert`` is adjudicating: everyone's labels are shown, blind mode or not, unless
        ``rater``.
    rater : bool
        ``expert`` has labelled galaxies of the survey
        (:func:`kinview.labels.visibility.is_rater`).

    The rule is :func:`kinview.labels.visibility.may_see_others`.
    """
    who = store._expert(expert)
    # plain rows (no DataFrame): this runs on every galaxy change in the GUI
    rows = store._rows(current_labels_sql(["plateifu = ?"]), (plateifu,))
    by: Dict[str, Dict[Tuple[str, str], object]] = {}
    sources: Dict[str, set] = {}
    for _, fld, kind, name, num, text, _, _, source, *_ in rows:
        by.setdefault(name, {})[(fld, kind)] = _value(kind, num, text)
        sources.setdefault(name, set()).add(source)
    mine = by.pop(who, {})
    labelled = has_labelled(mine, has_gas)
    out = Reveal(plateifu=plateifu, expert=who, labelled=labelled,
                 hidden=not may_see_others(mine, has_gas, blind, adjudicating, rater),
                 n_others=len(by), mine=mine)
    if out.hidden:
        return out
    for name in sorted(by):
        src = sources[name]
        files = sorted(s[len(IMPORT_PREFIX):] for s in src if s.startswith(IMPORT_PREFIX))
        catalogue = files[0] if files and len(files) == len(src) else None
        out.raters.append(RaterLabels(name=name, labels=by[name], catalogue=catalogue))
    for _, fld, kind, value, adjudicator, *_ in db_adj.final_labels(store.conn, plateifu):
        out.final[(fld, kind)] = (float(value), adjudicator)
    everyone = [mine] + [r.labels for r in out.raters]
    for key in ADJUDICABLE:
        values = {lab[key] for lab in everyone if key in lab}
        if len(values) > 1:
            out.disputed.append(key)
    return out


# ---------------------------------------------------------------------------------------------
# agreement, per field and per class
# ---------------------------------------------------------------------------------------------
def kappa_summary(store) -> List[dict]:
    """Inter-rater agreement of every categorical label, per field and per class.

    Returns
    -------
    list of dict
        One per :data:`ADJUDICABLE` (field, kind): ``field, kind, method`` ('cohen' for two
        raters, 'fleiss' for more, None for fewer), ``experts``, ``n_items`` (galaxies compared),
        ``kappa``, ``observed`` (share of compared galaxies where all agree) and ``per_class``
        ({code: κ}, one-vs-rest Cohen or Fleiss' κ_j).  NaN where undefined.
    """
    out = []
    for fld, kind in ADJUDICABLE:
        a = store.agreement(fld, kind)
        out.append({"field": fld, "kind": kind, "method": a["method"], "experts": a["experts"],
                    "n_items": a["n_items"], "kappa": a["kappa"], "observed": a["observed"],
                    "per_class": {int(k): float(v) for k, v in a["per_class"].items()}})
    return out


def class_names(kind: str) -> Dict[int, str]:
    """Vocabulary of a categorical kind (code → name)."""
    return dict(VOCABULARIES[kind])
