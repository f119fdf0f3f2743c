"""Durability: kill -9 while labelling loses no acknowledged label; old databases migrate."""
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from kinview.db import connect, schema
from kinview.errors import SurveyError
from kinview.labels import LabelStore
from label_support import make_survey

PIFUS = [f"8485-{1901 + i}" for i in range(20)]

CHILD = r"""
import sys
from kinview.labels import LabelStore
store = LabelStore(sys.argv[1], expert=sys.argv[2])
pifus = sys.argv[3].split(",")
i = 0
while True:
    pifu, field, value = pifus[i % len(pifus)], ("stellar", "gas")[i % 2], i % 3
    event = store.add(pifu, field, "quality", value, model_value=0.5, model_confidence=0.25)
    # acknowledged: add() returned, so the label is committed and fsynced
    sys.stdout.write(f"{event} {pifu} {field} {value}\n")
    sys.stdout.flush()
    i += 1
"""




def _label_then_sigkill(root, expert, min_acks, rng):
    """Run a labelling child, SIGKILL it at a random moment after ``min_acks`` acks."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(root), expert, ",".join(PIFUS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    acked = []
    buf = b""
    deadline = time.monotonic() + 60
    try:
        while len(acked) < min_acks:
            chunk = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"child died early: {proc.stderr.read().decode()[-2000:]}")
            buf += chunk
            *lines, buf = buf.split(b"\n")
            acked.extend(lines)
            assert time.monotonic() < deadline, "child too slow"
        time.sleep(rng.uniform(0.0, 0.15))   # a random moment, labels still being written
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    lines = (buf + rest).split(b"\n")
    acked.extend(lines[:-1])  # the last piece has no newline: not an acknowledgement
    return [line.decode().split() for line in acked]


def test_sigkill_while_labelling_loses_no_acknowledged_label(tmp_path):
    root = make_survey(tmp_path / "survey", PIFUS)
    rng = random.Random()
    all_acked = []
    for round_ in range(2):
        acked = _label_then_sigkill(root, f"expert{round_}", rng.randint(20, 60), rng)
        assert len(acked) >= 20
        all_acked.extend(acked)
        conn = sqlite3.connect(root / "kinview.sqlite")   # as a fresh process would
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = {r[0]: r[1:] for r in conn.execute(
            "SELECT id, plateifu, field, value_num, model_confidence FROM labels")}
        conn.close()
        for event, pifu, field, value in all_acked:
            assert int(event) in rows, f"acknowledged label {event} lost"
            assert rows[int(event)] == (pifu, field, float(value), 0.25)
    # and kinview keeps working on the database afterwards
    store = LabelStore(root, expert="after")
    store.add(PIFUS[0], "stellar", "quality", 2)
    assert store.current_for(PIFUS[0])["stellar"] == {"quality": 2}
    assert len(store.events()) >= len(all_acked) + 1
    store.close()


def _v1_database(path):
    """A database exactly as kinview schema version 1 wrote it, with labels in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    schema._run_script(conn, schema.V1)
    conn.execute("PRAGMA user_version=1")
    conn.executemany("INSERT INTO galaxies (plateifu, row_index) VALUES (?, ?)",
                     [(p, i) for i, p in enumerate(PIFUS)])
    conn.executemany("INSERT INTO labels (plateifu, field, kind, value_num, expert, created) "
                     "VALUES (?, 'stellar', 'quality', ?, 'old', '2019-10-20T00:00:00+00:00')",
                     [(p, i % 3) for i, p in enumerate(PIFUS)])
    conn.execute("COMMIT")
    conn.close()


def _labels(path):
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT * FROM labels ORDER BY id").fetchall()
    conn.close()
    return rows


def test_a_version_1_database_opens_in_this_kinview(tmp_path):
    db = tmp_path / "kinview.sqlite"
    _v1_database(db)
    before = _labels(db)
    store = LabelStore(tmp_path, expert="new")
    assert schema.schema_version(store.conn) == schema.SCHEMA_VERSION
    cur = store.current(expert="old")
    assert len(cur) == len(PIFUS) and list(cur["value"]) == [i % 3 for i in range(len(PIFUS))]
    store.add(PIFUS[0], "stellar", "quality", 2)
    store.close()
    assert _labels(db)[:len(before)] == before


def test_migration_runs_in_one_transaction_and_a_failing_one_changes_nothing(tmp_path, monkeypatch):
    db = tmp_path / "kinview.sqlite"
    _v1_database(db)
    before = _labels(db)
    base = list(schema.MIGRATIONS)

    def add_column(conn):
        conn.execute("ALTER TABLE labels ADD COLUMN reviewed INTEGER")

    def add_then_fail(conn):
        conn.execute("ALTER TABLE labels ADD COLUMN reviewed INTEGER")
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration broke halfway")

    # a newer kinview whose next migration fails halfway: the file stays as it was
    monkeypatch.setattr(schema, "MIGRATIONS", base + [add_then_fail])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(base) + 1)
    with pytest.raises(RuntimeError, match="halfway"):
        connect(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "reviewed" not in [r[1] for r in conn.execute("PRAGMA table_info(labels)")]
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    conn.close()
    assert _labels(db) == before

    # a newer kinview with a good migration: applied, labels kept
    monkeypatch.setattr(schema, "MIGRATIONS", base + [add_column])
    conn = connect(db)
    assert schema.schema_version(conn) == len(base) + 1
    assert [tuple(r)[:-1] for r in conn.execute("SELECT * FROM labels ORDER BY id")] == before
    conn.close()


def test_a_database_newer_than_kinview_is_refused_and_left_alone(tmp_path):
    db = tmp_path / "kinview.sqlite"
    conn = connect(tmp_path)
    conn.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION + 1}")
    conn.close()
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(SurveyError, match="newer than this kinview"):
        LabelStore(tmp_path, expert="x")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
