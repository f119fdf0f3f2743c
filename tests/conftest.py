"""Test configuration: offscreen Qt, quiet TensorFlow, isolated user folders."""
import os

# Before anything imports Qt or TensorFlow.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_XCB_GL_INTEGRATION", "none")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Never read or write the real user's data or settings folders from a test."""
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("KINVIEW_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("KINVIEW_CONFIG_DIR", str(base / "config"))
