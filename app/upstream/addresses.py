"""Which addresses the app may fetch a video from: the upstream's own host, and otherwise only public
addresses (checked after the name is resolved, at every redirect), plus hosts a team lists on purpose."""

import ipaddress
import socket
from urllib.parse import urlsplit


class AddressRefused(Exception):
    """The address is not one the app fetches from; the message says why, fit to show a person."""


def same_origin(url, base_url):
    """True when url is on the same scheme, host and port as base_url."""
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, (a.hostname or "").lower(), _port(a)) == (b.scheme, (b.hostname or "").lower(), _port(b))


def check_public(url, allowed_hosts=()):
    """Raise AddressRefused unless url is http(s) and its host resolves only to public addresses."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise AddressRefused("The video's address is not an http(s) address.")
    if host in allowed_hosts:
        return
    try:
        infos = socket.getaddrinfo(host, _port(parts), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise AddressRefused(f"The video's host {host} could not be resolved.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global:
            raise AddressRefused(f"The video's address points at a private or local network ({host}), which this "
                                 "app does not fetch from. List the host in ALLOWED_PRIVATE_HOSTS if it is yours.")


def _port(parts):
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return -1
