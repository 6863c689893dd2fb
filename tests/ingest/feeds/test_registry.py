"""Followed feeds against a real RSS server on 127.0.0.1 whose feed changes between polls, with
the real model and a real embedded Chroma in tmp_path."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.core.errors import FeedError, FeedNotFoundError
from assistant.core.settings import Settings
from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder
from ingest.feeds.registry import FeedLeases, FeedRegistry, feed_id, format_every, parse_every
from ingest.feeds.schedule import FeedScheduler
from ingest.loading.articles import url_doc_id
from ingest.storage.store import NewsStore
from ingest.storage.versions import VersionArchive
from tests.feed_server import FeedItem, FeedServer, feed_server, run_feed_server

__all__ = ["feed_server"]

BAKERIES = FeedItem(
    "bakeries",
    "Testville approves fourteen bakeries",
    "The Testville zoning board approved fourteen new neighbourhood bakeries on Monday. "
    "It is the largest expansion in the history of the town. Critics said the decision ignored "
    "parking concerns on Main Street.",
)
FERRY = FeedItem(
    "ferry",
    "Quillport ferry gets a winter schedule",
    "The Quillport harbor commissioner announced a new ferry schedule for the winter season. "
    "The ferries will run every ninety minutes from the north pier. Tickets go on sale in December "
    "at the harbor office and online.",
    in_feed=False,  # the feed has a summary only: the page is fetched
)
LIBRARY = FeedItem(
    "library",
    "Library opens on Sundays",
    "The Testville public library will open on Sundays from next month. The council found the money "
    "in its cultural budget. Librarians welcomed the longer hours for students.",
)
ORCHARD = FeedItem(
    "orchard",
    "Orchard festival returns",
    "The Testville orchard festival returns this weekend with cider pressing and a pie contest. "
    "Organisers expect nine thousand visitors on the common.",
)


def feed_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings that let the fetcher reach the loopback test servers, started later on free ports."""
    values: dict[str, Any] = {
        "store_dir": tmp_path / "store",
        "feedback_path": tmp_path / "feedback.jsonl",
        "fetch_allow_private": True,  # any port of 127.0.0.1 but the server's own
        "feed_min_every_s": 0.5,
        "fetch_timeout_s": 3.0,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def scheduler(tmp_path: Path, embedder: Embedder) -> Iterator[FeedScheduler]:
    settings = feed_settings(tmp_path)
    components = IngestComponents.build(settings, embedder=embedder)
    running = FeedScheduler(settings.ingest, components.pipeline)
    yield running
    running.stop()


class EmbedSpy:
    """Records every text the real embedder is asked to embed."""

    def __init__(self, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts: list[str] = []
        real = embedder.embed

        def embed(texts: list[str], *args: Any, **kwargs: Any) -> Any:
            self.texts.extend(set(texts))  # the embedder embeds identical texts of one call once
            return real(texts, *args, **kwargs)

        monkeypatch.setattr(embedder, "embed", embed)

    def embedded(self, fragment: str) -> int:
        return sum(fragment in text for text in self.texts)


def article_of(store: NewsStore, server: FeedServer, item: FeedItem) -> Any:
    return store.get_article(url_doc_id(server.link(item)))


# --- feeds as data ----------------------------------------------------------------------------


def test_intervals_read_like_durations_and_bad_ones_name_the_feed() -> None:
    assert parse_every("15m", "https://x.test/feed", 60) == 900
    assert parse_every("90s", "https://x.test/feed", 60) == 90
    assert parse_every("2h", "https://x.test/feed", 60) == 7200
    assert format_every(900) == "15m"
    with pytest.raises(FeedError, match=r"https://x.test/feed: every '15x' is not an interval"):
        parse_every("15x", "https://x.test/feed", 60)
    with pytest.raises(FeedError, match="shorter than the 1m minimum"):
        parse_every("10s", "https://x.test/feed", 60)


def test_feeds_are_added_listed_changed_and_removed_in_the_store(tmp_path: Path) -> None:
    settings = feed_settings(tmp_path, feed_min_every_s=60)
    registry = FeedRegistry(NewsStore(settings.store), settings.ingest)
    first = registry.add("https://news.test/rss", "30m", source="Test News")
    registry.add("https://other.test/atom")
    assert [f.url for f in registry.list()] == ["https://news.test/rss", "https://other.test/atom"]
    assert registry.list()[1].every_s == 900  # the default, feed_every = 15m
    changed = registry.add("https://news.test/rss", "1h")
    assert (changed.every_s, changed.source, changed.added_at) == (3600, "Test News", first.added_at)
    assert registry.require(first.feed_id).url == "https://news.test/rss"  # by id as well as by URL
    registry.remove("https://news.test/rss")
    assert [f.url for f in FeedRegistry(NewsStore(settings.store), settings.ingest).list()] == [
        "https://other.test/atom"
    ]
    with pytest.raises(FeedNotFoundError, match=r"no followed feed 'https://news\.test/rss'"):
        registry.remove("https://news.test/rss")
    with pytest.raises(FeedError, match=r"'file:///etc/passwd': url must be an http"):
        registry.add("file:///etc/passwd")


def test_a_feed_read_back_from_the_store_equals_the_one_saved_times_included(tmp_path: Path) -> None:
    from ingest.feeds.registry import Feed

    settings = feed_settings(tmp_path)
    registry = FeedRegistry(NewsStore(settings.store), settings.ingest)
    awkward = 1795973077.6264021  # a float Chroma would give back as 1795973077.626402
    feed = Feed("https://news.test/rss", 60.0, added_at=awkward, next_sync_at=awkward + 60)
    registry.save(feed)
    assert registry.list() == [feed] and feed.added_at == 1795973077.626


# --- syncing ----------------------------------------------------------------------------------


def test_feed_that_changes_between_polls_ends_in_the_store_as_expected_and_nothing_is_embedded_twice(
    scheduler: FeedScheduler, feed_server: FeedServer, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = EmbedSpy(embedder, monkeypatch)
    store = scheduler.registry.store
    feed_server.items = [BAKERIES, FERRY, LIBRARY]
    feed = scheduler.registry.add(feed_server.feed_url(), "1m")

    first = scheduler.sync_now()[0]
    assert (first.ok, first.report.added, first.feed.items, first.feed.status) == (True, 3, 3, "ok")
    wait = first.feed.next_sync_at - first.feed.last_sync_at
    assert 60 * 0.9 - 0.01 <= wait <= 60 * 1.1 + 0.01  # the interval, moved by the jitter
    ferry = article_of(store, feed_server, FERRY)
    assert ferry.metadata["title"] == FERRY.title  # title, date, URL and outlet from the feed
    assert ferry.metadata["published"].startswith("2026-11-23")
    assert ferry.metadata["url"] == feed_server.link(FERRY)
    assert ferry.metadata["source"] == "Testville Gazette"
    assert ferry.metadata["x_text_from"] == "page" and "north pier" in ferry.text
    assert len(feed_server.requests_to("/articles/ferry.html")) == 1

    second = scheduler.sync_now()[0]  # nothing changed: the server answers 304
    assert second.not_modified and second.feed.status == "not modified" and second.feed.unchanged == 3
    last_poll = feed_server.requests_to("/feed.xml")[-1]
    assert last_poll.status == 304 and last_poll.headers["if-none-match"] == first.feed.etag
    assert last_poll.headers["if-modified-since"] == first.feed.last_modified
    assert len(feed_server.requests_to("/articles/ferry.html")) == 1  # the page is not fetched again

    edited = FeedItem(LIBRARY.guid, LIBRARY.title, LIBRARY.text.replace("Sundays", "Sundays and holidays"))
    feed_server.items = [FERRY, edited, ORCHARD]  # one new, one edited, one removed
    third = scheduler.sync_now()[0]
    assert (third.report.added, third.report.updated, third.report.unchanged) == (1, 1, 1)
    assert third.fetched_entries == 2  # only the new and the edited entry were looked at
    assert len(feed_server.requests_to("/articles/ferry.html")) == 1

    assert store.count()[0] == 4  # the removed item stays in the archive
    assert article_of(store, feed_server, BAKERIES) is not None
    library = article_of(store, feed_server, LIBRARY)
    assert "Sundays and holidays" in library.text
    history = VersionArchive(store).history(library.doc_id)
    assert len(history) == 1 and "holidays" not in history[0].text  # the edit is a new version
    memory = scheduler.registry.items(third.feed)
    assert memory["bakeries"].gone and not memory["orchard"].gone

    twice = [text for text, n in Counter(spy.texts).items() if n > 1]
    assert twice and all(text in library.text or text == LIBRARY.title for text in twice)  # its new version
    for item in (BAKERIES, FERRY, ORCHARD, LIBRARY):
        assert spy.texts.count(item.title) == (2 if item is LIBRARY else 1), item.guid  # once per version
    assert scheduler.registry.require(feed.url).total_added == 4


def test_without_304s_unchanged_entries_are_still_neither_fetched_nor_embedded_again(
    scheduler: FeedScheduler, feed_server: FeedServer, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.conditional = False  # a server that ignores If-None-Match
    feed_server.items = [BAKERIES, FERRY]
    scheduler.registry.add(feed_server.feed_url(), "1m")
    scheduler.sync_now()
    spy = EmbedSpy(embedder, monkeypatch)
    again = scheduler.sync_now()[0]
    assert feed_server.requests_to("/feed.xml")[-1].status == 200 and not again.not_modified
    assert (again.fetched_entries, again.report.added, again.report.unchanged) == (0, 0, 2)
    assert len(feed_server.requests_to("/articles/ferry.html")) == 1 and spy.texts == []


def test_an_entry_whose_page_failed_keeps_its_summary_until_the_next_sync_gets_the_page(
    scheduler: FeedScheduler, feed_server: FeedServer
) -> None:
    feed_server.items = [BAKERIES, FERRY]
    feed_server.missing_pages = {"ferry"}  # the page of the summary-only entry is not there yet
    feed = scheduler.registry.add(feed_server.feed_url(), "1m")
    first = scheduler.sync_now()[0]
    assert first.report.added == 2 and first.feed.status == "ok"
    ferry = article_of(scheduler.registry.store, feed_server, FERRY)
    assert ferry.metadata["x_text_from"] == "summary" and "north pier" not in ferry.text
    assert "ferry.html: page not fetched, stored the feed's summary for now" in first.feed.last_error
    feed_server.missing_pages = set()
    second = scheduler.sync_now()[0]  # the same feed, yet not a 304: the page is tried again
    assert not second.not_modified and (second.fetched_entries, second.report.updated) == (1, 1)
    ferry = article_of(scheduler.registry.store, feed_server, FERRY)
    assert ferry.metadata["x_text_from"] == "page" and "north pier" in ferry.text
    assert scheduler.registry.require(feed.url).last_error == ""
    third = scheduler.sync_now()[0]
    assert third.not_modified and len(feed_server.requests_to("/articles/ferry.html")) == 2


def test_source_name_given_to_a_feed_replaces_its_outlet(
    scheduler: FeedScheduler, feed_server: FeedServer
) -> None:
    feed_server.items = [BAKERIES]
    scheduler.registry.add(feed_server.feed_url(), "1m", source="TG Wire")
    scheduler.sync_now()
    assert article_of(scheduler.registry.store, feed_server, BAKERIES).metadata["source"] == "TG Wire"


def test_failing_feeds_get_their_error_and_a_backoff_while_the_others_are_synced(
    scheduler: FeedScheduler, feed_server: FeedServer
) -> None:
    broken_servers = [run_feed_server(title) for title in ("Err", "Malformed", "Slow")]
    error, malformed, slow = (next(s) for s in broken_servers)
    try:
        error.status = 500
        malformed.malformed = True
        slow.delay_s = 4.0  # the fetch times out after 3 s
        slow.items = error.items = [BAKERIES]
        feed_server.items = [ORCHARD]
        for server in (error, malformed, slow, feed_server):
            scheduler.registry.add(server.feed_url(), "1m")
        started = time.time()
        results = {r.feed.url: r for r in scheduler.sync_now()}
    finally:
        for gen in broken_servers:
            gen.close()
    assert results[feed_server.feed_url()].report.added == 1
    assert article_of(scheduler.registry.store, feed_server, ORCHARD) is not None
    expected = [(error, "HTTP 500"), (malformed, "not an RSS/Atom feed"), (slow, "timed out after 3 s")]
    for server, message in expected:
        feed = scheduler.registry.require(server.feed_url())
        assert feed.status == "failed" and feed.failures == 1, feed
        assert message in feed.last_error and server.feed_url() in feed.last_error
        assert feed.next_sync_at >= started + 60 * 0.9  # retried later, not at once
    again = scheduler.syncer.backoff(60, 3)
    assert 240 * 0.9 <= again <= 240 * 1.1  # the wait doubles per failure


def test_scheduler_syncs_due_feeds_on_its_own_and_a_new_item_lands_within_one_interval(
    scheduler: FeedScheduler, feed_server: FeedServer
) -> None:
    feed_server.items = [BAKERIES]
    scheduler.registry.add(feed_server.feed_url(), "1s")
    scheduler.start()
    store = scheduler.registry.store
    deadline = time.monotonic() + 20
    while article_of(store, feed_server, BAKERIES) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert article_of(store, feed_server, BAKERIES) is not None
    feed_server.items = [BAKERIES, ORCHARD]
    added_at = time.monotonic()
    while article_of(store, feed_server, ORCHARD) is None and time.monotonic() < added_at + 20:
        time.sleep(0.1)
    assert article_of(store, feed_server, ORCHARD) is not None
    assert time.monotonic() - added_at < 1 * 1.1 + 5


@pytest.mark.parametrize("concurrency", [1, 2])
def test_the_scheduler_syncs_at_most_feeds_concurrency_feeds_at_once(
    tmp_path: Path, embedder: Embedder, concurrency: int
) -> None:
    settings = feed_settings(tmp_path, feeds_concurrency=concurrency)
    scheduler = FeedScheduler(settings.ingest, IngestComponents.build(settings, embedder=embedder).pipeline)
    servers = [run_feed_server(title) for title in ("One", "Two")]
    feeds = [next(server) for server in servers]
    try:
        for feed in feeds:
            feed.items, feed.delay_s = [BAKERIES], 0.8
            scheduler.registry.add(feed.feed_url(), "1m")
        scheduler.start()
        deadline = time.monotonic() + 15
        while any(not feed.requests_to("/feed.xml") for feed in feeds) and time.monotonic() < deadline:
            time.sleep(0.05)
        scheduler.stop()
    finally:
        for server in servers:
            server.close()
    first, second = (feed.requests_to("/feed.xml")[0] for feed in feeds)
    overlap = min(first.ended, second.ended) > max(first.started, second.started)
    assert overlap == (concurrency == 2)


def test_a_bug_in_one_scheduled_sync_is_shown_on_that_feed_and_the_others_go_on(
    scheduler: FeedScheduler, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.items = [ORCHARD]
    good = scheduler.registry.add(feed_server.feed_url(), "1m")
    buggy = scheduler.registry.add("http://127.0.0.1:9/buggy.xml", "1m")
    real_poll = scheduler.syncer._poll

    def poll(feed: Any, progress: Any) -> Any:
        if feed.url == buggy.url:
            raise RuntimeError("a bug")  # not a NewsdeskError: a bug, not bad input
        return real_poll(feed, progress)

    monkeypatch.setattr(scheduler.syncer, "_poll", poll)
    started = time.time()
    scheduler.start()
    deadline = time.monotonic() + 20
    while scheduler.registry.require(buggy.url).status != "failed" and time.monotonic() < deadline:
        time.sleep(0.1)
    while scheduler.registry.require(good.url).status != "ok" and time.monotonic() < deadline:
        time.sleep(0.1)
    failed = scheduler.registry.require(buggy.url)
    assert failed.last_error == f"feed {buggy.url}: internal error while syncing" and failed.failures == 1
    assert failed.next_sync_at >= started + 60 * 0.9
    assert scheduler.registry.require(good.url).total_added == 1


# --- the lease --------------------------------------------------------------------------------


def test_only_one_of_many_contenders_gets_a_feeds_lease_until_it_is_released(tmp_path: Path) -> None:
    settings = feed_settings(tmp_path)
    store = NewsStore(settings.store)
    leases = [FeedLeases(store, settings.ingest) for _ in range(6)]
    won: list[str] = []
    barrier = threading.Barrier(len(leases))

    def contend(i: int) -> None:
        barrier.wait()
        if leases[i].acquire("feed-1", f"process-{i}"):
            won.append(f"process-{i}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(leases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    holder = won[0]
    others = [f"process-{i}" for i in range(len(leases)) if f"process-{i}" != holder]
    assert not leases[0].acquire("feed-1", others[0])
    assert leases[0].acquire("feed-1", holder)  # the holder renews
    leases[0].release("feed-1", holder)
    assert leases[1].acquire("feed-1", others[0])
    current = leases[2].current("feed-1")
    assert current is not None and current.owner == others[0]


def test_an_expired_lease_can_be_taken_over(tmp_path: Path) -> None:
    settings = feed_settings(tmp_path, feeds_lease_s=0.3)
    leases = FeedLeases(NewsStore(settings.store), settings.ingest)
    assert leases.acquire(feed_id("https://x.test/rss"), "crashed")
    assert not leases.acquire(feed_id("https://x.test/rss"), "second")
    time.sleep(0.4)
    assert leases.acquire(feed_id("https://x.test/rss"), "second")


def test_a_long_sync_renews_its_lease_as_it_goes(tmp_path: Path, embedder: Embedder) -> None:
    settings = feed_settings(tmp_path, feeds_lease_s=0.6)
    scheduler = FeedScheduler(settings.ingest, IngestComponents.build(settings, embedder=embedder).pipeline)
    feed = scheduler.registry.add("https://news.test/rss", "1m")
    assert scheduler.leases.acquire(feed.feed_id, scheduler.owner)
    taken = scheduler.leases.current(feed.feed_id)
    step = scheduler.renewing(feed, None)
    step(1, 3)  # soon after taking it: no renewal yet
    assert scheduler.leases.current(feed.feed_id) == taken
    time.sleep(0.25)
    step(2, 3)
    renewed = scheduler.leases.current(feed.feed_id)
    assert taken is not None and renewed is not None and renewed.until > taken.until
    assert not scheduler.leases.acquire(feed.feed_id, "another-process")


def test_a_feed_whose_lease_another_process_holds_is_skipped_not_synced_twice(
    scheduler: FeedScheduler, feed_server: FeedServer
) -> None:
    feed_server.items = [BAKERIES]
    feed = scheduler.registry.add(feed_server.feed_url(), "1m")
    assert scheduler.leases.acquire(feed.feed_id, "another-process")
    result = scheduler.sync_now()[0]
    assert result.skipped and "being synced by another-process" in result.error
    assert feed_server.requests_to("/feed.xml") == []


def test_backup_and_restore_carry_the_followed_feeds_and_their_item_memory(tmp_path: Path) -> None:
    from ingest.feeds.registry import ItemMemory
    from ingest.storage.backup import backup_store, restore_store

    settings = feed_settings(tmp_path, feed_min_every_s=60)
    registry = FeedRegistry(NewsStore(settings.store), settings.ingest)
    feed = registry.add("https://news.test/rss", "1h", source="Test News")
    registry.remember(feed, [ItemMemory("guid-1", "fingerprint", "doc-1", 1.0)])
    backup_store(settings.store, tmp_path / "backup")
    elsewhere = feed_settings(tmp_path, store_dir=tmp_path / "restored", feed_min_every_s=60)
    restore_store(elsewhere.store, tmp_path / "backup")
    restored = FeedRegistry(NewsStore(elsewhere.store), elsewhere.ingest)
    assert restored.list() == [feed]
    assert restored.items(feed) == {"guid-1": ItemMemory("guid-1", "fingerprint", "doc-1", 1.0)}
