"""Bounded work per file: pages of a PDF, characters and sentences of an article, seconds of
extraction. A small hostile file fails alone, naming itself and the limit; the rest of its batch
(a `newsdesk ingest` run, an upload, a feed sync) is stored and nothing stored is lost."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject
from reportlab.pdfgen import canvas

from assistant.core.settings import Settings
from assistant.core.types import Article, LoadFailure
from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder
from ingest.feeds.schedule import FeedScheduler
from ingest.loading.articles import Item
from ingest.loading.sources import iter_articles
from ingest.loading.uploads import SavedUpload, load_uploads
from tests.feed_server import FeedItem, FeedServer, feed_server
from tests.ingest.feeds.test_registry import EmbedSpy

__all__ = ["feed_server"]

GOOD = "The harbour council approved the flood barrier on Tuesday.\nWork starts in May.\n"
PAGE_TEXT = "The same sentence is printed on every page of this report."
SIXTY_THOUSAND_PAGES = "PDF has 60,000 pages, over the limit of 500 (NEWSDESK_MAX_PDF_PAGES)"


def repeated_page_pdf(path: Path, pages: int, declared: int | None = None) -> Path:
    """A PDF whose page tree lists one page object ``pages`` times (about 6 bytes a page: 360 KB
    for 60,000) and says it has ``declared`` pages (default: ``pages``)."""
    one = io.BytesIO()
    pdf = canvas.Canvas(one, invariant=True)
    pdf.drawString(72, 720, PAGE_TEXT)
    pdf.showPage()
    pdf.save()
    writer = PdfWriter(clone_from=PdfReader(one))
    tree = writer.root_object["/Pages"].get_object()
    assert isinstance(tree, DictionaryObject)
    kids = tree["/Kids"]
    assert isinstance(kids, ArrayObject)
    tree[NameObject("/Kids")] = ArrayObject([kids[0]] * pages)
    tree[NameObject("/Count")] = NumberObject(pages if declared is None else declared)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def distinct_pages_pdf(path: Path, pages: int, lines: int = 1) -> Path:
    pdf = canvas.Canvas(str(path), invariant=True)
    for number in range(pages):
        for line in range(lines):
            pdf.drawString(72, 720 - 14 * line, f"Page {number} line {line} of the long annual report.")
        pdf.showPage()
    pdf.save()
    return path


def load(settings: Settings, *sources: Path) -> list[Item]:
    return list(iter_articles([str(s) for s in sources], settings.ingest, settings.server))


def failures(items: list[Item]) -> dict[str, str]:
    return {item.source: item.error for item in items if isinstance(item, LoadFailure)}


@pytest.fixture
def stored(components: IngestComponents, tmp_path: Path) -> Iterator[IngestComponents]:
    """Components whose store already holds one article (``earlier``), which must survive."""
    earlier = tmp_path / "earlier.txt"
    earlier.write_text("An earlier article about the ferry timetable.\nIt is already stored.\n")
    assert components.pipeline.run([str(earlier)], show_progress=False).added == 1
    yield components


def test_pdf_repeating_one_page_60000_times_is_refused(stored: IngestComponents, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    bad = repeated_page_pdf(folder / "bomb.pdf", 60_000)
    assert bad.stat().st_size < 400_000
    (folder / "good.txt").write_text(GOOD)
    started = time.monotonic()
    report = stored.pipeline.run([str(folder)], show_progress=False)
    assert time.monotonic() - started < 20  # it took 157 s, and 600 MB more memory, before the limit
    assert [(f.source, f.error) for f in report.failed] == [(str(bad), SIXTY_THOUSAND_PAGES)]
    assert (report.added, report.sentences) == (1, 2)
    assert stored.store.count() == (2, 4)  # the earlier article and the good file, nothing of the PDF


def test_pdf_lying_about_its_page_count_is_refused_before_any_text_is_extracted(tmp_path: Path) -> None:
    bad = repeated_page_pdf(tmp_path / "liar.pdf", 60_000, declared=1)
    started = time.monotonic()
    assert failures(load(Settings(), bad)) == {
        str(bad): "PDF has more than 500 pages, over the limit of 500 (NEWSDESK_MAX_PDF_PAGES)"
    }
    assert time.monotonic() - started < 5


def test_pdf_at_the_page_limit_is_read_whole(tmp_path: Path) -> None:
    pdf = repeated_page_pdf(tmp_path / "ten.pdf", 10)
    (article,) = load(Settings(max_pdf_pages=10), pdf)
    assert isinstance(article, Article) and article.text.count(PAGE_TEXT) == 10


def test_pdf_text_over_the_character_limit_stops_at_the_page_that_passes_it(tmp_path: Path) -> None:
    pdf = distinct_pages_pdf(tmp_path / "report.pdf", 40, lines=10)
    reason = failures(load(Settings(max_article_chars=2_000), pdf))[str(pdf)]
    assert reason == (
        "PDF text has more than 2,000 characters (at page 5), over the limit of 2,000 "
        "(NEWSDESK_MAX_ARTICLE_CHARS)"
    )


def test_pdf_whose_extraction_outlasts_the_time_limit_is_refused(tmp_path: Path) -> None:
    pdf = distinct_pages_pdf(tmp_path / "slow.pdf", 400, lines=20)
    started = time.monotonic()
    reason = failures(load(Settings(extract_timeout_s=0.2), pdf))[str(pdf)]
    assert reason.startswith("extracting the PDF's text took more than 0.2 s (at page ")
    assert reason.endswith("over the limit of 0.2 s (NEWSDESK_EXTRACT_TIMEOUT_S)")
    assert time.monotonic() - started < 5


def test_article_with_more_sentences_than_the_limit_is_refused_before_embedding(
    settings: Settings, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = settings.model_copy(update={"max_article_sentences": 50})
    components = IngestComponents.build(limited, embedder=embedder)
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "a1", "text": "The first version of the story."}\n')
    components.pipeline.run([str(rows)], show_progress=False)
    long_text = "\n".join(f"Sentence {n} of a story that never ends." for n in range(51))
    rows.write_text(
        "\n".join(json.dumps(row) for row in ({"id": "a1", "text": long_text}, {"id": "a2", "text": GOOD}))
    )
    spy = EmbedSpy(embedder, monkeypatch)
    report = components.pipeline.run([str(rows)], show_progress=False)
    assert [(f.source, f.error) for f in report.failed] == [
        (f"{rows}:1", "article has 51 sentences, over the limit of 50 (NEWSDESK_MAX_ARTICLE_SENTENCES)")
    ]
    assert report.added == 1 and spy.embedded("never ends") == 0 and spy.embedded("flood barrier") > 0
    assert components.store.require_article("a1").text == "The first version of the story."


def test_article_over_the_character_limit_fails_alone(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    limited = settings.model_copy(update={"max_article_chars": 1_000})
    components = IngestComponents.build(limited, embedder=embedder)
    long_file, good = tmp_path / "long.txt", tmp_path / "good.txt"
    long_file.write_text("A word. " * 200)
    good.write_text(GOOD)
    report = components.pipeline.run([str(long_file), str(good)], show_progress=False)
    too_long = "article text has 1,600 characters, over the limit of 1,000 (NEWSDESK_MAX_ARTICLE_CHARS)"
    assert [(f.source, f.error) for f in report.failed] == [(str(long_file), too_long)]
    assert report.added == 1


def test_upload_of_a_pdf_repeating_one_page_60000_times_fails_alone(
    stored: IngestComponents, tmp_path: Path
) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    bomb = repeated_page_pdf(folder / "bomb.pdf", 60_000)
    (folder / "good.txt").write_text(GOOD)
    uploads = [SavedUpload("bomb.pdf", bomb), SavedUpload("good.txt", folder / "good.txt")]
    loaded = load_uploads(uploads, stored.pipeline.settings)
    assert [(f.source, f.error) for f in loaded.failures] == [("bomb.pdf", SIXTY_THOUSAND_PAGES)]
    report = stored.pipeline.ingest_articles(loaded.articles)
    assert (report.added, report.failed) == (1, [])
    assert stored.store.count() == (2, 4)


def test_feed_entry_with_too_many_sentences_fails_while_the_other_entries_land(
    settings: Settings, embedder: Embedder, feed_server: FeedServer
) -> None:
    limited = settings.model_copy(update={"max_article_sentences": 20, "fetch_allow_private": True})
    scheduler = FeedScheduler(limited.ingest, IngestComponents.build(limited, embedder=embedder).pipeline)
    endless = " ".join(f"Sentence {n} of a story that never ends." for n in range(21))
    feed_server.items = [
        FeedItem("endless", "Endless", endless),
        FeedItem("barrier", "Barrier", GOOD.replace("\n", " ").strip()),
    ]
    scheduler.registry.add(feed_server.feed_url(), "1m")
    (result,) = scheduler.sync_now()
    assert result.report.added == 1
    too_long = "article has 21 sentences, over the limit of 20 (NEWSDESK_MAX_ARTICLE_SENTENCES)"
    endless_link = feed_server.link(feed_server.items[0])
    assert [(f.source, f.error) for f in result.report.failed] == [(endless_link, too_long)]
