"""Settings read once from the environment (and an optional .env file); a bad value stops start-up."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from urllib.parse import unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from limits import parse_many

from app.core.instance import INSTANCE_RE


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable and fits on one line."""


TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """Every knob of the app. Build with Settings.from_env() or Settings(**overrides) in tests."""

    video_api_base_url: str
    video_api_key: str = field(default="", repr=False)
    # "user:password" written into VIDEO_API_BASE_URL: taken out of the address (which is shown and logged)
    # and sent as HTTP Basic auth to the API when there is no key.
    video_api_user_info: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    video_api_timeout: float = 60.0
    video_api_connect_timeout: float = 5.0
    max_upload_mb: float = 10.0
    image_base64_format: str = "raw"  # raw | data-url
    data_dir: str = "data"
    send_compat_aliases: bool = True  # also send seconds= and size= (what relays read)
    video_api_flavor: str = "auto"  # auto | relay | openai: how requests are written (app/upstream/flavors.py)
    models_cache_seconds: float = 300.0
    status_cache_seconds: float = 1.0  # at least this long between two status reads of one job
    stall_after_minutes: float = 30.0  # a running job unchanged (or unanswered) this long is "stalled"
    upload_keep_days: float = 14.0  # uploaded images unused this long are deleted
    archive_max_mb: float = 5000.0  # archived videos beyond this, oldest first, are evicted
    archive_max_days: float = 30.0
    log_level: str = "INFO"
    app_password: str = field(default="", repr=False)  # team password mode
    auth_header: str = ""  # reverse-proxy identity mode, e.g. X-Forwarded-User
    submit_rate_limit: str = "10 per minute"
    daily_submit_cap: int = 100  # per person; 0 switches the cap off
    team_daily_cap: int = 500  # for everyone together; 0 switches it off
    # In the model profiles' currency, over any 24 hours: what the team, and one person, may spend by the
    # estimates (config/model-profiles.toml); 0 switches a budget off.
    team_daily_budget: float = 0.0
    person_daily_budget: float = 0.0
    # Who may read /metrics: these addresses or networks, or a request with "Authorization: Bearer <token>".
    metrics_allow: tuple = ("127.0.0.1/32", "::1/128")
    metrics_token: str = field(default="", repr=False)
    time_zone: str = "UTC"  # the team's: where the usage page's "today", "this week" and "this month" begin
    ratelimit_storage_uri: str = ""  # default: SQLite under DATA_DIR, shared by all workers
    trusted_proxies: int = 0  # how many reverse proxies set X-Forwarded-* (ProxyFix)
    demo_mode: bool = False  # set by `make run` when it serves the built-in demo API
    allowed_private_hosts: tuple = ()  # hosts on private networks that videos may be fetched from
    video_max_mb: float = 1024.0  # the largest video file fetched into the archive
    archive_fetch_seconds: float = 900.0  # the longest one video fetch may take, start to end
    examples_file: str = ""  # the examples shown above the form (default: examples/examples.toml)
    model_profiles_file: str = ""  # what each model family accepts (default: config/model-profiles.toml)
    archive_accel_redirect: str = ""  # nginx in front: its internal location for DATA_DIR/archive/
    # s3://bucket/prefix: archived videos and posters in an S3 API that every host shares (the endpoint and
    # keys from the standard AWS_* variables); unset: under DATA_DIR/archive.
    object_store_url: str = ""
    # postgresql+psycopg://user:password@host/db: the history, claims, spending guard, sessions and sign-in
    # counters in PostgreSQL, shared by every host; unset: SQLite files under DATA_DIR.
    database_url: str = field(default="", repr=False)
    # Names this instance in claims and sends (default: the host's name); give each instance its own when
    # two share a host name.
    instance_id: str = ""
    secret_key_given: bool = field(default=False, repr=False)  # SECRET_KEY set, not generated into DATA_DIR
    follower_concurrency: int = 32  # status reads in flight at once, per follower
    follower_reads_per_second: float = 400.0  # all running jobs together ask the API at most this often
    # Where jobs are followed: "thread" (in this process: flask run, tests), "process" (one process of its
    # own beside gunicorn's workers, started by gunicorn.conf.py: the default under gunicorn), "off" (not on
    # this host: run `python -m app.jobs.follower_process` somewhere yourself).
    follower: str = "thread"

    def __post_init__(self):
        # Every path is resolved once, here: later code (send_file, threads, subprocesses) may not share
        # the working folder that a relative DATA_DIR was meant against.
        object.__setattr__(self, "data_dir", os.path.abspath(self.data_dir))
        _check_base_url(self.video_api_base_url)
        parts = urlsplit(self.video_api_base_url)
        if "@" in parts.netloc:
            user_info, host = parts.netloc.rsplit("@", 1)
            object.__setattr__(self, "video_api_base_url", urlunsplit(parts._replace(netloc=host)))
            object.__setattr__(self, "video_api_user_info", unquote(user_info))
        if self.video_api_flavor not in ("auto", "relay", "openai"):
            raise ConfigError(f"VIDEO_API_FLAVOR must be 'auto', 'relay' or 'openai', not {self.video_api_flavor!r}")
        if self.follower not in ("thread", "process", "off"):
            raise ConfigError(f"FOLLOWER must be 'process', 'thread' or 'off', not {self.follower!r}")
        if self.image_base64_format not in ("raw", "data-url"):
            raise ConfigError(f"IMAGE_BASE64_FORMAT must be 'raw' or 'data-url', not {self.image_base64_format!r}")
        for name in (
            "video_api_timeout",
            "video_api_connect_timeout",
            "max_upload_mb",
            "archive_max_mb",
            "archive_max_days",
            "stall_after_minutes",
            "upload_keep_days",
            "video_max_mb",
            "archive_fetch_seconds",
        ):
            if not getattr(self, name) > 0:
                unit = {
                    "max_upload_mb": "MB",
                    "archive_max_mb": "MB",
                    "archive_max_days": "days",
                    "stall_after_minutes": "minutes",
                    "upload_keep_days": "days",
                    "video_max_mb": "MB",
                }.get(name, "seconds")
                raise ConfigError(f"{name.upper()} must be a positive number of {unit}")
        if self.status_cache_seconds < 0:
            raise ConfigError("STATUS_CACHE_SECONDS must not be negative")
        if self.app_password and self.auth_header:
            raise ConfigError("APP_PASSWORD and AUTH_HEADER are both set: choose one way of signing in")
        if self.auth_header and not re.fullmatch(r"[A-Za-z0-9-]+", self.auth_header):
            raise ConfigError(f"AUTH_HEADER must be a header name like X-Forwarded-User, not {self.auth_header!r}")
        if self.submit_rate_limit:
            try:
                parse_many(self.submit_rate_limit)
            except ValueError:
                raise ConfigError(
                    f"SUBMIT_RATE_LIMIT must look like '10 per minute' or '10/minute;100/day', "
                    f"not {self.submit_rate_limit!r}"
                ) from None
        if self.team_daily_cap < 0:
            raise ConfigError("TEAM_DAILY_CAP must not be negative")
        try:
            networks = tuple(ipaddress.ip_network(a, strict=False) for a in self.metrics_allow)
        except ValueError:
            raise ConfigError(
                f"METRICS_ALLOW must be addresses or networks separated by commas, like 127.0.0.1,10.0.0.0/8, "
                f"not {','.join(map(str, self.metrics_allow))!r}"
            ) from None
        object.__setattr__(self, "metrics_allow", networks)
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"TIME_ZONE must be a time zone name like Asia/Shanghai or UTC, not {self.time_zone!r}"
            ) from None
        if self.team_daily_budget < 0 or self.person_daily_budget < 0:
            raise ConfigError(
                f"{'TEAM_DAILY_BUDGET' if self.team_daily_budget < 0 else 'PERSON_DAILY_BUDGET'} must not be negative"
            )
        if self.archive_accel_redirect and not re.fullmatch(r"/[A-Za-z0-9._~/-]*/", self.archive_accel_redirect):
            raise ConfigError(
                "ARCHIVE_ACCEL_REDIRECT must be the path of nginx's internal location for the "
                f"archive, beginning and ending with /, like /_studio_archive/, not "
                f"{self.archive_accel_redirect!r}"
            )
        if self.object_store_url and not re.fullmatch(
            r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._~/-]*)?", self.object_store_url
        ):
            raise ConfigError(
                f"OBJECT_STORE_URL must look like s3://bucket or s3://bucket/prefix, not {self.object_store_url!r}"
            )
        if self.instance_id and not INSTANCE_RE.fullmatch(self.instance_id):
            raise ConfigError(
                "INSTANCE_ID must be 1 to 64 letters, digits, dots, dashes or underscores, "
                f"not {self.instance_id[:80]!r}"
            )
        if self.database_url and not re.match(r"postgresql(\+psycopg)?://", self.database_url):
            raise ConfigError(
                "DATABASE_URL must be a PostgreSQL address like postgresql+psycopg://user:password@host:5432/db"
            )
        shared = "DATABASE_URL" if self.database_url else "OBJECT_STORE_URL" if self.object_store_url else ""
        if shared and not self.secret_key_given:
            raise ConfigError(
                f"SECRET_KEY must be set when {shared} is (several hosts must sign sessions with the "
                "same key): generate one with `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        if self.daily_submit_cap < 0 or self.trusted_proxies < 0:
            raise ConfigError(
                f"{'DAILY_SUBMIT_CAP' if self.daily_submit_cap < 0 else 'TRUSTED_PROXIES'} must not be negative"
            )

    @property
    def auth_mode(self) -> str:
        return "password" if self.app_password else "header" if self.auth_header else "open"

    @property
    def ratelimit_uri(self) -> str:
        default = os.path.abspath(os.path.join(self.data_dir, "ratelimits.sqlite3"))
        return self.ratelimit_storage_uri or self.database_url or f"sqlite:///{default}"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: str | None = ".env") -> Settings:
        """Settings from os.environ, with values from env_file for variables not set there."""
        env = dict(dotenv_values(env_file)) if env_file and os.path.exists(env_file) else {}
        env.update(os.environ if environ is None else environ)

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        base_url = get("VIDEO_API_BASE_URL")
        if not base_url:
            raise ConfigError(
                "VIDEO_API_BASE_URL is not set: point it at your video API "
                "(e.g. https://api.example.com), or use `make run`, which starts the demo API"
            )
        data_dir = os.path.abspath(get("DATA_DIR") or "data")
        values = {
            "video_api_base_url": base_url,
            "video_api_key": _read_key(get("VIDEO_API_KEY"), get("VIDEO_API_KEY_FILE")),
            "data_dir": data_dir,
            "image_base64_format": get("IMAGE_BASE64_FORMAT").lower() or "raw",
            "video_api_flavor": get("VIDEO_API_FLAVOR").lower() or "auto",
            "follower": get("FOLLOWER").lower() or "thread",
            "log_level": (get("LOG_LEVEL") or "INFO").upper(),
            "app_password": get("APP_PASSWORD"),
            "auth_header": get("AUTH_HEADER"),
            "ratelimit_storage_uri": get("RATELIMIT_STORAGE_URI"),
            "examples_file": get("EXAMPLES_FILE"),
            "model_profiles_file": get("MODEL_PROFILES_FILE"),
            "archive_accel_redirect": get("ARCHIVE_ACCEL_REDIRECT"),
            "object_store_url": get("OBJECT_STORE_URL"),
            "time_zone": get("TIME_ZONE") or "UTC",
            "metrics_token": get("METRICS_TOKEN"),
            "database_url": _psycopg(get("DATABASE_URL")),
            "allowed_private_hosts": tuple(
                h.strip().lower() for h in get("ALLOWED_PRIVATE_HOSTS").split(",") if h.strip()
            ),
        }
        if "METRICS_ALLOW" in env:
            values["metrics_allow"] = tuple(a.strip() for a in get("METRICS_ALLOW").split(",") if a.strip())
        if "SUBMIT_RATE_LIMIT" in env:
            rate = get("SUBMIT_RATE_LIMIT")
            values["submit_rate_limit"] = "" if rate.lower() in ("", "off", "none", "0") else rate
        for var, attr in (
            ("DAILY_SUBMIT_CAP", "daily_submit_cap"),
            ("TRUSTED_PROXIES", "trusted_proxies"),
            ("TEAM_DAILY_CAP", "team_daily_cap"),
            ("FOLLOWER_CONCURRENCY", "follower_concurrency"),
        ):
            if get(var):
                values[attr] = _whole(var, get(var))
        for var, attr in (
            ("VIDEO_API_TIMEOUT", "video_api_timeout"),
            ("VIDEO_API_CONNECT_TIMEOUT", "video_api_connect_timeout"),
            ("MAX_UPLOAD_MB", "max_upload_mb"),
            ("MODELS_CACHE_SECONDS", "models_cache_seconds"),
            ("STATUS_CACHE_SECONDS", "status_cache_seconds"),
            ("ARCHIVE_MAX_MB", "archive_max_mb"),
            ("ARCHIVE_MAX_DAYS", "archive_max_days"),
            ("STALL_AFTER_MINUTES", "stall_after_minutes"),
            ("UPLOAD_KEEP_DAYS", "upload_keep_days"),
            ("VIDEO_MAX_MB", "video_max_mb"),
            ("ARCHIVE_FETCH_SECONDS", "archive_fetch_seconds"),
            ("FOLLOWER_READS_PER_SECOND", "follower_reads_per_second"),
            ("TEAM_DAILY_BUDGET", "team_daily_budget"),
            ("PERSON_DAILY_BUDGET", "person_daily_budget"),
        ):
            if get(var):
                values[attr] = _number(var, get(var))
        if get("DEMO_MODE"):
            values["demo_mode"] = _boolean("DEMO_MODE", get("DEMO_MODE"))
        if get("VIDEO_API_COMPAT_ALIASES"):
            values["send_compat_aliases"] = _boolean("VIDEO_API_COMPAT_ALIASES", get("VIDEO_API_COMPAT_ALIASES"))
        values["secret_key"] = get("SECRET_KEY") or _stored_secret(data_dir)
        values["secret_key_given"] = bool(get("SECRET_KEY"))
        values["instance_id"] = get("INSTANCE_ID")
        return cls(**values)

    def describe(self) -> str:
        """The settings for a start-up log line, the secrets left out."""
        hidden = {
            "video_api_key",
            "secret_key",
            "secret_key_given",
            "app_password",
            "video_api_user_info",
            "database_url",
            "metrics_token",
        }
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in hidden}
        shown["database"] = _without_password(self.database_url) if self.database_url else "SQLite in data_dir"
        shown["instance_id"] = self.instance_id or f"{socket.gethostname()} (the host name)"
        shown["video_api_key"] = "set" if self.video_api_key else "not set"
        return ", ".join(f"{k}={v}" for k, v in shown.items())


def _psycopg(url: str) -> str:
    """postgresql://... as SQLAlchemy's psycopg 3 address (postgres:// and postgresql:// name the same)."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@", 1)))


def _check_base_url(url):
    try:
        parts = urlsplit(url)
        shown = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))  # no password in a message
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError("VIDEO_API_BASE_URL cannot be read as an address; check its host and port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"VIDEO_API_BASE_URL must be an http(s) address like https://api.example.com, not {shown!r}")
    if any(c == "\\" or c.isspace() for c in url):
        raise ConfigError("VIDEO_API_BASE_URL holds a backslash or white space; check how it was pasted")
    if parts.path.rstrip("/").endswith("/v1/videos"):
        raise ConfigError("VIDEO_API_BASE_URL must be the server's address without /v1/videos (the app adds /v1/...)")


def _read_key(key, key_file):
    if key and key_file:
        raise ConfigError("VIDEO_API_KEY and VIDEO_API_KEY_FILE are both set: keep one")
    if key_file:
        try:
            with open(key_file, encoding="utf-8") as fh:
                key = fh.read().strip()
        except OSError as exc:
            raise ConfigError(f"VIDEO_API_KEY_FILE cannot be read: {exc.strerror} ({key_file})") from None
        if not key:
            raise ConfigError(f"VIDEO_API_KEY_FILE is empty ({key_file})")
    if any(c.isspace() for c in key):
        raise ConfigError("VIDEO_API_KEY contains white space; check how it was pasted")
    return key


def _number(var, text):
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{var} must be a number, not {text!r}") from None


def _whole(var, text):
    if not text.isdigit():
        raise ConfigError(f"{var} must be a whole number, not {text!r}")
    return int(text)


def _boolean(var, text) -> bool:
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise ConfigError(f"{var} must be true or false, not {text!r}")


def _stored_secret(data_dir):
    """A SECRET_KEY made once and kept in DATA_DIR, shared by every worker of this deployment."""
    path = os.path.join(data_dir, "secret_key")
    try:
        os.makedirs(data_dir, exist_ok=True)
        if not os.path.exists(path):
            # Written aside, then linked into place: two workers starting at once agree on one key.
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
                fh.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.remove(tmp)
        with open(path, encoding="utf-8") as fh:
            secret = fh.read().strip()
    except OSError as exc:
        raise ConfigError(f"DATA_DIR is not writable ({exc.strerror}): {data_dir}") from None
    if not secret:
        raise ConfigError(f"SECRET_KEY is not set and {path} is empty: delete that file or set SECRET_KEY")
    return secret
