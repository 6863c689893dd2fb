"""Corroboration: how many independent stories say what a cited sentence says.

For a cited sentence, the nearest stored sentences (a vector query with the sentence's own
embedding) are candidates. A candidate supports the citation when it comes from another story
group (not a syndicated copy, see ingest/syndication.py) and another outlet, shares enough of the
sentence's content words (lexical check), and its embedding, taken of the sentence alone, is within
``settings.corroboration_threshold`` cosine of the cited sentence's. The count is the number of
distinct outlets that say it, the cited one included: 1 means single-sourced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.lexical import content_terms
from assistant.types import Citation, CitationRef, Corroboration
from ingest.embedder import Embedder, Vectors
from ingest.errors import ConfigError
from ingest.settings import Settings
from ingest.store import NewsStore, SentenceRecord, StoredArticle

MIN_SHARED_TERMS = 2
MIN_TERM_SHARE = 0.3  # of the cited sentence's content terms found in the supporting sentence


def outlet_of(meta: Mapping[str, object]) -> str:
    """The outlet of an article: its ``source`` (set at ingest from the feed, site or URL host)."""
    return str(meta.get("source", "")) or str(meta.get("url", "")) or "(unknown)"


def story_of(article: StoredArticle) -> str:
    """The story group of an article (its own doc_id when it was stored before story grouping)."""
    return str(article.metadata.get("story_id", "")) or article.doc_id


def lexically_close(cited: str, other: str) -> bool:
    """Enough of the cited sentence's content words are in the other sentence."""
    mine, theirs = set(content_terms(cited)), set(content_terms(other))
    shared = len(mine & theirs)
    return shared >= min(MIN_SHARED_TERMS, len(mine)) and shared >= MIN_TERM_SHARE * len(mine)


@dataclass(frozen=True)
class Support:
    """A sentence of another article that may say the same thing as a cited one."""

    article: StoredArticle
    record: SentenceRecord

    @property
    def text(self) -> str:
        return self.article.text[self.record.start : self.record.end]

    def ref(self) -> CitationRef:
        meta = self.article.metadata
        return CitationRef(
            doc_id=self.article.doc_id,
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            url=str(meta.get("url", "")),
            published=str(meta.get("published", "")),
            char_start=self.record.start,
            char_end=self.record.end,
            sentence=self.text,
        )


class Corroborator:
    """Counts the independent outlets saying what each cited sentence says."""

    def __init__(self, settings: Settings, store: NewsStore, embedder: Embedder) -> None:
        if not 0.0 < settings.corroboration_threshold <= 1.0:
            raise ConfigError(
                f"corroboration_threshold must be above 0 and at most 1, got {settings.corroboration_threshold}"
            )
        if settings.corroboration_candidates < 1:
            raise ConfigError(
                f"corroboration_candidates must be at least 1, got {settings.corroboration_candidates}"
            )
        self.threshold = settings.corroboration_threshold
        self.k = settings.corroboration_candidates
        self.store = store
        self.embedder = embedder

    def corroborate(
        self, citations: Sequence[Citation], articles: Mapping[str, StoredArticle]
    ) -> list[Corroboration]:
        """One Corroboration per citation, in order."""
        if not citations:
            return []
        vectors = self.embedder.embed([c.sentence for c in citations])
        candidates = [self._candidates(c, v, articles) for c, v in zip(citations, vectors)]
        texts = sorted({s.text for found in candidates for s in found})
        text_vectors = dict(zip(texts, self.embedder.embed(texts))) if texts else {}
        return [
            self._count(c, v, found, text_vectors, articles)
            for c, v, found in zip(citations, vectors, candidates)
        ]

    def _candidates(
        self, citation: Citation, vector: Vectors, articles: Mapping[str, StoredArticle]
    ) -> list[Support]:
        """Committed sentences near the cited one, from other stories and outlets, lexically close."""
        cited = articles.get(citation.doc_id)
        if cited is None:
            return []
        found = []
        for record in self.store.query_sentences(vector, self.k):
            article = articles.get(record.doc_id)
            if article is None or article.version != record.version or not _independent(cited, article):
                continue
            support = Support(article, record)
            if lexically_close(citation.sentence, support.text):
                found.append(support)
        return found

    def _count(
        self,
        citation: Citation,
        vector: Vectors,
        found: Sequence[Support],
        text_vectors: Mapping[str, Vectors],
        articles: Mapping[str, StoredArticle],
    ) -> Corroboration:
        cited = articles.get(citation.doc_id)
        seen_outlets = {outlet_of(cited.metadata)} if cited else set()
        seen_stories = {story_of(cited)} if cited else set()
        scored = sorted(found, key=lambda s: -float(np.dot(text_vectors[s.text], vector)))
        supporting = []
        for support in scored:
            if float(np.dot(text_vectors[support.text], vector)) < self.threshold:
                break
            outlet, story = outlet_of(support.article.metadata), story_of(support.article)
            if outlet in seen_outlets or story in seen_stories:
                continue
            seen_outlets.add(outlet)
            seen_stories.add(story)
            supporting.append(support.ref())
        return Corroboration(count=1 + len(supporting), supporting=supporting)


def _independent(cited: StoredArticle, other: StoredArticle) -> bool:
    return (
        other.doc_id != cited.doc_id
        and story_of(other) != story_of(cited)
        and outlet_of(other.metadata) != outlet_of(cited.metadata)
    )
