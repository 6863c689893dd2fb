"""Two syncing schedulers sharing a real ``chroma run`` server (each its own client, as two
processes would): the lease in the store lets exactly one of them sync a feed at a time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder
from ingest.feeds.schedule import FeedScheduler
from ingest.loading.articles import url_doc_id
from tests.chroma_server import ChromaServer, chroma_server, new_collection
from tests.feed_server import FeedItem, FeedServer, feed_server

__all__ = ["chroma_server", "feed_server"]
pytestmark = pytest.mark.server

STORY = FeedItem(
    "tram",
    "Council votes for a tram",
    "The Testville council voted on Tuesday to build a tram line along the river. "
    "Construction starts in spring and should take two years.",
)


def test_two_schedulers_on_one_chroma_server_never_sync_the_same_feed_at_once(
    chroma_server: ChromaServer, feed_server: FeedServer, embedder: Embedder, tmp_path: Path
) -> None:
    feed_server.items = [STORY]
    feed_server.delay_s = 0.4  # each poll takes a while: overlapping syncs would be seen
    collection = new_collection()
    schedulers = []
    for _ in range(2):
        settings = chroma_server.settings(
            tmp_path, collection, fetch_allow_private=True, feed_min_every_s=0.5, feeds_check_s=0.2
        )
        schedulers.append(
            FeedScheduler(settings.ingest, IngestComponents.build(settings, embedder=embedder).pipeline)
        )
    schedulers[0].registry.add(feed_server.feed_url(), "1s")
    for scheduler in schedulers:
        scheduler.start()
    try:
        time.sleep(6)
    finally:
        for scheduler in schedulers:
            scheduler.stop()
    polls = feed_server.requests_to("/feed.xml")
    assert len(polls) >= 3  # it was synced on schedule ...
    assert feed_server.most_in_flight == 1  # ... by one process at a time
    assert len(polls) <= 6 / 1 * 1.2 + 1  # and not once per scheduler
    store = schedulers[0].registry.store
    assert store.count() == (1, 2)  # one article with its two sentences, stored once
    assert store.get_article(url_doc_id(feed_server.link(STORY))) is not None
