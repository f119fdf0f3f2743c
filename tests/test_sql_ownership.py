"""``kinview/db/`` owns every SQL statement and every SQLite call (issue 13).

Outside ``kinview/db/`` no module may hold SQL in a string literal (docstrings aside) or call
``sqlite3.connect``, ``.execute(``, ``.executemany(``, ``.executescript(`` or ``.cursor(``.
Code opens a connection with :func:`kinview.db.connect` and hands it to a repository function
of ``kinview/db/``.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kinview"

#: Files whose SQL-looking strings are not SQLite, with the reason.  Their calls are still checked.
NOT_SQLITE = {
    # ADQL sent to the remote SDSS SkyServer (an HTTP query), not the survey database.
    "kinview/data/sdss_query.py",
}

#: Files that still run their own SQL because they have not been moved yet.  This list must only
#: shrink: move a file's statements into a repository under kinview/db/ and delete its entry.
#: The test also fails when an entry here no longer holds SQL, so the list stays exact.
NOT_YET_MOVED: set = set()

_SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX|VIEW|TRIGGER)\b|\bPRAGMA\s+\w+"
    r"|\bREPLACE\s+INTO\b|\bVACUUM\b")
_DB_CALLS = {"execute", "executemany", "executescript", "cursor"}


def _docstrings(tree: ast.AST) -> set:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.add(id(body[0].value))
    return out


def _literal_text(node: ast.AST):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):   # f-string: placeholders stand in for the fields
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def findings(source: str, check_strings: bool = True):
    """``(line, what)`` of every SQL string literal and SQLite call in ``source``."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    inside_fstring = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    out = []
    for node in ast.walk(tree):
        if check_strings and id(node) not in docs and id(node) not in inside_fstring:
            text = _literal_text(node)
            if text is not None and _SQL.search(text):
                out.append((node.lineno, f"SQL string {text.strip()[:50]!r}"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr in _DB_CALLS:
                out.append((node.lineno, f".{attr}() call"))
            elif attr == "connect" and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id == "sqlite3":
                out.append((node.lineno, "sqlite3.connect() call"))
        if isinstance(node, ast.ImportFrom) and node.module == "sqlite3" \
                and any(a.name == "connect" for a in node.names):
            out.append((node.lineno, "from sqlite3 import connect"))
    return sorted(out)


def _scan():
    hits = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        if rel.startswith("kinview/db/"):
            continue
        found = findings(path.read_text(encoding="utf-8"), check_strings=rel not in NOT_SQLITE)
        if found:
            hits[rel] = found
    return hits


def test_sql_lives_only_in_kinview_db():
    hits = _scan()
    stray = [f"{rel}:{line}: {what}" for rel, found in hits.items() if rel not in NOT_YET_MOVED
             for line, what in found]
    assert not stray, ("SQL or SQLite calls outside kinview/db/ (move them into a repository "
                       "module there):\n" + "\n".join(stray))


def test_not_yet_moved_list_is_exact():
    hits = _scan()
    done = sorted(rel for rel in NOT_YET_MOVED if rel not in hits)
    assert not done, f"these files no longer run SQL: remove them from NOT_YET_MOVED: {done}"
    missing = sorted(rel for rel in NOT_YET_MOVED | NOT_SQLITE if not (PACKAGE.parent / rel).is_file())
    assert not missing, f"listed files that do not exist: {missing}"


@pytest.mark.parametrize("snippet, n", [
    ('rows = conn.execute("SELECT plateifu FROM galaxies").fetchall()\n', 2),
    ('sql = f"SELECT COUNT(*) FROM labels WHERE {vis}"\n', 1),
    ('Q = ("INSERT OR REPLACE INTO pa_fits (a, b) "\n     "VALUES (?, ?)")\n', 1),
    ('import sqlite3\nc = sqlite3.connect("x.db")\n', 1),
    ('from sqlite3 import connect\n', 1),
    ('cur = conn.cursor()\n', 1),
    ('"""SELECT * FROM galaxies in a docstring is prose."""\nx = "Select a galaxy from the list"\n', 0),
])
def test_scanner_catches_sql_and_calls(snippet, n):
    assert len(findings(snippet)) == n, findings(snippet)
