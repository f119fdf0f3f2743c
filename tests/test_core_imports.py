"""The core must import without Qt and without TensorFlow (architecture rule)."""
import importlib
import pkgutil
import subprocess
import sys

import kinview

HEAVY = ("PyQt5", "tensorflow", "keras", "torch", "pyqtgraph")


def _core_modules():
    for info in pkgutil.walk_packages(kinview.__path__, "kinview."):
        if ".gui" in info.name or info.name.endswith("__main__"):
            continue
        yield info.name


def test_every_core_module_imports_without_qt_or_tensorflow():
    code = (
        "import importlib, sys\n"
        f"mods = {list(_core_modules())!r}\n"
        "for m in mods: importlib.import_module(m)\n"
        f"heavy = [h for h in {HEAVY!r} if h in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"core imports heavy libraries: {out.stdout.strip()}"


def test_cli_help_imports_no_heavy_library():
    code = ("import sys\nfrom kinview.cli.main import build_parser\nbuild_parser()\n"
            f"print(','.join(h for h in {HEAVY!r} if h in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_core_package_list_is_not_empty():
    names = list(_core_modules())
    assert "kinview.conventions" in names and "kinview.db.schema" in names
    for name in names[:3]:
        importlib.import_module(name)
