"""What the person using the chat may read and write, and the archives they may pick.

The server's guards put the request's principal in its state (a signed-in person's, checked at
each request: :mod:`assistant.frontends.http.signin`); its grants decide which archives the chat
offers and asks. With sign-in required (``oidc_issuer``), a request without a principal may read
nothing (closed, not open); without it, the chat reads and writes every archive, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.core.access import FULL_ACCESS, NO_ACCESS, Grants
from ingest.storage.archives import DEFAULT_ARCHIVE

if TYPE_CHECKING:
    from assistant.archives import Archives


@dataclass(frozen=True)
class UiAccess:
    """The archives of the server (None: the default archive only) and whether sign-in is required."""

    archives: Archives | None
    signed_in_only: bool = False

    def grants(self, request: gr.Request | None) -> Grants:
        """The grants of the request's principal (none when sign-in is required and there is none)."""
        state = getattr(getattr(request, "request", None), "state", None)
        grants = getattr(getattr(state, "principal", None), "grants", None)
        if isinstance(grants, Grants):
            return grants
        return NO_ACCESS if self.signed_in_only else FULL_ACCESS

    def readable(self, request: gr.Request | None) -> list[str]:
        """The archives the person may read, the default first."""
        names = self.archives.registry.names() if self.archives is not None else [DEFAULT_ARCHIVE]
        return self.grants(request).readable(names)

    def picker(self, request: gr.Request) -> Any:
        """The archive picker's choices: the readable archives; the first one picked."""
        names = self.readable(request)
        return gr.update(choices=names, value=names[:1], visible=self.archives is not None)

    def require(self, request: gr.Request | None, write: bool = False) -> None:
        """gr.Error unless the person may read (``write``: write) the default archive, which the
        Library tab and the sources filter show."""
        grants = self.grants(request)
        allowed = grants.can_write(DEFAULT_ARCHIVE) if write else grants.can_read(DEFAULT_ARCHIVE)
        if not allowed:
            raise gr.Error(f"You may not {'add to' if write else 'read'} the default archive.")

    def may_read_default(self, request: gr.Request | None) -> bool:
        return self.grants(request).can_read(DEFAULT_ARCHIVE)
