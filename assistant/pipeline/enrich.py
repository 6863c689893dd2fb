"""Stage 6, enrich: the news fields of the drafted answer (syndication, corroboration, anchored
dates, deep links, corrections: :class:`~assistant.news.enrich.NewsEnricher`). The pieces of the
answer text pass through as they come; the drafted answer is given at once as :class:`Cited` (its
citations are final: a reader need not wait for the news fields), then becomes the final
:class:`Answer`.
"""

from __future__ import annotations

from collections.abc import Iterator

from assistant.core.telemetry.tracing import add_attributes, span
from assistant.news.enrich import NewsEnricher
from assistant.pipeline.answer import Piece
from assistant.types import Cited, StreamItem


class Enrich:
    """The enrich stage (see the module doc)."""

    def __init__(self, news: NewsEnricher) -> None:
        self.news = news

    def __call__(self, pieces: Iterator[Piece]) -> Iterator[StreamItem]:
        for piece in pieces:
            if isinstance(piece, str):
                yield piece
                continue
            yield Cited(piece.answer)
            found = piece.retrieval
            # the stage's span covers its own work, not the wait for the pieces (assistant/pipeline/chain.py)
            with span("newsdesk.enrich", {"langchain.run_name": "enrich"}):
                answer = self.news.enrich(piece.answer, found.view.articles, found.vectors)
                add_attributes({"newsdesk.citations": len(answer.citations)})
            yield answer
