"""The upstream ids of created jobs that the database refused to record, kept on disk until it takes them.

After the video API has made (and will charge for) a job, its id must not be lost because SQLite was
locked or the disk was briefly full: the submission appends it here (one JSON line, flushed and fsynced)
and the person is sent to the job as usual; every follower round replays the file into the store, and
drops each line once the row carries the id. Appends and replays take an exclusive lock on the file, so
workers never interleave lines or replay one twice.
"""

import fcntl
import json
import logging
import os
import time
from typing import Any

from app.storage.database import DATABASE_ERRORS
from app.upstream import Job

log = logging.getLogger("app.jobs.journal")


class CreatedJournal:
    def __init__(self, path) -> None:
        self.path = os.path.abspath(path)

    def append(self, local_id: str, job: Job) -> None:
        """Keep (local_id -> the upstream's job) durably; raises OSError when even that is impossible."""
        line = (
            json.dumps({"local_id": local_id, "job": job.to_dict(), "at": time.time()}, ensure_ascii=False, default=str)
            + "\n"
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def pending(self) -> dict[str, dict]:
        """{local_id: job dict} of the entries not yet replayed."""
        try:
            with open(self.path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            return {}
        return {entry["local_id"]: entry["job"] for entry in _entries(lines)}

    def replay(self, store: Any) -> int:
        """Write every kept id into the store; the lines the store took are dropped. Returns how many."""
        try:
            if os.path.getsize(self.path) == 0:
                return 0
        except FileNotFoundError:
            return 0
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r", encoding="utf-8") as fh:
                entries = list(_entries(fh.read().splitlines()))
            left, done = [], 0
            for entry in entries:
                try:
                    store.created(entry["local_id"], Job.from_dict(entry["job"]))
                    done += 1
                    log.info("job %s: its upstream id was recorded from the journal", entry["job"].get("id"))
                except DATABASE_ERRORS as exc:
                    log.warning("journal replay of %s waits: %s", entry["job"].get("id"), exc)
                    left.append(entry)
            text = "".join(json.dumps(e, ensure_ascii=False, default=str) + "\n" for e in left)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            if text:
                os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
            return done
        finally:
            os.close(fd)


def _entries(lines):
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            log.warning("an unreadable journal line was skipped")  # a line cut by a crash mid-write
            continue
        if isinstance(entry, dict) and isinstance(entry.get("job"), dict) and entry.get("local_id"):
            yield entry
