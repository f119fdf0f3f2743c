"""Run the examples in the docstrings, so what the documentation shows stays true (issue 13).

Every Qt-free module of kinview is imported and its doctests run; a module whose examples
need files or a display says so with ``# doctest: +SKIP``.
"""
import doctest
import importlib
import pkgutil

import pytest

import kinview

#: Modules whose import needs Qt (they hold no examples) or a trained model.
SKIP_PACKAGES = ("kinview.gui",)


def _modules():
    for info in pkgutil.walk_packages(kinview.__path__, "kinview."):
        if not info.name.startswith(SKIP_PACKAGES) and not info.name.endswith("__main__"):
            yield info.name


def _with_examples():
    out = []
    for name in _modules():
        module = importlib.import_module(name)
        tests = doctest.DocTestFinder(exclude_empty=True).find(module)
        if any(t.examples for t in tests):
            out.append(name)
    return out


MODULES = _with_examples()


def test_the_documented_examples_are_found():
    assert {"kinview.conventions", "kinview.labels.agreement"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    assert result.attempted > 0
