"""The layer contract: a module imports only from its own layer or the layers below.

Top to bottom (the contract itself is the ``[importlinter]`` section of ``setup.cfg``, run
here with import-linter; a bare ``lint-imports`` in the repository root runs it too)::

    __main__
    cli                     the command line (may import gui: ``kinview gui``)
    gui                     PyQt5 + pyqtgraph, the only Qt code
    viewstate : session : batch.predict
                            Qt-free application state (the labelling session) and services
    training                fit, model registry, prediction, evaluation, import, promotion
    tasks                   the task registry and the task definitions
    learning                datasets, splits, metrics, intervals (shared by tasks and training)
    nets | labels | kinematics | clusters | demo
                            independent of each other
    data                    MAPS files, catalogues, survey discovery, images, SDSS clients
    db                      the survey database: every SQL statement
    errors : paths : settings : conventions : progress : blas_threads : viewing :
    strict_json : resources : batch.engine : batch.catalogue : batch.output : batch.worker_setup
                            the foundation (batch's Dask plumbing is infrastructure; its
                            catalogue prediction, ``batch.predict``, is an application)

``a | b``: siblings that must not import each other; ``a : b``: siblings that may.  Every
import counts, also one inside a function (a lazy import of a heavy dependency is still a
dependency), and every top-level module must be placed (``exhaustive``).  The contract's
``ignore_imports`` lists the exceptions still pending, each with its reason; import-linter
fails when one of them no longer matches, so the list can only shrink.
"""
from __future__ import annotations

import ast
import configparser
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kinview

pytest.importorskip("importlinter")

ROOT = Path(kinview.__file__).resolve().parent.parent
CONFIG = ROOT / "setup.cfg"


def _lint(package_parent: Path, config: Path = CONFIG) -> subprocess.CompletedProcess:
    """Run import-linter on the ``kinview`` package found in ``package_parent``."""
    env = dict(os.environ, PYTHONPATH=str(package_parent), PYTHONSAFEPATH="1")
    code = ("import sys\nfrom importlinter.cli import lint_imports\n"
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))")
    return subprocess.run([sys.executable, "-c", code], cwd=package_parent, env=env,
                          capture_output=True, text=True, timeout=120)


def _layers() -> str:
    cfg = configparser.ConfigParser()
    cfg.read(CONFIG)
    return cfg["importlinter:contract:layers"]["layers"]


def test_the_layer_contract_is_kept():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "kinview layers" in out.stdout and "KEPT" in out.stdout


def test_every_batch_module_has_a_layer():
    """``kinview.batch`` spans two layers, so the contract's exhaustive check skips it: each of
    its modules must be named in the layers by hand."""
    named = _layers().replace("|", " ").replace(":", " ").split()
    missing = [f"batch.{p.stem}" for p in sorted((ROOT / "kinview" / "batch").glob("*.py"))
               if p.stem != "__init__" and f"batch.{p.stem}" not in named]
    assert missing == [], f"place these in setup.cfg's layers: {missing}"


@pytest.mark.parametrize("offender, target", [
    ("db/connection.py", "kinview.gui.worker"),          # db -> gui, inside a function
    ("tasks/base.py", "kinview.training.fit"),           # the cycle this contract ended
    ("nets/vfield.py", "kinview.labels.store"),          # independent siblings
])
def test_a_lazy_import_that_breaks_a_layer_fails_the_contract(tmp_path, offender, target):
    """The contract can fail: a function-level import added to a copy of the package is found."""
    shutil.copytree(ROOT / "kinview", tmp_path / "kinview",
                    ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "kinview" / offender
    path.write_text(path.read_text() + f"\n\ndef _offend():\n    import {target}  # noqa\n")
    out = _lint(tmp_path)
    assert out.returncode != 0
    assert "BROKEN" in out.stdout
    assert offender[:-3].replace("/", ".") in out.stdout and target in out.stdout


# --------------------------------------------------------------------------- import style
#: Files whose functions may import kinview modules, each with the reason.  Everything else
#: imports kinview modules at module level (only heavy third-party libraries are lazy).
LAZY_INTERNAL_OK = {
    "kinview/cli/": "a command loads its implementation when it runs, so `kinview --help` and "
                    "argument errors do not import the whole package (README: start-up time)",
    "kinview/tasks/": "`kinview --help` imports every task module (each task's options are in "
                      "`train --help`); their datasets, networks and the data layer load when "
                      "a task builds a dataset or a model",
    "kinview/data/sdss_query.py": "`kinview --help` reads its defaults; the survey reader and the "
                                  "network-error helpers load when a query runs",
    "kinview/labels/store.py": "labels.adjudication imports store (value checks, time stamps) and "
                               "store asks adjudication for final labels: a module-level import "
                               "would be a cycle",
    "kinview/training/convex.py": "training.fit imports convex (the exact head); convex takes "
                                  "fit's loss_value: a cycle",
    "kinview/training/use.py": "importer, monte_carlo and oof import use's load/predict "
                               "primitives, and use calls back into them: a cycle",
    "kinview/gui/main_window.py": "left lazy while other branches rewrite the file (issue 13)",
    "kinview/gui/model_panels.py": "left lazy while other branches rewrite the file (issue 13)",
    "kinview/gui/training_panel.py": "left lazy while other branches rewrite the file (issue 13)",
}


@functools.lru_cache(maxsize=1)
def _lazy_internal_imports():
    """(file, line, module) of every kinview import inside a function."""
    found = []
    for path in sorted((ROOT / "kinview").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()

        def visit(node, in_function):
            for child in ast.iter_child_nodes(node):
                if in_function and isinstance(child, ast.ImportFrom) and child.level == 0 and \
                        (child.module or "").split(".")[0] == "kinview":
                    found.append((rel, child.lineno, child.module))
                elif in_function and isinstance(child, ast.Import) and \
                        any(a.name.split(".")[0] == "kinview" for a in child.names):
                    found.append((rel, child.lineno, child.names[0].name))
                visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

        visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return tuple(found)


def test_kinview_modules_are_imported_at_module_level():
    """Internal imports sit at the top of the module, where the layer contract and a reader see
    them; a function-level one is allowed only where :data:`LAZY_INTERNAL_OK` says why."""
    seen = {}
    for rel, line, target in _lazy_internal_imports():
        if not any(rel == k or (k.endswith("/") and rel.startswith(k)) for k in LAZY_INTERNAL_OK):
            seen.setdefault(rel, []).append(f"{line}: {target}")
    assert seen == {}, ("move these imports to module level (or give the file a reason in "
                        f"LAZY_INTERNAL_OK): {seen}")


def test_every_lazy_import_exception_is_still_needed():
    used = {k for k in LAZY_INTERNAL_OK
            if any(rel == k or (k.endswith("/") and rel.startswith(k))
                   for rel, _, _ in _lazy_internal_imports())}
    assert used == set(LAZY_INTERNAL_OK), f"no longer needed: {set(LAZY_INTERNAL_OK) - used}"
