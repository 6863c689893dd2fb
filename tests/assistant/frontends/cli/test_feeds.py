"""``newsdesk feeds add|list|remove|sync`` end to end: a real store, a real feed server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.frontends.cli.main import main
from tests.feed_server import FeedItem, FeedServer, feed_server

__all__ = ["feed_server"]

STORY = FeedItem(
    "council",
    "Council votes for a tram",
    "The Testville council voted on Tuesday to build a tram line along the river. "
    "Construction starts in spring and should take two years.",
)


@pytest.fixture(autouse=True)
def _loopback_feeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fetcher may reach the test feed server (127.0.0.1, a port chosen when it starts) in these
    tests only."""
    monkeypatch.setenv("NEWSDESK_FETCH_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("NEWSDESK_FEED_MIN_EVERY_S", "1")


def feeds(store: Path, *args: str) -> int:
    return main(["--store", str(store), "feeds", *args])


def test_feeds_are_added_listed_and_removed_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    assert feeds(store, "add", "https://news.test/rss", "--every", "30m", "--source", "Test News") == 0
    assert "following https://news.test/rss every 30m" in capsys.readouterr().out
    assert feeds(store, "list") == 0
    listed = capsys.readouterr().out
    assert "https://news.test/rss" in listed and "every 30m, source Test News" in listed
    assert "last sync: never (new)" in listed
    assert feeds(store, "list", "--json") == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert (shown["url"], shown["every_s"], shown["source"]) == ("https://news.test/rss", 1800, "Test News")
    assert feeds(store, "remove", shown["feed_id"]) == 0
    assert feeds(store, "list") == 0
    assert "no feeds followed" in capsys.readouterr().out


def test_bad_feed_input_is_one_line_naming_the_feed_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    assert feeds(store, "add", "https://news.test/rss", "--every", "soon") == 2
    err = capsys.readouterr().err
    assert (
        err == "error: feed https://news.test/rss: every 'soon' is not an interval like 90s, 15m, 2h or 1d\n"
    )
    assert feeds(store, "remove", "https://nothing.test/rss") == 2
    assert "no followed feed 'https://nothing.test/rss'" in capsys.readouterr().err


def test_feeds_sync_shows_a_progress_bar_and_what_each_feed_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], feed_server: FeedServer
) -> None:
    store = tmp_path / "store"
    feed_server.items = [STORY]
    assert feeds(store, "add", feed_server.feed_url(), "--every", "1m") == 0
    assert feeds(store, "add", "http://127.0.0.1:9/closed.xml", "--every", "1m") == 0  # nothing listens
    capsys.readouterr()
    assert feeds(store, "sync") == 1  # one feed failed
    out, err = capsys.readouterr()
    assert f"{feed_server.feed_url()}: added 1, updated 0, unchanged 0, failed 0" in out
    assert "1/1" in err and "item" in err  # the progress bar of the feed that worked
    assert "failed: http://127.0.0.1:9/closed.xml: could not connect" in err
    assert feeds(store, "sync", feed_server.feed_url()) == 0
    assert f"{feed_server.feed_url()}: not modified" in capsys.readouterr().out
    assert feeds(store, "list") == 0
    listed = capsys.readouterr().out
    assert "(not modified)" in listed and "1 added in all" in listed
    assert "last error: http://127.0.0.1:9/closed.xml: could not connect" in listed
