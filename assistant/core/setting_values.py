"""How the list settings are read: comma-separated or JSON lists, host names and browser origins.

Used as ``BeforeValidator`` of the fields in :mod:`assistant.core.sections`; a ``ValueError`` here becomes the
:class:`~assistant.core.errors.ConfigError` that names the setting and the value.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:]+\](:[0-9]{1,5})?")


def listed(value: Any) -> list[str]:
    """A list setting from a comma-separated string, a JSON list string or a list; blanks dropped."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON list ({exc.msg}); or give a comma-separated list") from exc
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [str(item).strip() for item in items if str(item).strip()]


def normal_host(value: str) -> str:
    """A host name as compared everywhere (allowed hosts, a request's ``Host``, a fetched URL): lower
    case, no brackets, no trailing dot; an IP address in its canonical form (``0:0:0:0:0:0:0:1`` is
    ``::1``)."""
    host = value.strip().lower().strip("[]").rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def host_entry(entry: str) -> str:
    """An ``allowed_hosts`` entry, normalised (:func:`normal_host`): a host name, an IP address,
    ``*.domain`` or ``*``; never a port or a scheme (every port is the server's)."""
    host = normal_host(entry)
    if host == "*" or _HOST_NAME.fullmatch(host) or _is_address(host):
        return host
    raise ValueError(
        f"allowed host {entry!r} must be a host name, an IP address, *.domain or * (no port, no scheme)"
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_names(value: Any) -> list[str]:
    """The ``allowed_hosts`` list, each entry checked and normalised."""
    return [host_entry(entry) for entry in listed(value)]


def origins(value: Any) -> list[str]:
    """The ``allowed_origins`` list: each ``scheme://host[:port]``, without a trailing slash."""
    found = [origin.rstrip("/") for origin in listed(value)]
    for origin in found:
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(f"allowed origin {origin!r} must look like https://host[:port]")
    return found
