"""The entries of ``fetch_allowed_hosts``: :class:`AllowedHost`, a host and the one port it opens.

Checked when the settings are read (:func:`check_allowed_hosts`, a validator of the field in
:mod:`assistant.core.sections.write_side`) and read by the fetcher (``IngestSettings.fetch_allowlist``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_ENTRY = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
    r"(?:\[(?P<ipv6>[^\]]*)\]|(?P<name>[A-Za-z0-9_.-]+))(?::(?P<port>[^/]*))?/?"
)


@dataclass(frozen=True)
class AllowedHost:
    """An entry of ``fetch_allowed_hosts``: a host name or IP address and the one port it opens.

    ``host:port`` opens that port (http or https), ``scheme://host:port`` that port for that scheme
    only; without a port, an entry opens only the default port of the scheme (80 for http, 443 for
    https), never every port of the host.
    """

    host: str  # lower case, without brackets or a trailing dot; an IP address in its normal form
    scheme: str | None = None  # None: http or https
    port: int | None = None  # None: the scheme's default port

    def allows(self, scheme: str, port: int) -> bool:
        """True when a request with ``scheme`` to ``port`` of this host is allowed."""
        if self.scheme is not None and scheme != self.scheme:
            return False
        return port == (DEFAULT_PORTS.get(scheme) if self.port is None else self.port)


def allowed_host(entry: str) -> AllowedHost:
    """The :class:`AllowedHost` of one ``fetch_allowed_hosts`` entry (``host``, ``host:port``,
    ``scheme://host[:port]``, ``[IPv6]:port`` or a bare IPv6 address); ValueError naming the entry."""
    text = entry.strip()
    try:  # a bare IPv6 address has colons but no port
        return AllowedHost(str(ipaddress.IPv6Address(text)))
    except ValueError:
        pass
    match = _HOST_ENTRY.fullmatch(text)
    if match is None:
        raise ValueError(f"entry {entry!r} is not host, host:port, scheme://host:port or [IPv6]:port")
    scheme = match["scheme"].lower() if match["scheme"] else None
    if scheme is not None and scheme not in DEFAULT_PORTS:
        raise ValueError(f"entry {entry!r}: scheme {scheme!r} is not http or https")
    host = _entry_host(entry, match["ipv6"], match["name"])
    return AllowedHost(host, scheme, None if match["port"] is None else _entry_port(entry, match["port"]))


def check_allowed_hosts(entries: list[str]) -> list[str]:
    """``entries`` unchanged once each is a valid :func:`allowed_host` entry (ValueError otherwise)."""
    for entry in entries:
        allowed_host(entry)
    return entries


def _entry_host(entry: str, ipv6: str | None, name: str | None) -> str:
    if ipv6 is not None:
        try:
            return str(ipaddress.IPv6Address(ipv6))
        except ValueError as exc:
            raise ValueError(f"entry {entry!r}: {ipv6!r} is not an IPv6 address") from exc
    host = (name or "").lower().rstrip(".")
    if not host.strip("."):
        raise ValueError(f"entry {entry!r} has no host")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _entry_port(entry: str, port: str) -> int:
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"entry {entry!r}: port {port!r} is not a number from 1 to 65535")
    return int(port)
