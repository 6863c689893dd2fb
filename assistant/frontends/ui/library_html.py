"""HTML of the library tab: the corpus line, the statistics and the report of an ingest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assistant.frontends.ui.html import display_date, esc


@dataclass(frozen=True)
class CorpusFacts:
    """What the statistics panel shows (a UI-side copy of the store's statistics)."""

    articles: int
    sentences: int
    sources: Mapping[str, int]
    first_published: str = ""
    last_published: str = ""


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
