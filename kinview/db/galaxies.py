"""Reading one galaxy's catalogue record from the ``galaxies`` table (no Qt, no pandas)."""
from __future__ import annotations

import json
import sqlite3
from typing import Dict, List, Optional


def galaxy_record(conn: sqlite3.Connection, plateifu: str) -> Optional[Dict[str, object]]:
    """The ``galaxies`` row of ``plateifu`` as a dict, ``extra`` decoded; None if absent."""
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM galaxies WHERE plateifu = ?", (plateifu,)).fetchone()
    finally:
        conn.row_factory = None
    if row is None:
        return None
    out = dict(row)
    try:
        out["extra"] = json.loads(out["extra"]) if out.get("extra") else {}
    except ValueError:
        out["extra"] = {}
    return out


def observations_of(conn: sqlite3.Connection, mangaid: Optional[str]) -> List[str]:
    """Plate-IFUs of every data cube of one MaNGA target (a galaxy observed several times)."""
    if not mangaid:
        return []
    rows = conn.execute("SELECT plateifu FROM galaxies WHERE mangaid = ? ORDER BY row_index",
                        (mangaid,)).fetchall()
    return [r[0] for r in rows]


def count(conn: sqlite3.Connection) -> int:
    """Number of galaxies in the catalogue."""
    return int(conn.execute("SELECT COUNT(*) FROM galaxies").fetchone()[0])


def maps_paths(conn: sqlite3.Connection) -> List[tuple]:
    """(plateifu, maps_path relative to the survey root or None), in catalogue order."""
    return conn.execute("SELECT plateifu, maps_path FROM galaxies "
                        "ORDER BY row_index, plateifu").fetchall()


def column_by_plateifu(conn: sqlite3.Connection, column: str) -> Dict[str, object]:
    """``{plateifu: value}`` of one ``galaxies`` column (``column`` is a trusted column name)."""
    return dict(conn.execute(f"SELECT plateifu, {column} FROM galaxies").fetchall())


#: Columns of :func:`table_rows`, in order.
TABLE_COLUMNS = ("plateifu", "z", "ifusize", "ra", "dec", "re_arcsec", "ba", "phi", "maps_path",
                 "image_path")


def table_rows(conn: sqlite3.Connection) -> List[tuple]:
    """Rows of :data:`TABLE_COLUMNS` for the galaxy table, in catalogue order."""
    return conn.execute(f"SELECT {', '.join(TABLE_COLUMNS)} "
                        "FROM galaxies ORDER BY row_index, rowid").fetchall()
