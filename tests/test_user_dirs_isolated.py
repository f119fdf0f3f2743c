"""Tests never read or write the user's real settings or data folders (issue 15, item 1)."""
import os
from pathlib import Path

import pytest

from kinview import paths, settings

from conftest import REAL_USER_DIRS, _snapshot


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


@pytest.fixture(scope="module")
def module_scoped_settings_path():
    """What a module-scoped fixture (like a shared main window) sees: set up before any
    function-scoped autouse fixture, so only the session-wide isolation protects it."""
    return settings.settings_path(), paths.user_data_dir()


def test_module_scoped_fixtures_do_not_see_the_real_folders(module_scoped_settings_path):
    cfg, data = module_scoped_settings_path
    for real in REAL_USER_DIRS:
        assert not _inside(cfg, real), cfg
        assert not _inside(data, real), data


def test_function_scoped_tests_do_not_see_the_real_folders():
    for real in REAL_USER_DIRS:
        assert not _inside(settings.settings_path(), real)
        assert not _inside(paths.default_survey_dir(), real)


def test_saving_settings_leaves_the_real_folders_unchanged():
    before = _snapshot(REAL_USER_DIRS)
    s = settings.Settings.load()
    s.expert = "isolation-test"
    s.save()
    assert settings.Settings.load().expert == "isolation-test"
    assert _snapshot(REAL_USER_DIRS) == before
    assert os.environ["KINVIEW_CONFIG_DIR"] not in ("", None)
