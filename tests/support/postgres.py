"""A real PostgreSQL 15 on loopback for the tests, as ../shared/scale/SERVERS.md starts it: a throwaway
cluster made by initdb in a temporary folder, run by the `postgres` user (PostgreSQL refuses root), with
fsync off (the tests need speed, not durability), stopped and removed at the end."""

import contextlib
import os
import shutil
import subprocess
import tempfile

import pytest

from .servers import free_port

PG_BIN = "/usr/lib/postgresql/15/bin"


def available() -> bool:
    return os.access(os.path.join(PG_BIN, "initdb"), os.X_OK)


def require_postgres() -> None:
    if not available():
        reason = f"Debian's postgresql-15 is not installed ({PG_BIN}); `make test` installs it where it can"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and REQUIRE_BROWSER=1 forbids skipping", pytrace=False)
        pytest.skip(reason)


def _as_postgres(args, **kwargs):
    """Run a server command as the postgres user when we are root (as on CI), else as ourselves."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


class PostgresServer:
    """initdb + pg_ctl start on a free port; .url is a SQLAlchemy URL for the database `app`."""

    def __init__(self) -> None:
        self.folder = None
        self.port = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://app:app@127.0.0.1:{self.port}/app"

    def start(self) -> "PostgresServer":
        require_postgres()
        self.folder = tempfile.mkdtemp(prefix="studio-pg-")
        os.chmod(self.folder, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self.port = free_port()
        data = os.path.join(self.folder, "data")
        _as_postgres(
            [f"{PG_BIN}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"]
        )
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _as_postgres(
            [
                f"{PG_BIN}/pg_ctl",
                "-D",
                data,
                "-l",
                os.path.join(self.folder, "server.log"),
                "-w",
                "-t",
                "60",
                "start",
                "-o",
                options,
            ]
        )
        self.psql("CREATE ROLE app LOGIN PASSWORD 'app'")
        self.psql("CREATE DATABASE app OWNER app")
        return self

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-Atc", sql],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def fresh_database(self, name: str) -> str:
        """A new empty database owned by app; its URL."""
        self.psql(f"CREATE DATABASE {name} OWNER app")
        return f"postgresql+psycopg://app:app@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.folder is None:
            return
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            _as_postgres([f"{PG_BIN}/pg_ctl", "-D", os.path.join(self.folder, "data"), "-m", "immediate", "stop"])
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
