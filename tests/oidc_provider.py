"""A real OpenID Connect provider (the npm package ``oidc-provider``, tests/oidc/provider.mjs) on
127.0.0.1 as a child process, with its users in a file a test may rewrite; and a sign-in without a
browser through the provider's own login form (the authorization code flow with PKCE), for tokens.

``scripts/run-tests`` installs the package (``npm ci --prefix tests/oidc``, cached in
tests/oidc/node_modules) as it installs chromium and prometheus.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.server_process import ServerProcess

HERE = Path(__file__).resolve().parent / "oidc"
SCRIPT = HERE / "provider.mjs"
CLIENT_SECRET = "newsdesk-test-client-secret-0123456789"
SCOPES = "openid profile groups offline_access"
FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def node_binary() -> str:
    found = shutil.which("node")
    if found is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            "the test OpenID provider is not installed: npm ci --prefix tests/oidc (scripts/run-tests does)"
        )
    return found


def client(client_id: str, redirect_uris: list[str]) -> dict[str, Any]:
    """A confidential web client of the provider (code flow, refresh tokens)."""
    return {
        "client_id": client_id,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": [uri.rsplit("/auth/", 1)[0] + "/" for uri in redirect_uris],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }


class OidcProvider(ServerProcess):
    """One provider on ``port``; ``users``: name → groups."""

    def __init__(self, folder: Path, port: int, users: dict[str, list[str]]) -> None:
        super().__init__(folder / "provider.log")
        self.folder, self.port = folder, port
        self.users_path = folder / "users.json"
        self.set_users(users)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_users(self, users: dict[str, list[str]]) -> None:
        """The users and their groups from now on (read by the provider at each sign-in and token)."""
        body = {name: {"name": name.title(), "groups": groups} for name, groups in users.items()}
        self.users_path.write_text(json.dumps(body), encoding="utf-8")

    def start(self, redirect_uris: list[str], access_token_ttl: int = 60) -> None:
        config = self.folder / "provider.json"
        clients = [client(cid, redirect_uris) for cid in ("newsdesk", "newsdesk-short")]
        config.write_text(
            json.dumps(
                {
                    "port": self.port,
                    "clients": clients,
                    "users": str(self.users_path),
                    "accessTokenTTL": access_token_ttl,
                }
            ),
            encoding="utf-8",
        )
        self.spawn([node_binary(), str(SCRIPT), str(config)], self._answers, timeout_s=60, cwd=HERE)

    def _answers(self) -> bool:
        return httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200

    def sign_in(
        self, user: str, redirect_uri: str, client_id: str = "newsdesk", resource: str | None = None
    ) -> dict[str, Any]:
        """The token response of ``user`` signing in through the provider's login form (code flow
        with PKCE, no browser): access_token (a JWT), id_token, refresh_token."""
        verifier = secrets.token_urlsafe(48)
        query: dict[str, str] = {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "state": secrets.token_urlsafe(12),
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
            "prompt": "login",
        }
        if resource:
            query["resource"] = resource
        with httpx.Client(base_url=self.issuer, timeout=10) as http:
            code = self._code(http, http.get("/auth", params=query), user, redirect_uri)
            form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
            if resource:
                form["resource"] = resource
            tokens = http.post(
                "/token", data={**form, "code_verifier": verifier}, auth=(client_id, CLIENT_SECRET)
            )
        assert tokens.status_code == 200, tokens.text
        body: dict[str, Any] = tokens.json()
        return body

    def _code(self, http: httpx.Client, response: httpx.Response, user: str, redirect_uri: str) -> str:
        back = self._follow(http, response, user, redirect_uri)
        found = parse_qs(urlsplit(back).query)
        assert "code" in found, back
        return found["code"][0]

    def follow_sign_in(self, http: httpx.Client, url: str, user: str, redirect_uri: str) -> str:
        """Sign ``user`` in at the provider's authorization ``url``: the URL it sends the browser
        back to (``redirect_uri`` with the code and state)."""
        return self._follow(http, http.get(url), user, redirect_uri)

    def _follow(self, http: httpx.Client, response: httpx.Response, user: str, redirect_uri: str) -> str:
        """Follow the provider's redirects and forms until it sends the browser back."""
        for _ in range(10):
            if response.status_code in (302, 303):
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(redirect_uri):
                    return location
                response = http.get(location)
                continue
            action = FORM_ACTION.search(response.text)
            assert response.status_code == 200 and action, response.text[:500]
            fields = dict(HIDDEN.findall(response.text))
            if 'name="login"' in response.text:
                fields.update(login=user, password="any")
            response = http.post(urljoin(str(response.url), action.group(1)), data=fields)
        raise AssertionError("the provider never sent the browser back")

    def refresh(self, refresh_token: str, client_id: str = "newsdesk") -> httpx.Response:
        return httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(client_id, CLIENT_SECRET),
            timeout=10,
        )
