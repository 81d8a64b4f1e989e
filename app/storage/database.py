"""The database the app's stores share: SQLite files under DATA_DIR (one host), or PostgreSQL when
DATABASE_URL is set (several hosts). Both are spoken to the same way (app/storage/sqlite.py,
app/storage/postgres.py): `connect()` lends a connection whose `execute(sql, args)` takes `?`
placeholders, and whose `dialect` says which of the few spellings that differ to use."""

from __future__ import annotations

import os
import sqlite3
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from app.storage.postgres import PostgresDatabase
from app.storage.sqlite import BUSY_SECONDS, connect

# What a failing database raises, whichever it is: callers that must go on (or say "not writable") catch these.
DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)


class SqliteDatabase:
    """One SQLite file (WAL, pooled connections, lock waits counted)."""

    dialect = "sqlite"

    def __init__(self, path: str, busy_seconds: float = BUSY_SECONDS) -> None:
        self.path = os.path.abspath(path)
        self.name = self.path
        self.busy_seconds = busy_seconds
        os.makedirs(os.path.dirname(self.path), exist_ok=True)

    def connect(self, synchronous: str = "NORMAL") -> AbstractContextManager[Any]:
        """A pooled connection for a with block (app/storage/sqlite.py), handed on as it is: the follower
        asks hundreds of times a second, so no layer of its own is added."""
        return connect(self.path, row_factory=sqlite3.Row, busy_seconds=self.busy_seconds, synchronous=synchronous)

    def execute(self, sql: str, args: tuple = ()) -> int:
        with self.connect() as db:
            return db.execute(sql, args).rowcount


def open_database(database_url: str, sqlite_path: str) -> SqliteDatabase | PostgresDatabase:
    """DATABASE_URL's PostgreSQL when set, else the SQLite file at sqlite_path."""
    if database_url:
        return PostgresDatabase(database_url)
    return SqliteDatabase(sqlite_path)


def json_number(dialect: str, column: str, key: str) -> str:
    """SQL for a number inside a JSON text column (NULL when absent)."""
    if dialect == "postgresql":
        return f"(({column})::jsonb ->> '{key}')::double precision"
    return f"json_extract({column}, '$.{key}')"


def create_tables(db: Any, script: str) -> None:
    """Run CREATE ... IF NOT EXISTS statements; on PostgreSQL under a lock, as workers of several hosts
    starting at once would otherwise race to create the same table."""
    if db.dialect == "postgresql":
        db.execute("BEGIN")
        db.lock("video-studio schema")
        db.executescript(script)
        db.execute("COMMIT")
    else:
        db.executescript(script)
