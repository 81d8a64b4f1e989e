"""The database's migrations (migrations/, Alembic): a history made by an older version upgrades in place,
with every row kept; a new database gets the newest revision; start-up knows which revision is newest."""

import os
import sqlite3

from alembic.config import Config
from alembic.script import ScriptDirectory

from app.core.paths import ROOT
from app.jobs.schema import HEAD
from app.jobs.store import JobStore

# The jobs table as the first version made it (before local ids, claims, retries and archive holders).
FIRST_VERSION = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY, submitted_at REAL NOT NULL, submitted_by TEXT, prompt TEXT NOT NULL DEFAULT '',
    model TEXT, size TEXT, seconds TEXT, status TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}',
    job TEXT NOT NULL DEFAULT '{}', checked_at REAL NOT NULL DEFAULT 0, check_error TEXT,
    archive TEXT NOT NULL DEFAULT 'none', archive_started REAL NOT NULL DEFAULT 0, archive_error TEXT,
    archive_bytes INTEGER NOT NULL DEFAULT 0, archived_at REAL, files TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO jobs (id, submitted_at, prompt, model, status, job, archive, archive_error)
VALUES ('video_old', 1700000000.25, 'a kite from last year', 'kling-v1', 'completed',
        '{"id": "video_old", "status": "completed", "progress": 100}', 'failed', 'Timed out');
"""


def test_start_up_knows_the_newest_revision():
    config = Config()
    config.set_main_option("script_location", os.path.join(ROOT, "migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_a_history_made_by_the_first_version_upgrades_in_place(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(FIRST_VERSION)
    store = JobStore(str(path))
    record = store.get("video_old")
    assert record is not None and record.params == {} and record.submitted_at == 1700000000.25
    assert record.archive == "retrying", "a fetch the first version left failed is tried again"
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD
        columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        assert {"local_id", "next_check_at", "archive_holder"} <= columns
    assert store.history.search("KITE")[1] == 1
    JobStore(str(path))  # the next start-up finds it current and changes nothing
    assert JobStore(str(path)).get("video_old").submitted_at == 1700000000.25


def test_a_new_history_gets_the_newest_revision(tmp_path):
    store = JobStore(str(tmp_path / "data" / "jobs.sqlite3"))
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
