"""The embeddable chat widget in a real headless Chromium (Debian's ``chromium``, Playwright).

The real app (real model, real Chroma, the sample corpus) is served with API keys and one allowed
origin: a "portal" page served from another local port. The same page served from a third port,
an origin that is not allowed, must get no answer: the browser's CORS check refuses it.
"""

from __future__ import annotations

import http.server
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from ingest.embedding.embedder import Embedder
from tests.assistant.conftest_api import (
    RO_KEY,
    RW_KEY,
    SAMPLE_QUESTION,
    Served,
    api_settings,
    bearer,
    free_port,
    sample_assistant,
    serve_app,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Dialog, Page

pytestmark = pytest.mark.browser

ANSWER_TIMEOUT_MS = 60_000
SCREENSHOTS = Path(  # docs/screenshots only when asked: NEWSDESK_SCREENSHOTS_DIR=docs/screenshots
    os.environ.get("NEWSDESK_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "newsdesk-shots"
)
HARBOR = (
    "The Quillport harbor commissioner announced a new winter ferry schedule "
    "<img src=x onerror=window.__xss=1> on Tuesday. "
    "The ferries will run every ninety minutes <script>window.__xss=2</script> until March."
)
HARBOR_TITLE = '<img src=x onerror="window.__xss=3">Harbor minutes'


class PortalPages:
    """A tiny web server for portal pages that embed the widget: ``/`` with the read-only key,
    ``/wrong-key`` with a key the API does not know."""

    def __init__(self, port: int, api_base: str) -> None:
        pages = {"/": portal_page(api_base, RO_KEY), "/wrong-key": portal_page(api_base, "wrong-" + RO_KEY)}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = pages.get(self.path)
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((page or "not found").encode())

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.origin = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PortalPages:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def portal_page(api_base: str, key: str) -> str:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Intranet portal</title></head>
<body style="font-family: serif; max-width: 40em"><h1>Intranet portal</h1><div id="newsdesk"></div>
<script src="{api_base}/embed/widget.js" data-target="#newsdesk" data-api-key="{key}" defer></script>
</body></html>"""


@pytest.fixture(scope="module")
def portal_ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,
    chromium_path: str,
    portal_ports: tuple[int, int],
) -> Iterator[Served]:
    data: Path = tmp_path_factory.mktemp("widget")
    assistant = sample_assistant(data, embedder)
    settings = api_settings(
        data,
        port=free_port(),
        api_keys=f"{RW_KEY},{RO_KEY}:ro",
        allowed_origins=[f"http://127.0.0.1:{portal_ports[0]}"],
    )
    with serve_app(assistant, settings) as served:
        document = {"id": "harbor", "text": HARBOR, "title": HARBOR_TITLE, "source": "Quillport <b>Post</b>"}
        ingested = httpx.post(
            f"{served.base}/api/ingest", json={"documents": [document]}, headers=bearer(RW_KEY)
        )
        assert ingested.status_code == 200 and ingested.json()["added"] == 1, ingested.text
        yield served


@pytest.fixture(scope="module")
def allowed_portal(api: Served, portal_ports: tuple[int, int]) -> Iterator[PortalPages]:
    with PortalPages(portal_ports[0], api.base) as pages:
        yield pages


@pytest.fixture(scope="module")
def other_portal(api: Served, portal_ports: tuple[int, int]) -> Iterator[PortalPages]:
    with PortalPages(portal_ports[1], api.base) as pages:
        yield pages


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser context; no JavaScript dialog may fire in it."""
    opened = browser.new_context()
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    opened.on("page", lambda page: page.on("dialog", record))
    yield opened
    opened.close()
    assert dialogs == [], f"a JavaScript dialog fired: {dialogs}"


def visit(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#newsdesk .nd-input")
    return page


def ask(page: Page, question: str) -> None:
    page.fill("#newsdesk .nd-input", question)
    page.click("#newsdesk .nd-send")


def test_widget_on_an_allowed_portal_shows_the_answer_with_a_citation(
    context: BrowserContext, allowed_portal: PortalPages
) -> None:
    page = visit(context, allowed_portal.origin + "/")
    ask(page, SAMPLE_QUESTION)
    page.wait_for_selector("#newsdesk .nd-sources li", timeout=ANSWER_TIMEOUT_MS)
    assert "Evkurov" in page.inner_text("#newsdesk .nd-a")
    cite = page.locator("#newsdesk .nd-cite").first
    assert cite.inner_text() == "[1]"
    cite.click()
    source = page.locator("#newsdesk .nd-sources li").first
    assert "nd-hl" in (source.get_attribute("class") or "")
    assert "Evkurov" in source.locator(".nd-quote").inner_text()
    assert page.locator("#newsdesk .nd-error").count() == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#newsdesk").screenshot(path=str(SCREENSHOTS / "widget.png"))


def test_widget_shows_article_html_as_inert_text(
    context: BrowserContext, allowed_portal: PortalPages
) -> None:
    page = visit(context, allowed_portal.origin + "/")
    ask(page, "When will the Quillport ferries run under the new winter schedule?")
    page.wait_for_selector("#newsdesk .nd-sources li", timeout=ANSWER_TIMEOUT_MS)
    titles = page.locator("#newsdesk .nd-source-title").all_inner_texts()
    assert HARBOR_TITLE in titles
    assert page.locator("#newsdesk img").count() == 0
    assert page.locator("#newsdesk script").count() == 0
    assert page.evaluate("window.__xss") is None


def test_widget_shows_the_api_error_for_a_wrong_key(
    context: BrowserContext, allowed_portal: PortalPages
) -> None:
    page = visit(context, allowed_portal.origin + "/wrong-key")
    ask(page, SAMPLE_QUESTION)
    error = page.wait_for_selector("#newsdesk .nd-error", timeout=ANSWER_TIMEOUT_MS)
    assert error is not None and "missing or invalid API key" in error.inner_text()


def test_widget_on_a_portal_that_is_not_allowed_gets_no_answer(
    context: BrowserContext, other_portal: PortalPages
) -> None:
    page = visit(context, other_portal.origin + "/")
    ask(page, SAMPLE_QUESTION)
    error = page.wait_for_selector("#newsdesk .nd-error", timeout=ANSWER_TIMEOUT_MS)
    assert error is not None and "Could not reach Newsdesk" in error.inner_text()
    assert page.locator("#newsdesk .nd-sources li").count() == 0
    assert page.inner_text("#newsdesk .nd-a") == ""
