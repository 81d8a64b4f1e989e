"""The job store's tables, and what an older jobs.sqlite3 gets on start-up (columns, typed messages)."""

import fcntl
import json
import os
import sqlite3
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from babel.messages.pofile import read_po
from sqlalchemy import create_engine, inspect, text

from app.core.lifecycle import ArchiveState
from app.core.messages import legacy_record
from app.core.paths import ROOT
from app.storage.database import DATABASE_ERRORS

CATALOGUE = os.path.join(ROOT, "translations", "zh", "LC_MESSAGES", "messages.po")
HEAD = "0003"  # the newest revision in migrations/versions (a test checks it is Alembic's head)
MESSAGES_TYPED = 1  # PRAGMA user_version from which every stored message is a typed record (app/core/messages.py)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id              TEXT PRIMARY KEY,
    local_id        TEXT,               -- the id it had while being sent; its permalink keeps working
    sender          TEXT,               -- host:pid of the worker sending it, while it is being sent
    submitted_at    DOUBLE PRECISION NOT NULL,
    submitted_by    TEXT,
    prompt          TEXT NOT NULL DEFAULT '',
    model           TEXT,
    size            TEXT,
    seconds         TEXT,
    status          TEXT NOT NULL,
    params          TEXT NOT NULL DEFAULT '{}',
    job             TEXT NOT NULL DEFAULT '{}',
    checked_at      DOUBLE PRECISION NOT NULL DEFAULT 0,    -- the last status read, answered or not
    answered_at     DOUBLE PRECISION NOT NULL DEFAULT 0,    -- the last status read the upstream answered
    changed_at      DOUBLE PRECISION NOT NULL DEFAULT 0,    -- the last time status or progress moved
    next_check_at   DOUBLE PRECISION NOT NULL DEFAULT 0,    -- the next status read (or a claim's lease)
    check_failures  INTEGER NOT NULL DEFAULT 0,
    check_error     TEXT,
    stalled_at      DOUBLE PRECISION,
    archive         TEXT NOT NULL DEFAULT 'none',
    archive_started DOUBLE PRECISION NOT NULL DEFAULT 0,
    archive_error   TEXT,
    archive_attempts INTEGER NOT NULL DEFAULT 0,
    archive_next_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    archive_bytes   INTEGER NOT NULL DEFAULT 0,
    archived_at     DOUBLE PRECISION,
    files           TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (submitted_at DESC);
CREATE INDEX IF NOT EXISTS jobs_by_archive ON jobs (archive, archived_at);
CREATE TABLE IF NOT EXISTS comparisons (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    job_ids    TEXT NOT NULL,               -- JSON list, in the order they were sent
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    token      TEXT PRIMARY KEY,
    job_id     TEXT,
    claimed_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS upstream_state (  -- shared by every worker: e.g. until when the API asked to be left alone
    name  TEXT PRIMARY KEY,
    value DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS probes (         -- /readyz writes here: a store that cannot take a row is not ready
    name TEXT PRIMARY KEY,
    at   DOUBLE PRECISION NOT NULL
);
"""
# Columns added since the first version; an older jobs.sqlite3 gets them on start-up.
ADDED_COLUMNS = {
    "local_id": "TEXT",
    "sender": "TEXT",
    "answered_at": "DOUBLE PRECISION NOT NULL DEFAULT 0",
    "changed_at": "DOUBLE PRECISION NOT NULL DEFAULT 0",
    "next_check_at": "DOUBLE PRECISION NOT NULL DEFAULT 0",
    "check_failures": "INTEGER NOT NULL DEFAULT 0",
    "stalled_at": "DOUBLE PRECISION",
    "archive_attempts": "INTEGER NOT NULL DEFAULT 0",
    "archive_next_at": "DOUBLE PRECISION NOT NULL DEFAULT 0",
    "archive_holder": "TEXT",
}
LATE_INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (status, next_check_at);
CREATE INDEX IF NOT EXISTS jobs_by_local_id ON jobs (local_id);
"""


def upgrade(database: Any) -> None:
    """Bring the database to the newest migration (migrations/, Alembic), one process at a time: workers
    and hosts that start together take turns, and the first one does the work. A jobs.sqlite3 made
    before Alembic is first brought up to revision 0001 by initialise(), then stamped."""
    with database.connect() as db:
        if _revision(db) == HEAD:  # the common case, without loading Alembic
            if db.dialect == "sqlite":
                type_messages(db)
            return
    if database.dialect == "postgresql":
        engine = create_engine(database.url)  # transactions of its own (the app's pool is in autocommit)
        try:
            with engine.begin() as connection:
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('video-studio schema'))"))
                _run_alembic(database, connection)
        finally:
            engine.dispose()
        return
    with open(database.path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        engine = create_engine(f"sqlite:///{database.path}")
        try:
            with engine.begin() as connection:
                _run_alembic(database, connection)
        finally:
            engine.dispose()
        with database.connect() as db:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            type_messages(db)


def _run_alembic(database: Any, connection: Any) -> None:
    names = set(inspect(connection).get_table_names())
    config = AlembicConfig()
    config.set_main_option("script_location", os.path.join(ROOT, "migrations"))
    config.attributes["connection"] = connection
    legacy = database.dialect == "sqlite" and "jobs" in names and "alembic_version" not in names
    if legacy:  # a jobs.sqlite3 made before migrations: brought to 0001 by the code that made it
        with database.connect() as db:
            initialise(db)
        command.stamp(config, "0001")
    command.upgrade(config, "head")


def _revision(db: Any) -> str | None:
    try:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except DATABASE_ERRORS:
        if db.in_transaction:
            db.execute("ROLLBACK")
        return None
    return row[0] if row else None


def initialise(db: Any) -> None:
    """What start-up did before migrations (revision 0001's tables): kept to bring an older jobs.sqlite3
    up to 0001 before it is stamped. Every PostgreSQL history began with the migrations."""
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    migrate(db)
    db.executescript(LATE_INDEXES)
    type_messages(db)


def migrate(db: sqlite3.Connection) -> None:
    """Add what an older jobs.sqlite3 lacks."""
    have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    missing = [name for name in ADDED_COLUMNS if name not in have]
    for name in missing:
        db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {ADDED_COLUMNS[name]}")
    if "archive_next_at" in missing:
        # The first version left failed fetches as 'failed' and retried them on a page view.
        db.execute(
            f"UPDATE jobs SET archive = '{ArchiveState.RETRYING.value}' WHERE archive = '{ArchiveState.FAILED.value}'"
        )


def type_messages(db: sqlite3.Connection) -> None:
    """Once per database: messages stored before they were typed records become records. An old record of
    the app's own stays one only if every message id in it is in the catalogue; anything else (an
    upstream's text, whatever its shape) becomes text. Later versions never guess."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] < MESSAGES_TYPED:
            known = _catalogue_msgids() if db.execute("SELECT 1 FROM jobs LIMIT 1").fetchone() else set()
            for row in db.execute(
                "SELECT id, check_error, archive_error, params FROM jobs"
                " WHERE check_error IS NOT NULL OR archive_error IS NOT NULL"
                " OR params LIKE '%image_warnings%'"
            ).fetchall():
                params = json.loads(row[3] or "{}")
                if isinstance(params.get("image_warnings"), list):
                    params["image_warnings"] = [legacy_record(str(w), known) for w in params["image_warnings"]]
                db.execute(
                    "UPDATE jobs SET check_error = ?, archive_error = ?, params = ? WHERE id = ?",
                    (
                        legacy_record(row[1], known),
                        legacy_record(row[2], known),
                        json.dumps(params, ensure_ascii=False),
                        row[0],
                    ),
                )
            for comparison_id, title in db.execute("SELECT id, title FROM comparisons").fetchall():
                db.execute(
                    "UPDATE comparisons SET title = ? WHERE id = ?", (legacy_record(title, known), comparison_id)
                )
            db.execute(f"PRAGMA user_version = {MESSAGES_TYPED}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _catalogue_msgids():
    with open(CATALOGUE, "rb") as fh:
        return {m.id for m in read_po(fh) if isinstance(m.id, str) and m.id}
