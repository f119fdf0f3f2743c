"""Who may see what: the one rule for other experts' labels in the workspace (no Qt here).

Every view of per-galaxy labels binds to these functions — the reveal strip
(:func:`kinview.labels.adjudication.reveal`), the galaxy list's ``experts`` column, sort and
"Experts disagree" filter (:func:`kinview.viewstate.refresh_derived`), and the Model tab's
"likely label errors" queue (:func:`visible_label_rows`) — so the rule is written once.  (The
Model tab's "label next" queue reads the viewer's own labels only, so it shows nothing of the
others' and needs no rule.)

The rule
    An expert looking at a galaxy may see the other raters' labels of it (other experts', and
    a published catalogue's imported with ``kinview labels import``) when

    - blind mode is off, or
    - the expert has labelled the galaxy (:func:`has_labelled`: its stellar quality and, unless
      its gas map has no valid spaxels, its gas quality), or
    - the expert is adjudicating (the adjudication queue is open: settling a disagreement
      needs everyone's labels; the expert's label keys are off meanwhile) and is not a rater
      of the survey (has labelled no galaxy).  A rater who adjudicates with blind mode on
      sees, and settles, only disagreements on galaxies they have labelled — else opening
      the queue would show them the labels of galaxies still to label.  Switching blind mode
      off is the explicit way past that.

    An expert always sees their own labels.  That other raters *have* labelled a galaxy (how
    many) is not hidden; what they said is.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Set, Tuple

#: Labels of one galaxy by one expert: {(field, kind): value}.
Labels = Dict[Tuple[str, str], object]


def has_labelled(labels: Labels, has_gas: bool = True) -> bool:
    """True when ``labels`` hold the stellar quality and, for a galaxy with a gas map, the gas
    quality (the galaxy counts as labelled, and blind mode ends for it)."""
    if ("stellar", "quality") not in labels:
        return False
    return ("gas", "quality") in labels or not has_gas


def gave_quality(labels: Labels) -> bool:
    """True when ``labels`` hold a quality of either field (the expert rated the galaxy)."""
    return ("stellar", "quality") in labels or ("gas", "quality") in labels


def is_rater(labels_by_galaxy: Dict[str, Labels]) -> bool:
    """Whether an expert with these current labels ({plateifu: labels}) is a rater of the
    survey: has given any quality (:func:`gave_quality`)."""
    return any(gave_quality(lab) for lab in labels_by_galaxy.values())


def hides_others(blind: bool, adjudicating: bool = False, rater: bool = False) -> bool:
    """Whether other raters' labels are hidden at all (until labelled): blind mode on, unless
    adjudicating as someone who is not a rater."""
    return bool(blind) and not (adjudicating and not rater)


def may_see_others(labels: Labels, has_gas: bool = True, blind: bool = True,
                   adjudicating: bool = False, rater: bool = False) -> bool:
    """May an expert whose own labels of a galaxy are ``labels`` see the other raters' labels
    of it?  ``rater``: the expert has labelled galaxies of the survey (:func:`is_rater`).
    (The rule in the module docstring.)"""
    return not hides_others(blind, adjudicating, rater) or has_labelled(labels, has_gas)


def visible_label_rows(rows, viewer: str, revealed: Optional[Set[str]]):
    """The rows of a per-rater label table that ``viewer`` may see.

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per (galaxy, rater, ...) with columns ``plateifu`` and ``expert``.
    viewer : str
        Who is looking: their own rows are always kept.
    revealed : set of str or None
        Galaxies whose other raters' labels the viewer may see (:func:`may_see_others`, e.g.
        :meth:`kinview.session.LabellingSession.revealed_galaxies`); None: every galaxy
        (blind mode off, or adjudicating).

    Returns
    -------
    pandas.DataFrame
        The visible rows, in their order, index reset.
    """
    if revealed is None or rows is None or len(rows) == 0:
        return rows
    keep = [who == viewer or p in revealed for p, who in zip(rows["plateifu"], rows["expert"])]
    return rows[keep].reset_index(drop=True)


def revealed_set(plateifus, labels_of: Callable[[str], Labels], has_gas: Callable[[str], bool],
                 blind: bool = True, adjudicating: bool = False,
                 rater: bool = False) -> Optional[Set[str]]:
    """The galaxies among ``plateifus`` whose other raters' labels may be seen, or None when
    nothing is hidden (:func:`hides_others` is False)."""
    if not hides_others(blind, adjudicating, rater):
        return None
    return {p for p in plateifus if has_labelled(labels_of(p), has_gas(p))}
