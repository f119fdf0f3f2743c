"""Who is labelling: the expert name every label carries.

The name comes, in this order, from an explicit ``--expert NAME`` (or the ``expert`` argument
of the API), the ``KINVIEW_EXPERT`` environment variable, the ``expert`` key of the settings
file ``<user config dir>/settings.json``, or the login name of the user running kinview.
"""
from __future__ import annotations

import getpass
import json
import os
import re
from pathlib import Path
from typing import Optional

from kinview.errors import KinviewError
from kinview.paths import user_config_dir

#: Longest accepted expert name (characters).
MAX_NAME = 64
_BAD = re.compile(r"[;\x00-\x1f\x7f]")
SETTINGS_FILE = "settings.json"


def settings_path() -> Path:
    """The JSON settings file that may hold the default expert name."""
    return user_config_dir() / SETTINGS_FILE


def validate_expert(name) -> str:
    """Return ``name`` stripped, or raise :class:`~kinview.errors.KinviewError`.

    An expert name is 1–64 printable characters without ``;`` (exports join several names
    with ``;``).
    """
    text = "" if name is None else str(name).strip()
    if not text or len(text) > MAX_NAME or _BAD.search(text):
        raise KinviewError(f"expert name {name!r} is not usable: give 1-{MAX_NAME} printable "
                           "characters without ';'")
    return text


def _settings() -> dict:
    path = settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def default_expert(explicit: Optional[str] = None) -> str:
    """The expert name to label with.

    Parameters
    ----------
    explicit : str, optional
        A name given on the command line or by the caller; wins when set.

    Returns
    -------
    str
        ``explicit``, else ``$KINVIEW_EXPERT``, else the ``expert`` entry of the settings file,
        else the login name, else ``"unknown"``.
    """
    if explicit is not None and str(explicit).strip():
        return validate_expert(explicit)
    env = os.environ.get("KINVIEW_EXPERT", "").strip()
    if env:
        return validate_expert(env)
    saved = _settings().get("expert")
    if isinstance(saved, str) and saved.strip():
        try:
            return validate_expert(saved)
        except KinviewError:
            pass
    try:
        login = getpass.getuser()
    except Exception:  # no login name (containers without a passwd entry)
        login = ""
    try:
        return validate_expert(login)
    except KinviewError:
        return "unknown"


def needs_first_run_prompt(explicit: Optional[str] = None, saved: Optional[str] = None) -> bool:
    """True when nothing names the expert yet: no explicit name (``--expert``), no
    ``$KINVIEW_EXPERT`` and no saved name (``saved``, else the settings file).  The GUI then
    asks for the name instead of silently labelling under the login name."""
    if explicit is not None and str(explicit).strip():
        return False
    if os.environ.get("KINVIEW_EXPERT", "").strip():
        return False
    if saved is None:
        saved = _settings().get("expert")
    return not (isinstance(saved, str) and saved.strip())


def save_default_expert(name: str) -> Path:
    """Store ``name`` as the default expert in the settings file (other keys are kept).

    The file is replaced atomically (write to a temporary file, then rename).
    """
    name = validate_expert(name)
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _settings()
    data["expert"] = name
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return path
