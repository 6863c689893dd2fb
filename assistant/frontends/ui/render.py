"""Pure rendering helpers: an :class:`Answer` (and corpus facts) as safe HTML for the Gradio UI.

Every piece of article or LLM text goes through :func:`html.escape`; the only markup is ours.
Links are emitted only for ``http(s)`` URLs, always with ``target="_blank"`` and
``rel="noopener noreferrer"``. The output never contains a newline, so a Markdown renderer treats
it as one raw HTML block and cannot reinterpret ``*``, ``_`` or backticks in article text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from assistant.frontends.ui.html import display_date, esc, external_link
from assistant.frontends.ui.passages import citation_passage, passage_html
from assistant.types import Answer, Citation, CitationRef, Filters

CITE_MARKER = re.compile(r"\[(\d+)\]")
REPHRASE_HINT = (
    "Try rephrasing with names, places or events as the articles would write them, "
    "widen the date range, or clear the source filter."
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
