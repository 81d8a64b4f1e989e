"""The job store's database and the clock that its parts share.

JobStore (store.py) owns one JobsDatabase and hands it to its parts: FollowerClaims (claims.py, the
follower's work) and HistoryQueries (queries.py, the history page's questions). The database is a SQLite
file under DATA_DIR, or PostgreSQL with DATABASE_URL (app/storage/database.py)."""

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from app.storage.database import SqliteDatabase, open_database
from app.storage.postgres import PostgresDatabase

# Said on PostgreSQL when there is work for a follower (a job created or found, a nudge): every host's
# follower listens, so the one that looks first need not wait for its next round.
NEW_WORK = "video_studio_work"


class JobsDatabase:
    """What every part of the job store stands on: its database, and the clock its times come from (tests
    put their own clock here)."""

    def __init__(self, database: "str | SqliteDatabase | PostgresDatabase") -> None:
        self.database = open_database("", database) if isinstance(database, str) else database
        self.dialect: str = self.database.dialect
        self.path = getattr(self.database, "path", self.database.name)
        self.clock: Callable[[], float] = time.time

    def connect(self, synchronous: str = "NORMAL") -> AbstractContextManager[Any]:
        """A pooled connection for the length of a with block; autocommit, or BEGIN ... COMMIT inside."""
        return self.database.connect(synchronous)

    def execute(self, sql: str, args: tuple = ()) -> int:
        """Run one statement; the number of rows it changed."""
        with self.connect() as db:
            return db.execute(sql, args).rowcount
