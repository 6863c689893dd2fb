"""Signing in to the chat with the OpenID Connect provider (``oidc_issuer``): the authorization
code flow with PKCE, and the sessions it opens.

- ``GET /auth/login``: a new sign-in (state, nonce and a PKCE verifier kept here, the state also in
  a short-lived cookie that binds it to this browser), then the provider's sign-in page;
- ``GET /auth/callback``: the code exchanged for tokens (Authlib), the ID token checked (issuer,
  audience = the client id, expiry, nonce), the person's groups read from it (or from userinfo),
  and a session opened: an ``HttpOnly`` ``SameSite=Lax`` cookie naming it; tokens stay server-side;
- ``GET /auth/logout``: the session ended.

:class:`SignInGuard` lets a UI request through only with a live session, redirecting a page load
to ``/auth/login`` (anything else: 401). A session's groups are read again from the provider when
older than ``oidc_recheck_s`` (a refresh-token grant, whose new ID token names the groups now; or
userinfo), so who loses a group loses its archives at the next request after that; a provider
that refuses the refresh ends the session, one that does not answer is a 503 naming it. Sessions
live in this process's memory (one server process; behind several workers, pin sessions).
"""

from __future__ import annotations

import html
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.core.access import Grants
from assistant.core.errors import IdentityProviderError, SignInError, TokenRejectedError
from assistant.core.sections import AuthSettings
from assistant.frontends.http.oidc import Claims, IdentityProvider
from assistant.frontends.http.principals import Principal
from assistant.frontends.http.responses import error_status, route_path, send_json

logger = logging.getLogger(__name__)

SESSION_COOKIE = "newsdesk_session"
STATE_COOKIE = "newsdesk_signin"
SIGN_IN_S = 600.0  # a sign-in left unfinished this long is forgotten
OPEN_PATHS = ("/auth/", "/api/", "/embed/")  # the API guards its own; the widget script is public
OPEN_EXACT = frozenset(
    {"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc", "/metrics", "/favicon.ico"}
)


@dataclass
class Session:
    """A signed-in person: who, what their groups give, the provider's tokens, and when their groups
    were last read (``checked_at``)."""

    subject: str
    name: str
    groups: list[str]
    grants: Grants
    tokens: dict[str, Any]
    checked_at: float
    started_at: float
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def principal(self) -> Principal:
        return Principal(f"user:{self.subject}", self.grants, "user")


@dataclass(frozen=True)
class PendingSignIn:
    verifier: str
    nonce: str
    redirect_uri: str
    started_at: float


class SignIns:
    """The sign-ins under way and the sessions open, in this process."""

    def __init__(self, provider: IdentityProvider, settings: AuthSettings) -> None:
        self.provider = provider
        self.settings = settings
        self.sessions: dict[str, Session] = {}
        self.pending: dict[str, PendingSignIn] = {}
        self._lock = threading.Lock()

    def begin(self, redirect_uri: str) -> tuple[str, str]:
        """A new sign-in: the provider's authorization URL and the sign-in's state."""
        endpoint = self.provider.endpoint("authorization_endpoint")
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        with self.provider.client(redirect_uri) as client:
            url, state = client.create_authorization_url(endpoint, code_verifier=verifier, nonce=nonce)
        now = time.monotonic()
        with self._lock:
            self.pending = {k: p for k, p in self.pending.items() if now - p.started_at < SIGN_IN_S}
            self.pending[state] = PendingSignIn(verifier, nonce, redirect_uri, now)
        return str(url), str(state)

    def finish(self, state: str, code: str) -> tuple[str, Session]:
        """The session a sign-in opens (its id and the session), once the code is exchanged."""
        with self._lock:
            pending = self.pending.pop(state, None)
        if pending is None or time.monotonic() - pending.started_at > SIGN_IN_S:
            raise TokenRejectedError("this sign-in is unknown or too old: sign in again")
        tokens = self.provider.token_request(
            pending.redirect_uri, grant_type="authorization_code", code=code, code_verifier=pending.verifier
        )
        claims = self._claims(tokens, pending.nonce)
        now = time.monotonic()
        groups = self.provider.groups(claims)
        session = Session(
            str(claims.get("sub", "")),
            str(claims.get("name") or claims.get("preferred_username") or claims.get("sub", "")),
            groups,
            self.provider.grants(groups),
            tokens,
            now,
            now,
        )
        sid = secrets.token_urlsafe(32)
        longest = self.settings.oidc_session_hours * 3600
        with self._lock:  # sessions past their lifetime are forgotten as new ones open
            self.sessions = {k: v for k, v in self.sessions.items() if now - v.started_at <= longest}
            self.sessions[sid] = session
        logger.info("signed in user:%s (groups %s)", session.subject, ", ".join(groups) or "none")
        return sid, session

    def current(self, sid: str) -> Session | None:
        """The live session ``sid``, its groups read again when stale; None when there is none (or
        the provider ended it). IdentityProviderError when the provider does not answer."""
        session = self.sessions.get(sid)
        now = time.monotonic()
        if session is None or now - session.started_at > self.settings.oidc_session_hours * 3600:
            self.end(sid)
            return None
        with session.lock:
            if time.monotonic() - session.checked_at < self.settings.oidc_recheck_s:
                return session
            try:
                self._recheck(session)
            except TokenRejectedError as exc:
                logger.info("session of user:%s ended: %s", session.subject, exc)
                self.end(sid)
                return None
        return session

    def _recheck(self, session: Session) -> None:
        """Read the person's groups again: a refresh-token grant (new tokens), else userinfo."""
        refresh = session.tokens.get("refresh_token")
        if refresh:
            tokens = self.provider.token_request("", grant_type="refresh_token", refresh_token=refresh)
            claims = self._claims({**tokens, "refresh_token": tokens.get("refresh_token") or refresh}, None)
            session.tokens = {**session.tokens, **tokens}
        else:
            claims = self.provider.userinfo(str(session.tokens.get("access_token", "")))
        if str(claims.get("sub", session.subject)) != session.subject:
            raise TokenRejectedError("the provider answered for another person")
        session.groups = self.provider.groups(claims)
        session.grants = self.provider.grants(session.groups)
        session.checked_at = time.monotonic()

    def _claims(self, tokens: dict[str, Any], nonce: str | None) -> Claims:
        """The checked claims of the ID token, completed by userinfo when it names no groups."""
        id_token = tokens.get("id_token")
        if not id_token:
            raise TokenRejectedError("the provider sent no ID token (is 'openid' among oidc_scopes?)")
        claims = self.provider.verify(str(id_token), self.settings.oidc_client_id, nonce)
        claim = self.settings.oidc_groups_claim.split(".")[0]
        if claim not in claims and tokens.get("access_token"):
            info = self.provider.userinfo(str(tokens["access_token"]))
            claims = {**claims, **{k: v for k, v in info.items() if k != "sub"}}
        return claims

    def end(self, sid: str) -> Session | None:
        with self._lock:
            return self.sessions.pop(sid, None)


class SignInGuard:
    """Lets a request to the UI through only with a live session (its principal in the state)."""

    def __init__(self, app: ASGIApp, signins: SignIns) -> None:
        self.app = app
        self.signins = signins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope) if scope["type"] in ("http", "websocket") else ""
        if not path or path.startswith(OPEN_PATHS) or path in OPEN_EXACT or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        sid = _cookie(Headers(scope=scope), SESSION_COOKIE)
        try:
            session = await anyio.to_thread.run_sync(self.signins.current, sid) if sid else None
        except IdentityProviderError as exc:
            await self._refuse(scope, send, 503, str(exc))
            return
        if session is None:
            await self._refuse(scope, send, 401, "sign in first: /auth/login")
            return
        state = scope.setdefault("state", {})
        state["principal"], state["session"] = session.principal, session
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if (
            status == 401
            and scope["method"] == "GET"
            and "text/html" in Headers(scope=scope).get("accept", "")
        ):
            root = str(scope.get("root_path", ""))
            await send_response(send, RedirectResponse(f"{root}/auth/login", status_code=302))
            return
        await send_json(send, status, {"error": message})


async def send_response(send: Send, response: Response) -> None:
    """Send a complete Starlette response from middleware."""
    await send(
        {"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers}
    )
    await send({"type": "http.response.body", "body": response.body})


def _cookie(headers: Headers, name: str) -> str:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def add_signin_routes(api: FastAPI, signins: SignIns) -> None:
    """``/auth/login``, ``/auth/callback`` and ``/auth/logout`` (not in the API schema)."""
    settings = signins.settings

    def redirect_uri(request: Request) -> str:
        return settings.oidc_redirect_url or str(request.url_for("signin_callback"))

    async def login(request: Request) -> Response:
        try:
            url, state = await anyio.to_thread.run_sync(signins.begin, redirect_uri(request))
        except SignInError as exc:
            return _page(error_status(exc), "Sign-in is unavailable", str(exc))
        response = RedirectResponse(url, status_code=302)
        _set_cookie(response, request, STATE_COOKIE, state, int(SIGN_IN_S))
        return response

    async def callback(request: Request) -> Response:
        query = request.query_params
        state = query.get("state", "")
        if query.get("error"):
            return _page(401, "Sign-in refused", f"the provider said: {query.get('error')}")
        if not state or not secrets.compare_digest(state, request.cookies.get(STATE_COOKIE, "")):
            return _page(
                400, "Sign-in refused", "this sign-in was not started in this browser: sign in again"
            )
        try:
            sid, _session = await anyio.to_thread.run_sync(signins.finish, state, query.get("code", ""))
        except SignInError as exc:
            return _page(error_status(exc), "Sign-in failed", str(exc))
        response = RedirectResponse(f"{request.scope.get('root_path', '')}/", status_code=302)
        response.delete_cookie(STATE_COOKIE, path=_cookie_path(request))
        _set_cookie(response, request, SESSION_COOKIE, sid, int(settings.oidc_session_hours * 3600))
        return response

    async def logout(request: Request) -> Response:
        signins.end(request.cookies.get(SESSION_COOKIE, ""))
        response = _page(200, "Signed out", "You are signed out of Newsdesk.", link=True)
        response.delete_cookie(SESSION_COOKIE, path=_cookie_path(request))
        return response

    api.add_api_route("/auth/login", login, methods=["GET"], include_in_schema=False)
    api.add_api_route(
        "/auth/callback", callback, methods=["GET"], include_in_schema=False, name="signin_callback"
    )
    api.add_api_route("/auth/logout", logout, methods=["GET"], include_in_schema=False)


def _cookie_path(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}/"


def _set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=_cookie_path(request),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _page(status: int, title: str, message: str, link: bool = False) -> HTMLResponse:
    """A small page saying what happened (the message escaped), with a link to sign in again."""
    again = '<p><a href="login">Sign in again</a></p>' if link or status != 503 else ""
    title = html.escape(title)
    body = (
        f"<!doctype html><title>{title}</title><h1>{title}</h1>"
        f"<p id='nd-signin-message'>{html.escape(message)}</p>{again}"
    )
    return HTMLResponse(body, status_code=status)
