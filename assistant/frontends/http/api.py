"""The HTTP API of Newsdesk (FastAPI) and the mounting of the Gradio UI on it.

Endpoints (OpenAPI schema at ``/openapi.json``, browsable at ``/docs``):

- ``POST /api/ask``: the :class:`Answer` of the answering chain;
- ``POST /api/ask/stream``: the same as server-sent events, ``event: delta`` (``{"text": ...}``)
  chunks of the answer text, one ``event: citations`` with the answer and its citations as soon as
  they are composed (news fields not yet added), then one ``event: answer`` with the full answer
  (or ``event: error``);
- ``POST /api/ingest``: JSON ``{"documents": [...], "urls": [...]}`` or a multipart file upload;
- ``GET`` / ``DELETE /api/documents/{doc_id}``, ``GET /api/health``, ``GET /api/stats``;
- ``GET /embed/widget.js``: the embeddable chat widget (public, like any static asset).

These are the default archive's; the same routes of a named archive are under
``/api/archives/{name}/`` (:mod:`assistant.frontends.http.archives`, by these handlers).

Security (API keys, rate limits, body size, CORS, frame-ancestors) is in
:mod:`assistant.frontends.http.security`.
Errors are JSON ``{"error": message}``: a :class:`NewsdeskError` gives its message with a 4xx
status (503 when the store or model is unavailable), anything else a bare 500 "internal error",
with the traceback logged server-side only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent, format_sse_event
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from assistant.core.errors import (
    NewsdeskError,
)
from assistant.core.settings import Settings
from assistant.frontends.http.errors import add_error_handlers, errors
from assistant.frontends.http.models import (
    INGEST_BODY,
    AskRequest,
    DeletedOut,
    DocumentOut,
    HealthOut,
    IngestRequest,
    IngestResult,
    StatsOut,
)
from assistant.frontends.http.mount import widget_route
from assistant.frontends.http.oidc import IdentityProvider
from assistant.frontends.http.permissions import require_read, require_write
from assistant.frontends.http.principals import KeyRing
from assistant.frontends.http.security import install_security
from assistant.frontends.http.signin import SignIns, add_signin_routes
from assistant.text.question import NOT_BLANK, QuestionLimits, check_asked
from assistant.types import Answer, Cited, StreamItem
from ingest.loading.uploads import MultipartSaver, UploadArea, load_uploads
from ingest.pipeline import IngestReport
from ingest.storage.archives import DEFAULT_ARCHIVE

if TYPE_CHECKING:
    from assistant.service import Assistant

logger = logging.getLogger(__name__)
T = TypeVar("T")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering


class Api:
    """The route handlers, bound to one archive's assistant and the settings; each checks that the
    request's principal may read (or write) the archive."""

    def __init__(
        self,
        assistant: Assistant,
        settings: Settings,
        limiter: anyio.CapacityLimiter | None = None,
        archive: str = DEFAULT_ARCHIVE,
    ) -> None:
        self.assistant = assistant
        self.archive = archive
        self.settings = settings
        self.limits = question_limits(settings)
        self.limiter = limiter or anyio.CapacityLimiter(settings.concurrency)  # shared by the archives

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking assistant work in a worker thread, at most ``concurrency`` at once."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    def check_question(self, body: AskRequest) -> None:
        """The limits the schema states (``limit_questions``): InvalidQuestionError, a 400."""
        check_asked(body.question, body.history, self.limits)

    async def ask(self, body: AskRequest, request: Request) -> Answer:
        require_read(request, self.archive)
        self.check_question(body)
        return await self.run(self.assistant.ask, body.request())

    async def ask_stream(self, body: AskRequest, request: Request) -> EventSourceResponse:
        require_read(request, self.archive)
        self.check_question(body)
        return await self.stream_response(self.assistant.stream(body.request()))

    async def stream_response(self, pieces: Iterator[StreamItem]) -> EventSourceResponse:
        """The pieces of an answer as server-sent events (errors before the first piece are plain
        HTTP errors)."""
        first = await self.run(_next_or_none, pieces)
        return EventSourceResponse(self._events(first, pieces), headers=SSE_HEADERS)

    async def _events(self, first: StreamItem | None, pieces: Iterator[StreamItem]) -> AsyncIterator[bytes]:
        item = first
        try:
            while item is not None:
                yield _encoded(_event_of(item))
                item = await self.run(_next_or_none, pieces)
        except NewsdeskError as exc:
            yield _encoded(_event("error", {"error": str(exc)}))
        except Exception:
            logger.exception("error while streaming an answer")
            yield _encoded(_event("error", {"error": "internal error"}))

    async def ingest(self, request: Request) -> IngestResult:
        require_write(request, self.archive)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            return await self._ingest_files(request, content_type)
        if not content_type.startswith("application/json"):
            raise HTTPException(415, "send application/json or multipart/form-data")
        try:
            body = IngestRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_input=False)) from exc
        return await self._ingest_json(body)

    async def _ingest_json(self, body: IngestRequest) -> IngestResult:
        bad = [url for url in body.urls if not url.lower().startswith(("http://", "https://"))]
        if bad:
            raise HTTPException(400, f"not an http(s) URL: {bad[0][:200]!r}")
        if not (body.documents or body.urls):
            raise HTTPException(400, "nothing to ingest: give documents or urls")
        result = _result(IngestReport(), [])
        if body.documents:
            with UploadArea(self.settings) as area:
                result = await self.run(self._ingest_saved, [area.write_documents(body.documents)])
        if body.urls:
            report = await self.run(self.assistant.ingest_sources, body.urls)
            result = _merge(result, _result(report, report.added_ids))
        return result

    async def _ingest_files(self, request: Request, content_type: str) -> IngestResult:
        s = self.settings
        with UploadArea(s) as area:
            saver = MultipartSaver(area.folder, content_type, s.upload_max_files, s.max_file_bytes)
            saved = await saver.save(request.stream())
            return await self.run(self._ingest_saved, saved)

    def _ingest_saved(self, saved: list[Any]) -> IngestResult:
        loaded = load_uploads(saved, self.settings)
        report = self.assistant.ingest_articles(loaded.articles) if loaded.articles else IngestReport()
        report.failed.extend(loaded.failures)
        return _result(report, [article.doc_id for article in loaded.articles])

    async def document(self, doc_id: str, request: Request) -> DocumentOut:
        require_read(request, self.archive)
        article = await self.run(self.assistant.document, doc_id)
        return DocumentOut(doc_id=article.doc_id, text=article.text, metadata=dict(article.metadata))

    async def delete(self, doc_id: str, request: Request) -> DeletedOut:
        require_write(request, self.archive)
        await self.run(self.assistant.document, doc_id)  # 404 when it is not stored
        await self.run(self.assistant.delete, doc_id)
        return DeletedOut(deleted=doc_id)

    async def health(self) -> JSONResponse:
        """Liveness: ``status`` "ok" (200) or "unavailable" (503) when the store cannot be reached."""
        health = await anyio.to_thread.run_sync(self.assistant.health)
        ok = health.get("store", True) is not False
        body = json.loads(json.dumps({"status": "ok" if ok else "unavailable", **health}, default=str))
        return JSONResponse(body, status_code=200 if ok else 503)

    async def stats(self, request: Request) -> StatsOut:
        require_read(request, self.archive)
        stats = await anyio.to_thread.run_sync(self.assistant.stats)
        return StatsOut(**dataclasses.asdict(stats))


def _next_or_none(pieces: Iterator[T]) -> T | None:
    return next(pieces, None)


def _event(name: str, data: object) -> ServerSentEvent:
    """An event whose data is JSON as written (UTF-8, not ``\\u`` escapes)."""
    return ServerSentEvent(event=name, raw_data=json.dumps(data, ensure_ascii=False))


def _event_of(item: StreamItem) -> ServerSentEvent:
    """``delta`` with a piece of the answer text, ``citations`` with the answer before its news
    fields, or ``answer`` with the whole answer."""
    if isinstance(item, Answer):
        return ServerSentEvent(event="answer", raw_data=item.model_dump_json())
    if isinstance(item, Cited):
        return ServerSentEvent(event="citations", raw_data=item.answer.model_dump_json())
    return _event("delta", {"text": item})


def _encoded(event: ServerSentEvent) -> bytes:
    """The event on the wire (FastAPI's encoder): ``event: NAME``, ``data: JSON``, a blank line."""
    return format_sse_event(data_str=event.raw_data, event=event.event)


def _result(report: IngestReport, doc_ids: list[str]) -> IngestResult:
    return IngestResult.model_validate({**report.as_dict(), "doc_ids": doc_ids})


def _merge(a: IngestResult, b: IngestResult) -> IngestResult:
    counts = {k: getattr(a, k) + getattr(b, k) for k in ("added", "updated", "unchanged", "sentences")}
    return IngestResult(**counts, failed=a.failed + b.failed, doc_ids=a.doc_ids + b.doc_ids)


def create_api(assistant: Assistant, settings: Settings) -> FastAPI:
    """The FastAPI app with the JSON API, the widget, error handlers and the security middleware."""
    keyring = KeyRing.from_settings(settings)
    api = FastAPI(
        title="Newsdesk API",
        version="1",
        description="Answers about news articles, each sentence cited by exact character offsets.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.keyring = keyring
    provider = IdentityProvider(settings.auth) if settings.auth.oidc_enabled else None
    signins = SignIns(provider, settings.auth) if provider is not None else None
    api.state.signins = signins
    api.state.allowed_origins = frozenset(settings.allowed_origins)
    api.state.handlers = Api(assistant, settings)  # the default archive's (frontends/http/archives.py)
    api.include_router(_router(api.state.handlers, keyring.enabled or provider is not None))
    api.openapi = _schema_builder(api, settings)  # type: ignore[method-assign]
    api.add_api_route("/embed/widget.js", widget_route(), methods=["GET"], include_in_schema=False)
    add_error_handlers(api)
    if signins is not None:
        add_signin_routes(api, signins)
    install_security(api, settings, keyring, signins)
    if not (keyring.enabled or provider) and settings.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "serving on %s without NEWSDESK_API_KEYS: anyone who can reach it can ingest", settings.host
        )
    return api


def api_router(keyed: bool, **options: Any) -> APIRouter:
    """An /api router; the schema asks for a bearer key only when keys are configured."""
    bearer = [Depends(HTTPBearer(auto_error=False))] if keyed else []
    return APIRouter(prefix="/api", dependencies=bearer, **options)


STREAM_RESPONSE: dict[str, Any] = {
    "content": {"text/event-stream": {}},
    "description": "delta events, then the citations, then the answer",
}
"""The schema's 200 of an answer stream (``/api/ask/stream`` and each archive's)."""


def _router(handlers: Api, keyed: bool) -> APIRouter:
    """The /api routes."""
    asking = errors(400, 403, 413, 422, 503)
    router = api_router(keyed)
    router.add_api_route("/ask", handlers.ask, methods=["POST"], response_model=Answer, responses=asking)
    router.add_api_route(
        "/ask/stream",
        handlers.ask_stream,
        methods=["POST"],
        response_class=StreamingResponse,  # the schema of a stream; the handler returns EventSourceResponse
        responses={200: STREAM_RESPONSE, **asking},
    )
    router.add_api_route(
        "/ingest",
        handlers.ingest,
        methods=["POST"],
        response_model=IngestResult,
        responses=errors(400, 403, 409, 413, 415, 422, 503),
        openapi_extra={"requestBody": INGEST_BODY},
    )
    router.add_api_route(
        "/documents/{doc_id:path}",
        handlers.document,
        methods=["GET"],
        response_model=DocumentOut,
        responses=errors(403, 404, 422, 503),
    )
    router.add_api_route(
        "/documents/{doc_id:path}",
        handlers.delete,
        methods=["DELETE"],
        response_model=DeletedOut,
        responses=errors(403, 404, 409, 422, 503),
    )
    router.add_api_route(
        "/health",
        handlers.health,
        methods=["GET"],
        response_model=HealthOut,
        responses={**errors(), 503: {"model": HealthOut, "description": "the store cannot be read"}},
    )
    router.add_api_route(
        "/stats", handlers.stats, methods=["GET"], response_model=StatsOut, responses=errors(403, 503)
    )
    return router


def _schema_builder(api: FastAPI, settings: Settings) -> Callable[[], dict[str, Any]]:
    """``api.openapi`` completed with what FastAPI cannot see: the JSON body of ``/api/ingest`` (read
    by hand, to stream uploads) and the question limits, which are settings."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        ingest = IngestRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(ingest.pop("$defs", {}))
        components["IngestRequest"] = ingest
        limit_questions(components, settings)
        api.openapi_schema = schema
        return schema

    return openapi


def question_limits(settings: Settings) -> QuestionLimits:
    """The question limits of these settings."""
    return QuestionLimits(settings.max_question_chars, settings.max_history_turns)


def limit_questions(components: dict[str, Any], settings: Settings) -> None:
    """State in the schema the limits :meth:`Api.check_question` applies (:func:`check_asked`)."""
    limits = question_limits(settings)
    question = components["AskRequest"]["properties"]["question"]
    question.update(minLength=1, maxLength=limits.max_chars, pattern=NOT_BLANK)
    history = components["AskRequest"]["properties"]["history"]
    history["maxItems"] = limits.max_history_turns
    components["ChatTurn"]["properties"]["content"]["maxLength"] = limits.max_turn_chars
    for bound in ("published_from", "published_to"):  # anything else is a 400 (FilterError)
        components["Filters"]["properties"][bound]["anyOf"] = [
            {"type": "string", "format": "date"},
            {"type": "null"},
        ]
