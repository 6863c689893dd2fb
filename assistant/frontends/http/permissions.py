"""The checks of the routes: may the request's principal read or write this archive (403 if not).

The principal is the one the :class:`~assistant.frontends.http.security.ApiGuard` authenticated
(an API key, a signed-in person's token, or anonymous when no authentication is configured); its
grants say which archives it may read and write (:mod:`assistant.core.access`). A route checks
before it opens the archive, so an archive a principal may not read is neither opened nor named
(403 whether or not it exists).
"""

from __future__ import annotations

import logging

from fastapi import Request
from starlette.exceptions import HTTPException

from assistant.frontends.http.principals import ANONYMOUS, Principal
from assistant.frontends.http.security import is_cross_site
from ingest.storage.archives import DEFAULT_ARCHIVE

logger = logging.getLogger(__name__)


def principal_of(request: Request) -> Principal:
    principal = getattr(request.state, "principal", ANONYMOUS)
    return principal if isinstance(principal, Principal) else ANONYMOUS


def require_read(request: Request, archive: str = DEFAULT_ARCHIVE) -> Principal:
    """The principal, when it may read ``archive``; else 403."""
    principal = principal_of(request)
    if not principal.grants.can_read(archive):
        logger.info(
            "403 %s %s: %s may not read %s", request.method, request.url.path, principal.key_id, archive
        )
        raise HTTPException(403, f"{_who(principal)} may not read archive {archive!r}")
    return principal


def require_write(request: Request, archive: str = DEFAULT_ARCHIVE) -> Principal:
    """The principal, when it may write ``archive``; else 403: for read-only keys and people, and
    for cross-site browser requests when no authentication is configured (a form on another site
    must not be able to ingest or delete: CSRF)."""
    principal = principal_of(request)
    if not principal.grants.can_write(archive):
        logger.info(
            "403 %s %s: %s may not write %s", request.method, request.url.path, principal.key_id, archive
        )
        if principal.read_only and not principal.is_user:
            raise HTTPException(403, "this API key is read-only")
        raise HTTPException(403, f"{_who(principal)} may not write to archive {archive!r}")
    if principal is ANONYMOUS and is_cross_site(request.headers, request.app.state.allowed_origins):
        logger.warning(
            "403 %s %s: cross-site write from %s",
            request.method,
            request.url.path,
            request.headers.get("origin", "?"),
        )
        raise HTTPException(
            403,
            "cross-site write refused: without API keys, ingest and delete only from this site's pages "
            "or from clients that send no Origin (set NEWSDESK_API_KEYS, or NEWSDESK_ALLOWED_ORIGINS "
            "for a portal)",
        )
    return principal


def _who(principal: Principal) -> str:
    return "you" if principal.is_user else "this API key"
