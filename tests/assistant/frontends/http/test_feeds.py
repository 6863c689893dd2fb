"""``/api/feeds`` and the schedule of the serving process: the real app served by uvicorn on
127.0.0.1 (real model, real Chroma in tmp_path), a real feed server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.service import Assistant
from ingest.embedding.embedder import Embedder
from ingest.loading.articles import url_doc_id
from tests.assistant.conftest_api import (
    RO_KEY,
    RW_KEY,
    api_settings,
    bearer,
    free_port,
    raw_request,
    sample_assistant,
    serve_app,
    wait_until,
)
from tests.feed_server import FeedItem, FeedServer, feed_server

__all__ = ["feed_server"]

POLL_S = 2.0
TRAM = FeedItem(
    "tram",
    "Council votes for a tram",
    "The Testville council voted on Tuesday to build a tram line along the river. "
    "Construction starts in spring and should take two years.",
)
FERRY = FeedItem(
    "ferry",
    "Quillport ferry gets a winter schedule",
    "The Quillport harbor commissioner announced a new ferry schedule for the winter season. "
    "The Quillport ferries will run every ninety minutes from the north pier. Tickets go on sale in "
    "December at the harbor office.",
    in_feed=False,
)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Assistant:
    return sample_assistant(tmp_path_factory.mktemp("feeds-api"), embedder)


def settings_for(assistant: Assistant, **overrides: Any) -> Any:
    data = Path(assistant.settings.store_dir).parent
    values: dict[str, Any] = {
        "port": free_port(),
        "fetch_allow_private": True,  # the test feed server on a loopback port, in these tests only
        "feed_min_every_s": 1.0,
        "feeds_check_s": 1.0,
    }
    return api_settings(data, **{**values, **overrides})


def call(port: int, method: str, path: str, key: str | None = None, body: Any = None) -> Any:
    headers = {**(bearer(key) if key else {}), "Content-Type": "application/json"}
    data = None if body is None else json.dumps(body).encode()
    return raw_request(port, method, path, headers, data)


@pytest.fixture
def keyed(assistant: Assistant) -> Iterator[int]:
    """The app with a read-write and a read-only key, feeds not synced on a schedule."""
    settings = settings_for(assistant, api_keys=f"{RW_KEY},{RO_KEY}:ro", feeds_sync=False)
    with serve_app(assistant, settings) as served:
        yield served.port


def test_changing_feeds_over_the_api_needs_the_write_key_and_reading_them_any_key(keyed: int) -> None:
    url = "https://news.test/rss"
    assert call(keyed, "POST", "/api/feeds", body={"url": url}).status == 401
    refused = call(keyed, "POST", "/api/feeds", RO_KEY, {"url": url})
    assert refused.status == 403 and refused.json() == {"error": "this API key is read-only"}
    added = call(keyed, "POST", "/api/feeds", RW_KEY, {"url": url, "every": "30m", "source": "Test News"})
    assert added.status == 200, added.body
    feed = added.json()
    assert (feed["url"], feed["every"], feed["source"], feed["status"]) == (url, "30m", "Test News", "new")
    listed = call(keyed, "GET", "/api/feeds", RO_KEY)
    assert [f["feed_id"] for f in listed.json()] == [feed["feed_id"]]
    assert call(keyed, "DELETE", f"/api/feeds/{feed['feed_id']}", RO_KEY).status == 403
    removed = call(keyed, "DELETE", f"/api/feeds/{feed['feed_id']}", RW_KEY)
    assert removed.status == 200 and removed.json() == {"removed": url}
    missing = call(keyed, "DELETE", f"/api/feeds/{feed['feed_id']}", RW_KEY)
    assert missing.status == 404 and "no followed feed" in missing.json()["error"]
    assert call(keyed, "GET", "/api/feeds", RO_KEY).json() == []


def test_bad_feeds_are_refused_with_a_message_naming_the_field(keyed: int) -> None:
    bad_every = call(keyed, "POST", "/api/feeds", RW_KEY, {"url": "https://news.test/rss", "every": "often"})
    assert bad_every.status == 400
    assert bad_every.json()["error"] == (
        "feed https://news.test/rss: every 'often' is not an interval like 90s, 15m, 2h or 1d"
    )
    bad_url = call(keyed, "POST", "/api/feeds", RW_KEY, {"url": "javascript:alert(1)"})
    assert bad_url.status == 400 and "url must be an http(s) URL" in bad_url.json()["error"]


def test_sync_now_over_the_api_reports_what_it_did(keyed: int, feed_server: FeedServer) -> None:
    feed_server.items = [TRAM]
    call(keyed, "POST", "/api/feeds", RW_KEY, {"url": feed_server.feed_url(), "every": "1m"})
    synced = call(keyed, "POST", "/api/feeds/sync", RW_KEY, {"url": feed_server.feed_url()})
    assert synced.status == 200, synced.body
    (result,) = synced.json()
    assert result["error"] == "" and result["feed"]["added"] == 1 and result["sentences"] >= 2
    again = call(keyed, "POST", "/api/feeds/sync", RW_KEY, {})
    assert [r["not_modified"] for r in again.json()] == [True]


def test_a_new_item_is_answered_with_a_citation_within_one_poll_interval_without_a_restart(
    assistant: Assistant, feed_server: FeedServer
) -> None:
    feed_server.items = [TRAM]
    settings = settings_for(assistant)
    with serve_app(assistant, settings) as served:
        port = served.port
        added = call(
            port, "POST", "/api/feeds", body={"url": feed_server.feed_url(), "every": f"{POLL_S:g}s"}
        )
        assert added.status == 200, added.body
        wait_until(lambda: _feed(port, feed_server.feed_url())["total_added"] == 1, "the first sync", 20)
        feed_server.items = [TRAM, FERRY]
        published = time.monotonic()
        ferry_id = url_doc_id(feed_server.link(FERRY))
        answer: dict[str, Any] = {}

        def cited() -> bool:
            answer.update(call(port, "POST", "/api/ask", body={"question": QUESTION}).json())
            return any(c["doc_id"] == ferry_id for c in answer.get("citations", []))

        wait_until(cited, "an answer citing the new item", POLL_S * 1.1 + 15)
        took = time.monotonic() - published
    print(f"new item answerable {took:.1f} s after it was published (poll interval {POLL_S:g} s)")
    assert took <= POLL_S * 1.1 + 5, f"the new item was answerable after {took:.1f} s"
    assert answer["grounded"] and "ninety minutes" in answer["answer"]
    assert len(feed_server.requests_to("/articles/ferry.html")) == 1


QUESTION = "How often will the Quillport ferries run in winter?"


def _feed(port: int, url: str) -> dict[str, Any]:
    feeds: list[dict[str, Any]] = call(port, "GET", "/api/feeds").json()
    return next(feed for feed in feeds if feed["url"] == url)
