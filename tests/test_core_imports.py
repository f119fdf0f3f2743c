"""The core must import without Qt and without TensorFlow (architecture rule)."""
import importlib
import pkgutil

import kinview
from import_support import loaded_after

HEAVY = ("PyQt5", "tensorflow", "keras", "torch", "pyqtgraph")


def _core_modules():
    for info in pkgutil.walk_packages(kinview.__path__, "kinview."):
        if ".gui" in info.name or info.name.endswith("__main__"):
            continue
        yield info.name


def test_every_core_module_imports_without_qt_or_tensorflow():
    heavy = loaded_after(_core_modules(), HEAVY, timeout=120)
    assert heavy == [], f"core imports heavy libraries: {heavy}"


def test_cli_help_imports_no_heavy_library():
    assert loaded_after(["kinview.cli.main"], HEAVY,
                        then="sys.modules['kinview.cli.main'].build_parser()") == []


def test_core_package_list_is_not_empty():
    names = list(_core_modules())
    assert "kinview.conventions" in names and "kinview.db.schema" in names
    for name in names[:3]:
        importlib.import_module(name)
