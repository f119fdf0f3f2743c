"""Consensus of several experts' current labels, and where they disagree.

Rules
-----
- Categorical labels (quality, feature, gas_note): the majority value among the experts who
  labelled that galaxy and field.  A tie for the most votes is *flagged* (``tie=True``) and has
  no consensus value (NaN; exported as −99) — kinview never breaks a tie silently.
- ``pa_override``: the circular mean of the experts' PAs (degrees E of N to the receding side,
  [0, 360)), rounded to 0.01°; a single expert's PA is returned unchanged.
- ``note``: the distinct notes, ``"expert: text"`` joined by ``" | "``.

All functions take the *current* labels (latest non-cleared event per plateifu, field, kind,
expert) as a DataFrame with columns ``plateifu, field, kind, expert, value, text``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Kinds decided by majority vote.
CATEGORICAL = ("quality", "feature", "gas_note")
KEYS = ["plateifu", "field", "kind"]
CONSENSUS_COLUMNS = KEYS + ["value", "text", "n_experts", "n_majority", "share", "tie", "experts"]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                         zip(CONSENSUS_COLUMNS, ["str", "str", "str", "float64", "object", "int64",
                                                 "int64", "float64", "bool", "str"])})


def circular_mean_deg(angles) -> float:
    """Mean direction of angles in degrees, in [0, 360); one angle comes back unchanged."""
    a = np.asarray(angles, dtype=float)
    a = a[np.isfinite(a)]
    if len(a) == 0:
        return float("nan")
    if len(a) == 1 or np.all(a == a[0]):
        return float(a[0])
    r = np.deg2rad(a)
    mean = np.rad2deg(np.arctan2(np.sin(r).mean(), np.cos(r).mean()))
    return float(np.round(np.mod(mean, 360.0), 2) % 360.0)


def consensus_table(current: pd.DataFrame) -> pd.DataFrame:
    """One row per (plateifu, field, kind) labelled by at least one expert.

    Returns
    -------
    DataFrame
        ``plateifu, field, kind, value`` (consensus; NaN for a tie or a note), ``text`` (notes),
        ``n_experts`` (experts with a current label), ``n_majority`` (votes for the winning
        value), ``share`` (n_majority / n_experts, 1.0 = unanimous), ``tie`` and ``experts``
        (``"name=value;..."``, sorted by name: who said what).
    """
    if current is None or len(current) == 0:
        return _empty()
    df = current.sort_values(KEYS + ["expert"], kind="stable")
    # who said what, "name=value;..." per key: built in plain Python (a pandas string
    # aggregation per group is ~100x slower for tens of thousands of groups)
    who_text, n_by = {}, {}
    for p, f, k, e, v in zip(df["plateifu"].tolist(), df["field"].tolist(), df["kind"].tolist(),
                             df["expert"].tolist(), df["value"].tolist()):
        item = f"{e}=note" if k == "note" else f"{e}={'' if v != v else format(v, 'g')}"
        key = (p, f, k)
        if key in who_text:
            who_text[key] += ";" + item
            n_by[key] += 1
        else:
            who_text[key] = item
            n_by[key] = 1
    key_index = pd.MultiIndex.from_tuples(list(who_text), names=KEYS)
    n_exp = pd.Series(list(n_by.values()), index=key_index, name="n_experts")
    who_list = pd.Series(list(who_text.values()), index=key_index, name="experts", dtype=object)
    parts = []

    cat = df[df["kind"].isin(CATEGORICAL)]
    if len(cat):
        votes = cat.groupby(KEYS + ["value"]).size().rename("votes").reset_index()
        top = votes.groupby(KEYS)["votes"].transform("max")
        winners = votes[votes["votes"] == top]
        g = winners.groupby(KEYS)
        n_win = g.size()
        res = pd.DataFrame({"value": g["value"].first(), "n_majority": g["votes"].first(),
                            "tie": n_win > 1})
        res.loc[res["tie"], "value"] = np.nan
        res["text"] = None
        parts.append(res)

    pa = df[df["kind"] == "pa_override"]
    if len(pa):
        rad = np.deg2rad(pa["value"].to_numpy(dtype=float))
        g = pa.assign(s=np.sin(rad), c=np.cos(rad)).groupby(KEYS)
        lo, hi = g["value"].min(), g["value"].max()
        mean = np.mod(np.round(np.mod(np.rad2deg(np.arctan2(g["s"].mean(), g["c"].mean())), 360.0), 2), 360.0)
        res = pd.DataFrame({"value": lo.where(lo == hi, mean)})  # identical PAs come back unchanged
        res["n_majority"] = g.size()
        res["tie"] = False
        res["text"] = None
        parts.append(res)

    notes = df[df["kind"] == "note"]
    if len(notes):
        lines = {}
        for p, f, k, e, t in zip(notes["plateifu"].tolist(), notes["field"].tolist(),
                                 notes["kind"].tolist(), notes["expert"].tolist(), notes["text"].tolist()):
            line = f"{e}: {t or ''}"
            lines[(p, f, k)] = f"{lines[(p, f, k)]} | {line}" if (p, f, k) in lines else line
        res = pd.DataFrame({"text": pd.Series(list(lines.values()), dtype=object,
                                              index=pd.MultiIndex.from_tuples(list(lines), names=KEYS))})
        res["value"] = np.nan
        res["n_majority"] = notes.groupby(KEYS).size()
        res["tie"] = False
        parts.append(res)

    if not parts:
        return _empty()
    out = pd.concat(parts).join(n_exp).join(who_list)
    out["share"] = out["n_majority"] / out["n_experts"]
    out = out.reset_index()
    out["n_majority"] = out["n_majority"].astype("int64")
    out["n_experts"] = out["n_experts"].astype("int64")
    out["tie"] = out["tie"].astype(bool)
    return out[CONSENSUS_COLUMNS].sort_values(KEYS, kind="stable").reset_index(drop=True)


def disagreements(current: pd.DataFrame, kinds=CATEGORICAL) -> pd.DataFrame:
    """Galaxies where experts who labelled the same field and kind gave different values.

    Returns the rows of :func:`consensus_table` (for the categorical ``kinds``) with
    ``n_experts ≥ 2`` and ``share < 1``, ties first, then by ascending share.
    """
    table = consensus_table(current)
    sel = table[table["kind"].isin(kinds) & (table["n_experts"] >= 2) & (table["share"] < 1.0)]
    return sel.sort_values(["tie", "share", "plateifu"], ascending=[False, True, True],
                           kind="stable").reset_index(drop=True)
