"""Model cards: a JSON file beside every saved model saying what it is and how it was made.

A card holds: task, architecture, options (e.g. ``mode``), the data it was trained on
(workspace, label source, label-set hash, number of samples, class counts, split sizes and the
test groups), the recipe (epochs, batch size, learning rate, seed), the held-out metrics, the
date (UTC), the kinview / Keras versions and backend, and free-text notes (intended use,
caveats).  Written atomically (temporary file + rename).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Union

from kinview.errors import KinviewError
from kinview.strict_json import jsonable

REQUIRED = ("task", "architecture", "label_source", "label_hash", "n_samples", "metrics", "date",
            "kinview_version", "backend", "seed", "epochs", "split_sizes")


def card_path(model_path: Union[str, Path]) -> Path:
    """``model.keras`` → ``model.json``."""
    return Path(model_path).with_suffix(".json")


def write_card(path: Union[str, Path], card: Dict[str, Any]) -> Path:
    """Write ``card`` as indented JSON (strict: NaN → null), atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(jsonable(card), fh, indent=1, sort_keys=False, allow_nan=False)
        fh.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a card is as readable as its model
    os.replace(tmp, path)
    return path


def read_card(model_path: Union[str, Path]) -> Dict[str, Any]:
    """The card beside a model file ({} when there is none); a KinviewError if unreadable."""
    path = card_path(model_path)
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KinviewError(f"{path}: unreadable model card ({exc})") from None


def summary(card: Dict[str, Any]) -> str:
    """One line for menus and the CLI: task, arch, samples, headline metric, date."""
    m = card.get("metrics") or {}
    head = ", ".join(f"{k}={m[k]:.3f}" for k in ("accuracy", "roc_auc", "pearson", "rmse")
                     if isinstance(m.get(k), (int, float)))
    return (f"{card.get('task')} [{card.get('architecture')}] {card.get('n_samples')} samples "
            f"({card.get('label_source')}); {head}; {card.get('date', '')[:19]}")
