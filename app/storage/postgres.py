"""The app's statements on PostgreSQL (DATABASE_URL=postgresql+psycopg://...), through SQLAlchemy's pool.

The stores write their SQL once, with `?` placeholders and the few spellings both databases share (ON
CONFLICT, RETURNING, IS NOT DISTINCT FROM); a connection here runs it on psycopg as SQLite's connection
runs it on a file: autocommit, an explicit BEGIN where a few statements must hold together, rows read by
name or position, and an unfinished transaction rolled back when the block ends. SQLAlchemy keeps the
pool (checked before use, dropped in a forked child)."""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql as pgsql
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app.storage import sqlite as timing

log = logging.getLogger("app.storage.postgres")
_QUOTED_OR_MARK = re.compile(r"'(?:[^']|'')*'|\?|%")


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """`?` placeholders as psycopg's %s (every literal % doubled; a ? in quoted text left alone); SQLite's BEGIN
    IMMEDIATE (take the write lock now) is a plain BEGIN here: the rows are locked by FOR UPDATE."""
    if sql.strip().upper() == "BEGIN IMMEDIATE":
        return "BEGIN"
    return _QUOTED_OR_MARK.sub(lambda m: "%s" if m.group() == "?" else m.group().replace("%", "%%"), sql)


class Row(tuple):
    """A row read by position (row[0]) or by column name (row["status"]), as sqlite3.Row is."""

    names: dict[str, int]

    def __new__(cls, values, names):
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor):
    names = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


class Cursor:
    def __init__(self, cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self):
        return iter(self.fetchall())


class Connection:
    """One pooled psycopg connection, spoken to as the stores speak to SQLite."""

    dialect = "postgresql"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"  # a batch claim passes over rows another host is claiming
    like = "ILIKE"
    greatest = "GREATEST"

    def __init__(self, raw) -> None:
        self._raw = raw  # SQLAlchemy's pool proxy; .driver_connection is psycopg's

    @property
    def in_transaction(self) -> bool:
        return self._raw.driver_connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        cursor = self._raw.driver_connection.cursor(row_factory=_row_factory)
        if parameters:
            cursor.execute(translate(sql), tuple(parameters))
        else:  # without parameters psycopg reads the text as it is: no placeholder, no doubled %
            cursor.execute("BEGIN" if sql.strip().upper() == "BEGIN IMMEDIATE" else sql)
        return Cursor(cursor)

    def executescript(self, script: str) -> Cursor:
        cursor = self._raw.driver_connection.cursor()
        cursor.execute(script)
        return Cursor(cursor)

    def notify(self, channel: str) -> None:
        """Tell every listener on channel (on any host); sent when this transaction commits, or at once."""
        self.execute(f"NOTIFY {channel}")

    def lock(self, name: str) -> None:
        """Serialise with every other process doing the same until this transaction ends."""
        self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))


class PostgresDatabase:
    """DATABASE_URL's PostgreSQL: a pool of connections for this process."""

    dialect = "postgresql"

    def __init__(self, url: str, pool_size: int = 8, max_overflow: int = 56) -> None:
        self.url = url
        self.name = make_url(url).render_as_string(hide_password=True)
        self.engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            pool_recycle=3600,
            connect_args={"autocommit": True, "connect_timeout": 10},
        )
        # A forked child (gunicorn's workers when the app is preloaded) opens its own connections.
        os.register_at_fork(after_in_child=lambda: self.engine.dispose(close=False))

    @contextmanager
    def connect(self, synchronous: str = "NORMAL") -> Iterator[Connection]:
        """A connection for the length of a with block (synchronous: SQLite's; PostgreSQL commits durably)."""
        started, spent = time.monotonic(), timing.counter()
        raw = self.engine.raw_connection()
        db = Connection(raw)
        try:
            yield db
            if db.in_transaction:
                db.execute("ROLLBACK")
        except BaseException:
            raw.invalidate() if not _usable(raw) else _rollback(raw)
            raise
        finally:
            raw.close()
            if spent is not None:
                spent[0] += time.monotonic() - started

    def execute(self, sql: str, args: tuple = ()) -> int:
        with self.connect() as db:
            return db.execute(sql, args).rowcount

    def listen(self, channel: str, heard: Callable[[], None], stop: threading.Event) -> None:
        """Call heard() for each NOTIFY on channel, from any host, until stop is set; a lost connection is
        opened again (after a pause that grows to 30 s) and heard() is called once then, as a NOTIFY may
        have been missed meanwhile. Runs in the caller's thread."""
        pause = 1.0
        address = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                with psycopg.connect(address, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(channel)))
                    heard()
                    pause = 1.0
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            heard()
            except psycopg.Error as exc:
                log.warning("listening for %s: %s; trying again in %.0f s", channel, type(exc).__name__, pause)
                stop.wait(pause)
                pause = min(pause * 2, 30.0)

    def dispose(self) -> None:
        self.engine.dispose()


def _usable(raw) -> bool:
    try:
        return not raw.driver_connection.closed and not raw.driver_connection.broken
    except Exception:  # noqa: BLE001 - whatever it is, it is not usable
        return False


def _rollback(raw) -> None:
    try:
        raw.driver_connection.rollback()
    except psycopg.Error:
        raw.invalidate()
