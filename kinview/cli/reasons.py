"""Why some fields have no result: a short summary for ``kinview pa`` and ``kinview predict``.

Reasons are grouped by their head (the text before the first ``" ("`` or ``": "``), most
frequent first, each with a count and one example field; ``verbose`` lists every field.
"""
from __future__ import annotations

import re
from typing import Iterable, List, Tuple

#: Groups shown before "... and N more reasons" when not verbose.
MAX_GROUPS = 5


def reason_head(reason: str) -> str:
    """``'too few spaxels (12 < 20)'`` → ``'too few spaxels'``."""
    head = re.split(r" \(|: ", str(reason or "unknown"), maxsplit=1)[0].strip()
    return head or "unknown"


def summarise(failures: Iterable[Tuple[str, str, str]], verbose: bool = False,
              indent: str = "  ") -> List[str]:
    """Lines describing ``(plateifu, field, reason)`` triples (empty list when none)."""
    failures = list(failures)
    if not failures:
        return []
    if verbose:
        return [f"{indent}{p} {f}: {r}" for p, f, r in failures]
    groups = {}
    for p, f, r in failures:
        groups.setdefault(reason_head(r), []).append((p, f, r))
    order = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    lines = [f"{indent}{len(items):>5}  {head} (e.g. {items[0][0]} {items[0][1]}: {items[0][2]})"
             for head, items in order[:MAX_GROUPS]]
    if len(order) > MAX_GROUPS:
        rest = sum(len(items) for _, items in order[MAX_GROUPS:])
        lines.append(f"{indent}{rest:>5}  other reasons")
    lines.append(f"{indent}(--verbose lists every field)")
    return lines
