"""Marvin writes ~/.marvin, ~/sas and caches under $HOME on import: point HOME and
SAS_BASE_DIR at a temporary folder first (only where Marvin is installed)."""
import importlib.util
import os
import tempfile

if importlib.util.find_spec("marvin") is not None and "marvin" not in os.sys.modules:
    _home = tempfile.mkdtemp(prefix="kinview-marvin-home-")
    os.environ["HOME"] = _home
    os.environ["SAS_BASE_DIR"] = os.path.join(_home, "sas")
    os.makedirs(os.environ["SAS_BASE_DIR"], exist_ok=True)
