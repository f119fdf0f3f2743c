"""Where kinview keeps things: the user data folder, shipped resources and models.

``resources/`` and ``models/`` live at the top of the source tree.  An editable install reads
them there; a regular install ships them as data files under ``<prefix>/share/kinview/``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "kinview"


def user_data_dir() -> Path:
    """The per-user data folder (platformdirs); ``KINVIEW_DATA_DIR`` overrides it."""
    env = os.environ.get("KINVIEW_DATA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_config_dir() -> Path:
    """The per-user settings folder; ``KINVIEW_CONFIG_DIR`` overrides it."""
    env = os.environ.get("KINVIEW_CONFIG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_survey_dir() -> Path:
    """The demo survey created on first run of ``kinview``."""
    return user_data_dir() / "demo-survey"


def _shipped(name: str) -> Path:
    source_tree = Path(__file__).resolve().parent.parent / name
    if source_tree.is_dir():
        return source_tree
    for prefix in (sys.prefix, sys.base_prefix, os.path.expanduser("~/.local")):
        candidate = Path(prefix) / "share" / APP_NAME / name
        if candidate.is_dir():
            return candidate
    return source_tree


def resources_dir() -> Path:
    """Folder holding shipped resources (colour maps, the help text, icons)."""
    return _shipped("resources")


def models_dir() -> Path:
    """Folder holding the shipped default models (``<task>-default.keras`` + ``.json`` cards)."""
    return _shipped("models")
