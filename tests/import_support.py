"""What importing a module pulls in, seen from a fresh interpreter (the test process itself
has Qt, TensorFlow and the rest loaded long ago)."""
from __future__ import annotations

import subprocess
import sys
from typing import Iterable, List


def loaded_after(imports: Iterable[str], watch: Iterable[str], then: str = "",
                 timeout: float = 60) -> List[str]:
    """Modules of ``watch`` in ``sys.modules`` after a fresh ``python`` imports ``imports``
    (module names) and runs the statements ``then``.

    The child must succeed: a failed import is an assertion error with its stderr, never an
    empty (passing) list.
    """
    code = ("import importlib, sys\n"
            f"for m in {list(imports)!r}: importlib.import_module(m)\n"
            f"{then}\n"
            f"print(repr([m for m in {list(watch)!r} if m in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip().splitlines()[-1])
