"""Schema of the survey database and its versioned migrations.

The version lives in ``PRAGMA user_version``.  :func:`migrate` applies every migration newer
than the file's version, in order, inside one transaction: an old database opened by a newer
kinview is brought up to date, never rewritten destructively (migrations only add).

Tables (version 1)
------------------
galaxies     one row per galaxy: catalogue values and where its files are (the index that
             ``kinview ingest`` builds, so the GUI never opens every FITS file at start-up)
labels       the append-only label log; the current label is the latest event per
             (plateifu, field, kind, expert); undo is a new event, never a delete
pa_fits      position-angle fits per (plateifu, field, method); a refit replaces the row
models       trained models: task, architecture, path, metrics, label-set hash, card
predictions  per (model, plateifu, field): value and confidence
meta         survey-level key/value pairs (e.g. ingest time)

Version 2
---------
models.removed   ISO 8601 UTC time a model was removed from the registry (NULL: listed);
                 the row, its file and its predictions are kept for the record
model_events     the registry's history, append-only: ``trained``, ``imported``, ``recorded``
                 (a shipped or path model first used), ``activated``, ``deactivated``,
                 ``removed``, ``kept-inactive`` (a new model that did not beat the active one),
                 with a note saying why; *Roll back* reads it

Version 3
---------
adjudications  the append-only log of adjudicators' final labels where experts disagree; the
               final label of a (plateifu, field, kind) is its latest event, NULL = withdrawn
               (see :mod:`kinview.db.adjudications`)
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, List, Optional

from kinview.errors import SurveyError

V1 = """
CREATE TABLE galaxies (
    plateifu      TEXT PRIMARY KEY,
    mangaid       TEXT,
    ra            REAL,            -- objra, degrees
    dec           REAL,            -- objdec, degrees
    ifusize       INTEGER,         -- ifudesignsize, fibres
    z             REAL,            -- nsa_z
    re_arcsec     REAL,            -- nsa_elpetro_th50_r, arcsec
    ba            REAL,            -- nsa_elpetro_ba
    phi           REAL,            -- nsa_elpetro_phi, degrees E of N
    sersic_n      REAL,
    mass          REAL,            -- nsa_elpetro_mass, Msun/h^2
    lambda_re     REAL,            -- catalogue spin, if given
    maps_path     TEXT,            -- relative to the survey root, NULL if missing
    daptype       TEXT,
    image_path    TEXT,            -- relative to the survey root, NULL if missing
    row_index     INTEGER,         -- order in the catalogue
    extra         TEXT             -- JSON of the other catalogue columns
);

CREATE TABLE labels (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    plateifu      TEXT NOT NULL,
    field         TEXT NOT NULL CHECK (field IN ('stellar', 'gas', 'galaxy')),
    kind          TEXT NOT NULL CHECK (kind IN ('quality', 'feature', 'gas_note', 'note', 'pa_override')),
    value_num     REAL,            -- quality/feature/gas_note code or PA (deg); NULL = cleared
    value_text    TEXT,            -- free-text note
    expert        TEXT NOT NULL,
    created       TEXT NOT NULL,   -- ISO 8601 UTC
    source        TEXT NOT NULL DEFAULT 'gui',  -- gui | cli | import:<file> | undo
    undoes        INTEGER REFERENCES labels(id),
    model_id      INTEGER,         -- model whose prediction was on screen
    model_value   REAL,
    model_confidence REAL
);
CREATE INDEX labels_current ON labels (plateifu, field, kind, expert, id);
CREATE INDEX labels_expert ON labels (expert, id);

CREATE TABLE pa_fits (
    plateifu      TEXT NOT NULL,
    field         TEXT NOT NULL CHECK (field IN ('stellar', 'gas')),
    method        TEXT NOT NULL,   -- fast | pafit
    pa            REAL,            -- degrees E of N to the receding side, [0, 360); NULL if failed
    pa_err        REAL,            -- 1 sigma, degrees
    vsyst         REAL,            -- systemic-velocity correction, km/s
    n_used        INTEGER,
    nsteps        INTEGER,
    reason        TEXT,            -- why pa is NULL
    seconds       REAL,
    created       TEXT NOT NULL,
    PRIMARY KEY (plateifu, field, method)
);

CREATE TABLE models (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    task          TEXT NOT NULL,
    arch          TEXT NOT NULL,
    path          TEXT NOT NULL,
    created       TEXT NOT NULL,
    metrics       TEXT,            -- JSON
    label_hash    TEXT,
    card          TEXT,            -- JSON model card
    active        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE predictions (
    model_id      INTEGER NOT NULL REFERENCES models(id),
    plateifu      TEXT NOT NULL,
    field         TEXT NOT NULL,   -- stellar | gas | galaxy
    value         REAL,            -- P(usable), class, lambda_R, z, ...
    confidence    REAL,            -- in [0, 1]
    extra         TEXT,            -- JSON (class probabilities, out-of-fold flag, ...)
    PRIMARY KEY (model_id, plateifu, field)
);

CREATE TABLE meta (
    key           TEXT PRIMARY KEY,
    value         TEXT
);
"""

V2 = """
ALTER TABLE models ADD COLUMN removed TEXT;   -- ISO 8601 UTC when removed; NULL = listed

CREATE TABLE model_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id      INTEGER NOT NULL REFERENCES models(id),
    task          TEXT NOT NULL,
    event         TEXT NOT NULL,   -- trained | imported | recorded | activated | deactivated | removed | kept-inactive
    created       TEXT NOT NULL,   -- ISO 8601 UTC
    note          TEXT
);
CREATE INDEX model_events_task ON model_events (task, id);
"""

#: Version 3: the adjudication log (issue 15).  ``IF NOT EXISTS`` so the migration is harmless
#: whatever its position among other branches' migrations.
V_ADJUDICATIONS = """
CREATE TABLE IF NOT EXISTS adjudications (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    plateifu      TEXT NOT NULL,
    field         TEXT NOT NULL CHECK (field IN ('stellar', 'gas')),
    kind          TEXT NOT NULL CHECK (kind IN ('quality', 'feature', 'gas_note')),
    value_num     REAL,            -- the final code; NULL = adjudication withdrawn
    adjudicator   TEXT NOT NULL,
    created       TEXT NOT NULL,   -- ISO 8601 UTC
    basis         TEXT,            -- the experts' labels it settled, "name=value;..." at the time
    source        TEXT NOT NULL DEFAULT 'gui'   -- gui | cli | undo
);
CREATE INDEX IF NOT EXISTS adjudications_key ON adjudications (plateifu, field, kind, id);
"""

#: Migrations, oldest first.  Entry i brings a database from version i to i + 1.
#: Add new ones at the end; never edit a released one.
def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the open transaction; run statement by statement instead.
    code = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    for statement in code.split(";"):
        if statement.strip():
            conn.execute(statement)


MIGRATIONS: List[Callable[[sqlite3.Connection], None]] = [
    lambda conn: _run_script(conn, V1),
    lambda conn: _run_script(conn, V2),
    lambda conn: _run_script(conn, V_ADJUDICATIONS),
]

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Optional[Path] = None) -> int:
    """Apply pending migrations in one transaction; return the new version.

    A database newer than this kinview is refused (:class:`~kinview.errors.SurveyError`)
    rather than touched.
    """
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise SurveyError(f"{path or 'database'}: schema version {current} is newer than this "
                          f"kinview understands ({SCHEMA_VERSION}); upgrade kinview")
    if current == SCHEMA_VERSION:
        return current
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)  # another process may have migrated meanwhile
        for version in range(current, SCHEMA_VERSION):
            MIGRATIONS[version](conn)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return SCHEMA_VERSION
