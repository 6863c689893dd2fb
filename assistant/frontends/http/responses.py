"""Small ASGI helpers shared by the middleware: a JSON answer sent from middleware, the route path
and the client's address of a request; and the one mapping of Newsdesk's errors to HTTP statuses
(:func:`error_status`), used by the routes' error handlers and by the middleware alike."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Scope, Send

from assistant.core.errors import (
    ArchiveExistsError,
    ArchiveForbiddenError,
    ArchiveNotFoundError,
    DocumentNotFoundError,
    IdentityProviderError,
    ModelError,
    NewsdeskError,
    StoreError,
    StoreLockedError,
    TokenRejectedError,
    UploadTooLargeError,
    UploadTypeError,
)

ERROR_STATUS: tuple[tuple[type[NewsdeskError], int], ...] = (  # the first kind that matches; else 400
    (DocumentNotFoundError, 404),
    (ArchiveNotFoundError, 404),
    (ArchiveExistsError, 409),
    (ArchiveForbiddenError, 403),
    (UploadTooLargeError, 413),
    (UploadTypeError, 415),
    (StoreLockedError, 409),
    (StoreError, 503),
    (ModelError, 503),
    (TokenRejectedError, 401),
    (IdentityProviderError, 503),
)


def error_status(exc: NewsdeskError) -> int:
    """The HTTP status of a Newsdesk error: the first kind of ``ERROR_STATUS`` it is, else 400."""
    return next((code for kind, code in ERROR_STATUS if isinstance(exc, kind)), 400)


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    """Send a complete JSON response from middleware."""
    payload = json.dumps(body).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def route_path(scope: Scope) -> str:
    """The request path without the ``root_path`` prefix (as the routes see it)."""
    path, root = str(scope["path"]), str(scope.get("root_path", ""))
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


def is_upload_path(path: str) -> bool:
    """Whether a route path takes uploads: ``/api/ingest``, an archive's, or the UI's."""
    if path in ("/api/ingest", "/gradio_api/upload"):
        return True
    head, _, name = path.removesuffix("/ingest").rpartition("/")
    return path.endswith("/ingest") and head == "/api/archives" and bool(name)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
