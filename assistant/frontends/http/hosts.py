"""The host names the server answers to: the defence against DNS rebinding.

A page on ``rebind.evil.example`` can make its name resolve to 127.0.0.1 after the browser loaded it;
the browser then sends the page's requests to Newsdesk with ``Host: rebind.evil.example:7860`` and a
matching ``Origin``, which a same-origin check alone takes for Newsdesk's own page. So every request
(the API, the Gradio UI, the widget, websockets) must name one of the configured host names
(``allowed_hosts``); by default the bound address and the ``localhost`` forms. Anything else is a
400 before any route runs, logged in one line.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.core.setting_values import normal_host
from assistant.frontends.http.responses import client_address, send_json

logger = logging.getLogger(__name__)

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 (names of the wildcard binds, not a bind)


def request_host(header: str) -> str:
    """The host name of a ``Host`` header value (``[::1]:7860`` → ``::1``), "" when malformed."""
    value = header.strip()
    if value.startswith("["):
        end = value.find("]")
        return normal_host(value[1:end]) if end > 0 else ""
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return ""
    return normal_host(name)


@dataclass(frozen=True)
class HostNames:
    """The names a request may give in ``Host``: exact names, ``*.domain`` suffixes, or any (``*``)."""

    exact: frozenset[str]
    suffixes: tuple[str, ...] = ()
    any_host: bool = False

    @classmethod
    def of(cls, configured: Iterable[str], bind_host: str) -> HostNames:
        """The configured names; with none, the bound address and the localhost forms (and this
        machine's name when the server binds every address)."""
        entries = list(configured)  # checked and normalised by the settings
        if "*" in entries:
            return cls(frozenset(), (), True)
        if not entries:
            entries = [normal_host(bind_host), *LOCAL_NAMES]
            if normal_host(bind_host) in WILDCARD_BINDS:
                entries.append(normal_host(socket.gethostname()))
        suffixes = tuple(entry[1:] for entry in entries if entry.startswith("*."))
        return cls(frozenset(e for e in entries if not e.startswith("*.")), suffixes)

    def allows(self, host: str) -> bool:
        if self.any_host:
            return True
        return host in self.exact or any(host.endswith(suffix) for suffix in self.suffixes)


class HostGuard:
    """400 JSON for HTTP requests (a refused handshake for websockets) whose ``Host`` is not allowed."""

    def __init__(self, app: ASGIApp, names: HostNames) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.names.any_host:
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("host", "")
        if self.names.allows(request_host(header)):
            await self.app(scope, receive, send)
            return
        logger.warning(
            "400 %s refused: Host %r is not an allowed host name (allowed_hosts), from %s",
            scope["path"],
            header[:100],
            client_address(scope),
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send_json(send, 400, {"error": "the Host header names a host this server does not serve"})
