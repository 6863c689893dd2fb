"""Pure rendering helpers: an :class:`Answer` (and corpus facts) as safe HTML for the Gradio UI.

Every piece of article or LLM text goes through :func:`html.escape`; the only markup is ours.
Links are emitted only for ``http(s)`` URLs, always with ``target="_blank"`` and
``rel="noopener noreferrer"``. The output never contains a newline, so a Markdown renderer treats
it as one raw HTML block and cannot reinterpret ``*``, ``_`` or backticks in article text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assistant.types import Answer, Citation, CitationRef, Filters
from ingest.types import safe_url

CITE_MARKER = re.compile(r"\[(\d+)\]")
BLANK_LINE = re.compile(r"\n[ \t\r]*\n")
NEWLINE = re.compile(r"\n")
REPHRASE_HINT = (
    "Try rephrasing with names, places or events as the articles would write them, "
    "widen the date range, or clear the source filter."
)


@dataclass(frozen=True)
class Passage:
    """The text around a cited sentence: ``before + sentence + after`` is a slice of the article."""

    before: str
    sentence: str
    after: str
    clipped_start: bool = False
    clipped_end: bool = False


@dataclass(frozen=True)
class CorpusFacts:
    """What the statistics panel shows (a UI-side copy of the store's statistics)."""

    articles: int
    sentences: int
    sources: Mapping[str, int]
    first_published: str = ""
    last_published: str = ""


def esc(text: str) -> str:
    """Escape text for HTML; line breaks become ``<br>`` so the output stays on one line."""
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def external_link(url: str, label: str, css_class: str = "nd-link") -> str:
    """An anchor opening in a new tab, or "" when the URL is not http(s)."""
    target = safe_url(url)
    if target is None:
        return ""
    return (
        f'<a class="{css_class}" href="{html.escape(target, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer">{esc(label)}</a>'
    )


def display_date(published: str) -> str:
    """The date part of an ISO date or date-time (``2024-11-18T10:00:00Z`` -> ``2024-11-18``)."""
    published = published.strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}", published):
        return published[:10]
    return published


# --- the passage around a cited sentence ----------------------------------------------------
Unit = tuple[int, int]


def units_of(text: str, lo: int, hi: int, separator: re.Pattern[str]) -> list[Unit]:
    """The spans of ``text[lo:hi]`` between separators (paragraphs between blank lines, or lines)."""
    spans: list[Unit] = []
    start = lo
    for match in separator.finditer(text, lo, hi):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, hi))
    return spans


def unit_index(units: Sequence[Unit], offset: int) -> int:
    """The index of the unit holding ``offset`` (or the last one starting before it)."""
    return max((i for i, (start, _) in enumerate(units) if start <= offset), default=0)


def grow(units: Sequence[Unit], first: int, last: int, max_chars: int) -> Unit:
    """Add whole neighbouring units (previous first) to ``units[first..last]`` while under ``max_chars``."""
    while True:
        grown = False
        if first > 0 and units[last][1] - units[first - 1][0] <= max_chars:
            first, grown = first - 1, True
        if last < len(units) - 1 and units[last + 1][1] - units[first][0] <= max_chars:
            last, grown = last + 1, True
        if not grown:
            return units[first][0], units[last][1]


def clip_to_words(text: str, start: int, end: int, limit: Unit, max_chars: int) -> Unit:
    """A window of about ``max_chars`` around the sentence, cut at whitespace."""
    budget = max(0, max_chars - (end - start))
    lo = max(limit[0], start - budget // 2)
    hi = min(limit[1], end + budget - (start - lo))
    if lo > limit[0]:
        space = text.find(" ", lo, start)
        lo = start if space < 0 else space + 1
    if hi < limit[1]:
        space = text.rfind(" ", end, hi)
        hi = end if space < 0 else space
    return lo, hi


def covering(units: Sequence[Unit], start: int, end: int) -> tuple[int, int, Unit]:
    """The first and last units holding ``[start, end)``, and the span they cover."""
    first, last = unit_index(units, start), unit_index(units, end - 1)
    return first, last, (units[first][0], units[last][1])


def context_bounds(text: str, start: int, end: int, max_chars: int) -> Unit:
    """Whole paragraphs around the sentence; else whole lines of its paragraph; else a word window."""
    paragraphs = units_of(text, 0, len(text), BLANK_LINE)
    first, last, para = covering(paragraphs, start, end)
    if para[1] - para[0] <= max_chars:
        return grow(paragraphs, first, last, max_chars)
    lines = units_of(text, para[0], para[1], NEWLINE)
    first, last, block = covering(lines, start, end)
    if block[1] - block[0] <= max_chars:
        return grow(lines, first, last, max_chars)
    return clip_to_words(text, start, end, block, max_chars)


def passage_around(text: str, start: int, end: int, max_chars: int = 700) -> Passage:
    """The sentence ``text[start:end]`` with as much of its paragraph (and neighbours) as fits."""
    if not 0 <= start < end <= len(text):
        raise ValueError(f"offsets {start}:{end} are outside a text of {len(text)} characters")
    lo, hi = context_bounds(text, start, end, max_chars)
    before, after = text[lo:start], text[end:hi]
    return Passage(
        before.lstrip(), text[start:end], after.rstrip(), bool(text[:lo].strip()), bool(text[hi:].strip())
    )


def citation_passage(citation: Citation, text: str | None, max_chars: int) -> Passage:
    """The passage of a citation in its article text; just the sentence when they disagree."""
    start, end = citation.char_start, citation.char_end
    if text is None or not 0 <= start < end <= len(text) or text[start:end] != citation.sentence:
        return Passage("", citation.sentence, "")
    return passage_around(text, start, end, max_chars)


def passage_html(passage: Passage) -> str:
    """The passage as a quote with the sentence in ``<mark>``."""
    lead = "… " if passage.clipped_start else ""
    tail = " …" if passage.clipped_end else ""
    return (
        f'<blockquote class="nd-passage">{lead}{esc(passage.before)}'
        f'<mark class="nd-hl">{esc(passage.sentence)}</mark>{esc(passage.after)}{tail}</blockquote>'
    )


# --- answers --------------------------------------------------------------------------------
def cite_anchor(turn: str, n: int) -> str:
    """The element id of citation ``n`` of the answer identified by ``turn``."""
    return f"nd-{re.sub(r'[^A-Za-z0-9_-]', '', turn)}-c{n}"


def link_markers(answer_text: str, numbers: set[int], turn: str) -> str:
    """Escape the answer text and turn each known ``[n]`` marker into a link to its source."""

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in numbers:
            return match.group(0)
        anchor = cite_anchor(turn, n)
        return (
            f'<a class="nd-cite" href="#{anchor}" data-cite="{anchor}" '
            f'title="Show source {n} in its article">[{n}]</a>'
        )

    return CITE_MARKER.sub(link, esc(answer_text))


def byline_html(title: str, source: str, published: str, url: str) -> str:
    """Title, outlet, date and a link to the original article."""
    parts = [f'<span class="nd-title">{esc(title or "(untitled article)")}</span>']
    parts += [f'<span class="nd-outlet">{esc(source)}</span>'] if source else []
    parts += [f'<span class="nd-date">{esc(display_date(published))}</span>'] if published else []
    link = external_link(url, "original ↗", "nd-link nd-original")
    return '<span class="nd-byline">' + " · ".join(parts + ([link] if link else [])) + "</span>"


def corroboration_html(citation: Citation) -> str:
    """'Reported by N outlets' with the supporting sentences, or 'single source'."""
    corroboration = citation.corroboration
    if corroboration is None:
        return ""
    count = corroboration.count
    label = f"Reported by {count} independent outlets" if count > 1 else "Single source so far"
    items = "".join(f"<li>{ref_html(ref)}</li>" for ref in corroboration.supporting)
    listing = f'<ul class="nd-support">{items}</ul>' if items else ""
    return f'<div class="nd-extra nd-corroboration"><span class="nd-badge">{esc(label)}</span>{listing}</div>'


def ref_html(ref: CitationRef) -> str:
    """One supporting sentence with its byline."""
    quote = f'<span class="nd-quote">“{esc(ref.sentence)}”</span> ' if ref.sentence else ""
    return quote + byline_html(ref.title, ref.source, ref.published, ref.url)


def extras_html(citation: Citation) -> str:
    """Syndication, corroboration and resolved dates of a citation, when present."""
    parts = []
    if citation.dates:
        resolved = "; ".join(f"“{esc(k)}” = {esc(v)}" for k, v in citation.dates.items())
        parts.append(f'<div class="nd-extra nd-dates">Dates: {resolved}</div>')
    if citation.also_published_by:
        outlets = ", ".join(esc(o) for o in citation.also_published_by)
        parts.append(f'<div class="nd-extra nd-also">Also published by: {outlets}</div>')
    parts.append(corroboration_html(citation))
    return "".join(parts)


def source_html(citation: Citation, text: str | None, turn: str, max_chars: int) -> str:
    """One source: the cited sentence and byline; opened, the sentence highlighted in context."""
    anchor = cite_anchor(turn, citation.n)
    deep = external_link(citation.deep_link, "open at this sentence ↗", "nd-link nd-deep")
    summary = (
        f'<summary><span class="nd-n">{citation.n}</span><span class="nd-summary">'
        f'<span class="nd-quote">“{esc(citation.sentence)}”</span>'
        f"{byline_html(citation.title, citation.source, citation.published, citation.url)}</span></summary>"
    )
    body = passage_html(citation_passage(citation, text, max_chars)) + extras_html(citation)
    body += f'<div class="nd-extra">{deep}</div>' if deep else ""
    body = f'<div class="nd-source-body">{body}</div>'
    return f'<details class="nd-source" id="{anchor}">{summary}{body}</details>'


def sources_html(
    citations: Sequence[Citation],
    texts: Mapping[str, str],
    turn: str,
    max_chars: int,
    searched: Filters | None = None,
) -> str:
    """The sources panel of one answer; ``searched``: the filters the evidence search used, shown
    when they restrict dates (e.g. a date range read from the question)."""
    if not citations:
        return ""
    items = "".join(source_html(c, texts.get(c.doc_id), turn, max_chars) for c in citations)
    hint = '<span class="nd-hint">click a source or a [n] marker to see it in its article</span>'
    dated = searched is not None and bool(searched.published_from or searched.published_to)
    scope = f'<div class="nd-searched">Searched {esc(filters_phrase(searched))}</div>' if dated else ""
    return f'<div class="nd-sources"><div class="nd-sources-head">Sources {hint}</div>{scope}{items}</div>'


def filters_phrase(filters: Filters | None) -> str:
    """'all articles', or the date range and sources the search was restricted to."""
    if filters is None or filters.is_empty():
        return "all articles"
    parts = ["articles"]
    if filters.published_from or filters.published_to:
        parts.append(f"published {filters.published_from or '…'} to {filters.published_to or '…'}")
    if filters.sources:
        parts.append("from " + ", ".join(filters.sources))
    return " ".join(parts)


def notes_html(answer: Answer) -> str:
    """As-of date, notices and the answer mode, as one muted line each."""
    as_of = f"As of {answer.as_of}"
    notes = [as_of] if answer.as_of and as_of not in answer.answer else []  # not twice
    notes += list(answer.notices)
    mode = "LLM answer" if answer.mode == "llm" else "extractive answer (sentences quoted from the articles)"
    items = "".join(f'<div class="nd-note">{esc(note)}</div>' for note in notes)
    return f'<div class="nd-notes">{items}<div class="nd-note nd-mode">{esc(mode)}</div></div>'


def follow_ups_html(answer: Answer) -> str:
    if not answer.follow_ups:
        return ""
    items = "".join(f"<li>{esc(q)}</li>" for q in answer.follow_ups)
    return f'<div class="nd-followups">You could also ask:<ul>{items}</ul></div>'


def refusal_html(answer: Answer, filters: Filters | None) -> str:
    """A refused answer: what was searched, a hint to rephrase, and no sources."""
    searched = answer.standalone_question or answer.question
    used = answer.filters_applied if answer.filters_applied is not None else filters
    return (
        f'<div class="nd-answer nd-refused"><div class="nd-answer-text">{esc(answer.answer)}</div>'
        f'<div class="nd-searched">Searched {esc(filters_phrase(used))} for: '
        f"<q>{esc(searched)}</q></div>"
        f'<div class="nd-hint-box">{esc(REPHRASE_HINT)}</div>{notes_html(answer)}</div>'
    )


def answer_html(
    answer: Answer, texts: Mapping[str, str], turn: str, filters: Filters | None = None, max_chars: int = 700
) -> str:
    """A whole answer: text with linked markers, notes, and its sources panel (none if refused)."""
    if not answer.grounded or not answer.citations:
        return refusal_html(answer, filters)
    numbers = {c.n for c in answer.citations}
    sources = sources_html(answer.citations, texts, turn, max_chars, answer.filters_applied)
    return (
        f'<div class="nd-answer" data-turn="{esc(turn)}">{short_answer_html(answer, turn)}'
        f'<div class="nd-answer-text">{link_markers(answer.answer, numbers, turn)}</div>'
        f"{notes_html(answer)}{sources}"
        f"{follow_ups_html(answer)}</div>"
    )


def short_answer_html(answer: Answer, turn: str) -> str:
    """The short answer, emphasized, linked to the sentence it was cut from (none: empty)."""
    short = answer.short_answer
    if short is None or not answer.citations:
        return ""
    anchor = cite_anchor(turn, answer.citations[0].n)
    return (
        f'<div class="nd-short-answer">Answer: <strong>{esc(short.text)}</strong> '
        f'<a class="nd-cite" href="#{anchor}" data-cite="{anchor}" title="Show source">'
        f"[{answer.citations[0].n}]</a></div>"
    )


def streaming_html(text: str) -> str:
    """The answer text while it streams in (plain escaped text, no links yet)."""
    return f'<div class="nd-answer nd-streaming"><div class="nd-answer-text">{esc(text) or "…"}</div></div>'


def error_html(message: str) -> str:
    return f'<div class="nd-answer nd-error"><div class="nd-answer-text">{esc(message)}</div></div>'


# --- corpus and ingest ----------------------------------------------------------------------
def date_span(facts: CorpusFacts) -> str:
    """The published date range as HTML; each date kept on one line."""
    first, last = display_date(facts.first_published), display_date(facts.last_published)
    if not (first or last):
        return "no dates"
    if first == last:
        return f'<span class="nd-nowrap">{esc(first)}</span>'
    start, end = esc(first or "?"), esc(last or "?")
    return f'<span class="nd-nowrap">{start} –</span> <span class="nd-nowrap">{end}</span>'


def corpus_line(facts: CorpusFacts) -> str:
    """One-line summary of the corpus for the chat sidebar."""
    if facts.articles == 0:
        return '<div class="nd-corpus nd-empty">The library is empty.</div>'
    counts = [
        plural(facts.articles, "article"),
        plural(facts.sentences, "sentence"),
        plural(len(facts.sources), "source"),
    ]
    return f'<div class="nd-corpus">{" · ".join(counts)} · {date_span(facts)}</div>'


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def stats_html(facts: CorpusFacts, top: int = 12) -> str:
    """Corpus statistics: counts, date span and the largest sources."""
    cells = [
        (f"{facts.articles}", "articles", ""),
        (f"{facts.sentences}", "sentences", ""),
        (f"{len(facts.sources)}", "sources", ""),
        (date_span(facts), "published", " nd-tile-wide"),
    ]
    tiles = "".join(
        f'<div class="nd-tile{wide}"><div class="nd-tile-value">{v}</div>'
        f'<div class="nd-tile-label">{esc(label)}</div></div>'
        for v, label, wide in cells
    )
    ranked = sorted(facts.sources.items(), key=lambda kv: (-kv[1], kv[0]))
    rows = "".join(f"<tr><td>{esc(name)}</td><td>{n}</td></tr>" for name, n in ranked[:top])
    more = f'<div class="nd-note">and {len(ranked) - top} more sources</div>' if len(ranked) > top else ""
    table = f'<table class="nd-table"><tr><th>Source</th><th>Articles</th></tr>{rows}</table>' if rows else ""
    return f'<div class="nd-stats"><div class="nd-tiles">{tiles}</div>{table}{more}</div>'


def ingest_report_html(
    added: int, updated: int, unchanged: int, sentences: int, failures: Sequence[tuple[str, str]]
) -> str:
    """The outcome of an ingest run, with one row per failed source and its reason."""
    summary = (
        f"Added {added}, updated {updated}, unchanged {unchanged}, failed {len(failures)} "
        f"({sentences} sentences embedded)."
    )
    status = "nd-ok" if not failures else "nd-warn"
    rows = "".join(f"<tr><td>{esc(src)}</td><td>{esc(reason)}</td></tr>" for src, reason in failures)
    table = (
        f'<table class="nd-table nd-failures"><tr><th>Failed source</th><th>Reason</th></tr>{rows}</table>'
        if rows
        else ""
    )
    return f'<div class="nd-report {status}"><div>{esc(summary)}</div>{table}</div>'
