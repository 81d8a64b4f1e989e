"""The job store's SQLite file: the connection, the statement helper and the clock that its parts share.

JobStore (store.py) owns one JobsDatabase and hands it to its parts: FollowerClaims (claims.py, the
follower's work) and HistoryQueries (queries.py, the history page's questions)."""

import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from app.storage.sqlite import BUSY_SECONDS, connect


class JobsDatabase:
    """What every part of the job store stands on: its file, how long a statement waits for another writer's
    lock, and the clock its times come from (tests put their own clock here)."""

    busy_seconds: float = BUSY_SECONDS

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.clock: Callable[[], float] = time.time

    def connect(self, synchronous: str = "NORMAL") -> AbstractContextManager[sqlite3.Connection]:
        """A pooled connection for the length of a with block; one transaction, committed at its end."""
        return connect(self.path, row_factory=sqlite3.Row, busy_seconds=self.busy_seconds, synchronous=synchronous)

    def execute(self, sql: str, args: tuple = ()) -> int:
        """Run one statement; the number of rows it changed."""
        with self.connect() as db:
            return db.execute(sql, args).rowcount
