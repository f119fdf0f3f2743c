"""Where kinview keeps things: the user data folder, shipped resources and models.

Shipped resources (the help text, the default models) are package data of
:mod:`kinview.resources`, found through :mod:`importlib.resources`, so an editable install and
a regular ``pip install .`` read them the same way.
"""
from __future__ import annotations

import os
from importlib import resources
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


RESOURCES_PACKAGE = "kinview.resources"


def _package_data(*parts: str) -> Path:
    """A file or folder of :mod:`kinview.resources` as a file-system path.

    kinview installs as plain files (a wheel, an editable install or a source tree), where
    :func:`importlib.resources.files` is a :class:`~pathlib.Path`; Keras needs real paths for
    the shipped models, so a zipped package is refused rather than read half-way.
    """
    ref = resources.files(RESOURCES_PACKAGE).joinpath(*parts)
    if not isinstance(ref, Path):
        raise RuntimeError(f"kinview's resources must be installed as files, not in {ref!s}")
    return ref


def resource_text(name: str) -> str:
    """The text of a shipped resource file (UTF-8), e.g. ``resource_text("help.html")``."""
    return resources.files(RESOURCES_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def resources_dir() -> Path:
    """Folder holding shipped resources (the help text, the default models)."""
    return _package_data()


def models_dir() -> Path:
    """Folder holding the shipped default models (``<task>-default.keras`` + ``.json`` cards)."""
    return _package_data("models")
