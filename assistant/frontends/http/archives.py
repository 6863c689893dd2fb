"""Named archives in the HTTP API (issue 28): the archives themselves and each archive's routes.

- ``GET /api/archives``: the archives, the default first;
- ``POST /api/archives`` ``{"name"}``: create one (201); write key;
- ``DELETE /api/archives/{name}``: remove one and delete its articles; write key (never the default);
- ``POST /api/archives/{names}/ask`` and ``/ask/stream``: the question asked of one archive, or of
  several at once (``sports,politics``: :meth:`~assistant.archives.Archives.stream_across`), every
  citation naming its archive;
- ``POST /api/archives/{name}/ingest``, ``GET /api/archives/{name}/stats``,
  ``GET`` / ``DELETE /api/archives/{name}/documents/{doc_id}``: the routes of ``/api`` on that
  archive, by the same handlers (:class:`~assistant.frontends.http.api.Api`), under the same keys,
  limits and concurrency. ``default`` names the default archive, which ``/api/ask`` and the rest
  serve as before. A name that is not an archive's: 404 JSON; a malformed name: 400; an archive the
  key or person may not read (or write, for writes): 403, whether it exists or not, and it is
  never listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import anyio
from fastapi import FastAPI, Path, Request
from fastapi.responses import StreamingResponse
from fastapi.sse import EventSourceResponse

from assistant.frontends.http.api import STREAM_RESPONSE, Api, api_router
from assistant.frontends.http.errors import errors
from assistant.frontends.http.models import (
    INGEST_BODY,
    ArchiveIn,
    ArchiveOut,
    ArchiveRemovedOut,
    AskRequest,
    DeletedOut,
    DocumentOut,
    IngestResult,
    StatsOut,
)
from assistant.frontends.http.permissions import principal_of, require_read, require_write
from assistant.types import Answer
from ingest.storage.archives import check_name

if TYPE_CHECKING:
    from assistant.archives import Archives
    from ingest.storage.archives import ArchiveInfo

NAME_SCHEMA = {"pattern": "^[a-z0-9-]{1,40}$"}  # stated only: the handlers answer another name with a 400
NAMES_SCHEMA = {"pattern": "^[a-z0-9-]{1,40}(,[a-z0-9-]{1,40}){0,7}$"}
ArchiveName = Annotated[str, Path(description="the archive's name", json_schema_extra=NAME_SCHEMA)]
ArchiveNames = Annotated[
    str,
    Path(
        description="the archive's name, or up to 8 names comma-separated (sports,politics): the "
        "question is asked of each, and every citation names its archive",
        json_schema_extra=NAMES_SCHEMA,
    ),
]
NO_ARCHIVE = "no archive of that name (or, under documents, no article with that doc_id)"


class ArchiveRoutes:
    """The archive routes' handlers: each finds its archive's :class:`Api` (built on first use)."""

    def __init__(self, archives: Archives, default: Api) -> None:
        self.archives = archives
        self.default = default
        self._apis: dict[str, Api] = {}

    async def handlers(self, name: str) -> Api:
        """The handlers of archive ``name`` (its assistant built in a worker thread on first use)."""
        assistant = await anyio.to_thread.run_sync(self.archives.assistant, name)
        found = self._apis.get(name)
        if found is None or found.assistant is not assistant:
            found = Api(assistant, self.default.settings, self.default.limiter, name)
            self._apis[name] = found
        return found

    async def listed(self, request: Request) -> list[ArchiveOut]:
        """The archives the principal may read (the others are not named)."""
        grants = principal_of(request).grants
        listed = await anyio.to_thread.run_sync(self.archives.listed)
        return [_out(info) for info in listed if grants.can_read(info.name)]

    async def create(self, body: ArchiveIn, request: Request) -> ArchiveOut:
        require_write(request, check_name(body.name))
        return _out(await anyio.to_thread.run_sync(self.archives.create, body.name))

    async def remove(self, name: ArchiveName, request: Request) -> ArchiveRemovedOut:
        require_write(request, name)
        info = await self.default.run(self.archives.remove, name)
        self._apis.pop(name, None)
        return ArchiveRemovedOut(removed=info.name)

    async def ask(self, name: ArchiveNames, body: AskRequest, request: Request) -> Answer:
        names = self._readable(name, body, request)
        grants = principal_of(request).grants
        return await self.default.run(self.archives.ask_across, body.request(), names, grants)

    async def ask_stream(self, name: ArchiveNames, body: AskRequest, request: Request) -> EventSourceResponse:
        names = self._readable(name, body, request)
        grants = principal_of(request).grants
        return await self.default.stream_response(self.archives.stream_across(body.request(), names, grants))

    def _readable(self, names: str, body: AskRequest, request: Request) -> list[str]:
        """The archives of ``names`` (comma-separated), each one the principal may read (else 403,
        before any is opened); the question checked against the limits."""
        asked = names.split(",")
        for name in asked:
            require_read(request, name)
        self.default.check_question(body)
        return asked

    async def ingest(self, name: ArchiveName, request: Request) -> IngestResult:
        require_write(request, name)
        return await (await self.handlers(name)).ingest(request)

    async def stats(self, name: ArchiveName, request: Request) -> StatsOut:
        require_read(request, name)
        return await (await self.handlers(name)).stats(request)

    async def document(self, name: ArchiveName, doc_id: str, request: Request) -> DocumentOut:
        require_read(request, name)
        return await (await self.handlers(name)).document(doc_id, request)

    async def delete(self, name: ArchiveName, doc_id: str, request: Request) -> DeletedOut:
        require_write(request, name)
        return await (await self.handlers(name)).delete(doc_id, request)


def _out(info: ArchiveInfo) -> ArchiveOut:
    return ArchiveOut(name=info.name, created_at=info.created_at, default=info.is_default)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses of an archive route (its 404: no such archive)."""
    responses = errors(*codes, 404)
    responses[404] = {**responses[404], "description": NO_ARCHIVE}
    return responses


def add_archive_routes(api: FastAPI, archives: Archives) -> None:
    """Add ``/api/archives`` and each archive's routes (behind the same keys and limits as ``/api``);
    ``api.state.handlers`` is the default archive's :class:`Api` (:func:`create_api`)."""
    routes = ArchiveRoutes(archives, api.state.handlers)
    router = api_router(api.state.keyring.enabled or api.state.signins is not None)
    asking = _errors(400, 403, 413, 422, 503)
    router.add_api_route("/archives", routes.listed, methods=["GET"], response_model=list[ArchiveOut])
    router.add_api_route(
        "/archives",
        routes.create,
        methods=["POST"],
        status_code=201,
        response_model=ArchiveOut,
        responses=errors(400, 403, 409, 422, 503),
    )
    router.add_api_route(
        "/archives/{name}",
        routes.remove,
        methods=["DELETE"],
        response_model=ArchiveRemovedOut,
        responses=_errors(400, 403, 409, 422, 503),
    )
    router.add_api_route(
        "/archives/{name}/ask", routes.ask, methods=["POST"], response_model=Answer, responses=asking
    )
    router.add_api_route(
        "/archives/{name}/ask/stream",
        routes.ask_stream,
        methods=["POST"],
        response_class=StreamingResponse,
        responses={200: STREAM_RESPONSE, **asking},
    )
    router.add_api_route(
        "/archives/{name}/ingest",
        routes.ingest,
        methods=["POST"],
        response_model=IngestResult,
        responses=_errors(400, 403, 409, 413, 415, 422, 503),
        openapi_extra={"requestBody": INGEST_BODY},
    )
    router.add_api_route(
        "/archives/{name}/stats",
        routes.stats,
        methods=["GET"],
        response_model=StatsOut,
        responses=_errors(400, 403, 422, 503),  # 422 as the rest of /api gives it
    )
    router.add_api_route(
        "/archives/{name}/documents/{doc_id:path}",
        routes.document,
        methods=["GET"],
        response_model=DocumentOut,
        responses=_errors(400, 403, 422, 503),
    )
    router.add_api_route(
        "/archives/{name}/documents/{doc_id:path}",
        routes.delete,
        methods=["DELETE"],
        response_model=DeletedOut,
        responses=_errors(400, 403, 409, 422, 503),
    )
    api.include_router(router)
