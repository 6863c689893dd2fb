"""Pure extraction helpers: dates, HTML fragments, Markdown titles."""

from __future__ import annotations

import json

import pytest

from ingest.loading.dates import iso_date
from ingest.loading.extract import html_to_text, markdown_title, read_page, without_headline


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2022/06/12", "2022-06-12"),
        ("June 12, 2022", "2022-06-12"),
        ("2024-05-03T14:05:00+02:00", "2024-05-03T14:05:00+02:00"),
        ("2024-05-03 00:00:00", "2024-05-03T00:00:00"),
        ("Tue, 12 Mar 2024 08:00:00 GMT", "2024-03-12T08:00:00+00:00"),
    ],
)
def test_dates_are_normalised_to_iso_8601_date_or_datetime(raw: str, iso: str) -> None:
    assert iso_date(raw) == iso


@pytest.mark.parametrize("raw", ["sometime last spring", "June 2022", "12:30", ""])
def test_incomplete_or_unparseable_dates_are_rejected(raw: str) -> None:
    with pytest.raises(ValueError):
        iso_date(raw)


def test_html_fragment_becomes_paragraphs_without_scripts_or_control_characters() -> None:
    html = (
        "\x01<p>First  para\ngraph &amp; more.</p>tail<script>x()</script><ul><li>one</li><li>two</li></ul>"
    )
    assert html_to_text(html) == "First para graph & more.\n\ntail\n\none\n\ntwo"
    assert html_to_text("<!-- only a comment -->") == ""


def test_markdown_title_skips_non_heading_lines_and_deeper_headings() -> None:
    assert markdown_title("intro\n## Sub\n#NoSpace\n# Real title ##\n# Second") == "Real title"
    assert markdown_title("no heading at all") == ""


def page_with_headline(headline: str, first: str) -> str:
    body = "".join(
        f"<p>{p}</p>"
        for p in (
            first,
            "The council said the work would start in September and last about two years.",
            "Residents asked for the old footpath to stay open while the new bridge is built.",
        )
    )
    ld = json.dumps({"@type": "NewsArticle", "headline": headline})
    return (
        f"<html><head><title>{headline} | The Gazette</title>"
        f'<script type="application/ld+json">{ld}</script></head>'
        f"<body><main><article><h1>{headline}</h1>{body}</article></main></body></html>"
    )


def test_the_headline_an_extractor_keeps_atop_the_body_is_the_title_not_the_first_sentence() -> None:
    headline = "Quillport approves the new bridge"
    first = "The Quillport council approved the new bridge on Monday after a long debate in the town hall."
    page = read_page(page_with_headline(headline, first), "bridge.html")
    assert page.extracted.title == headline
    assert page.extracted.text.startswith(first)  # not with the headline
    assert without_headline(f"{headline.upper()}.\nBody.", (headline,)) == "Body."  # case, final dot
    kept = f"{headline} after a vote that took two days, the mayor said.\nMore."
    assert without_headline(kept, (headline,)) == kept  # a first sentence that only begins like it
    assert without_headline("Body only.", ("",)) == "Body only."
