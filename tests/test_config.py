"""Configuration: read from the environment and .env; a bad value stops start-up with one clear line."""

import os
import subprocess
import sys

import pytest

from app.core.config import ConfigError, Settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = {"VIDEO_API_BASE_URL": "https://api.example.com", "SECRET_KEY": "s"}


def settings(tmp_path, **env):
    return Settings.from_env({"DATA_DIR": str(tmp_path), **BASE, **env}, env_file=None)


def test_defaults(tmp_path):
    s = settings(tmp_path)
    assert (s.video_api_timeout, s.max_upload_mb, s.image_base64_format, s.send_compat_aliases) == (60, 10, "raw", True)


def test_values_are_read(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    s = settings(
        tmp_path,
        VIDEO_API_KEY_FILE=str(key_file),
        VIDEO_API_TIMEOUT="12.5",
        MAX_UPLOAD_MB="4",
        IMAGE_BASE64_FORMAT="data-url",
        VIDEO_API_COMPAT_ALIASES="off",
    )
    assert s.video_api_key == "sk-from-file" and s.video_api_timeout == 12.5 and s.max_upload_mb == 4
    assert s.image_base64_format == "data-url" and s.send_compat_aliases is False
    assert "sk-from-file" not in s.describe() and "sk-from-file" not in repr(s)


def test_the_start_up_line_names_the_database_without_its_password_and_the_instance(tmp_path):
    shared = settings(
        tmp_path,
        DATABASE_URL="postgresql://studio:hunter2-secret@db.internal:5432/studio",
        INSTANCE_ID="studio-2",
        SECRET_KEY="k",
    )
    assert shared.database_url == "postgresql+psycopg://studio:hunter2-secret@db.internal:5432/studio"
    line = shared.describe()
    assert "hunter2-secret" not in line and "hunter2-secret" not in repr(shared)
    assert "database=postgresql+psycopg://studio:***@db.internal:5432/studio" in line
    assert "instance_id=studio-2" in line
    assert "database=SQLite in data_dir" in settings(tmp_path).describe()


def test_the_archive_location_for_nginx_is_off_unless_set(tmp_path):
    assert settings(tmp_path).archive_accel_redirect == ""
    assert settings(tmp_path, ARCHIVE_ACCEL_REDIRECT="/_studio_archive/").archive_accel_redirect == "/_studio_archive/"


def test_env_file_fills_what_the_environment_does_not_set(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("VIDEO_API_BASE_URL=https://from-file.example.com\nVIDEO_API_TIMEOUT=7\n")
    s = Settings.from_env(
        {"DATA_DIR": str(tmp_path), "SECRET_KEY": "s", "VIDEO_API_TIMEOUT": "9"}, env_file=str(env_file)
    )
    assert s.video_api_base_url == "https://from-file.example.com" and s.video_api_timeout == 9


@pytest.mark.parametrize(
    "env,variable",
    [
        ({"VIDEO_API_BASE_URL": ""}, "VIDEO_API_BASE_URL"),
        ({"VIDEO_API_BASE_URL": "api.example.com"}, "VIDEO_API_BASE_URL"),
        ({"VIDEO_API_BASE_URL": "https://api.example.com/v1/videos"}, "VIDEO_API_BASE_URL"),
        ({"VIDEO_API_TIMEOUT": "soon"}, "VIDEO_API_TIMEOUT"),
        ({"VIDEO_API_TIMEOUT": "0"}, "VIDEO_API_TIMEOUT"),
        ({"MAX_UPLOAD_MB": "-1"}, "MAX_UPLOAD_MB"),
        ({"IMAGE_BASE64_FORMAT": "hex"}, "IMAGE_BASE64_FORMAT"),
        ({"VIDEO_API_COMPAT_ALIASES": "maybe"}, "VIDEO_API_COMPAT_ALIASES"),
        ({"VIDEO_API_KEY_FILE": "/nonexistent/key"}, "VIDEO_API_KEY_FILE"),
        ({"VIDEO_API_KEY": "a", "VIDEO_API_KEY_FILE": "/x"}, "VIDEO_API_KEY_FILE"),
        ({"ARCHIVE_ACCEL_REDIRECT": "/_studio_archive"}, "ARCHIVE_ACCEL_REDIRECT"),
        ({"ARCHIVE_ACCEL_REDIRECT": "_studio_archive/"}, "ARCHIVE_ACCEL_REDIRECT"),
        ({"ARCHIVE_ACCEL_REDIRECT": "/a b/"}, "ARCHIVE_ACCEL_REDIRECT"),
        ({"OBJECT_STORE_URL": "https://s3.example.com/videos", "SECRET_KEY": "k"}, "OBJECT_STORE_URL"),
        ({"OBJECT_STORE_URL": "s3://Bad_Bucket/x", "SECRET_KEY": "k"}, "OBJECT_STORE_URL"),
        ({"OBJECT_STORE_URL": "s3://videos/studio", "SECRET_KEY": ""}, "SECRET_KEY"),  # hosts share one key
        ({"INSTANCE_ID": "host a"}, "INSTANCE_ID"),
        ({"DATABASE_URL": "mysql://u:p@db/studio"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://db/studio", "SECRET_KEY": ""}, "SECRET_KEY"),
        ({"INSTANCE_ID": "x" * 65}, "INSTANCE_ID"),
    ],
)
def test_a_bad_value_names_its_variable(tmp_path, env, variable):
    with pytest.raises(ConfigError) as err:
        settings(tmp_path, **env)
    assert variable in str(err.value) and "\n" not in str(err.value)


def test_without_secret_key_one_is_made_once_and_kept(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "VIDEO_API_BASE_URL": "http://127.0.0.1:1"}
    first, second = Settings.from_env(env, env_file=None), Settings.from_env(env, env_file=None)
    assert len(first.secret_key) >= 32 and first.secret_key == second.secret_key


def gunicorn_start_up(tmp_path, **variables):
    """gunicorn started as a person would, with these variables: the finished process (it should stop)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEO_API_")}
    env.update(VIDEO_API_BASE_URL="https://api.example.com", DATA_DIR=str(tmp_path), BIND="127.0.0.1:0", **variables)
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gunicorn_start_up_stops_with_one_line_naming_the_variable(tmp_path):
    proc = gunicorn_start_up(tmp_path, VIDEO_API_TIMEOUT="soon")
    assert proc.returncode != 0
    assert "configuration error: VIDEO_API_TIMEOUT must be a number, not 'soon'" in proc.stderr


@pytest.mark.parametrize(
    "variable,text,expected",
    [
        (
            "MODEL_PROFILES_FILE",
            '[[profile]]\nid = "kling"\nmodels = ["kling-*"]\nmax_n = "1"\n',
            'profile 1 (kling), key "max_n": input should be a valid integer',
        ),
        (
            "MODEL_PROFILES_FILE",
            '[[profile]]\nid = "kling"\nmodels = ["kling-*"]\n[[profile.extras]]\nname = "mode"\nlable = "Mode"\n',
            'profile 1 (kling), extras 1 (mode), key "lable" is not a known key',
        ),
        (
            "EXAMPLES_FILE",
            '[[example]]\nid = "boat"\nprompt = "A boat"\nwidht = 1280\n',
            'example 1 (boat), key "widht" is not a known key',
        ),
    ],
)
def test_a_wrong_key_or_type_in_a_data_file_stops_start_up_with_one_line(tmp_path, variable, text, expected):
    data_file = tmp_path / "data.toml"
    data_file.write_text(text, encoding="utf-8")
    proc = gunicorn_start_up(tmp_path, **{variable: str(data_file)})
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "configuration error" in line]
    assert len(lines) == 1, proc.stderr  # one line, naming the file, the entry and the key
    assert lines[0].startswith(f"configuration error: {variable} ({data_file}): {expected}")
