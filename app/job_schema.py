"""The job store's tables, and the columns an older jobs.sqlite3 gets on start-up."""

from app.lifecycle import ArchiveState

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id              TEXT PRIMARY KEY,
    local_id        TEXT,               -- the id it had while being sent; its permalink keeps working
    sender          TEXT,               -- host:pid of the worker sending it, while it is being sent
    submitted_at    REAL NOT NULL,
    submitted_by    TEXT,
    prompt          TEXT NOT NULL DEFAULT '',
    model           TEXT,
    size            TEXT,
    seconds         TEXT,
    status          TEXT NOT NULL,
    params          TEXT NOT NULL DEFAULT '{}',
    job             TEXT NOT NULL DEFAULT '{}',
    checked_at      REAL NOT NULL DEFAULT 0,    -- the last status read, answered or not
    answered_at     REAL NOT NULL DEFAULT 0,    -- the last status read the upstream answered
    changed_at      REAL NOT NULL DEFAULT 0,    -- the last time status or progress moved
    next_check_at   REAL NOT NULL DEFAULT 0,    -- when the follower reads the status next (or a claim's lease)
    check_failures  INTEGER NOT NULL DEFAULT 0,
    check_error     TEXT,
    stalled_at      REAL,
    archive         TEXT NOT NULL DEFAULT 'none',
    archive_started REAL NOT NULL DEFAULT 0,
    archive_error   TEXT,
    archive_attempts INTEGER NOT NULL DEFAULT 0,
    archive_next_at REAL NOT NULL DEFAULT 0,
    archive_bytes   INTEGER NOT NULL DEFAULT 0,
    archived_at     REAL,
    files           TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (submitted_at DESC);
CREATE INDEX IF NOT EXISTS jobs_by_archive ON jobs (archive, archived_at);
CREATE TABLE IF NOT EXISTS comparisons (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    job_ids    TEXT NOT NULL,               -- JSON list, in the order they were sent
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    token      TEXT PRIMARY KEY,
    job_id     TEXT,
    claimed_at REAL NOT NULL
);
"""
# Columns added since the first version; an older jobs.sqlite3 gets them on start-up.
ADDED_COLUMNS = {
    "local_id": "TEXT", "sender": "TEXT", "answered_at": "REAL NOT NULL DEFAULT 0",
    "changed_at": "REAL NOT NULL DEFAULT 0",
    "next_check_at": "REAL NOT NULL DEFAULT 0", "check_failures": "INTEGER NOT NULL DEFAULT 0",
    "stalled_at": "REAL", "archive_attempts": "INTEGER NOT NULL DEFAULT 0",
    "archive_next_at": "REAL NOT NULL DEFAULT 0",
}
LATE_INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (status, next_check_at);
CREATE INDEX IF NOT EXISTS jobs_by_local_id ON jobs (local_id);
"""


def migrate(db):
    """Add what an older jobs.sqlite3 lacks."""
    have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    missing = [name for name in ADDED_COLUMNS if name not in have]
    for name in missing:
        db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {ADDED_COLUMNS[name]}")
    if "archive_next_at" in missing:
        # The first version left failed fetches as 'failed' and retried them on a page view.
        db.execute(f"UPDATE jobs SET archive = '{ArchiveState.RETRYING.value}'"
                   f" WHERE archive = '{ArchiveState.FAILED.value}'")
