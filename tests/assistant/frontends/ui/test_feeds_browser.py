"""The Library tab's feed list in a real headless Chromium (Debian's ``chromium``, Playwright),
against the whole app served by uvicorn on 127.0.0.1 syncing a real feed server on 127.0.0.1.

The screenshot goes to ``NEWSDESK_SCREENSHOTS_DIR`` (``docs/screenshots`` to refresh the docs'),
else to a temporary folder.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ingest.embedding.embedder import Embedder
from tests.assistant.conftest_api import api_settings, free_port, serve_app
from tests.conftest import app_page
from tests.feed_server import FeedItem, FeedServer, feed_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = ["feed_server"]
pytestmark = pytest.mark.browser

SCREENSHOTS = Path(
    os.environ.get("NEWSDESK_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "newsdesk-shots"
)
STORY = FeedItem(
    "tram",
    "Council votes for a tram",
    "The Testville council voted on Tuesday to build a tram line along the river. "
    "Construction starts in spring and should take two years.",
)
HOSTILE_SOURCE = "Gazette <img src=x onerror=alert(1)>"


@pytest.fixture
def app_url(tmp_path: Path, embedder: Embedder, chromium_path: str) -> Iterator[str]:
    """The app on a free port with an empty store; feeds synced on their schedule."""
    from assistant.service import create_assistant

    settings = api_settings(
        tmp_path,
        port=free_port(),
        fetch_allow_private=True,  # the test feed server on a loopback port, in this test only
        feed_min_every_s=1.0,
        feeds_check_s=1.0,
    )
    with serve_app(create_assistant(settings, embedder=embedder), settings) as served:
        yield served.base + "/"


@pytest.fixture
def page(browser: Browser, app_url: str) -> Iterator[Page]:
    with app_page(browser, app_url, height=1100) as opened:
        yield opened


def refresh_until(page: Page, condition: str, arg: Any = None, timeout_s: float = 30) -> None:
    """Click the feed list's Refresh until the JavaScript ``condition`` holds for its rows."""
    rows = "const rows = [...document.querySelectorAll('#nd-feeds tr.nd-feed')]"
    script = f"arg => {{ {rows}; return {condition}; }}"
    for _ in range(int(timeout_s / 0.5)):
        page.click("#nd-feed-refresh")
        try:
            page.wait_for_function(script, arg=arg, timeout=500)
            return
        except Exception:  # playwright's TimeoutError: refresh again
            continue
    raise AssertionError(f"the feed list never showed: {condition}")


def cells(page: Page) -> list[str]:
    return [cell.inner_text() for cell in page.locator("#nd-feeds tr.nd-feed td").all()]


def test_library_tab_follows_a_feed_and_shows_last_sync_next_sync_items_added_and_last_error(
    page: Page, feed_server: FeedServer
) -> None:
    feed_server.items = [STORY]
    page.get_by_role("tab", name="Library").click()
    page.wait_for_selector("#nd-feeds .nd-feeds-empty")
    page.fill("#nd-feed-url textarea, #nd-feed-url input", feed_server.feed_url())
    page.fill("#nd-feed-every textarea, #nd-feed-every input", "2s")
    page.fill("#nd-feed-source textarea, #nd-feed-source input", HOSTILE_SOURCE)
    page.click("#nd-feed-follow")
    page.wait_for_selector("#nd-feeds tr.nd-feed")
    assert feed_server.feed_url() in cells(page)[0]
    assert HOSTILE_SOURCE in cells(page)[0]  # shown as text, never run
    assert page.locator("#nd-feeds img").count() == 0

    refresh_until(page, "rows.length === 1 && rows[0].innerText.includes('(ok)')")
    _, every, last_sync, next_sync, added, error = cells(page)
    assert every == "2s" and "UTC" in last_sync and "UTC" in next_sync and next_sync != last_sync
    assert added.startswith("1 ") and "1 in all" in added and error == ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "feeds.png"), full_page=True)

    feed_server.status = 500  # the next scheduled sync fails: its error is shown
    refresh_until(page, "rows[0].innerText.includes('HTTP 500')")
    _, every, last_sync, next_sync, added, error = cells(page)
    assert "(failed)" in last_sync and f"{feed_server.feed_url()}: HTTP 500" in error
    assert "1 in all" in added
