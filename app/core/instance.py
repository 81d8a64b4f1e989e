"""Which instance of the app this process belongs to: INSTANCE_ID, or the host's name.

Rows being sent and fetches in progress carry "<instance>:<pid>", so an instance can tell that a worker of
its own has died (its pid is gone) and never takes another instance's worker for one of its own, even
when two instances share a host name (containers, or two apps on one machine)."""

import os
import re
import socket

INSTANCE_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_chosen: list[str] = []


def use_instance_id(value: str) -> None:
    """Set by create_app from the settings (INSTANCE_ID, from the environment or the .env file)."""
    _chosen[:] = [value] if value else []


def instance_id() -> str:
    """This process's instance: INSTANCE_ID as the settings read it, else the host's name."""
    return _chosen[0] if _chosen else (os.environ.get("INSTANCE_ID", "").strip() or socket.gethostname())
