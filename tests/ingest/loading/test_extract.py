"""Pure extraction helpers: dates, HTML fragments, Markdown titles."""

from __future__ import annotations

import pytest

from ingest.loading.dates import iso_date
from ingest.loading.extract import html_to_text, markdown_title


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
