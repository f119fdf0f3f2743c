"""A regular (not editable) install ships the package data and reads it the same way.

The shipped resources (help text, default models and their cards) are package data of
``kinview.resources`` read through :mod:`importlib.resources`.  The test builds a real wheel
from a copy of the project (setuptools, no network), checks that every file under
``kinview/resources`` is in it, unpacks it where no source tree is near, and reads the
resources from there in a fresh interpreter.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import kinview

ROOT = Path(kinview.__file__).resolve().parent.parent
RESOURCES = ROOT / "kinview" / "resources"

pytest.importorskip("setuptools")
pytest.importorskip("wheel")


def _shipped_files():
    return sorted(p.relative_to(ROOT).as_posix() for p in RESOURCES.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "kinview", src / "kinview", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "--no-index", "-q", "-w", str(out), str(src)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    (whl,) = out.glob("kinview-*.whl")
    return whl


def test_the_wheel_carries_every_resource_file(wheel):
    shipped = _shipped_files()
    assert "kinview/resources/help.html" in shipped
    assert "kinview/resources/models/vfield-quality-default.keras" in shipped
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    missing = [f for f in shipped if f not in names]
    assert missing == [], f"not in the wheel (setup.cfg [options.package_data]): {missing}"


def test_an_unpacked_wheel_reads_its_resources_without_the_source_tree(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    code = ("import json, kinview.paths as p\n"
            "from kinview.training.registry import shipped_model_path\n"
            "print(json.dumps({'file': p.__file__, 'models': str(p.models_dir()),\n"
            "  'help': 'KEYS' in p.resource_text('help.html'),\n"
            "  'default': str(shipped_model_path('vfield-quality')),\n"
            "  'cards': sorted(x.name for x in p.models_dir().glob('*.json'))}))")
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONSAFEPATH="1")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(got["file"]).is_relative_to(site)                  # not the source tree
    assert Path(got["models"]) == site / "kinview" / "resources" / "models"
    assert got["help"] is True
    assert Path(got["default"]).is_file() and Path(got["default"]).parent == Path(got["models"])
    assert got["cards"] == ["spin-default.json", "vfield-quality-default.json"]
