"""The survey database ``SURVEY/kinview.sqlite``: connections and schema migrations.

One database per survey holds the galaxy index, the append-only label log, PA fits, models
and predictions.  Open it with :func:`connect`; every thread opens its own connection.
"""
from kinview.db.connection import DB_NAME, connect, db_path, transaction
from kinview.db.schema import SCHEMA_VERSION, migrate

__all__ = ["DB_NAME", "connect", "db_path", "transaction", "SCHEMA_VERSION", "migrate"]
