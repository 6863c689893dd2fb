"""``newsdesk feeds`` beside a running ``newsdesk serve`` on the same embedded store (issue 26, item 5).

The server holds the store folder: only it may write there (ingest/storage/locks.py). ``feeds
add`` used to write the feed straight into the store's side collection behind the server's back
(and ``feeds remove`` too; ``feeds sync`` wrote its leases, then was refused). Now each goes
through the server's ``/api/feeds`` routes, with the write key when the server has keys, and the
CLI never opens the store; a server that refuses (no key) is one error line and nothing written.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.frontends.cli.main import main
from ingest.storage.store import NewsStore
from tests.assistant.conftest_api import free_port, wait_for_health
from tests.assistant.test_serve_hold import child_env
from tests.conftest import REPO, SAMPLE
from tests.feed_server import FeedItem, FeedServer, feed_server

__all__ = ["feed_server"]

STORY = FeedItem(
    "tram",
    "Council votes for a tram",
    "The Testville council voted on Tuesday to build a tram line along the river. "
    "Construction starts in spring and should take two years.",
)
WRITE_KEY = secrets.token_urlsafe(32)
READ_KEY = secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Served:
    store: Path
    base: str
    headers: dict[str, str]

    def feeds(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.base}/api/feeds", headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        listed: list[dict[str, Any]] = response.json()
        return listed

    def wait_for_first_sync(self, timeout_s: float = 60.0) -> None:
        """Until the server's scheduler has synced the (one) feed, asking once a second (the rate
        limit counts these requests too)."""
        deadline = time.monotonic() + timeout_s
        while self.feeds()[0]["status"] == "new":
            assert time.monotonic() < deadline, "the server did not sync the feed it was given"
            time.sleep(1.0)


def serve(store: Path, tmp_path: Path, fetch_from: str, keys: str = "") -> Iterator[Served]:
    """A real ``newsdesk serve`` child on 127.0.0.1 holding ``store`` (the sample ingested first);
    it may fetch feeds from ``fetch_from`` (host:port of the test feed server)."""
    assert main(["ingest", "--quiet", str(SAMPLE), "--store", str(store)]) == 0
    port = free_port()
    env = child_env(
        NEWSDESK_FEEDBACK_PATH=str(tmp_path / "feedback.jsonl"),
        NEWSDESK_FETCH_ALLOWED_HOSTS=json.dumps([fetch_from]),
        NEWSDESK_FEED_MIN_EVERY_S="1",
        **({"NEWSDESK_API_KEYS": keys} if keys else {}),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--store", str(store)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    headers = {"Authorization": f"Bearer {READ_KEY}"} if keys else {}
    try:
        wait_for_health(server, f"http://127.0.0.1:{port}/api/health", headers)
        yield Served(store, f"http://127.0.0.1:{port}", headers)
    finally:
        server.terminate()
        try:
            output = server.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            server.kill()
            output = server.communicate()[0]
        print(f"newsdesk serve said:\n{output}")  # shown when a test failed


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feed_server: FeedServer) -> Iterator[Served]:
    monkeypatch.delenv("NEWSDESK_API_KEYS", raising=False)
    yield from serve(tmp_path / "store", tmp_path, feed_server.base_url.removeprefix("http://"))


@pytest.fixture
def keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feed_server: FeedServer) -> Iterator[Served]:
    monkeypatch.delenv("NEWSDESK_API_KEYS", raising=False)
    fetch_from = feed_server.base_url.removeprefix("http://")
    yield from serve(tmp_path / "store", tmp_path, fetch_from, keys=f"{WRITE_KEY}:rw,{READ_KEY}:ro")


@pytest.fixture
def store_opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stores this (the CLI's) process opens from now on: none may be, beside the server."""
    opened: list[str] = []
    real_init = NewsStore.__init__

    def recording_init(self: NewsStore, *args: Any, **kwargs: Any) -> None:
        opened.append(repr(args))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(NewsStore, "__init__", recording_init)
    return opened


def feeds(store: Path, *args: str) -> int:
    return main(["--store", str(store), "feeds", *args])


def test_feeds_add_beside_running_server_goes_through_the_server(
    served: Served, store_opened: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert feeds(served.store, "add", "https://news.test/rss", "--every", "30m", "--source", "Test News") == 0
    assert store_opened == []  # the CLI never opened the store ...
    (listed,) = served.feeds()  # ... the server has the feed: it wrote it
    assert (listed["url"], listed["every"], listed["source"]) == ("https://news.test/rss", "30m", "Test News")
    out, err = capsys.readouterr()
    assert f"the store is served by {served.base}" in err
    assert "following https://news.test/rss every 30m" in out and served.base in out


def test_feeds_list_sync_and_remove_beside_running_server_go_through_the_server(
    served: Served, store_opened: list[str], feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.items = [STORY]
    url = feed_server.feed_url()
    assert feeds(served.store, "add", url, "--every", "1h") == 0
    served.wait_for_first_sync()
    assert feeds(served.store, "sync", url) == 0  # now, through the server
    assert f"{url}: not modified" in capsys.readouterr().out
    assert feeds(served.store, "list", "--json") == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert shown["url"] == url and shown["total_added"] == 1
    answer = httpx.post(f"{served.base}/api/ask", json={"question": "Where will the tram run?"}, timeout=60)
    assert "tram line along the river" in answer.json()["answer"]  # the server's next question finds it
    assert feeds(served.store, "remove", url) == 0
    assert f"stopped following {url}" in capsys.readouterr().out
    assert served.feeds() == []
    assert store_opened == []


def test_feeds_add_beside_a_keyed_server_uses_the_write_key_or_is_refused(
    keyed: Served,
    store_opened: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert feeds(keyed.store, "add", "https://news.test/rss") == 2  # the CLI has no key
    err = capsys.readouterr().err
    assert f"the server at {keyed.base} refused to add the feed (401)" in err and "NEWSDESK_API_KEYS" in err
    monkeypatch.setenv("NEWSDESK_API_KEYS", f"{READ_KEY}:ro")
    assert feeds(keyed.store, "add", "https://news.test/rss") == 2  # a read-only key may not
    assert "refused to add the feed (403)" in capsys.readouterr().err
    assert keyed.feeds() == []  # nothing written behind the server's back
    monkeypatch.setenv("NEWSDESK_API_KEYS", f"{WRITE_KEY}:rw,{READ_KEY}:ro")
    assert feeds(keyed.store, "add", "https://news.test/rss", "--every", "2h") == 0
    assert [feed["url"] for feed in keyed.feeds()] == ["https://news.test/rss"]
    monkeypatch.setenv("NEWSDESK_API_KEYS", f"{READ_KEY}:ro")
    assert feeds(keyed.store, "list") == 0  # reading needs only a read key
    assert "https://news.test/rss" in capsys.readouterr().out
    assert store_opened == []


def test_feeds_add_to_a_named_archive_beside_running_server_goes_through_its_archive_route(
    served: Served, store_opened: list[str], feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """``feeds --archive NAME`` goes through ``/api/archives/NAME/feeds``: the server follows the
    feed on that archive and its scheduler syncs it there, not in the default archive."""
    feed_server.items = [STORY]
    url = feed_server.feed_url()
    assert main(["--store", str(served.store), "archives", "create", "metro"]) == 0
    assert (
        main(["--store", str(served.store), "--archive", "metro", "feeds", "add", url, "--every", "1h"]) == 0
    )
    out = capsys.readouterr().out
    assert f"following {url} every 1h" in out and served.base in out
    base = f"{served.base}/api/archives/metro"

    def synced() -> bool:
        (feed,) = httpx.get(f"{base}/feeds", timeout=30).json()
        return bool(feed["total_added"] == 1)

    deadline = time.monotonic() + 60
    while not synced():
        assert time.monotonic() < deadline, "the server did not sync the named archive's feed"
        time.sleep(1.0)
    assert served.feeds() == []  # the default archive follows nothing
    assert main(["--store", str(served.store), "--archive", "metro", "feeds", "list", "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert shown["url"] == url and shown["total_added"] == 1
    question = {"question": "Where will the tram run?"}
    answer = httpx.post(f"{base}/ask", json=question, timeout=60).json()
    assert "tram line along the river" in answer["answer"]
    assert {c["archive"] for c in answer["citations"]} == {"metro"}
    assert main(["--store", str(served.store), "--archive", "metro", "feeds", "remove", url]) == 0
    assert httpx.get(f"{base}/feeds", timeout=30).json() == []
    assert store_opened == []  # the CLI never opened a store
