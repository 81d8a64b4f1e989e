"""The app's SQLite connections are lent out and reused, without carrying state from one use to the next."""

import os
import sqlite3
import threading

import pytest

from app.sqlite import MAX_IDLE, connect


def test_a_connection_is_reused_but_never_shared_and_starts_clean(tmp_path):
    path = str(tmp_path / "t.sqlite3")
    with connect(path) as db:
        db.execute("CREATE TABLE t (a)")
        first = db
    with connect(path) as db:
        assert db is first                                    # reused: no new open per query
        with connect(path) as inner:
            assert inner is not db                            # a nested use gets its own
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (1)")                # left unfinished...
    with connect(path, row_factory=sqlite3.Row) as db:
        assert not db.in_transaction                          # ...rolled back, as closing would have
        assert db.execute("SELECT COUNT(*) AS n FROM t").fetchone()["n"] == 0
    with pytest.raises(sqlite3.OperationalError), connect(path) as db:
        broken = db
        db.execute("SELECT nothing FROM nowhere")
    with connect(path) as db:
        assert db is not broken                               # a connection that failed is not lent again


def test_a_replaced_file_is_opened_again(tmp_path):
    path = str(tmp_path / "t.sqlite3")
    with connect(path) as db:
        db.execute("CREATE TABLE t (a)")
    os.remove(path)                                           # e.g. a backup restored over it
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
            start.wait()                                      # all 40 hold one at the same time
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
