"""Each named archive's followed feeds, synced by the serving process (issue 28): the real app served
by uvicorn on 127.0.0.1 with real feed schedulers (real model, real Chroma in tmp_path) and a real
RSS server on 127.0.0.1."""

from __future__ import annotations

import time
from typing import Any

import pytest

from assistant.archives import Archives
from assistant.core.errors import ArchiveNotFoundError
from assistant.service import Assistant
from ingest.embedding.embedder import Embedder
from ingest.loading.articles import url_doc_id
from ingest.storage.archives import ArchiveRegistry
from tests.assistant.conftest_api import sample_assistant, serve_app, wait_until
from tests.assistant.frontends.http.test_feeds import FERRY, QUESTION, TRAM, call, settings_for
from tests.feed_server import FeedServer, feed_server

__all__ = ["feed_server"]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Assistant:
    return sample_assistant(tmp_path_factory.mktemp("archive-feeds"), embedder)


def feeds_of(port: int, archive: str) -> list[dict[str, Any]]:
    listed = call(port, "GET", f"/api/archives/{archive}/feeds")
    assert listed.status == 200, listed.body
    feeds: list[dict[str, Any]] = listed.json()
    return feeds


def cited(answer: dict[str, Any]) -> set[str]:
    return {c["doc_id"] for c in answer.get("citations", [])}


def test_a_named_archives_feed_is_synced_on_its_schedule_and_answered_from_that_archive_only(
    assistant: Assistant, feed_server: FeedServer
) -> None:
    feed_server.items = [FERRY]
    ferry_id = url_doc_id(feed_server.link(FERRY))
    with serve_app(assistant, settings_for(assistant)) as served:
        port = served.port
        assert call(port, "POST", "/api/archives", body={"name": "harbor"}).status == 201
        added = call(
            port, "POST", "/api/archives/harbor/feeds", body={"url": feed_server.feed_url(), "every": "2s"}
        )
        assert added.status == 200, added.body
        wait_until(lambda: feeds_of(port, "harbor")[0]["total_added"] == 1, "the first scheduled sync", 30)
        feed_server.items = [FERRY, TRAM]  # the next sync, on the schedule, adds it: no sync asked for
        wait_until(lambda: feeds_of(port, "harbor")[0]["total_added"] == 2, "the next scheduled sync", 30)
        assert call(port, "GET", "/api/feeds").json() == []  # the default archive follows nothing
        answer = call(port, "POST", "/api/archives/harbor/ask", body={"question": QUESTION}).json()
        default = call(port, "POST", "/api/ask", body={"question": QUESTION}).json()
    assert answer["grounded"] and ferry_id in cited(answer), answer
    assert {c["archive"] for c in answer["citations"]} == {"harbor"}
    assert ferry_id not in cited(default) and "ninety minutes" not in default["answer"]


def test_without_feeds_sync_no_archives_feed_is_synced(assistant: Assistant, feed_server: FeedServer) -> None:
    feed_server.items = [FERRY]
    with serve_app(assistant, settings_for(assistant, feeds_sync=False)) as served:
        port = served.port
        assert call(port, "POST", "/api/archives", body={"name": "quiet"}).status == 201
        body = {"url": feed_server.feed_url(), "every": "1s"}
        assert call(port, "POST", "/api/archives/quiet/feeds", body=body).status == 200
        time.sleep(3.0)  # three intervals: a running scheduler would have synced it
        (feed,) = feeds_of(port, "quiet")
    assert feed["status"] == "new" and feed_server.requests_to("/feed.xml") == []


def test_archives_made_or_removed_elsewhere_are_picked_up_and_a_removed_one_stops_its_schedule(
    assistant: Assistant,
) -> None:
    archives = Archives(settings_for(assistant), assistant)  # a look every second
    registry = ArchiveRegistry(archives.settings.store)  # what `newsdesk archives` writes to
    assert archives.scheduled() == []  # nothing runs before the app serves
    archives.start_feeds()
    try:
        assert "default" in archives.scheduled()
        registry.create("wire")  # made by the CLI: no restart
        wait_until(lambda: "wire" in archives.scheduled(), "the new archive's schedule", 20)
        wire = archives.feeds("wire")
        archives.remove("wire")  # through the app (DELETE /api/archives/wire)
        assert not wire.running and "wire" not in archives.scheduled()
        registry.create("desk")
        wait_until(lambda: "desk" in archives.scheduled(), "the other archive's schedule", 20)
        desk = archives.feeds("desk")
        registry.remove("desk", delete_data=True)  # removed by another process
        wait_until(lambda: "desk" not in archives.scheduled(), "the removed archive's schedule to stop", 20)
        assert not desk.running
        with pytest.raises(ArchiveNotFoundError):
            archives.feeds("desk")
    finally:
        archives.close()
    assert archives.scheduled() == []


def test_the_metrics_label_each_feed_with_its_archive(assistant: Assistant) -> None:
    from assistant.frontends.http.metrics import ArchiveCollector

    archives = Archives(settings_for(assistant), assistant)
    ArchiveRegistry(archives.settings.store).create("gauges")
    try:
        archives.feeds("gauges").registry.add("https://news.test/gauges.xml", "1h")
        archives.feeds("default").registry.add("https://news.test/default.xml", "1h")
        collector = ArchiveCollector(
            assistant.components.store, archives.feeds("default").registry, archives.feed_registries
        )
        (failures,) = [m for m in collector.collect() if m.name == "newsdesk_feed_consecutive_failures"]
        labelled = {s.labels["archive"] for s in failures.samples}
    finally:
        archives.feeds("default").registry.remove("https://news.test/default.xml")
        archives.remove("gauges")
    assert labelled == {"default", "gauges"}
