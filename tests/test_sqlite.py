"""The app's SQLite connections are lent out and reused, without carrying state from one use to the next."""

import os
import sqlite3
import threading

import pytest

from app.storage import sqlite as sqlite_module
from app.storage.sqlite import MAX_IDLE, connect, count_time, time_locked, time_spent
from support.waiting import wait_for


def test_a_connection_is_reused_but_never_shared_and_starts_clean(tmp_path):
    path = str(tmp_path / "t.sqlite3")
    with connect(path) as db:
        db.execute("CREATE TABLE t (a)")
        first = db
    with connect(path) as db:
        assert db is first  # reused: no new open per query
        with connect(path) as inner:
            assert inner is not db  # a nested use gets its own
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (1)")  # left unfinished...
    with connect(path, row_factory=sqlite3.Row) as db:
        assert not db.in_transaction  # ...rolled back, as closing would have
        assert db.execute("SELECT COUNT(*) AS n FROM t").fetchone()["n"] == 0
    with pytest.raises(sqlite3.OperationalError), connect(path) as db:
        broken = db
        db.execute("SELECT nothing FROM nowhere")
    with connect(path) as db:
        assert db is not broken  # a connection that failed is not lent again


def test_a_replaced_file_is_opened_again(tmp_path):
    path = str(tmp_path / "t.sqlite3")
    with connect(path) as db:
        db.execute("CREATE TABLE t (a)")
    os.remove(path)  # e.g. a backup restored over it
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE restored (b)")
    other.commit()
    other.close()
    with connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["restored"]


def test_many_threads_at_once_leave_at_most_a_few_connections_open(tmp_path):
    path = str(tmp_path / "t.sqlite3")
    with connect(path) as db:
        db.execute("CREATE TABLE t (a)")
    start, lent = threading.Barrier(40), []

    def use():
        with connect(path) as db:
            start.wait()  # all 40 hold one at the same time
            db.execute("INSERT INTO t VALUES (1)")
            lent.append(db)

    threads = [threading.Thread(target=use) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(db) for db in lent}) == 40
    open_after = sum(1 for db in lent if _is_open(db))
    assert open_after <= MAX_IDLE
    with connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 40


def _is_open(db):
    try:
        db.execute("SELECT 1")
        return True
    except sqlite3.ProgrammingError:
        return False


def test_a_writer_waits_for_anothers_lock_and_the_wait_is_counted_apart(tmp_path):
    path = str(tmp_path / "t.sqlite3")
    with connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (a)")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")  # another writer holds the lock
    counted, done = {}, threading.Event()

    def write():
        count_time()
        counted["times"] = sqlite_module._spent.get()  # [in the database, waiting for a lock]
        with connect(path) as db:
            db.execute("INSERT INTO t VALUES (2)")  # waits for the other writer, then writes
            counted["rows"] = db.execute("SELECT COUNT(*) FROM t").fetchone()[0]
        counted["locked"], counted["spent"] = time_locked(), time_spent()
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    wait_for(lambda: counted.get("times") and counted["times"][1] > 0, timeout=60, what="the writer waiting")
    assert not done.is_set()
    other.execute("COMMIT")  # the other writer lets go
    writer.join(60)
    assert counted["rows"] == 2
    assert 0 < counted["locked"] <= counted["spent"]  # the wait for the lock, counted apart

    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"), connect(path, busy_seconds=0.2) as db:
            db.execute("INSERT INTO t VALUES (3)")  # held past busy_seconds: refused, not hung
    finally:
        other.execute("ROLLBACK")
        other.close()
