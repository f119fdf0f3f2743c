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
    # migrations only add: every old row keeps its values (new columns come after)
    assert [r[:len(before[0])] for r in _labels(db)[:len(before)]] == before


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
    assert [tuple(r)[:len(before[0])] for r in conn.execute("SELECT * FROM labels ORDER BY id")] == before
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


IMPORTER = r"""
import sys
import kinview.labels.store as store
store.IMPORT_CHUNK_ROWS = 300          # many chunks, so a kill lands between two of them
from kinview.cli.main import main
sys.exit(main(["labels", "import", sys.argv[1], "--survey", sys.argv[2], "--expert", "imp"]))
"""


def _visible_import_events(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM labels WHERE expert = 'imp' AND (batch IS NULL OR "
                            "batch IN (SELECT id FROM import_batches WHERE finished IS NOT NULL))"
                            ).fetchone()[0]
    finally:
        conn.close()


def _pending_batches(db):
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT COUNT(*) FROM import_batches WHERE finished IS NULL"
                                ).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_kill_9_of_a_chunked_import_leaves_all_or_none_visible(tmp_path):
    """The import is written in chunks; readers see none of it until the last, tiny commit,
    whatever moment kill -9 lands on; the next import sweeps the dead batch away."""
    import random
    import subprocess
    import sys
    import time

    from label_support import make_survey

    pifus = [f"{9000 + i // 100}-{1000 + i % 100}" for i in range(3000)]
    root = make_survey(tmp_path / "survey", pifus)
    cat = tmp_path / "big.csv"
    cat.write_text("plateifu,stellar_pa,halpha_pa,pa_offset,stel_qual,stel_feature,halpha_qual,"
                   "halpha_feature,halpha_notes\n"
                   + "".join(f"{p},10.0,20.0,10.0,2,0,1,0,0\n" for p in pifus))
    full = 7 * len(pifus)
    db = root / "kinview.sqlite"
    rng = random.Random(17)
    seen = set()
    mid_import_kills = 0
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", IMPORTER, str(cat), str(root)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:   # wait for the first chunk
            if _pending_batches(db):
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.wait()
        n = _visible_import_events(db)
        assert n in (0, full), n
        if n == 0 and _pending_batches(db):
            mid_import_kills += 1
        seen.add(n)
        if n == full:
            break
    assert mid_import_kills >= 1
    # the next import sweeps what a killed one left, and completes
    proc = subprocess.run([sys.executable, "-c", IMPORTER, str(cat), str(root)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert _visible_import_events(db) == full
    conn = sqlite3.connect(db)
    pending = conn.execute("SELECT COUNT(*) FROM import_batches WHERE finished IS NULL").fetchone()[0]
    hidden = conn.execute("SELECT COUNT(*) FROM labels WHERE batch IN "
                          "(SELECT id FROM import_batches WHERE finished IS NULL)").fetchone()[0]
    conn.close()
    assert pending == 0 and hidden == 0


HOLDER = r"""
import sys, time
from kinview.db import connection
connection.COMMAND = "kinview labels import huge.csv --survey S"
conn = connection.connect(sys.argv[1])
with connection.transaction(conn):
    print("holding", flush=True)
    time.sleep(30)
"""


def test_a_lock_held_past_the_timeout_names_the_other_writer(tmp_path, monkeypatch):
    import subprocess
    import sys

    from kinview.db import connection
    from label_support import make_survey

    root = make_survey(tmp_path / "survey", PIFUS)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"
        monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 300)
        store = LabelStore(root, expert="x")
        with pytest.raises(SurveyError) as e:
            store.add(PIFUS[0], "stellar", "quality", 1)
        text = str(e.value)
        assert "\n" not in text and "locked" in text
        assert "kinview labels import huge.csv" in text and f"pid {proc.pid}" in text
        assert store.events().empty
        store.close()
    finally:
        proc.kill()
        proc.wait()
