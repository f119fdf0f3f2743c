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


# ---- the survey index (kinview.data.survey.Survey) ----------------------------------------------
def meta(conn: sqlite3.Connection) -> Dict[str, str]:
    """The survey's ``meta`` key/value pairs."""
    return {r[0]: r[1] for r in conn.execute("SELECT key, value FROM meta")}


def set_meta(conn: sqlite3.Connection, items: Dict[str, str]) -> None:
    """Write ``meta`` key/value pairs, replacing existing keys (the caller owns the transaction)."""
    conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(items.items()))


def plateifu_set(conn: sqlite3.Connection) -> set:
    """Every plate-IFU in the index."""
    return {r[0] for r in conn.execute("SELECT plateifu FROM galaxies")}


def delete(conn: sqlite3.Connection, plateifus) -> None:
    """Remove galaxies from the index (the caller owns the transaction)."""
    conn.executemany("DELETE FROM galaxies WHERE plateifu = ?", [(p,) for p in plateifus])


def upsert(conn: sqlite3.Connection, columns, rows) -> None:
    """Insert or replace index rows with values in ``columns`` order (trusted column names)."""
    placeholders = ",".join("?" * len(columns))
    conn.executemany(f"INSERT OR REPLACE INTO galaxies ({','.join(columns)}) "
                     f"VALUES ({placeholders})", rows)


def rows_in_order(conn: sqlite3.Connection, columns) -> list:
    """Index rows of ``columns`` (trusted names) in catalogue order (row_index, plateifu)."""
    return conn.execute(f"SELECT {','.join(columns)} FROM galaxies "
                        "ORDER BY row_index, plateifu").fetchall()


def plateifus_in_order(conn: sqlite3.Connection) -> List[str]:
    """Plate-IFUs in catalogue order (row_index, plateifu)."""
    return [r[0] for r in conn.execute(
        "SELECT plateifu FROM galaxies ORDER BY row_index, plateifu")]


def row(conn: sqlite3.Connection, plateifu: str):
    """The full ``galaxies`` row of ``plateifu`` (in the connection's row factory), or None."""
    return conn.execute("SELECT * FROM galaxies WHERE plateifu = ?", (str(plateifu),)).fetchone()


def exists(conn: sqlite3.Connection, plateifu: str) -> bool:
    """Whether ``plateifu`` is in the index."""
    return conn.execute("SELECT 1 FROM galaxies WHERE plateifu = ?",
                        (str(plateifu),)).fetchone() is not None


def set_image_paths(conn: sqlite3.Connection, paths: Dict[str, Optional[str]]) -> int:
    """Set ``image_path`` of some galaxies; returns the rows updated (caller owns the transaction)."""
    cur = conn.executemany("UPDATE galaxies SET image_path = ? WHERE plateifu = ?",
                           [(v, k) for k, v in paths.items()])
    return cur.rowcount


def plateifus_by_rowid(conn: sqlite3.Connection) -> List[str]:
    """Plate-IFUs in catalogue order, ties broken by insertion (row_index, rowid)."""
    return [r[0] for r in conn.execute(
        "SELECT plateifu FROM galaxies ORDER BY row_index, rowid").fetchall()]


def change_key(conn: sqlite3.Connection) -> tuple:
    """``(row count, largest rowid)`` of the index: changes when galaxies are added or removed."""
    return tuple(conn.execute("SELECT COUNT(*), MAX(rowid) FROM galaxies").fetchone())
