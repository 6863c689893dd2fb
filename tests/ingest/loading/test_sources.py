"""Loading articles from files, folders, web pages and feeds; every bad input is one LoadFailure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reportlab.pdfgen import canvas

from assistant.core.settings import Settings
from assistant.core.types import Article, LoadFailure
from ingest.loading.articles import Item, path_doc_id, stable_id, url_doc_id
from ingest.loading.sources import count_sources, iter_articles
from tests.ingest.conftest import FIXTURES, LocalServer, fill_template

LOCAL = Settings()  # each test: the settings of local_settings below
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"


@pytest.fixture(autouse=True)
def local_settings(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """LOCAL allows exactly this test's server, by its host:port (a bare 127.0.0.1 opens only port 80)."""
    monkeypatch.setitem(globals(), "LOCAL", Settings(fetch_allowed_hosts=[server.host_port]))


def load(*sources: str | Path, settings: Settings | None = None) -> list[Item]:
    chosen = LOCAL if settings is None else settings
    return list(iter_articles([str(s) for s in sources], chosen.ingest, chosen.server))


def articles(items: list[Item]) -> list[Article]:
    return [item for item in items if isinstance(item, Article)]


def failures(items: list[Item]) -> dict[str, str]:
    return {item.source: item.error for item in items if isinstance(item, LoadFailure)}


def only_article(*sources: str | Path, settings: Settings | None = None) -> Article:
    items = load(*sources, settings=settings)
    assert len(items) == 1 and isinstance(items[0], Article), items
    return items[0]


def only_failure(*sources: str | Path, settings: Settings | None = None) -> LoadFailure:
    items = load(*sources, settings=settings)
    assert len(items) == 1 and isinstance(items[0], LoadFailure), items
    return items[0]


def make_pdf(path: Path, pages: list[list[str]], title: str = "") -> Path:
    pdf = canvas.Canvas(str(path), invariant=True)  # invariant: creation date 2000-01-01
    if title:
        pdf.setTitle(title)
    pdf.setAuthor("Mara Lindqvist")
    for lines in pages:
        for number, line in enumerate(lines):
            pdf.drawString(72, 720 - 20 * number, line)
        pdf.showPage()
    pdf.save()
    return path


# --- plain text and Markdown ---------------------------------------------------------------


def test_txt_canonical_text_is_byte_identical_to_the_file(tmp_path: Path) -> None:
    data = (
        "\ufeffCafé talks resume.\r\nThe \u2028minister — “cautiously” — agreed.\n\n\tIndented 🙂\n".encode()
    )
    path = tmp_path / "talks.txt"
    path.write_bytes(data)
    article = only_article(path)
    assert article.text.encode("utf-8") == data
    assert (article.title, article.doc_id, article.origin) == ("talks", path_doc_id(path), str(path))
    assert article.doc_id == only_article(tmp_path / "." / "talks.txt").doc_id


def test_markdown_title_is_the_first_level_one_heading_and_text_is_unchanged() -> None:
    article = only_article(FIXTURES / "notes.md")
    assert article.title == "Night trains return to the coast line"
    assert article.text.encode("utf-8") == (FIXTURES / "notes.md").read_bytes()


def test_markdown_without_heading_takes_the_file_stem_as_title(tmp_path: Path) -> None:
    (tmp_path / "plain-notes.md").write_text("Just a paragraph with several words in it.\n")
    assert only_article(tmp_path / "plain-notes.md").title == "plain-notes"


# --- HTML and PDF files --------------------------------------------------------------------


def test_html_file_gives_the_article_text_and_its_metadata() -> None:
    article = only_article(FIXTURES / "article.html")
    assert article.text.startswith("The harbour council voted")  # the headline is the title, not the text
    assert "Engineers expect construction" in article.text
    assert "Cookie settings" not in article.text and "Subscribe" not in article.text
    assert (article.title, article.published, article.source) == (
        "Harbour council approves flood barrier plan",
        "2024-03-14T09:30:00+00:00",  # the page's own article:published_time, to the second
        "Coastline Herald",
    )
    assert article.authors == ("Mara Lindqvist",)


def test_html_file_without_article_text_fails(tmp_path: Path) -> None:
    (tmp_path / "nav.html").write_text(
        "<html><body><nav><a href='/'>Home</a> <a href='/n'>News</a></nav></body></html>"
    )
    assert only_failure(tmp_path / "nav.html").error == "no article text found"


def test_pdf_pages_are_joined_by_blank_lines_with_whitespace_normalised(tmp_path: Path) -> None:
    pages = [["The harbour   council voted on Thursday.", "Second line of page one."], ["Page two text."]]
    article = only_article(make_pdf(tmp_path / "vote.pdf", pages, title="Port Vote Report"))
    assert (
        article.text == "The harbour council voted on Thursday.\nSecond line of page one.\n\nPage two text."
    )
    assert (article.title, article.published) == ("Port Vote Report", "2000-01-01T00:00:00+00:00")
    assert article.authors == ("Mara Lindqvist",)


def test_pdf_without_title_metadata_takes_the_file_stem(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "annual-report.pdf", [["Revenue rose by four percent this year."]])
    assert only_article(path).title == "annual-report"


def test_pdf_without_text_and_broken_pdf_fail(tmp_path: Path) -> None:
    blank = make_pdf(tmp_path / "scan.pdf", [[]])
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    found = failures(load(blank, tmp_path / "broken.pdf"))
    assert found[str(blank)].startswith("no text found in PDF")
    assert found[str(tmp_path / "broken.pdf")].startswith("not a readable PDF")


# --- JSONL ---------------------------------------------------------------------------------


def test_jsonl_lines_become_articles_with_metadata_and_ids() -> None:
    path = FIXTURES / "articles.jsonl"
    first, second, third = articles(load(path))
    assert (first.doc_id, first.title, first.published, first.source) == (
        "gz-001",
        "Dam inspection finds no cracks",
        "2024-05-02",
        "Valley Gazette",
    )
    assert first.authors == ("Ana Costa", "Luis Prado")
    assert dict(first.extra) == {"section": "local", "word_count": 14, "paywalled": False}
    assert second.doc_id == url_doc_id("https://www.coastline-herald.example/news/lighthouse")
    assert (second.source, second.authors, second.published) == (
        "coastline-herald.example",
        ("Mara Lindqvist",),
        "2024-05-03T14:05:00+02:00",
    )
    assert (third.doc_id, third.published, third.origin) == (path_doc_id(path, 3), "", f"{path}:3")
    assert third.extra == {"published_raw": "sometime last spring"}


def test_jsonl_canonical_text_is_exactly_the_json_string() -> None:
    lines = (FIXTURES / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    loaded = articles(load(FIXTURES / "articles.jsonl"))
    assert [a.text for a in loaded] == [json.loads(line)["text"] for line in lines[:3]]
    assert "«It is brighter», said the keeper — café" in loaded[1].text


def test_bad_jsonl_lines_are_reported_by_line_while_the_others_load() -> None:
    path = FIXTURES / "articles.jsonl"
    found = failures(load(path))
    assert found == {
        f"{path}:4": "invalid JSON: Unterminated string starting at (column 26)",
        f"{path}:5": "no `text` field",
        f"{path}:7": "empty `text`",
        f"{path}:8": "expected a JSON object, got list",
    }


def test_jsonl_undecodable_line_and_oversized_line_fail_alone(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = json.dumps({"id": "ok", "text": "Fine line with enough words."}).encode()
    path.write_bytes(b'{"text": "caf\xe9"}\n' + b'{"text": "' + b"x" * 3000 + b'"}\n' + good + b"\n")
    items = load(path, settings=Settings(max_file_bytes=2048))
    assert failures(items) == {
        f"{path}:1": "not UTF-8 text (undecodable bytes at offset 13)",
        f"{path}:2": "line is 2.9 KB, over the 2 KB limit (NEWSDESK_MAX_FILE_BYTES)",
    }
    assert [a.doc_id for a in articles(items)] == ["ok"]


def test_jsonl_with_a_byte_order_mark_loads_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"id": "b", "text": "Text after a byte order mark."}).encode()
    )
    assert only_article(path).text == "Text after a byte order mark."


def test_shared_dev_set_loads_every_article_with_identical_text() -> None:
    path = SHARED / "data" / "realtimeqa-dev" / "articles.jsonl"
    if not path.is_file():
        pytest.skip("shared dev set not available")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    loaded = load(path)
    assert all(isinstance(item, Article) for item in loaded)
    assert [(a.doc_id, a.text) for a in articles(loaded)] == [(r["id"], r["text"]) for r in records]
    assert all(len(a.published) == 10 for a in articles(loaded))


# --- bad files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("empty.txt", b"", "empty file"),
        ("empty.jsonl", b"", "empty file"),
        ("blank.txt", b" \n\t\n", "no text (only whitespace)"),
        ("blank.jsonl", b"\n  \n", "no JSON lines in file (only blank lines)"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary content (NUL bytes) in a text file"),
        ("image.md", b"# x\x00\x01", "binary content (NUL bytes) in a text file"),
        ("image.jsonl", b'{"text": 1}\x00\x00', "binary content (NUL bytes) in a text file"),
        ("latin1.txt", "Zürich talks".encode("latin-1"), "not UTF-8 text (undecodable bytes at offset 1)"),
        ("report.docx", b"PK\x03\x04", "unsupported file type '.docx' (supported: "),
        ("notes.xml", b"<notes><note>hi</note></notes>", "not an RSS/Atom feed"),
        ("broken.rss", b"this is not XML at all", "not an RSS/Atom feed"),
        (
            "empty-feed.rss",
            b"<rss version='2.0'><channel><title>T</title></channel></rss>",
            "feed has no entries",
        ),
    ],
)
def test_each_bad_file_gives_one_failure_naming_it(
    tmp_path: Path, name: str, data: bytes, error: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    failure = only_failure(path)
    assert failure.source == str(path)
    assert failure.error.startswith(error)


def test_file_over_the_size_limit_fails_with_sizes_and_setting(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(25 * 1024 * 1024)  # sparse: nothing is written or read
    assert only_failure(path).error == "file is 25.0 MB, over the 20 MB limit (NEWSDESK_MAX_FILE_BYTES)"


def test_missing_path_fails() -> None:
    assert only_failure("/nonexistent/newsdesk/article.txt").error == "no such file or folder"


# --- folders -------------------------------------------------------------------------------


def test_folder_is_walked_recursively_in_sorted_order_skipping_hidden_and_unsupported(tmp_path: Path) -> None:
    for rel in ["b.txt", "a/z.md", "a/c.txt", ".hidden.txt", ".git/config.txt", "photo.png", "sub/.x.md"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"Contents of {rel} in several words.\n")
    loaded = load(tmp_path)
    assert [a.origin for a in articles(loaded)] == [str(tmp_path / p) for p in ["a/c.txt", "a/z.md", "b.txt"]]
    assert failures(loaded) == {}
    assert count_sources([str(tmp_path), "https://example.com/a", "/nonexistent"]).total == 4


def test_folder_without_supported_files_fails(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    assert only_failure(tmp_path).error == "no supported files in folder (1 other files skipped)"


def test_a_mix_of_good_and_bad_sources_never_raises_and_fails_each_bad_one_once(
    tmp_path: Path, server: LocalServer
) -> None:
    (tmp_path / "good.txt").write_text("A good article with a few words.")
    (tmp_path / "empty.txt").write_bytes(b"")
    sources: list[str | Path] = [
        tmp_path / "good.txt",
        tmp_path / "empty.txt",
        tmp_path / "nope.md",
        server.url("/404"),
        "ftp://x/y",
    ]
    items = load(*sources)
    assert [type(item).__name__ for item in items] == ["Article"] + ["LoadFailure"] * 4
    assert list(failures(items)) == [str(s) for s in sources[1:]]


# --- web pages -----------------------------------------------------------------------------


def test_web_page_is_extracted_with_metadata_and_hashed_url_id(server: LocalServer) -> None:
    url = server.add("/news/barrier", (FIXTURES / "article.html").read_bytes())
    article = only_article(url)
    assert article.text.startswith("The harbour council voted")  # the headline is the title, not the text
    assert (article.doc_id, article.url, article.origin) == (url_doc_id(url), url, url)
    assert (article.title, article.published, article.source) == (
        "Harbour council approves flood barrier plan",
        "2024-03-14T09:30:00+00:00",  # the page's own article:published_time, to the second
        "Coastline Herald",
    )


def test_web_page_without_site_name_takes_the_host_as_source(server: LocalServer) -> None:
    html = (
        "<html><head><title>Rain</title></head><body><article>"
        "<p>Heavy rain is expected on Friday across the region.</p></article></body></html>"
    )
    assert only_article(server.add("/rain", html)).source == "127.0.0.1"


def test_web_page_without_article_text_fails(server: LocalServer) -> None:
    url = server.add("/empty", "<html><body><nav>Home</nav></body></html>")
    assert only_failure(url) == LoadFailure(url, "no article text found")


def test_pdf_and_plain_text_urls_are_loaded(server: LocalServer, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "r.pdf", [["The budget was approved by the assembly."]], title="Budget")
    pdf_url = server.add("/r.pdf", pdf.read_bytes(), "application/pdf")
    text_url = server.add("/notice.txt", "Water supply resumes at noon today.\n", "text/plain; charset=utf-8")
    pdf_article, text_article = articles(load(pdf_url, text_url))
    assert (pdf_article.title, pdf_article.text) == ("Budget", "The budget was approved by the assembly.")
    assert text_article.text == "Water supply resumes at noon today.\n"


def test_loopback_url_is_refused_with_default_settings(server: LocalServer) -> None:
    url = server.add("/page", (FIXTURES / "article.html").read_bytes())
    assert only_failure(url, settings=Settings()) == LoadFailure(
        url, "refused: 127.0.0.1 is a loopback address"
    )
    assert server.requests == []


def test_feed_item_linking_to_another_port_of_an_allowlisted_host_is_not_fetched(
    server: LocalServer, tmp_path: Path
) -> None:
    # with NEWSDESK_FETCH_ALLOWED_HOSTS=127.0.0.1, an item linking to 127.0.0.1:8201 was fetched
    secret = server.add("/secret.txt", "Internal credentials and notes of the ops team.\n", "text/plain")
    feed = tmp_path / "hostile.rss"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title>'
        f"<item><title>Read this</title><link>{secret}</link><description>More</description></item>"
        "</channel></rss>"
    )
    reason = "refused: 127.0.0.1 is a loopback address"
    reason += f" (fetch_allowed_hosts does not allow http on port {server.port})"
    items = load(feed, settings=Settings(fetch_allowed_hosts=["127.0.0.1"]))
    assert failures(items) == {secret: f"{reason}; the entry's summary is too short"}
    assert server.requests == []


# --- feeds ---------------------------------------------------------------------------------


def serve_rss_site(server: LocalServer) -> str:
    server.add("/news/barrier", (FIXTURES / "article.html").read_bytes())
    return server.add("/feed", fill_template("feed.rss", server.base_url), "application/rss+xml")


def test_rss_feed_url_gives_one_article_per_entry_fetching_pages_for_short_summaries(
    server: LocalServer,
) -> None:
    feed_url = serve_rss_site(server)
    items = load(feed_url)
    ferry, barrier, market = articles(items)
    assert ferry.text == (
        "The ferry company will run four crossings a day from November, down from six in summer.\n\n"
        "The first morning crossing moves to 7:15 to match the school bus."
    )
    assert (ferry.title, ferry.published, ferry.source, ferry.authors) == (
        "Ferry timetable changes for winter",
        "2024-03-12T08:00:00+00:00",
        "Coastline Herald",
        ("Jonas Berg",),
    )
    assert (ferry.doc_id, ferry.url) == (url_doc_id(server.url("/news/ferry")), server.url("/news/ferry"))
    assert barrier.text.startswith("The harbour council voted")  # the headline is the title, not the text
    assert barrier.extra == {"feed": feed_url, "text_from": "page"}
    assert (
        market.text
        == "The renovated fish market reopened on Saturday with twenty stalls and a new cold store."
    )
    assert market.extra["text_from"] == "summary"
    assert failures(items) == {server.url("/news/gone"): "HTTP 404; the entry's summary is too short"}
    assert "/news/ferry" not in server.requests


def test_rss_feed_file_fetches_linked_pages_like_a_feed_url(server: LocalServer, tmp_path: Path) -> None:
    serve_rss_site(server)
    path = tmp_path / "herald.rss"
    path.write_text(fill_template("feed.rss", server.base_url))
    items = load(path)
    assert len(articles(items)) == 3 and len(failures(items)) == 1
    assert articles(items)[1].extra == {"feed": str(path), "text_from": "page"}


def test_atom_feed_file_uses_entry_content_ids_dates_and_authors(tmp_path: Path) -> None:
    path = tmp_path / "gazette.atom"
    path.write_text(fill_template("feed.atom", "https://gazette.example"))
    bridge, library = articles(load(path))
    assert bridge.text == (
        "The old stone bridge over the river reopened to traffic on Monday after eight months of repairs."
        "\n\nBuses will return to the route next week."
    )
    assert (bridge.published, bridge.authors, bridge.source) == (
        "2024-04-01T16:30:00+00:00",
        ("Ana Costa", "Luis Prado"),
        "Valley Gazette",
    )
    assert bridge.doc_id == url_doc_id("https://gazette.example/news/bridge")
    assert library.text == "The town library will open until nine in the evening on weekdays from May."
    assert (library.doc_id, library.url, library.origin) == (
        stable_id("feed-entry:urn:uuid:4c3b1f52-library"),
        "",
        f"{path}#entry-2",
    )


def test_feed_served_as_html_is_recognised_by_its_content(server: LocalServer) -> None:
    atom = fill_template("feed.atom", "https://gazette.example")
    assert len(articles(load(server.add("/feed", atom, "text/html")))) == 2


def test_loading_the_same_sources_twice_gives_identical_articles(server: LocalServer) -> None:
    feed_url = serve_rss_site(server)
    sources: list[str | Path] = [
        feed_url,
        FIXTURES / "articles.jsonl",
        FIXTURES / "notes.md",
        FIXTURES / "article.html",
    ]
    first = load(*sources)
    assert len(articles(first)) == 3 + 3 + 1 + 1
    assert first == load(*sources)


# --- sidecar metadata of .txt and .md files ---------------------------------------------------


def test_the_sample_article_has_a_real_title_date_and_outlet() -> None:
    from tests.conftest import SAMPLE

    article = only_article(SAMPLE)
    assert article.title and article.title != SAMPLE.stem
    assert article.published == "2025-11-17" and article.source == "Newsdesk sample"
    assert article.text == SAMPLE.read_text(encoding="utf-8")  # the sidecar leaves the text alone


def test_a_sidecar_gives_a_text_file_its_metadata_and_leaves_the_text_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "ferry.txt"
    path.write_text("The Quillport ferries will run every ninety minutes this winter.\n", encoding="utf-8")
    sidecar = {
        "title": "Ferries every ninety minutes",
        "published": "2024-11-18",
        "source": "Quillport Courier",
        "url": "https://courier.example/ferries",
        "authors": ["A. Writer", "B. Editor"],
    }
    (tmp_path / "ferry.txt.meta.json").write_text(json.dumps(sidecar), encoding="utf-8")
    article = only_article(path)
    assert (article.title, article.published, article.source) == (
        "Ferries every ninety minutes",
        "2024-11-18",
        "Quillport Courier",
    )
    assert article.url == "https://courier.example/ferries" and article.authors == ("A. Writer", "B. Editor")
    assert article.text == path.read_text(encoding="utf-8") and article.doc_id == path_doc_id(path)
    assert [a.doc_id for a in articles(load(tmp_path))] == [article.doc_id]  # no article from the sidecar


@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"titel": "typo"}', "unknown field 'titel'"),
        ('{"url": "javascript:alert(1)"}', "`url` 'javascript:alert(1)' is not an http(s) URL"),
        ('{"published": "last Tuesday"}', "`published` 'last Tuesday' is not an ISO 8601 date"),
    ],
)
def test_a_bad_sidecar_is_a_failure_naming_the_sidecar_and_the_field(
    tmp_path: Path, sidecar: str, message: str
) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\nThe harbour office opened on Monday morning.\n", encoding="utf-8")
    (tmp_path / "notes.md.meta.json").write_text(sidecar, encoding="utf-8")
    failure = only_failure(path)
    assert failure.source == str(tmp_path / "notes.md.meta.json")
    assert message in failure.error
