"""Corroboration: how many independent stories say what a cited sentence says.

For a cited sentence, the nearest stored sentences (a vector query with its stored vector, one
query for all citations, ids and distances only) are candidates. A candidate supports the
citation when it comes from another story group (not a syndicated copy, see
ingest/storage/stories.py) and another outlet, shares enough of the sentence's content words
(lexical check), and its embedding, taken of the sentence alone, is within
``settings.corroboration_threshold`` cosine of the cited sentence's. The count is the number of
distinct outlets that say it, the cited one included: 1 means single-sourced. Only the three most
overlapping candidates of an outlet are compared, and near-verbatim ones need no model call.

The model call embeds a batch of sentences (the cited ones and their candidates, about six when
there are any) with the cores that are idle at that moment besides the caller's
(:meth:`~ingest.embedding.embedder.Embedder.batch_threads`): nothing else of the answer runs
meanwhile, and idle cores make the batch faster (docs/performance.md). Under load (an ingest,
other requests) it stays on ``query_threads``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from assistant.core.sections import NewsSettings
from assistant.retrieval.corpus import ArticleLookup
from assistant.retrieval.dense import DenseHit, nearest_records
from assistant.retrieval.syndicated import story_of
from assistant.text.lexical import content_terms
from assistant.types import Citation, CitationRef, Corroboration
from ingest.embedding.embedder import Embedder, Vectors
from ingest.storage.records import SentenceRecord, StoredArticle
from ingest.storage.spans import sentence_arrays, span_of
from ingest.storage.store import NewsStore

MIN_SHARED_TERMS = 2
VERBATIM_JACCARD = 0.7  # content-word overlap at which two sentences are the same statement
PER_OUTLET = 3  # candidates of one outlet that are embedded and compared
PLAIN_CACHE_SIZE = 20_000  # sentence vectors kept in memory (about 30 MB)
MIN_TERM_SHARE = 0.4  # of the cited sentence's content terms found in the supporting sentence


def outlet_of(meta: Mapping[str, object]) -> str:
    """The outlet of an article: its ``source`` (set at ingest from the feed, site or URL host)."""
    return str(meta.get("source", "")) or str(meta.get("url", "")) or "(unknown)"


def term_overlap(cited: str, other: str) -> tuple[float, float]:
    """(share of the cited sentence's content words found in the other, Jaccard of the two sets);
    both 0 when they have too few in common: fewer than two, or than all of a one-word sentence."""
    mine, theirs = set(content_terms(cited)), set(content_terms(other))
    shared = len(mine & theirs)
    if not mine or shared < min(MIN_SHARED_TERMS, len(mine)):
        return 0.0, 0.0
    return shared / len(mine), shared / len(mine | theirs)


def lexically_close(cited: str, other: str) -> bool:
    """Enough of the cited sentence's content words are in the other sentence."""
    return term_overlap(cited, other)[0] >= MIN_TERM_SHARE


@dataclass(frozen=True)
class Support:
    """A sentence of another article that may say the same thing as a cited one."""

    article: StoredArticle
    record: SentenceRecord
    similarity: float | None = None  # cosine of the two sentences alone; None until computed

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

    def __init__(self, settings: NewsSettings, store: NewsStore, embedder: Embedder) -> None:
        self.threshold = settings.corroboration_threshold
        self.k = settings.corroboration_candidates
        self.store = store
        self.embedder = embedder
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def corroborate(
        self,
        citations: Sequence[Citation],
        stored_vectors: Sequence[Vectors | None],
        articles: ArticleLookup,
    ) -> list[Corroboration]:
        """One Corroboration per citation, in order. ``stored_vectors`` are the cited sentences'
        vectors in the store (None when unknown: that citation then counts as single-sourced)."""
        queries = [(i, v) for i, v in enumerate(stored_vectors) if v is not None]
        hits = nearest_records(self.store, [v for _, v in queries], self.k)
        pool = self._pool(citations, hits, articles)
        candidates: list[list[Support]] = [[] for _ in citations]
        for (i, _), found in zip(queries, self._records(hits, pool)):
            candidates[i] = self._supports(citations[i], found, pool)
        scored = self._similarities(citations, candidates)
        return [self._count(c, found, pool) for c, found in zip(citations, scored)]

    def _pool(
        self,
        citations: Sequence[Citation],
        hits: Sequence[Sequence[DenseHit]],
        articles: ArticleLookup,
    ) -> dict[str, StoredArticle]:
        """The cited articles and those of the found sentences that can corroborate one: their
        current version, of another outlet and story. The found articles not read yet are read in
        one call (most of them can corroborate, so reading their metadata first saves no text)."""
        cited = {c.doc_id: articles[c.doc_id] for c in citations if c.doc_id in articles}
        found = {h.doc_id: h.version for hs in hits for h in hs if h.doc_id not in cited}
        articles.load(sorted(found), found)
        useful = (
            (d, a)
            for d in found
            if (a := articles.already_read(d)) is not None
            and a.version == found[d]
            and any(_independent(c, a) for c in cited.values())
        )
        return {**cited, **dict(useful)}

    def _records(
        self, hits: Sequence[Sequence[DenseHit]], pool: Mapping[str, StoredArticle]
    ) -> list[list[SentenceRecord]]:
        """The found sentences of the pool's articles (current version), with their offsets."""
        spans = sentence_arrays(self.store.sentences, self.store.where, pool.values())
        out: list[list[SentenceRecord]] = []
        for found in hits:
            records = []
            for hit in found:
                article, rows = pool.get(hit.doc_id), spans.get(hit.doc_id)
                if article is None or article.version != hit.version or rows is None:
                    continue
                at = span_of(rows, hit.index)
                if at is not None:
                    distance = 1.0 - hit.similarity
                    records.append(SentenceRecord(hit.doc_id, hit.index, *at, hit.version, distance))
            out.append(records)
        return out

    def _similarities(
        self, citations: Sequence[Citation], candidates: Sequence[Sequence[Support]]
    ) -> list[list[Support]]:
        """The candidates with the cosine of their sentence alone to the cited sentence alone."""
        pending = [(c, s) for c, found in zip(citations, candidates) for s in found if s.similarity is None]
        plain = self._plain_vectors([t for c, s in pending for t in (c.sentence, s.text)]) if pending else {}
        return [
            [
                s
                if s.similarity is not None
                else replace(s, similarity=float(plain[c.sentence] @ plain[s.text]))
                for s in found
            ]
            for c, found in zip(citations, candidates)
        ]

    def _plain_vectors(self, texts: Sequence[str]) -> dict[str, Vectors]:
        """Embeddings of sentences alone; recently used ones are kept (a text's vector never changes)."""
        with self._lock:
            out = {t: self._cache[t] for t in texts if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in out]
        if missing:  # the cores idle now help (see the module doc)
            out.update(zip(missing, self.embedder.embed(missing, threads=self.embedder.batch_threads())))
        with self._lock:
            for text, vector in out.items():
                self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > PLAIN_CACHE_SIZE:
                self._cache.popitem(last=False)
        return out

    def _supports(
        self, citation: Citation, records: Sequence[SentenceRecord], articles: Mapping[str, StoredArticle]
    ) -> list[Support]:
        """Committed sentences near the cited one, from other stories and outlets, lexically close:
        at most ``PER_OUTLET`` an outlet, the most overlapping first. Near-verbatim ones (Jaccard of
        content words at least ``VERBATIM_JACCARD``) say the same thing without asking the model."""
        cited = articles.get(citation.doc_id)
        if cited is None:
            return []
        by_outlet: dict[str, list[tuple[float, Support]]] = {}
        for record in records:
            article = articles.get(record.doc_id)
            if article is None or article.version != record.version or not _independent(cited, article):
                continue
            text = article.text[record.start : record.end]
            share, jaccard = term_overlap(citation.sentence, text)
            if share >= MIN_TERM_SHARE:
                support = Support(article, record, 1.0 if jaccard >= VERBATIM_JACCARD else None)
                by_outlet.setdefault(outlet_of(article.metadata), []).append((share, support))
        best = [sorted(found, key=lambda f: -f[0])[:PER_OUTLET] for found in by_outlet.values()]
        return [support for found in best for _, support in found]

    def _count(
        self, citation: Citation, found: Sequence[Support], articles: Mapping[str, StoredArticle]
    ) -> Corroboration:
        cited = articles.get(citation.doc_id)
        seen_outlets = {outlet_of(cited.metadata)} if cited else set()
        seen_stories = {story_of(cited)} if cited else set()
        supporting = []
        for support in sorted(found, key=lambda s: -(s.similarity or 0.0)):
            if (support.similarity or 0.0) < self.threshold:
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
