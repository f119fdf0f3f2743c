"""Shared by the label-store tests: a survey directory with only a galaxies table."""
from kinview.db import connect, transaction


def make_survey(root, plateifus):
    """A survey directory whose galaxies table lists ``plateifus`` (in that order)."""
    root.mkdir(parents=True, exist_ok=True)
    conn = connect(root)
    with transaction(conn):
        conn.executemany("INSERT INTO galaxies (plateifu, row_index) VALUES (?, ?)",
                         [(p, i) for i, p in enumerate(plateifus)])
    conn.close()
    return root
