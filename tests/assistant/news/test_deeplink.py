"""Text-fragment deep links: encoding, choice of terms, and a real browser scrolling to the sentence."""

from __future__ import annotations

import functools
import html
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from assistant.news.deeplink import deep_link, encode_term, first_match, normalize, text_fragment
from tests.conftest import dev_row


def terms(link: str) -> list[str]:
    directive = link.split("#", 1)[1].split(":~:text=", 1)[1]
    return [unquote(t) for t in directive.split(",")]


def test_terms_encode_the_characters_the_syntax_uses() -> None:
    assert encode_term("a-b, c & d") == "a%2Db%2C%20c%20%26%20d"
    assert encode_term("“Café” #1?") == "%E2%80%9CCaf%C3%A9%E2%80%9D%20%231%3F"


def test_short_sentence_is_given_whole() -> None:
    text = "Intro.\nThe vote passed 52-48, with two absent & one abstaining.\nEnd."
    start = text.index("The vote")
    end = text.index("End.") - 1
    link = deep_link("https://example.org/story", text, start, end)
    assert link == (
        "https://example.org/story#:~:text=The%20vote%20passed%2052%2D48%2C%20with%20two%20absent"
        "%20%26%20one%20abstaining."
    )


def test_long_sentence_is_given_by_its_first_and_last_words() -> None:
    sentence = (
        "The committee, which met for nine hours behind closed doors in the capitol, finally agreed "
        "on a budget that raises taxes on fuel and cuts spending on roads."
    )
    text = f"Headline\n{sentence}\nMore."
    link = deep_link("https://example.org/a", text, text.index("The committee"), text.index("roads.") + 6)
    assert terms(link) == ["The committee, which met", "cuts spending on roads."]


def test_end_term_grows_until_its_first_match_is_the_sentence_end() -> None:
    sentence = (
        "Officials say the plan would work and critics say the plan would work too while voters in the "
        "city say the plan would work"
    )
    fragment = text_fragment(sentence, 0, len(sentence))
    page = normalize(sentence)
    after_start = first_match(page, normalize(fragment.start)) + len(fragment.start)
    end_at = first_match(page, normalize(fragment.end), after_start)
    assert end_at + len(fragment.end) == len(sentence)
    assert fragment.end == "city say the plan would work"


def test_repeated_opening_gets_a_prefix() -> None:
    text = "Prices rose again.\nMarkets fell. Prices rose again.\nThe end."
    second = text.index("Prices rose again.", 5)
    link = deep_link("https://example.org/a", text, second, second + len("Prices rose again."))
    assert terms(link) == ["fell.-", "Prices rose again."]


def test_ambiguous_opening_even_with_prefix_gets_a_suffix() -> None:
    text = "x y z Yes.\nx y z Yes.\nNo."
    second = text.index("Yes.", 10)
    fragment = text_fragment(text, second, second + 4)
    assert (fragment.prefix, fragment.start, fragment.suffix) == ("x y z", "Yes.", "No.")
    assert fragment.directive() == "text=x%20y%20z-,Yes.,-No."


def test_existing_fragment_is_kept_and_empty_inputs_give_no_directive() -> None:
    text = "One sentence here."
    assert deep_link("https://example.org/a#top", text, 0, len(text)).startswith(
        "https://example.org/a#top:~:text="
    )
    assert deep_link("", text, 0, len(text)) == ""
    assert deep_link("https://example.org/a", "   ", 0, 3) == "https://example.org/a"


def test_fragment_of_every_sentence_of_a_real_article_matches_first_at_the_sentence() -> None:
    article = dev_row("187a20435053bdbf")
    text = article["text"]
    page = normalize(text)
    for match in re.finditer(r"[^\n]+", text):
        start, end = match.start(), match.end()
        fragment = text_fragment(text, start, end)
        head = normalize(f"{fragment.prefix} {fragment.start}" if fragment.prefix else fragment.start)
        at = first_match(page, head) + (len(normalize(fragment.prefix)) + 1 if fragment.prefix else 0)
        assert at == len(normalize(text[:start])), text[start:end]


# --- the real browser ---------------------------------------------------------------------------
@pytest.fixture
def served_article(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A local copy of a real article page (one paragraph a line), served on 127.0.0.1."""
    article = dev_row("187a20435053bdbf")
    paragraphs = "".join(
        f"<p>{html.escape(line)}</p>\n" for line in article["text"].split("\n") if line.strip()
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>story</title></head>"
        f"<body><h1>{html.escape(article['title'])}</h1>{paragraphs}</body></html>"
    )
    (tmp_path / "story.html").write_text(page, encoding="utf-8")
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/story.html", article["text"]
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


SENTENCE_IN_VIEW = """(sentence) => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.textContent.indexOf(sentence);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + sentence.length);
    const box = range.getBoundingClientRect();
    return box.top >= 0 && box.bottom <= window.innerHeight;
  }
  return null;
}"""


@pytest.mark.browser
def test_text_fragment_link_opens_the_page_scrolled_to_the_sentence(served_article: tuple[str, str]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed")
    url, text = served_article
    sentence = "And I am so proud of what we have achieved."
    start = text.index(sentence)
    link = deep_link(url, text, start, start + len(sentence))
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 300})
            page.goto(url)
            assert page.evaluate(SENTENCE_IN_VIEW, sentence) is False  # below the fold without the link
            page.goto("about:blank")
            page.goto(link)
            page.wait_for_function("window.scrollY > 0", timeout=10_000)
            assert page.evaluate(SENTENCE_IN_VIEW, sentence) is True
        finally:
            browser.close()
