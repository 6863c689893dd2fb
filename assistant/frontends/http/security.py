"""Safe defaults for serving Newsdesk: API keys, rate limits, body size, CORS and framing.

Everything here is plain ASGI middleware around the FastAPI app (so it also covers the Gradio UI
mounted on it), built from :class:`Settings` by :func:`install_security`:

- :class:`KeyRing` parses ``NEWSDESK_API_KEYS`` (``"key1,key2:ro"``) and checks ``Authorization:
  Bearer`` values in constant time; only key numbers (``key#2``) ever reach logs, never keys.
- :class:`~assistant.frontends.http.hosts.HostGuard` answers only requests whose ``Host`` is an
  allowed host name (400 otherwise): DNS rebinding cannot reach the server through another name.
- :class:`ApiGuard` requires a key on ``/api/*``, ``/docs``, ``/openapi.json`` and ``/metrics``
  when keys are set (401 JSON otherwise) and applies the per-key (or per-client-address)
  :class:`~assistant.frontends.http.ratelimit.RateLimits` to every way in, the API and the chat
  alike (429 with ``Retry-After``).
- :class:`BodySizeLimit` answers 413 for bodies over the limit, whether declared or streamed.
- :class:`SecurityHeaders` adds ``Content-Security-Policy: frame-ancestors`` from the allowed
  origins, and removes every CORS header from responses to origins that are not allowed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.core.errors import SignInError
from assistant.core.settings import Settings
from assistant.core.telemetry.metrics import record_rate_limited
from assistant.frontends.http.hosts import HostGuard, HostNames
from assistant.frontends.http.oidc import IdentityProvider, looks_like_jwt
from assistant.frontends.http.principals import ANONYMOUS, KeyRing, Principal, bearer_token
from assistant.frontends.http.ratelimit import RateLimits, RateLimitUnavailableError
from assistant.frontends.http.responses import (
    client_address,
    error_status,
    is_upload_path,
    route_path,
    send_json,
)
from assistant.frontends.http.signin import SignInGuard, SignIns
from assistant.frontends.http.uploaded import UploadedFilesOnly

logger = logging.getLogger(__name__)

PROTECTED_EXACT = frozenset({"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc", "/metrics"})
LOGIN_PATHS = frozenset({"/login", "/login/", "/auth/login", "/auth/callback"})
MISSING_CREDENTIAL = "missing or invalid API key or access token"


def is_cross_site(headers: Headers, allowed_origins: Iterable[str]) -> bool:
    """True for a browser request sent by a page of another site (a cross-site form or script).

    Browsers name the sending page's origin in ``Origin`` on every POST and DELETE; it must be this
    site (the ``Host`` the request was sent to) or an allowed origin. A request without ``Origin``
    comes from a client that is not a browser (curl, a server), which no other site can drive.
    """
    origin = headers.get("origin")
    if origin is None:
        return headers.get("sec-fetch-site", "") in ("cross-site", "same-site")
    if origin in allowed_origins:
        return False
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        return True
    return origin == "null" or not netloc or netloc != headers.get("host", "").lower()


def is_protected(path: str) -> bool:
    """Paths that need an API key when keys are configured (the UI has its own login)."""
    return path.startswith("/api/") or path in PROTECTED_EXACT


def counts_against_the_limit(method: str, path: str) -> bool:
    """Requests that take a share of the rate limit: every way in that makes the server work, the
    JSON API, the UI login, and every POST (the Gradio chat's ``/gradio_api/queue/join``, uploads,
    ``/gradio_api/run``); not the page's static assets and event streams."""
    return path.startswith("/api/") or path in LOGIN_PATHS or method == "POST"


class ApiGuard:
    """Authentication (API keys; with ``provider``, the provider's JWT access tokens too) and the
    one rate limit of every way in; stores the :class:`Principal` in the request state."""

    def __init__(
        self, app: ASGIApp, keyring: KeyRing, limits: RateLimits, provider: IdentityProvider | None = None
    ) -> None:
        self.app = app
        self.keyring = keyring
        self.limits = limits
        self.provider = provider

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        principal = ANONYMOUS
        if is_protected(path) and (self.keyring.enabled or self.provider is not None):
            found = await self._authenticate(scope, path)
            if isinstance(
                found, Refusal
            ):  # failed attempts count against the client address: no key guessing
                if await self._within_limit(f"ip:{client_address(scope)}", path, send):
                    await send_json(send, found.status, {"error": found.message}, found.headers)
                return
            principal = found
        if counts_against_the_limit(scope["method"], path):
            identity = principal.key_id if principal is not ANONYMOUS else f"ip:{client_address(scope)}"
            if not await self._within_limit(identity, path, send):
                return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _within_limit(self, identity: str, path: str, send: Send) -> bool:
        """Take one request from ``identity``'s budget; else answer 429 with ``Retry-After`` (503
        when the shared storage of the counts does not answer)."""
        try:
            wait = await self.limits.acquire(identity)
        except RateLimitUnavailableError as exc:
            logger.warning("503 %s: %s", path, exc)
            record_rate_limited("storage_unavailable")
            await send_json(send, 503, {"error": str(exc)}, {"Retry-After": "5"})
            return False
        if wait <= 0:
            return True
        logger.info("rate limit reached for %s on %s", identity, path)
        record_rate_limited("limit")
        retry = str(max(1, math.ceil(wait)))
        await send_json(
            send, 429, {"error": f"too many requests; retry in {retry} s"}, {"Retry-After": retry}
        )
        return False

    async def _authenticate(self, scope: Scope, path: str) -> Principal | Refusal:
        """The principal of the request's key or token; else why not (401, or 503 when the
        provider that signs tokens does not answer)."""
        token = bearer_token(Headers(scope=scope))
        found = self.keyring.principal(token) if token else None
        if found is not None:
            return found
        refusal = Refusal(401, "missing or invalid API key" if self.provider is None else MISSING_CREDENTIAL)
        if token and self.provider is not None and looks_like_jwt(token):
            try:
                return await anyio.to_thread.run_sync(self.provider.principal, token)
            except SignInError as exc:
                refusal = Refusal(error_status(exc), str(exc))
        reason = refusal.message if token else "missing API key"
        logger.warning(
            "%d %s %s from %s: %s", refusal.status, scope["method"], path, client_address(scope), reason
        )
        return refusal


@dataclass(frozen=True)
class Refusal:
    """Why a request was not authenticated: its status and message."""

    status: int
    message: str

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"} if self.status == 401 else {"Retry-After": "30"}


class BodyTooLargeError(Exception):
    """Raised from ``receive`` when a streamed request body passes its limit."""


class BodySizeLimit:
    """413 JSON for request bodies over ``max_bytes`` (``upload_bytes`` on the upload routes)."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if is_upload_path(route_path(scope)) else self.max_bytes
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(send, limit)
            return
        await _LimitedExchange(self.app, limit, self._too_large)(scope, receive, send)

    @staticmethod
    async def _too_large(send: Send, limit: int) -> None:
        await send_json(send, 413, {"error": f"request body is larger than the {limit} byte limit"})


class _LimitedExchange:
    """One request whose body is counted as it arrives; past the limit the app's response is replaced."""

    def __init__(self, app: ASGIApp, limit: int, too_large: Callable[[Send, int], Any]) -> None:
        self.app, self.limit, self.too_large = app, limit, too_large
        self.received = 0
        self.exceeded = False
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit:
                    self.exceeded = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            if self.exceeded:
                return  # the app's answer to a truncated body is replaced by the 413 below
            self.started = self.started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not self.exceeded:  # whatever the app made of the cut-off body, the answer is 413
                raise
        if self.exceeded and not self.started:
            await self.too_large(send, self.limit)


class MethodGuard:
    """405 with ``Allow`` for a method that no route of the path takes (TRACE anywhere, a PUT on
    ``/api/ask``): without it the UI mounted at ``/`` answers 404 for every such request."""

    SERVED = frozenset({"GET", "HEAD", "POST", "DELETE", "OPTIONS"})
    PROBED = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

    def __init__(self, app: ASGIApp, router: Any) -> None:
        self.app = app
        self.router = router  # read per request: routes added after the middleware count too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or self._matches(scope):
            await self.app(scope, receive, send)
            return
        allowed = self._route_methods(scope) or self.SERVED
        if scope["method"] in allowed:
            await self.app(scope, receive, send)
            return
        allow = ", ".join(sorted(allowed - {"OPTIONS"}))
        await send_json(
            send, 405, {"error": f"method {scope['method']} is not allowed here"}, {"Allow": allow}
        )

    def _routes(self) -> list[Any]:
        """The app's own routes; not the UI mounted at ``/``, which takes every path and method."""
        return [route for route in self.router.routes if not isinstance(route, Mount)]

    def _matches(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self._routes())

    def _route_methods(self, scope: Scope) -> set[str]:
        """The methods the app's routes take at this path (empty for the UI's paths)."""
        return {
            method
            for route in self._routes()
            for method in self.PROBED
            if route.matches({**scope, "method": method})[0] is Match.FULL
        }


class SecurityHeaders:
    """``frame-ancestors`` on every response; no CORS headers at all for origins not allowed."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed_origins)
        self.csp = "frame-ancestors " + " ".join(["'self'", *sorted(self.allowed)])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        strip_cors = origin is not None and origin not in self.allowed

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append("Content-Security-Policy", self.csp)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if strip_cors:
                    for name in [k for k in headers if k.lower().startswith("access-control-")]:
                        del headers[name]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: Any, settings: Settings, keyring: KeyRing, signins: SignIns | None = None) -> None:
    """Add the middleware to a Starlette/FastAPI app (before it starts); outermost added last.
    With ``signins`` (OpenID Connect), the UI needs a signed-in session and the API takes the
    provider's access tokens beside the keys."""
    app.add_middleware(UploadedFilesOnly)  # innermost: after the host, size and rate checks
    provider = None
    if signins is not None:
        app.add_middleware(SignInGuard, signins=signins)  # inside ApiGuard: its rate limit first
        provider = signins.provider
    limits = RateLimits(
        settings.rate_limit_per_minute, settings.rate_limit_storage, settings.rate_limit_timeout_s
    )
    app.add_middleware(ApiGuard, keyring=keyring, limits=limits, provider=provider)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, upload_bytes=settings.upload_max_bytes
    )
    app.add_middleware(
        CORSMiddleware,  # Starlette's class: Gradio then leaves CORS to it (no localhost exception)
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After"],
        allow_credentials=False,
        max_age=600,
    )
    app.add_middleware(MethodGuard, router=app.router)
    app.add_middleware(SecurityHeaders, allowed_origins=settings.allowed_origins)
    app.add_middleware(HostGuard, names=HostNames.of(settings.allowed_hosts, settings.host))  # outermost


def ui_auth(settings: Settings, keyring: KeyRing) -> dict[str, Any]:
    """``mount_gradio_app`` keyword arguments protecting the UI.

    With an OpenID provider (``oidc_issuer``) the signed-in person (:class:`SignInGuard` checked the
    session); else, when API keys are configured, the auth proxy's header with
    ``trusted_user_header``, or Gradio's login page asking for a read-write API key as the password.
    """
    if settings.auth.oidc_enabled:
        return {"auth_dependency": _signed_in_user}
    if not keyring.enabled:
        return {}
    header = settings.trusted_user_header.strip()
    if header:
        return {"auth_dependency": _header_user(header)}

    def check(_username: str, password: str) -> bool:
        key = keyring.lookup(password)
        if key is None or key.read_only:
            logger.warning("UI login refused (%s)", "read-only key" if key else "invalid key")
            return False
        return True

    return {"auth": check, "auth_message": "Sign in with a Newsdesk API key as the password."}


def _signed_in_user(request: Any) -> str | None:
    principal = getattr(request.state, "principal", None)
    return principal.key_id if isinstance(principal, Principal) and principal.is_user else None


def _header_user(header: str) -> Callable[[Any], str | None]:
    def user(request: Any) -> str | None:
        value = str(request.headers.get(header, "")).strip()
        return value or None

    return user
