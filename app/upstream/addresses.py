"""Every address the app fetches, read once, by the parser that connects (urllib3's), and the transport
that connects exactly where that reading says.

- read_address() refuses an address holding a backslash, white space, a control character or user info,
  and one that urllib3 and the standard library read differently (the trick that once sent the key to
  another host: `http://a:1\\@b:2/` is host b to urlsplit and host a to the connection).
- PinnedTransport decides per request, from the address it is about to connect to: the API's own
  origin gets the key; any other host gets no key, must resolve only to public addresses (or be listed
  in ALLOWED_PRIVATE_HOSTS), and is connected to at the very address that was checked (no second DNS
  answer between the check and the connect; the certificate is still checked against the name).
"""

import ipaddress
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

MAX_ADDRESS_CHARS = 8000
DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressRefused(Exception):
    """The address is not one the app fetches from; the message says why, fit to show a person."""


@dataclass(frozen=True)
class Address:
    scheme: str
    host: str  # lower case, without brackets for IPv6
    port: int
    url: str  # as urllib3 writes it back: what requests will send

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def read_address(url: str | None) -> Address:
    """The address as the connection will read it, or AddressRefused."""
    text = str(url or "")
    if len(text) > MAX_ADDRESS_CHARS:
        raise AddressRefused("The video's address is far too long.")
    if any(c == "\\" or c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise AddressRefused(
            "The video's address holds a backslash, a space or a control character, which this app does not fetch from."
        )
    try:
        parsed = parse_url(text)
        split = urlsplit(text)
        split_port = split.port
    except (LocationParseError, ValueError):
        raise AddressRefused("The video's address cannot be read.") from None
    scheme = (parsed.scheme or "").lower()
    if scheme not in DEFAULT_PORTS or not parsed.host:
        raise AddressRefused("The video's address is not an http(s) address.")
    if parsed.auth is not None or "@" in split.netloc:
        raise AddressRefused("The video's address holds a user name or password, which this app does not send.")
    host = parsed.host.lower().strip("[]")
    port = parsed.port or DEFAULT_PORTS[scheme]
    other = (split.scheme.lower(), (split.hostname or "").lower(), split_port or DEFAULT_PORTS.get(split.scheme, 0))
    if other != (scheme, host, port):
        raise AddressRefused("The video's address reads as two different hosts, which this app does not fetch from.")
    return Address(scheme, host, port, parsed.url)


def without_user_info(url: str | None) -> str:
    """An address fit to show or log: any user name and password taken out."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "(an address that cannot be read)"
    if "@" not in parts.netloc:
        return str(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def checked_ip(address: Address, allowed_hosts: Collection[str] = (), resolve: Callable = socket.getaddrinfo) -> str:
    """The address to connect to for a host other than the API's: every address the name resolves to must
    be public, unless the host is listed in allowed_hosts. Raises AddressRefused."""
    try:
        infos = resolve(address.host, address.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise AddressRefused(f"The video's host {address.host} could not be resolved.") from None
    ips = [info[4][0].split("%", 1)[0] for info in infos]
    if not ips:
        raise AddressRefused(f"The video's host {address.host} could not be resolved.")
    if address.host not in allowed_hosts:
        for ip in ips:
            if not ipaddress.ip_address(ip).is_global:
                raise AddressRefused(
                    f"The video's address points at a private or local network ({address.host}), "
                    "which this app does not fetch from. List the host in ALLOWED_PRIVATE_HOSTS "
                    "if it is yours."
                )
    return ips[0]


class PinnedTransport(requests.adapters.HTTPAdapter):
    """A requests adapter that attaches the key, checks the host and pins its address, per request."""

    def __init__(
        self,
        api_base_url,
        authorization=None,
        allowed_hosts=(),
        blocksize: int = 16384,
        resolve=socket.getaddrinfo,
        pool_maxsize: int = 32,
    ) -> None:
        self.api_origin = read_address(api_base_url).origin
        self.authorization = authorization
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.blocksize, self.resolve = blocksize, resolve
        # Enough kept-alive connections for the follower's concurrent status reads (and pages' calls).
        super().__init__(pool_maxsize=pool_maxsize)

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["blocksize"] = self.blocksize
        super().init_poolmanager(*args, **kwargs)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        address = read_address(request.url)  # what requests prepared: the address it connects to
        request.headers.pop("Authorization", None)
        # The request carries its checked address to the connection step below (requests has no field for it).
        request.pinned = None  # pyright: ignore[reportAttributeAccessIssue]
        if address.origin == self.api_origin:
            if self.authorization:
                request.headers["Authorization"] = self.authorization
        else:
            request.pinned = (address, checked_ip(address, self.allowed_hosts, self.resolve))  # pyright: ignore[reportAttributeAccessIssue]
            request.headers["Host"] = address.netloc
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)

    def get_connection_with_tls_context(
        self, request: requests.PreparedRequest, verify: Any, proxies: Any = None, cert: Any = None
    ) -> Any:
        pinned = getattr(request, "pinned", None)
        if pinned is None:
            return super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        address, ip = pinned
        _host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        if address.scheme == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": address.host, "assert_hostname": address.host}
        return self.poolmanager.connection_from_host(ip, address.port, address.scheme, pool_kwargs=pool_kwargs)

    def request_url(self, request: requests.PreparedRequest, proxies: Any) -> str:
        if getattr(request, "pinned", None) is not None:
            return request.path_url  # straight to the checked address, never through a proxy
        return super().request_url(request, proxies)
