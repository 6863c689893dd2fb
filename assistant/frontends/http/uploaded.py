"""UI events may name only files uploaded to this server: a forged path is refused at the door.

Gradio's file components take a ``FileData`` whose ``path`` names a file on the server. Gradio
refuses any path outside its upload folder (see :func:`assistant.frontends.http.mount.
accept_only_uploaded_files`), but only once the event has been queued, and prints a traceback for
each refusal: a client sending forged paths floods the log. :class:`UploadedFilesOnly` reads the
event's body first (already bounded by the body-size limit) and refuses it with 403 and one log line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.frontends.http.responses import client_address, route_path, send_json

logger = logging.getLogger(__name__)
EVENT_PATHS = ("/gradio_api/queue/join", "/gradio_api/run/", "/gradio_api/call/")


def file_paths(value: Any) -> Iterator[str]:
    """The ``path`` of every file object (Gradio's ``FileData``) anywhere in a JSON value."""
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and isinstance(value.get("meta"), dict):
            yield path
        for item in value.values():
            yield from file_paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from file_paths(item)


def uploaded(path: str, folder: str) -> bool:
    """True when ``path`` (resolved, links followed) lies inside the upload ``folder``."""
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return real != root and os.path.commonpath([real, root]) == root


class ForgedFileError(Exception):
    """Raised from ``receive`` when a UI event's body names a file that was not uploaded."""


class UploadedFilesOnly:
    """A UI event naming a server file that was not uploaded through Gradio's upload route is
    refused (403) before it reaches Gradio's queue, with one log line: Gradio would refuse it too
    (:func:`~assistant.frontends.http.mount.accept_only_uploaded_files`), but only once queued,
    printing a traceback each time, so a client could flood the log.

    The body is inspected as the app reads it (as :class:`~assistant.frontends.http.security.
    BodySizeLimit` counts it): at its last chunk, a forged path stops the read, and the app's
    answer to the cut-off request is replaced by the 403.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope) if scope["type"] == "http" and scope["method"] == "POST" else ""
        if not path.startswith(EVENT_PATHS):
            await self.app(scope, receive, send)  # lifespan messages too: Gradio starts its queue there
            return
        chunks: list[bytes] = []
        forged: str | None = None

        async def inspected_receive() -> Message:
            nonlocal forged
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    forged = forged_path(b"".join(chunks))
                    if forged is not None:
                        raise ForgedFileError
            return message

        async def guarded_send(message: Message) -> None:
            if forged is None:
                await send(message)

        try:
            await self.app(scope, inspected_receive, guarded_send)
        except Exception:
            if forged is None:
                raise
        if forged is not None:
            logger.warning(
                "403 %s refused: file %r was not uploaded, from %s", path, forged[:200], client_address(scope)
            )
            refusal = {"error": "a file of a UI event must be uploaded to this server first"}
            await send_json(send, 403, refusal)


def forged_path(body: bytes) -> str | None:
    """The first file path in a UI event's JSON body that is not in Gradio's upload folder."""
    from gradio.utils import get_upload_folder

    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None  # not JSON: Gradio answers it as it does any malformed request
    folder = get_upload_folder()
    return next((path for path in file_paths(data) if not uploaded(path, folder)), None)
