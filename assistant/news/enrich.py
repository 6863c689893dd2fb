"""News-native answers: syndication, corroboration, anchored dates, deep links and corrections.

:class:`NewsEnricher` is called once on a composed :class:`Answer` and fills, for each citation,
``also_published_by`` (the other outlets of its story group), ``corroboration`` (independent outlets
saying the same thing), ``dates`` (relative dates resolved against the publication date) and
``deep_link`` (a URL text fragment opening at the sentence); on the answer, ``as_of`` for
questions about the latest state, and a notice when an older version of an article said something
relevant that the newest no longer says.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from assistant.core.sections import NewsSettings
from assistant.news.corrections import CorrectionChecker, CorrectionFlag
from assistant.news.corroboration import Corroborator, outlet_of
from assistant.news.deeplink import deep_link
from assistant.retrieval.corpus import ArticleLookup, SentenceVectors
from assistant.retrieval.syndicated import story_of
from assistant.text.dates import anchor_dates, asks_for_latest, newest
from assistant.types import Answer, Citation
from ingest.embedding.embedder import Embedder, Vectors
from ingest.storage.records import StoredArticle, sentence_id
from ingest.storage.spans import index_at, sentence_arrays
from ingest.storage.store import NewsStore
from ingest.storage.versions import VersionArchive


def story_groups(articles: Mapping[str, StoredArticle]) -> dict[str, list[str]]:
    """story_id -> doc_ids of its articles, oldest first."""
    groups: dict[str, list[str]] = defaultdict(list)
    for article in sorted(articles.values(), key=lambda a: (str(a.metadata.get("published", "")), a.doc_id)):
        groups[story_of(article)].append(article.doc_id)
    return dict(groups)


def also_published_by(
    doc_id: str, groups: Mapping[str, Sequence[str]], articles: Mapping[str, StoredArticle]
) -> list[str]:
    """The outlets of the other copies of the article's story, without repeats, oldest first."""
    article = articles.get(doc_id)
    if article is None:
        return []
    others = [d for d in groups.get(story_of(article), []) if d != doc_id and d in articles]
    return list(dict.fromkeys(outlet_of(articles[d].metadata) for d in others))


class NewsEnricher:
    """Adds the news fields to an answer's citations (see the module doc).

    It reads what it needs by id: the cited articles, the other copies of their stories (by their
    stored ``story_id``) and the articles of the sentences found near the cited ones.
    """

    def __init__(
        self, settings: NewsSettings, store: NewsStore, embedder: Embedder, workers: Executor
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.corroborator = Corroborator(settings, store, embedder)
        self.archive = VersionArchive(store)
        self.corrections = CorrectionChecker(self.archive, embedder.model_name)
        self._retracted: tuple[int, bool] = (-1, False)
        self.workers = workers  # for the reads beside corroboration (see enrich)

    def enrich(
        self,
        answer: Answer,
        known: Mapping[str, StoredArticle] | None = None,
        vectors: SentenceVectors | None = None,
    ) -> Answer:
        """The answer with every news field filled (a new object; the input is not changed);
        ``known``, ``vectors``: articles and sentence vectors already read (or being read) for this
        answer (the retrieval's), not read again.

        The story copies and the store's retraction check are read on worker threads while this one
        corroborates: the three are independent, and their reads overlap."""
        clock = time.perf_counter()
        articles = ArticleLookup(self.store, known)
        articles.load(c.doc_id for c in answer.citations)
        stories = sorted({story_of(articles[c.doc_id]) for c in answer.citations if c.doc_id in articles})
        members_read = self.workers.submit(self._story_members, stories)
        retracted_read = self.workers.submit(self._has_retracted)
        stored = self._stored_vectors(answer.citations, articles, vectors or SentenceVectors(self.store))
        found = self.corroborator.corroborate(answer.citations, stored, articles)
        members = members_read.result()
        groups = story_groups(members)
        citations = [self._citation(c, {**members, **articles}, groups) for c in answer.citations]
        for citation, corroboration in zip(citations, found):
            citation.corroboration = corroboration
        update: dict[str, Any] = {"citations": citations, "notices": list(answer.notices)}
        question = answer.standalone_question or answer.question
        if answer.grounded and citations and asks_for_latest(question):
            update.update(self._as_of(answer, citations))
        if retracted_read.result():
            flags = self._corrections(question, [v for v in stored if v is not None], articles)
            update["notices"] += [flag.notice() for flag in flags]
        update["timings_ms"] = _with_news_time(answer.timings_ms, (time.perf_counter() - clock) * 1000)
        return answer.model_copy(update=update)

    def _story_members(self, stories: Sequence[str]) -> dict[str, StoredArticle]:
        """Every stored article (with sentences) of these stories, from the lexical index."""
        found = self.store.lexical.story_articles(stories)
        return {doc_id: payload.article for doc_id, payload in found.items()}

    def _citation(
        self, citation: Citation, articles: Mapping[str, StoredArticle], groups: Mapping[str, Sequence[str]]
    ) -> Citation:
        article = articles.get(citation.doc_id)
        if article is None:
            return citation.model_copy()
        return citation.model_copy(
            update={
                "deep_link": deep_link(citation.url, article.text, citation.char_start, citation.char_end),
                "dates": anchor_dates(citation.sentence, citation.published),
                "also_published_by": also_published_by(citation.doc_id, groups, articles),
            }
        )

    def _as_of(self, answer: Answer, citations: Sequence[Citation]) -> dict[str, Any]:
        day = newest([c.published for c in citations])
        if day is None:
            return {}
        return {"as_of": day.isoformat(), "answer": f"{answer.answer}\n\nAs of {day.isoformat()}."}

    def _has_retracted(self) -> bool:
        """Whether any article of the store dropped a sentence in a newer version, read again only
        after a write: when the lexical index's generation changed (a local file read; every write
        commits there after Chroma), so an answer asks no Chroma request for it."""
        generation = self.store.lexical.generation()
        if self._retracted[0] != generation:
            self._retracted = (generation, self.archive.has_retracted())
        return self._retracted[1]

    def _corrections(
        self, question: str, cited: Sequence[Vectors], articles: ArticleLookup
    ) -> list[CorrectionFlag]:
        vector = self.embedder.embed_query(question)
        similarities = [float(np.dot(v, vector)) for v in cited]
        return self.corrections.check(question, vector, similarities, articles)

    def _stored_vectors(
        self, citations: Sequence[Citation], articles: ArticleLookup, vectors: SentenceVectors
    ) -> list[Vectors | None]:
        """The stored vectors of the cited sentences (what retrieval compared), None if not found."""
        ids = [_sentence_id(self.store, articles, c) for c in citations]
        found = vectors.get(i for i in ids if i)
        return [found.get(i) if i else None for i in ids]


def _sentence_id(store: NewsStore, articles: Mapping[str, StoredArticle], citation: Citation) -> str:
    """The store id of a cited sentence, "" when its article does not hold a sentence there."""
    article = articles.get(citation.doc_id)
    if article is None:
        return ""
    rows = sentence_arrays(store.sentences, store.where, [article]).get(article.doc_id)
    index = index_at(rows, citation.char_start) if rows is not None else None
    return "" if index is None else sentence_id(citation.doc_id, article.version, index)


def _with_news_time(timings: Mapping[str, float], ms: float) -> dict[str, float]:
    """The timings with this step's time, also counted in the total when there is one."""
    out = {**timings, "news": round(ms, 2)}
    if "total" in out:
        out["total"] = round(out["total"] + ms, 2)
    return out
