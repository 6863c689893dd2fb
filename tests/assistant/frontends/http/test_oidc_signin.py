"""Signing in with a real OpenID Connect provider (issue 28): the npm package ``oidc-provider`` on
127.0.0.1 (tests/oidc_provider.py), two desks in different groups, one Newsdesk server serving
three archives (real model, real Chroma, uvicorn, and Debian's chromium for the sign-in).

alice is in ``sports-desk`` (reads ``sports``), bob in ``politics-desk`` (reads ``politics``),
carol in ``archive-admins`` (writes everywhere). Covered: sign-in in a browser, each desk reading
only its own archive through the UI and the API, token refresh, an expired token, a token of
another issuer, a token for another audience, a person losing a group, and the provider down.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import SecretStr

from assistant.frontends.http.signin import SESSION_COOKIE, SignIns
from ingest.embedding.embedder import Embedder
from tests.assistant.conftest_api import RW_KEY, Served, api_settings, free_port, sample_assistant, serve_app
from tests.assistant.frontends.http.test_archives_api import CROISSANT, LIGHTHOUSE
from tests.oidc_provider import CLIENT_SECRET, SCOPES, OidcProvider

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from assistant.service import Assistant

USERS = {"alice": ["sports-desk"], "bob": ["politics-desk"], "carol": ["archive-admins"]}
GROUPS = {"sports-desk": "sports:read", "politics-desk": "politics:read", "archive-admins": "*:write"}
LIGHTHOUSE_QUESTION = "Who restored the lens of the Lindesnes lighthouse?"
CROISSANT_QUESTION = "Which baker won the national croissant contest?"


def oidc_settings(data: Path, port: int, issuer: str, **overrides: Any) -> Any:
    values = {
        "port": port,
        "api_keys": SecretStr(RW_KEY),
        "oidc_issuer": issuer,
        "oidc_client_id": "newsdesk",
        "oidc_client_secret": SecretStr(CLIENT_SECRET),
        "oidc_scopes": SCOPES,
        "oidc_group_permissions": GROUPS,
        "oidc_recheck_s": 1.0,
        "oidc_leeway_s": 0.0,
        "oidc_timeout_s": 2.0,
        **overrides,
    }
    return api_settings(data, **values)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Assistant:
    return sample_assistant(tmp_path_factory.mktemp("oidc-data"), embedder)


@pytest.fixture(scope="module")
def port() -> int:
    """The Newsdesk server's port (its callback is registered with the provider)."""
    return free_port()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[OidcProvider]:
    started = OidcProvider(tmp_path_factory.mktemp("oidc-provider"), free_port(), USERS)
    started.start([f"http://127.0.0.1:{port}/auth/callback"])
    yield started
    started.stop()


@pytest.fixture(scope="module")
def served(assistant: Assistant, provider: OidcProvider, port: int) -> Iterator[Served]:
    settings = oidc_settings(Path(assistant.settings.store_dir).parent, port, provider.issuer)
    with serve_app(assistant, settings) as server:
        key = {"Authorization": f"Bearer {RW_KEY}"}
        for name, doc in (("sports", LIGHTHOUSE), ("politics", CROISSANT)):
            httpx.post(f"{server.base}/api/archives", json={"name": name}, headers=key)
            done = httpx.post(
                f"{server.base}/api/archives/{name}/ingest", json={"documents": [doc]}, headers=key
            )
            assert done.status_code == 200, done.text
        yield server


def callback(served: Served) -> str:
    return f"{served.base}/auth/callback"


def token_of(provider: OidcProvider, served: Served, user: str, **options: Any) -> str:
    return str(provider.sign_in(user, callback(served), **options)["access_token"])


def api(served: Served, method: str, path: str, token: str, **options: Any) -> httpx.Response:
    return httpx.request(
        method, f"{served.base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=120, **options
    )


def listed(served: Served, token: str) -> list[str]:
    found = api(served, "GET", "/api/archives", token)
    assert found.status_code == 200, found.text
    return [a["name"] for a in found.json()]


def test_two_desks_each_read_only_their_own_archive_through_the_api(
    provider: OidcProvider, served: Served
) -> None:
    alice, bob, carol = (token_of(provider, served, user) for user in ("alice", "bob", "carol"))
    assert listed(served, alice) == ["sports"] and listed(served, bob) == ["politics"]
    assert listed(served, carol) == ["default", "politics", "sports"]
    asked = api(served, "POST", "/api/archives/sports/ask", alice, json={"question": LIGHTHOUSE_QUESTION})
    assert asked.status_code == 200 and "Solberg" in asked.json()["answer"]
    assert {c["archive"] for c in asked.json()["citations"]} == {"sports"}
    refused = api(served, "POST", "/api/archives/politics/ask", alice, json={"question": CROISSANT_QUESTION})
    assert refused.status_code == 403 and refused.json() == {"error": "you may not read archive 'politics'"}
    assert api(served, "POST", "/api/ask", bob, json={"question": CROISSANT_QUESTION}).status_code == 403
    both = api(
        served, "POST", "/api/archives/sports,politics/ask", bob, json={"question": CROISSANT_QUESTION}
    )
    assert both.status_code == 403 and "Solberg" not in both.text
    bobs = api(served, "POST", "/api/archives/politics/ask", bob, json={"question": CROISSANT_QUESTION})
    assert bobs.status_code == 200 and "Dupuis" in bobs.json()["answer"]
    write = api(served, "POST", "/api/archives/sports/ingest", alice, json={"documents": [CROISSANT]})
    assert write.status_code == 403 and write.json() == {"error": "you may not write to archive 'sports'"}
    doc = {**CROISSANT, "id": "carol-croissant"}
    assert (
        api(served, "POST", "/api/archives/sports/ingest", carol, json={"documents": [doc]}).status_code
        == 200
    )
    assert api(served, "DELETE", "/api/archives/sports/documents/carol-croissant", carol).status_code == 200


def test_a_token_of_another_issuer_is_refused(provider: OidcProvider, served: Served, tmp_path: Path) -> None:
    other = OidcProvider(tmp_path, free_port(), USERS)
    other.start([callback(served)])
    try:
        token = token_of(other, served, "carol")
    finally:
        other.stop()
    refused = api(served, "GET", "/api/archives", token)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["error"].startswith(f"the token is from another issuer ('{other.issuer}')")


def test_a_token_for_another_audience_is_refused(provider: OidcProvider, served: Served) -> None:
    token = token_of(provider, served, "carol", resource="https://other.example/api")
    refused = api(served, "GET", "/api/archives", token)
    assert refused.status_code == 401
    assert refused.json() == {"error": "the token is not for this API (its audience is not 'newsdesk')"}


def test_an_expired_token_is_refused(provider: OidcProvider, served: Served) -> None:
    token = token_of(provider, served, "carol", client_id="newsdesk-short")  # lives 1 s
    time.sleep(2.5)
    refused = api(served, "GET", "/api/archives", token)
    assert refused.status_code == 401
    assert refused.json() == {"error": "the token has expired: sign in again (or refresh it)"}
    assert api(served, "GET", "/api/archives", token_of(provider, served, "carol")).status_code == 200


def test_a_token_that_is_no_jwt_nor_key_is_a_401(served: Served) -> None:
    refused = api(served, "GET", "/api/archives", "not-a-key-nor-a-token")
    assert refused.status_code == 401
    assert refused.json() == {"error": "missing or invalid API key or access token"}


def test_a_person_losing_a_group_is_refused_with_the_next_token(
    provider: OidcProvider, served: Served
) -> None:
    try:
        before = token_of(provider, served, "alice")
        assert listed(served, before) == ["sports"]
        provider.set_users({**USERS, "alice": []})
        after = token_of(provider, served, "alice")
        assert listed(served, after) == []
        gone = api(served, "GET", "/api/archives/sports/stats", after)
        assert gone.status_code == 403 and gone.json() == {"error": "you may not read archive 'sports'"}
    finally:
        provider.set_users(USERS)


# --- the chat's sign-in: the code flow through this server's /auth routes ---------------------------
def ui_sign_in(provider: OidcProvider, served: Served, user: str) -> httpx.Client:
    """A client signed in to the chat as ``user`` (no browser: the provider's forms by HTTP)."""
    client = httpx.Client(base_url=served.base, timeout=30)
    started = client.get("/auth/login")
    assert started.status_code == 302 and started.headers["location"].startswith(provider.issuer)
    back = provider.follow_sign_in(
        httpx.Client(timeout=30), started.headers["location"], user, callback(served)
    )
    finished = client.get(back)
    assert finished.status_code == 302 and finished.headers["location"] == "/", finished.text
    assert client.cookies.get(SESSION_COOKIE)
    return client


def signins(served: Served) -> SignIns:
    found: SignIns = served.extra["app"].state.signins
    return found


def test_a_chat_session_is_refreshed_and_follows_the_groups(provider: OidcProvider, served: Served) -> None:
    client = ui_sign_in(provider, served, "alice")
    session = signins(served).sessions[client.cookies[SESSION_COOKIE]]
    assert session.grants.can_read("sports") and not session.grants.can_read("politics")
    first_token, first_check = session.tokens["access_token"], session.checked_at
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "gradio" in page.text.lower()
    time.sleep(1.2)  # past oidc_recheck_s
    try:
        provider.set_users({**USERS, "alice": ["politics-desk"]})
        assert client.get("/config").status_code == 200
        assert session.checked_at > first_check and session.tokens["access_token"] != first_token  # refreshed
        assert session.grants.can_read("politics") and not session.grants.can_read("sports")
    finally:
        provider.set_users(USERS)
    client.get("/auth/logout")
    assert client.get("/config").status_code == 401
    away = httpx.get(f"{served.base}/", headers={"Accept": "text/html"})
    assert away.status_code == 302 and away.headers["location"] == "/auth/login"


def test_a_callback_not_started_in_this_browser_is_refused(served: Served) -> None:
    refused = httpx.get(f"{served.base}/auth/callback", params={"state": "forged", "code": "x"})
    assert refused.status_code == 400 and "not started in this browser" in refused.text


# --- the provider down ---------------------------------------------------------------------------
def test_with_the_provider_down_sign_in_fails_clearly_and_api_keys_still_work(
    assistant: Assistant, tmp_path: Path
) -> None:
    port = free_port()
    down = OidcProvider(tmp_path, free_port(), USERS)
    down.start([f"http://127.0.0.1:{port}/auth/callback"])
    token = str(down.sign_in("carol", f"http://127.0.0.1:{port}/auth/callback")["access_token"])
    down.pause()  # answers nothing: the timeouts must bound every wait
    settings = oidc_settings(Path(assistant.settings.store_dir).parent, port, down.issuer, oidc_timeout_s=1.0)
    try:
        with serve_app(assistant, settings) as served:
            clock = time.monotonic()
            refused = api(served, "GET", "/api/archives", token)
            assert time.monotonic() - clock < 10
            assert (
                refused.status_code == 503
                and f"the sign-in provider at {down.issuer} does not answer" in (refused.json()["error"])
            )
            assert "API keys still work" in refused.json()["error"]
            keyed = api(
                served, "POST", "/api/ask", RW_KEY, json={"question": "Who led the Russian delegation?"}
            )
            assert keyed.status_code == 200 and keyed.json()["citations"]
            login = httpx.get(f"{served.base}/auth/login", timeout=30)
            assert login.status_code == 503 and "does not answer" in login.text
            down.resume()
            assert api(served, "GET", "/api/archives", token).status_code == 200  # back when it answers
    finally:
        down.stop()


def test_a_chat_session_due_for_its_recheck_gets_a_clear_503_while_the_provider_is_down(
    provider: OidcProvider, served: Served
) -> None:
    client = ui_sign_in(provider, served, "bob")
    provider.pause()
    try:
        time.sleep(1.2)  # past oidc_recheck_s: the groups must be read again, and cannot be
        clock = time.monotonic()
        refused = client.get("/config")
        assert time.monotonic() - clock < 10  # oidc_timeout_s bounds the wait
        assert refused.status_code == 503
        assert refused.json()["error"].startswith(
            f"the sign-in provider at {provider.issuer} does not answer"
        )
        keyed = httpx.get(f"{served.base}/api/archives", headers={"Authorization": f"Bearer {RW_KEY}"})
        assert keyed.status_code == 200
    finally:
        provider.resume()
    assert client.get("/config").status_code == 200  # the session goes on once the provider answers


# --- the browser (tests/conftest.py: Debian's chromium driven by Playwright) --------------------------
def browser_sign_in(browser: Browser, served: Served, user: str) -> Page:
    """A fresh browser page signed in as ``user`` through the provider's own login page."""
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(f"{served.base}/")
    page.wait_for_selector("input[name=login]")  # the provider's page: the chat sent the browser there
    page.fill("input[name=login]", user)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")
    page.wait_for_selector("#nd-chat", timeout=60_000)
    return page


def picker_choices(page: Page) -> list[str]:
    page.wait_for_selector("#nd-archives")
    page.locator("#nd-archives input").click()
    options = page.locator("ul[role=listbox] li")
    options.first.wait_for(timeout=10_000)
    names = [text.strip().split("\n")[-1].strip() for text in options.all_inner_texts()]  # after a ✓
    page.keyboard.press("Escape")
    return names


@pytest.mark.browser
def test_two_desks_sign_in_in_a_browser_and_each_sees_and_asks_only_its_archive(
    browser: Browser, served: Served
) -> None:
    from tests.assistant.frontends.ui.test_ui_browser import ask

    alice = browser_sign_in(browser, served, "alice")
    assert picker_choices(alice) == ["sports"]
    answer = ask(alice, LIGHTHOUSE_QUESTION)
    assert "Solberg" in answer.inner_text()
    bob = browser_sign_in(browser, served, "bob")
    assert picker_choices(bob) == ["politics"]
    answer = ask(bob, CROISSANT_QUESTION)
    assert "Dupuis" in answer.inner_text() and "Solberg" not in answer.inner_text()
    assert alice.locator("#nd-corpus-line").inner_text().strip() == ""  # nothing of the default archive
    alice.context.close()
    bob.context.close()
