"""Web archives as a source: WARC and ARC files the tests write with warcio (or by hand, for ARC),
read as a stream of captures. Articles keep their target URL and dates; everything else is
skipped with a reason; a truncated or corrupt file ends with an error naming its byte offset."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from assistant.core.settings import Settings
from assistant.core.types import Article, LoadFailure, Skipped
from ingest.loading.articles import Item, url_doc_id
from ingest.loading.sources import iter_articles
from tests.ingest.pages import (
    WarcFile,
    arc_file,
    article_html,
    headlines,
    index_html,
    news_article_ld,
    story,
)

SITE = "https://gazette.test"
HARBOUR = f"{SITE}/news/2024/04/30/harbour-plan"
FERRY = f"{SITE}/news/ferry-schedule"


def load(path: Path, settings: Settings | None = None, meter: list[int] | None = None) -> list[Item]:
    chosen = settings or Settings()

    def meters(name: str, total: int) -> object:
        assert (name, total) == (path.name, path.stat().st_size)
        return meter.append if meter is not None else (lambda done: None)

    return list(iter_articles([str(path)], chosen.ingest, chosen.server, meters=meters))  # type: ignore[arg-type]


def crawl(path: Path, gz: bool = True) -> WarcFile:
    """A small crawl of a news site: two articles, and every kind of capture that is none."""
    warc = WarcFile(path, gz)
    warc.warcinfo()
    warc.request(HARBOUR)
    dated = news_article_ld("Harbour plan approved", datePublished="2024-04-30T07:00:00Z")
    warc.response(HARBOUR, article_html("Harbour plan approved", story("harbour"), json_ld=dated))
    warc.response(FERRY, article_html("Ferry schedule", story("ferry", "Quillport")), "2024-05-02T06:00:00Z")
    warc.response(f"{SITE}/local/", index_html("Local news", headlines(30)))
    warc.redirect("http://gazette.test/news/ferry", FERRY)
    warc.response(f"{SITE}/news/gone", "<html><body>Not found</body></html>", status="404 Not Found")
    warc.response(f"{SITE}/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(2000), content_type="image/png")
    stub = news_article_ld("Members only", isAccessibleForFree="False")
    warc.response(
        f"{SITE}/news/members", article_html("Members only", ["Subscribe to read more."], json_ld=stub)
    )
    warc.revisit(HARBOUR, "2024-05-03T10:00:00Z")
    warc.close()
    return warc


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_a_warc_gives_its_articles_with_url_and_dates_and_skips_every_other_capture(
    tmp_path: Path, gz: bool
) -> None:
    path = crawl(tmp_path / ("crawl.warc.gz" if gz else "crawl.warc"), gz).path
    items = load(path)
    found = [item for item in items if isinstance(item, Article)]
    assert [a.url for a in found] == [HARBOUR, FERRY]
    harbour, ferry = found
    assert (harbour.doc_id, ferry.doc_id) == (url_doc_id(HARBOUR), url_doc_id(FERRY))
    assert harbour.published == "2024-04-30T07:00:00+00:00"  # the page's own date wins ...
    assert ferry.published == "2024-05-02T06:00:00+00:00"  # ... else the capture's
    assert harbour.extra["captured"] == "2024-05-01T10:00:00+00:00"
    assert harbour.title == "Harbour plan approved" and "approve the harbour plan" in harbour.text
    assert ferry.source == "gazette.test" and harbour.origin.startswith(f"{path}@")
    skipped = Counter(item.reason for item in items if isinstance(item, Skipped))
    assert skipped == {
        "index page": 1,
        "redirect": 1,
        "HTTP 404": 1,
        "not HTML": 1,
        "paywall stub": 1,
        "revisit (the payload of an earlier capture)": 1,
    }
    assert not [item for item in items if isinstance(item, LoadFailure)]


def test_progress_is_told_in_bytes_of_the_file_up_to_its_size(tmp_path: Path) -> None:
    path = crawl(tmp_path / "crawl.warc.gz").path
    seen: list[int] = []
    load(path, meter=seen)
    assert seen == sorted(seen) and len(seen) >= 8
    assert seen[-1] == path.stat().st_size


@pytest.mark.parametrize("gz", [True, False], ids=["arc.gz", "arc"])
def test_arc_files_are_read_like_warc_files(tmp_path: Path, gz: bool) -> None:
    page = article_html("Harbour plan approved", story("harbour"))
    path = arc_file(tmp_path / ("old.arc.gz" if gz else "old.arc"), [(FERRY, "20090102030405", page)], gz)
    (article,) = load(path)
    assert isinstance(article, Article)
    assert (article.url, article.published) == (FERRY, "2009-01-02T03:04:05+00:00")


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
@pytest.mark.parametrize("into", ["headers", "payload"])
def test_a_truncated_record_is_an_error_at_its_offset_after_the_records_before_it(
    tmp_path: Path, gz: bool, into: str
) -> None:
    warc = WarcFile(tmp_path / "whole", gz)
    for n, town in enumerate(("Testville", "Quillport", "Marrowby")):
        warc.response(f"{SITE}/news/{n}", article_html(f"Story {n}", story(f"plan {n}", town)))
    whole = warc.close().read_bytes()
    cut = tmp_path / ("cut.warc.gz" if gz else "cut.warc")
    kept = 100 if into == "headers" else (len(whole) - warc.offsets[2]) // 2
    cut.write_bytes(whole[: warc.offsets[2] + kept])
    items = load(cut)
    assert [item.url for item in items if isinstance(item, Article)] == [f"{SITE}/news/0", f"{SITE}/news/1"]
    (failure,) = [item for item in items if isinstance(item, LoadFailure)]
    assert failure.source == str(cut)
    assert f"at byte offset {warc.offsets[2]:,}" in failure.error
    assert "truncated" in failure.error and "the records before it were read" in failure.error


def test_a_corrupt_gzip_member_is_an_error_at_its_offset(tmp_path: Path) -> None:
    warc = WarcFile(tmp_path / "crawl.warc.gz")
    for n in range(3):
        warc.response(f"{SITE}/news/{n}", article_html(f"Story {n}", story(f"plan {n}")))
    data = bytearray(warc.close().read_bytes())
    middle = warc.offsets[1] + 30
    data[middle : middle + 40] = bytes(byte ^ 0xFF for byte in data[middle : middle + 40])
    path = tmp_path / "corrupt.warc.gz"
    path.write_bytes(bytes(data))
    items = load(path)
    assert [item.url for item in items if isinstance(item, Article)] == [f"{SITE}/news/0"]
    (failure,) = [item for item in items if isinstance(item, LoadFailure)]
    assert f"at byte offset {warc.offsets[1]:,}" in failure.error and failure.source == str(path)


def test_a_big_capture_is_never_held_in_memory_and_a_big_page_fails_alone(tmp_path: Path) -> None:
    warc = WarcFile(tmp_path / "big.warc", gz=False)  # (gzip: warcio unpacks 16 KB blocks at a time)
    warc.response(f"{SITE}/video.mp4", bytes(24 * 1024 * 1024), content_type="video/mp4")
    warc.response(f"{SITE}/news/long", article_html("Long read", story("long") * 40))
    warc.response(FERRY, article_html("Ferry schedule", story("ferry")))
    path = warc.close()
    tracemalloc.start()
    try:
        items = load(path, Settings(max_file_bytes=20_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"{peak:,} bytes held while reading a 24 MB capture"
    assert isinstance(items[0], Skipped) and items[0].reason == "not HTML"
    assert (
        isinstance(items[1], LoadFailure)
        and "over the 19.5 KB limit (NEWSDESK_MAX_FILE_BYTES)" in items[1].error
    )
    assert isinstance(items[2], Article) and items[2].url == FERRY


def test_a_capture_no_newer_than_the_stored_one_is_skipped_before_it_is_extracted(tmp_path: Path) -> None:
    warc = WarcFile(tmp_path / "crawl.warc.gz")
    for date in ("2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z", "2024-05-03T10:00:00Z"):
        warc.response(FERRY, article_html("Ferry schedule", story("ferry")), date)
    path = warc.close()
    stored = {url_doc_id(FERRY): {"x_captured": "2024-05-02T10:00:00+00:00"}}
    settings = Settings()
    items = list(iter_articles([str(path)], settings.ingest, settings.server, lambda ids: stored))
    assert [getattr(item, "reason", "article") for item in items] == [
        "older than the stored version",
        "already stored",
        "article",
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [(b"", "empty file"), (b"<html><body>A page</body></html>", "not a WARC or ARC file (")],
)
def test_a_file_that_is_no_web_archive_fails_alone(tmp_path: Path, data: bytes, error: str) -> None:
    path = tmp_path / "odd.warc"
    path.write_bytes(data)
    (failure,) = load(path)
    assert isinstance(failure, LoadFailure)
    assert failure.source == str(path) and failure.error.startswith(error)


def test_what_warcio_prints_about_a_damaged_record_is_logged_not_printed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    warc = WarcFile(tmp_path / "whole.warc", gz=False)
    for n in range(3):
        warc.response(f"{SITE}/news/{n}", article_html(f"Story {n}", story(f"plan {n}")))
    data = warc.close().read_bytes()
    head = data[warc.offsets[1] : data.index(b"\r\n\r\n", warc.offsets[1])]
    declared = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    short = head.replace(b"Content-Length: %d" % declared, b"Content-Length: %d" % (declared - 10))
    path = tmp_path / "short.warc"  # the second record says it is 10 bytes shorter than it is
    path.write_bytes(data[: warc.offsets[1]] + short + data[warc.offsets[1] + len(head) :])
    items = load(path)
    assert [type(item) for item in items] == [Article, Article, Article]  # warcio reads on
    assert capfd.readouterr() == ("", "")  # warcio writes its warnings itself: not over --json or bars
    assert "Record not followed by newline" in caplog.text
