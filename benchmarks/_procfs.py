"""Reading ``/proc`` (Linux) for the benchmarks that watch other processes.

Side-effect free on import (unlike :mod:`_pa_common`, which pins BLAS threads): the PA
benchmarks that measure a loaded machine or an interrupted ``kinview pa`` import this one.
"""
from __future__ import annotations

from typing import List, Optional


def stat_fields(pid) -> Optional[List[str]]:
    """Fields of ``/proc/PID/stat`` after ``pid (comm)``, or None when it cannot be read.

    So ``fields[0]`` is the state (``"Z"`` for a zombie), ``fields[2]`` the process group,
    ``fields[11]`` / ``fields[12]`` utime / stime in clock ticks (``proc(5)`` numbers each
    one two higher).  The command name may hold spaces and parentheses, hence the split after
    the last ``)``.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            st = fh.read()
    except OSError:
        return None
    return st[st.rindex(")") + 2:].split()
