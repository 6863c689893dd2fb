"""End-to-end tests of the chat UI in a real headless Chromium (Debian's ``chromium``, Playwright).

The whole app (``app.create_app``: HTTP API with the Gradio UI mounted) is served once for the
module by uvicorn in a thread on a free 127.0.0.1 port, on a store in a temporary folder with the
sample corpus ingested. The screenshots linked from the README are refreshed with
``NEWSDESK_SCREENSHOTS_DIR=docs/screenshots``; otherwise they go to a temporary folder, so a test
run leaves the working tree alone.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from assistant.core.settings import Settings
from ingest.embedding.embedder import Embedder
from tests.conftest import app_page

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from assistant.service import Assistant

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[4]
SCREENSHOTS = Path(
    os.environ.get("NEWSDESK_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "newsdesk-shots"
)
DEV_ARTICLES = REPO / ".." / "shared" / "data" / "realtimeqa-dev" / "articles.jsonl"
NEWS_IDS = {"4c816438d0d16d01", "20a19b128877da32", "0c7f025971735462"}  # short CNN and The Week stories
ANSWER_TIMEOUT_MS = 60_000
BAKERY_ARTICLE = (
    "Testville approves bakeries\n\n"
    "The Testville zoning board approved fourteen new neighbourhood bakeries on Monday, "
    "the largest expansion in the town's history.\n"
    "Critics said the decision ignored parking concerns.\n"
)
EVIL_ARTICLE = (
    "Harbor commission minutes\n\n"
    "The Quillport harbor commissioner announced <img src=x onerror=alert(1)> a new ferry "
    "schedule <script>alert(2)</script> for the winter season.\n"
    "The ferries will run every ninety minutes.\n"
)


def news_articles(folder: Path) -> list[str]:
    """A JSONL of three short real articles from the shared dev set (none when it is missing)."""
    if not DEV_ARTICLES.is_file():
        return []
    with DEV_ARTICLES.open(encoding="utf-8") as lines:
        chosen = [line for line in lines if json.loads(line)["id"] in NEWS_IDS]
    path = folder / "news.jsonl"
    path.write_text("".join(chosen), encoding="utf-8")
    return [str(path)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, chromium_path: str
) -> Iterator[tuple[str, Assistant, Settings]]:
    """The app on a free port, on a fresh store with the sample corpus; (url, assistant, settings)."""
    import uvicorn

    from assistant.frontends.ui.handlers import samples_dir
    from assistant.server import create_app
    from assistant.service import create_assistant

    data = tmp_path_factory.mktemp("ui")
    port = free_port()
    settings = Settings(
        store_dir=data / "store", feedback_path=data / "feedback.jsonl", host="127.0.0.1", port=port
    )
    assistant = create_assistant(settings, embedder=embedder)
    assistant.ingest_sources([str(samples_dir()), *news_articles(data)])
    server = uvicorn.Server(uvicorn.Config(create_app(settings, assistant), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the server to start")
    yield f"http://127.0.0.1:{port}/", assistant, settings
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def page(browser: Browser, served: tuple[str, Assistant, Settings]) -> Iterator[Page]:
    """A fresh page on the app, its corpus line filled in."""
    with app_page(browser, served[0]) as opened:
        opened.wait_for_function("document.querySelector('#nd-corpus-line').innerText.trim().length > 0")
        yield opened


def wait_until(condition: Any, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ask(page: Page, question: str) -> Any:
    """Ask in the chat and return the locator of the finished (non-streaming) answer."""
    answers = page.locator("#nd-chat .nd-answer:not(.nd-streaming)")
    before = answers.count()
    page.fill("#nd-question textarea", question)
    page.press("#nd-question textarea", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#nd-chat .nd-answer:not(.nd-streaming)').length > n",
        arg=before,
        timeout=ANSWER_TIMEOUT_MS,
    )
    return answers.nth(before)


def scroll_chat_to_top(page: Page) -> None:
    """Scroll the chat's message list to its first message (for the screenshots)."""
    page.locator("#nd-chat .nd-answer").first.evaluate(
        """element => {
            let box = element.parentElement;
            while (box && box.scrollHeight <= box.clientHeight) { box = box.parentElement; }
            if (box) { box.scrollTop = 0; }
        }"""
    )


def upload(page: Page, tmp_path: Path, name: str, text: str) -> str:
    """Upload one file in the Library tab and return the ingest report's text."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    page.get_by_role("tab", name="Library").click()
    page.set_input_files("#nd-files input[type=file]", str(path))
    try:
        page.wait_for_selector(f"#nd-files :text('{name}')", timeout=20_000)
    except PlaywrightTimeoutError:  # seen 2 runs in ~8 on a loaded machine: the file never showed
        page.set_input_files("#nd-files input[type=file]", str(path))
        page.wait_for_selector(f"#nd-files :text('{name}')", timeout=ANSWER_TIMEOUT_MS)
    page.click("#nd-ingest")
    page.wait_for_selector("#nd-report .nd-report", timeout=ANSWER_TIMEOUT_MS)
    report: str = page.locator("#nd-report").inner_text()
    page.get_by_role("tab", name="Ask").click()
    return report


def test_an_empty_library_offers_the_sample_corpus_and_loads_it(
    page: Page, served: tuple[str, Assistant, Settings], tmp_path: Path
) -> None:
    _, assistant, _ = served
    for article in list(assistant.components.store.iter_articles()):
        assistant.delete(article.doc_id)
    page.reload()
    banner = page.get_by_role("button", name="Load the sample articles")
    banner.wait_for(state="visible")
    assert "empty" in page.locator("#nd-corpus-line").inner_text()
    banner.click()
    page.wait_for_function("document.querySelector('#nd-corpus-line').innerText.includes('1 article')")
    banner.wait_for(state="hidden")
    assert assistant.stats().articles == 1
    assistant.ingest_sources(news_articles(tmp_path))  # the other tests expect the news articles too


def test_an_example_question_from_the_corpus_is_asked_when_clicked(page: Page) -> None:
    example = page.locator("#nd-chat button.example").first
    question = (example.get_attribute("aria-label") or "").split(": ", 1)[-1]
    assert question.endswith("?")
    example.click()
    page.wait_for_selector("#nd-chat .nd-answer:not(.nd-streaming)", timeout=ANSWER_TIMEOUT_MS)
    assert question in page.locator("#nd-chat").inner_text()


def test_answer_names_evkurov_and_its_citation_opens_on_the_highlighted_sentence(page: Page) -> None:
    answer = ask(page, "Who led the Russian delegation to Damascus?")
    assert "Evkurov" in answer.locator(".nd-answer-text").inner_text()
    assert "Evkurov" in answer.locator(".nd-short-answer strong").inner_text()  # the short answer, emphasized
    marker = answer.locator(".nd-answer-text a.nd-cite", has_text="[1]")
    source = answer.locator("details.nd-source").first
    assert not source.evaluate("element => element.open")
    marker.click()
    assert source.evaluate("element => element.open")
    highlight = source.locator("mark.nd-hl")
    highlight.wait_for(state="visible")
    assert "Evkurov" in highlight.inner_text()
    assert source.locator("blockquote.nd-passage").inner_text().count("\n") >= 1  # neighbouring lines too
    scroll_chat_to_top(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "chat.png"))
    follow_up = ask(page, "Who did he meet there?")
    assert "Murhaf Abu Kasra" in follow_up.locator(".nd-answer-text").inner_text()


def test_sources_show_title_outlet_date_and_a_safe_link_to_the_original(page: Page) -> None:
    if not DEV_ARTICLES.is_file():
        pytest.skip(f"shared dev set not found at {DEV_ARTICLES}")
    answer = ask(page, "Which team won the 2022 NHL Stanley Cup Finals?")
    assert "Avalanche" in answer.locator(".nd-answer-text").inner_text()
    source = answer.locator("details.nd-source").first
    assert source.locator(".nd-outlet").inner_text() == "cnn.com"
    assert source.locator(".nd-date").inner_text().startswith("2022-06-2")
    link = source.locator("a.nd-original")
    assert (link.get_attribute("href") or "").startswith("https://www.cnn.com/2022/06/26/sport/")
    assert (link.get_attribute("target"), link.get_attribute("rel")) == ("_blank", "noopener noreferrer")
    answer.locator("a.nd-cite").first.click()
    source.locator("mark.nd-hl").wait_for(state="visible")
    scroll_chat_to_top(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sources.png"))


def test_a_date_filter_excluding_every_article_refuses_and_says_so(page: Page) -> None:
    page.fill("#nd-date-from input", "2030-01-01")
    answer = ask(page, "Who led the Russian delegation to Damascus?")
    assert "nd-refused" in (answer.get_attribute("class") or "")
    assert "published 2030-01-01 to" in answer.inner_text()


def test_a_refused_question_says_what_was_searched_and_shows_no_sources(page: Page) -> None:
    answer = ask(page, "What is the boiling point of tungsten on Mars?")
    assert "nd-refused" in (answer.get_attribute("class") or "")
    assert "Searched all articles for" in answer.inner_text()
    assert answer.locator("details.nd-source").count() == 0
    assert answer.locator("a.nd-cite").count() == 0
    page.click("#nd-clear")
    page.locator("#nd-chat .nd-answer").first.wait_for(state="detached")
    assert page.locator("#nd-chat button.example").count() > 0


def test_thumbs_up_stores_the_question_answer_and_citations(
    page: Page, served: tuple[str, Assistant, Settings]
) -> None:
    from assistant.frontends.ui.feedback import FeedbackLog

    log = FeedbackLog(served[2].feedback_path)
    before = len(log.read())
    ask(page, "Who led the Russian delegation to Damascus?")
    page.get_by_role("button", name="Like").last.click()
    wait_until(lambda: len(log.read()) > before, "the feedback record")
    record = log.read()[-1]
    assert (record.rating, record.question) == ("up", "Who led the Russian delegation to Damascus?")
    assert "Evkurov" in record.answer and record.citations and record.citations[0].char_end > 0


def test_an_uploaded_article_becomes_answerable_and_failures_show_their_reasons(
    page: Page, tmp_path: Path
) -> None:
    page.get_by_role("tab", name="Library").click()
    page.fill("#nd-urls textarea", "/etc/passwd")
    report = upload(page, tmp_path, "bakeries.txt", BAKERY_ARTICLE)
    assert "Added 1" in report and "failed 1" in report
    assert "/etc/passwd" in report and "only http(s) URLs" in report
    page.get_by_role("tab", name="Library").click()
    page.locator("#nd-stats").get_by_text("articles", exact=True).wait_for()
    page.screenshot(path=str(SCREENSHOTS / "ingest.png"))
    page.get_by_role("tab", name="Ask").click()
    answer = ask(page, "How many bakeries did the Testville zoning board approve?")
    assert "fourteen new neighbourhood bakeries" in answer.locator(".nd-answer-text").inner_text()
    assert answer.locator("a.nd-cite").count() >= 1


def test_markup_in_an_article_is_shown_as_inert_text(page: Page, tmp_path: Path) -> None:
    upload(page, tmp_path, "harbor.txt", EVIL_ARTICLE)
    answer = ask(page, "What did the Quillport harbor commissioner announce?")
    answer.locator("a.nd-cite").first.click()
    source = answer.locator("details.nd-source").first
    literal = "<img src=x onerror=alert(1)>"
    assert literal in source.locator("mark.nd-hl").inner_text()
    assert "<script>alert(2)</script>" in answer.locator(".nd-answer-text").inner_text()
    assert page.locator("#nd-chat img[src='x']").count() == 0
    assert page.locator("#nd-chat script").count() == 0
    page.wait_for_timeout(300)  # an onerror handler, had one been created, would have fired by now
