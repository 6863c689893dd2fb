"""Errors at the HTTP edge: a :class:`NewsdeskError` becomes JSON ``{"error": message}`` with
its status; anything else a bare 500 "internal error".
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.core.errors import NewsdeskError
from assistant.frontends.http.models import ErrorOut, ValidationErrorOut
from assistant.frontends.http.responses import error_status, send_json
from assistant.frontends.http.security import BodyTooLargeError

logger = logging.getLogger(__name__)


ERROR_MEANINGS = {
    400: "a question, filter, upload or document the API refuses (the message says why)",
    401: "missing or wrong API key",
    403: "the key or person may not read (or write) that archive; or a cross-site browser request "
    "without keys tried to write",
    404: "no article with that doc_id",
    409: "the store is locked by another writer",
    413: "request body or an uploaded file over its limit",
    415: "neither application/json nor multipart/form-data, or an upload of an unsupported type",
    422: "the request does not match this schema",
    429: "over the rate limit; Retry-After says when to try again",
    500: "internal error (the details are in the server log only)",
    503: "the store or the model is unavailable",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for the error statuses of a route, with 401, 429 and 500 that any can give."""
    return {
        code: {"model": ValidationErrorOut if code == 422 else ErrorOut, "description": ERROR_MEANINGS[code]}
        for code in sorted({*codes, 401, 429, 500})
    }


def add_error_handlers(api: FastAPI) -> None:
    async def newsdesk_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, NewsdeskError)
        status = error_status(exc)
        return JSONResponse({"error": str(exc)}, status_code=status)

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"error": "invalid request", "detail": detail}, status_code=422)

    api.add_exception_handler(NewsdeskError, newsdesk_error)
    api.add_exception_handler(HTTPException, http_error)
    api.add_exception_handler(RequestValidationError, invalid_request)
    api.add_middleware(InternalErrorGuard)  # innermost: its 500s still get the security headers


class InternalErrorGuard:
    """Any unexpected exception: a bare 500 ``{"error": "internal error"}``, traceback logged only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if scope["type"] != "http" or started or isinstance(exc, BodyTooLargeError):
                raise
            logger.error("500 %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            await send_json(send, 500, {"error": "internal error"})
