"""The pure HTML rendering of answers, sources and corpus facts (fast, no model, no store)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from assistant.core.types import safe_url
from assistant.frontends.ui.html import external_link
from assistant.frontends.ui.library_html import CorpusFacts, ingest_report_html, stats_html
from assistant.frontends.ui.passages import citation_passage, passage_around
from assistant.frontends.ui.render import answer_html, streaming_html
from assistant.types import Answer, Citation, CitationRef, Corroboration, Filters, ShortAnswer

SAMPLE = Path(__file__).resolve().parents[4] / "samples" / "damascus-talks.txt"
EVIL = '<img src=x onerror=alert(1)> <script>alert(2)</script> "quoted" & ${alert(3)}'


def cite(text: str, sentence: str, n: int = 1, **fields: Any) -> Citation:
    start = text.index(sentence)
    return Citation(
        n=n, sentence=sentence, doc_id="doc-1", char_start=start, char_end=start + len(sentence), **fields
    )


def grounded(text: str, answer: str, *citations: Citation) -> Answer:
    return Answer(question="q?", answer=answer, citations=list(citations), grounded=True)


def test_article_html_in_sentence_title_and_answer_is_escaped_not_markup() -> None:
    text = f"Intro line.\n{EVIL}\nLast line."
    citation = cite(text, EVIL, title=EVIL, source=EVIL)
    html = answer_html(grounded(text, f"{EVIL} [1]", citation), {"doc-1": text}, "t1")
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html


def test_answer_markers_link_to_their_own_source_entries() -> None:
    text = "Alpha beta.\nGamma delta."
    html = answer_html(
        grounded(text, "Alpha [1] and gamma [2].", cite(text, "Alpha beta."), cite(text, "Gamma delta.", 2)),
        {"doc-1": text},
        "t7",
    )
    for n in (1, 2):
        assert f'href="#nd-t7-c{n}"' in html
        assert f'<details class="nd-source" id="nd-t7-c{n}">' in html


def test_marker_without_a_citation_stays_plain_text() -> None:
    text = "Alpha beta."
    html = answer_html(grounded(text, "Alpha [1] and [9].", cite(text, "Alpha beta.")), {"doc-1": text}, "t")
    assert "[9]" in html and 'href="#nd-t-c9"' not in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "/relative/path",
        "ftp://host/file",
        "http:///nohost",
        "",
    ],
)
def test_only_absolute_http_urls_become_links(url: str) -> None:
    assert safe_url(url) is None
    assert external_link(url, "original") == ""


def test_external_links_open_in_a_new_tab_without_opener_and_escape_the_url() -> None:
    link = external_link('https://example.com/a?b=1&c="x"', "original")
    assert 'href="https://example.com/a?b=1&amp;c=&quot;x&quot;"' in link
    assert 'target="_blank"' in link and 'rel="noopener noreferrer"' in link


def test_sentence_is_highlighted_inside_its_whole_paragraph() -> None:
    text = "Far story here.\n\nOther story.\n\nFirst of para. The cited one. Last of para.\n\nNext story."
    start = text.index("The cited one.")
    passage = passage_around(text, start, start + 14, max_chars=48)
    assert (passage.before, passage.sentence, passage.after) == (
        "First of para. ",
        "The cited one.",
        " Last of para.",
    )
    assert passage.clipped_start and passage.clipped_end


def test_short_paragraphs_grow_by_whole_neighbouring_paragraphs() -> None:
    text = "Far story here.\n\nOther story.\n\nFirst of para. The cited one. Last of para.\n\nNext story."
    start = text.index("The cited one.")
    passage = passage_around(text, start, start + 14, max_chars=80)
    assert passage.before == "Other story.\n\nFirst of para. "
    assert passage.after == " Last of para.\n\nNext story."
    assert passage.clipped_start and not passage.clipped_end


def test_long_paragraph_is_cut_to_whole_neighbouring_lines() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    sentence = next(line for line in text.splitlines() if "Murhaf Abu Kasra" in line)
    start = text.index(sentence)
    passage = passage_around(text, start, start + len(sentence), max_chars=700)
    shown = passage.before + passage.sentence + passage.after
    assert passage.sentence == sentence and len(shown) <= 700
    assert passage.before.startswith("In a move") and passage.before.endswith("\n")
    assert passage.clipped_end and shown in text


def test_single_long_line_is_clipped_at_word_boundaries() -> None:
    words = " ".join(f"word{i}" for i in range(400))
    text = words + " The needle sentence. " + words
    start = text.index("The needle")
    passage = passage_around(text, start, start + len("The needle sentence."), max_chars=200)
    assert passage.clipped_start and passage.clipped_end
    assert passage.before.startswith("word") and passage.after.rstrip().split()[-1].startswith("word")
    assert len(passage.before + passage.sentence + passage.after) <= 200


def test_every_sample_sentence_passage_is_an_exact_slice_of_the_text() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    for match in re.finditer(r"[^\n]+", text):
        passage = passage_around(text, match.start(), match.end(), max_chars=500)
        assert passage.sentence == match.group(0)
        assert passage.before + passage.sentence + passage.after in text


def test_offsets_that_do_not_match_the_stored_text_show_only_the_sentence() -> None:
    text = "Alpha beta. Gamma delta."
    stale = Citation(n=1, sentence="Gamma delta.", doc_id="d", char_start=0, char_end=12)
    passage = citation_passage(stale, text, 700)
    assert (passage.before, passage.sentence, passage.after) == ("", "Gamma delta.", "")
    assert citation_passage(stale, None, 700).sentence == "Gamma delta."


def test_refused_answer_says_what_was_searched_suggests_rephrasing_and_has_no_sources() -> None:
    refused = Answer(
        question="who won?",
        answer="The articles do not say.",
        standalone_question="who won the <b>cup</b>?",
        citations=[Citation(n=1, sentence="x", doc_id="d", char_start=0, char_end=1)],
        grounded=False,
    )
    html = answer_html(refused, {}, "t", Filters(published_from="2024-01-01", sources=["Reuters"]))
    assert "nd-source" not in html and "nd-cite" not in html
    assert "who won the &lt;b&gt;cup&lt;/b&gt;?" in html
    assert "published 2024-01-01 to … from Reuters" in html
    assert "rephras" in html


def test_output_is_one_line_so_markdown_cannot_reinterpret_it() -> None:
    text = "Line *one*.\n\nLine _two_.\nLine three."
    html = answer_html(grounded(text, "A\n\nB [1]", cite(text, "Line _two_.")), {"doc-1": text}, "t")
    assert "\n" not in html
    assert "\n" not in streaming_html("partial\n\ntext")


def test_sources_show_title_outlet_date_and_original_link() -> None:
    text = "Alpha beta."
    citation = cite(
        text,
        "Alpha beta.",
        title="T",
        source="Outlet",
        published="2024-11-18T09:00:00Z",
        url="https://e.com/a",
    )
    html = answer_html(grounded(text, "Alpha [1]", citation), {"doc-1": text}, "t")
    for part in ('class="nd-title">T<', 'class="nd-outlet">Outlet<', 'class="nd-date">2024-11-18<'):
        assert part in html
    assert 'href="https://e.com/a"' in html
    assert '<mark class="nd-hl">Alpha beta.</mark>' in html


def test_news_fields_render_when_present() -> None:
    text = "It happened yesterday."
    support = CitationRef(
        doc_id="d2", title="Other", source="Wire", url="https://w.example/x", sentence="Same."
    )
    citation = cite(
        text,
        text,
        deep_link="https://e.com/a#:~:text=It%20happened",
        dates={"yesterday": "2022-06-15"},
        also_published_by=["Outlet B", "Outlet <C>"],
        corroboration=Corroboration(count=3, supporting=[support]),
    )
    html = answer_html(grounded(text, "It did [1].", citation), {"doc-1": text}, "t")
    assert "“yesterday” = 2022-06-15" in html
    assert "Also published by: Outlet B, Outlet &lt;C&gt;" in html
    assert "Reported by 3 independent outlets" in html and "https://w.example/x" in html
    assert 'href="https://e.com/a#:~:text=It%20happened"' in html


def test_stats_show_counts_sources_and_date_span() -> None:
    facts = CorpusFacts(3, 57, {"Reuters": 2, "<b>AP</b>": 1}, "2024-11-16", "2024-11-18T10:00:00")
    html = stats_html(facts)
    assert ">3<" in html and ">57<" in html and ">2<" in html
    assert "2024-11-16 – 2024-11-18" in re.sub(r"<[^>]+>", "", html)
    assert "&lt;b&gt;AP&lt;/b&gt;" in html


def test_ingest_report_lists_each_failure_with_its_reason() -> None:
    html = ingest_report_html(1, 0, 2, 20, [("bad.pdf", "not a PDF"), ("<x>.txt", "empty <text>")])
    assert "Added 1, updated 0, unchanged 2, failed 2" in html
    assert "<td>bad.pdf</td><td>not a PDF</td>" in html
    assert "<td>&lt;x&gt;.txt</td><td>empty &lt;text&gt;</td>" in html


def test_the_short_answer_is_shown_emphasized_escaped_and_linked_to_its_sentence() -> None:
    text = "The Colorado <Avalanche> won the Cup."
    answer = grounded(text, f"{text} [1]", cite(text, text)).model_copy(
        update={
            "short_answer": ShortAnswer(
                text="Colorado <Avalanche>", doc_id="doc-1", char_start=4, char_end=24
            )
        }
    )
    html = answer_html(answer, {"doc-1": text}, "t3")
    assert '<div class="nd-short-answer">Answer: <strong>Colorado &lt;Avalanche&gt;</strong>' in html
    assert 'href="#nd-t3-c1"' in html.split('<div class="nd-answer-text">')[0]


def test_an_answer_without_a_short_answer_shows_no_short_answer_line() -> None:
    text = "Alpha beta."
    assert "nd-short-answer" not in answer_html(grounded(text, "Alpha beta. [1]", cite(text, text)), {}, "t4")
