"""News-native answers: syndication, corroboration, anchored dates, deep links and corrections.

:class:`NewsEnricher` is called once on a composed :class:`Answer` and fills, for each citation,
``also_published_by`` (the other outlets of its story group), ``corroboration`` (independent outlets
saying the same thing), ``dates`` (relative dates resolved against the publication date) and
``deep_link`` (a URL text fragment opening at the sentence); on the answer, ``as_of`` for
questions about the latest state, and a notice when an older version of an article said something
relevant that the newest no longer says.

Helpers for the answering side (docs/news.md): :func:`collapse_syndicated` keeps one copy of each
story among ranked candidates; :func:`prefer_newest` leads a composed "latest" answer with the
newest sentence that answers about as well as the best (:func:`answers_as_well`), never changing
whether the question is answered; :func:`question_filters` turns a date phrase of the question into
filters, and :func:`prefer_dated` decides whether the search restricted to them is kept.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np

from assistant.corpus import CorpusCache, CorpusView, fetch_embeddings
from assistant.corrections import CorrectionChecker, CorrectionFlag
from assistant.corroboration import Corroborator, outlet_of, story_of
from assistant.dates import anchor_dates, asks_for_latest, newest, parse_question_dates
from assistant.deeplink import deep_link
from assistant.types import Answer, Citation, Filters
from ingest.embedder import Embedder, Vectors
from ingest.settings import Settings
from ingest.store import NewsStore, StoredArticle, sentence_id
from ingest.versions import VersionArchive

if TYPE_CHECKING:
    from assistant.retrieve import Candidate


class HasDocId(Protocol):
    @property
    def doc_id(self) -> str: ...


T = TypeVar("T", bound=HasDocId)


def collapse_syndicated(candidates: Sequence[T], story_of_doc: Callable[[str], str]) -> list[T]:
    """Ranked candidates with syndicated copies removed: for each story group, only the candidates
    of its best-ranked article are kept (several sentences of that one article may stay)."""
    chosen: dict[str, str] = {}
    out = []
    for cand in candidates:
        story = story_of_doc(cand.doc_id)
        if chosen.setdefault(story, cand.doc_id) == cand.doc_id:
            out.append(cand)
    return out


class Scored(HasDocId, Protocol):
    @property
    def score(self) -> float: ...


S = TypeVar("S", bound=Scored)
DENSE_SLACK = 0.05  # how much less similar to the question a newer lead sentence may be
COVERAGE_SLACK = 0.1  # how much less of the question may be found around it
QUOTE_MARKS = ('"', "“", "‘", "'", "«")


@dataclass(frozen=True)
class NewestFirst(Generic[S]):
    """How a "latest" answer picks its lead sentence: candidates are compared by ``published_ts``
    (seconds, negative = undated), must score within ``margin`` of the best and be
    ``eligible(candidate, best)``; ``repeats(a, b)`` tells near-repeats; answers keep at most
    ``limit`` sentences."""

    published_ts: Callable[[S], int]
    eligible: Callable[[S, S], bool]
    repeats: Callable[[S, S], bool]
    margin: float
    limit: int


def prefer_newest(chosen: Sequence[S], ranked: Sequence[S], policy: NewestFirst[S]) -> list[S]:
    """For questions about the latest state: the chosen answer sentences led by the newest ranked
    candidate that is newer than the best chosen one and answers about as well (see
    :class:`NewestFirst`); chosen sentences it repeats are dropped, the others follow in their
    order. Without such a candidate the chosen sentences come back unchanged, so this never turns
    an answer into a refusal or the reverse."""
    if not chosen:
        return []
    best, ts = chosen[0], policy.published_ts
    newer = [
        c
        for c in ranked
        if c.score >= best.score - policy.margin and ts(c) > ts(best) >= 0 and policy.eligible(c, best)
    ]
    if not newer:
        return list(chosen)
    lead = max(newer, key=lambda c: (ts(c), c.score))
    return [lead, *(c for c in chosen if not policy.repeats(lead, c))][: policy.limit]


def answers_as_well(cand: Candidate, best: Candidate) -> bool:
    """A candidate makes the point of the best sentence about as well: it holds the kind of
    expression the question asks for whenever the best does, is about as close to the question
    (dense similarity) and about as much of the question is found around it (coverage); and it is
    no boilerplate, fragment, headline, echo of the question, repeat of the last answer or quotation."""
    f, b = cand.features, best.features
    if any(f.get(name, 0.0) > 0 for name in ("boilerplate", "fragment", "headline", "echo", "repeat")):
        return False
    if cand.text.lstrip().startswith(QUOTE_MARKS):  # a quoted opinion does not state the news
        return False
    return (
        f.get("answer_type", 0.0) >= b.get("answer_type", 0.0)
        and cand.dense >= best.dense - DENSE_SLACK
        and f.get("coverage", 0.0) >= b.get("coverage", 0.0) - COVERAGE_SLACK
    )


def question_filters(question: str, filters: Filters | None, today: date) -> Filters | None:
    """The filters with a date range read from the question ("in January 2023", "since June 2022",
    "last week") when the caller gave none; explicit dates always win."""
    if filters is not None and (filters.published_from or filters.published_to):
        return filters
    lo, hi = parse_question_dates(question, today)
    if (lo is None and hi is None) or (lo and hi and lo > hi):  # none, or "between May and March"
        return filters
    sources = list(filters.sources) if filters else []
    return Filters(published_from=lo, published_to=hi, sources=sources)


def prefer_dated(plain_best: float | None, dated_best: float | None, margin: float) -> bool:
    """Whether to keep the search restricted to the question's dates: its best sentence is good
    enough to answer (not None) and scores within ``margin`` of the best of all articles. The date
    phrase is so a soft preference: "What happened on January 6, 2021?" asked of articles published
    in 2022 falls back to them when the articles of that day answer clearly worse."""
    if dated_best is None:
        return False
    return plain_best is None or dated_best >= plain_best - margin


def range_phrase(filters: Filters) -> str:
    """'published 2022-06-13 to 2022-06-19', 'published since 2022-06-01', 'published until ...'."""
    lo, hi = filters.published_from, filters.published_to
    if lo and hi:
        return f"published {lo} to {hi}" if lo != hi else f"published on {lo}"
    return f"published since {lo}" if lo else f"published until {hi}"


def date_phrase_notice(filters: Filters, kept: bool) -> str:
    """The notice telling which articles the question's date phrase restricted the search to."""
    if kept:
        return f"Searched articles {range_phrase(filters)}, the dates named in the question."
    return (
        f"The question names dates ({range_phrase(filters)}) but the articles of those dates do not "
        "answer it as well; searched all dates."
    )


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
    """Adds the news fields to an answer's citations (see the module doc)."""

    def __init__(self, settings: Settings, store: NewsStore, embedder: Embedder, cache: CorpusCache) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.cache = cache
        self.corroborator = Corroborator(settings, store, embedder)
        self.archive = VersionArchive(store)
        self.corrections = CorrectionChecker(self.archive, embedder.model_name)
        self._groups: tuple[str, dict[str, list[str]]] = ("", {})
        self._retracted: tuple[str, bool] = ("", False)

    def enrich(self, answer: Answer) -> Answer:
        """The answer with every news field filled (a new object; the input is not changed)."""
        clock = time.perf_counter()
        view = self.cache.get()
        groups = self._story_groups(view)
        citations = [self._citation(c, view.articles, groups) for c in answer.citations]
        stored = self._stored_vectors(citations, view)
        for citation, found in zip(
            citations, self.corroborator.corroborate(citations, stored, view.articles)
        ):
            citation.corroboration = found
        update: dict[str, Any] = {"citations": citations, "notices": list(answer.notices)}
        question = answer.standalone_question or answer.question
        if answer.grounded and citations and asks_for_latest(question):
            update.update(self._as_of(answer, citations))
        flags = self._corrections(question, [v for v in stored if v is not None], view)
        update["notices"] += [flag.notice() for flag in flags]
        update["timings_ms"] = _with_news_time(answer.timings_ms, (time.perf_counter() - clock) * 1000)
        return answer.model_copy(update=update)

    def _story_groups(self, view: CorpusView) -> dict[str, list[str]]:
        if self._groups[0] != view.generation:
            self._groups = (view.generation, story_groups(view.articles))
        return self._groups[1]

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

    def _corrections(self, question: str, cited: Sequence[Vectors], view: CorpusView) -> list[CorrectionFlag]:
        if self._retracted[0] != view.generation:  # only a write (new generation) can change it
            self._retracted = (view.generation, self.archive.has_retracted())
        if not self._retracted[1]:
            return []
        vector = self.embedder.embed_query(question)
        similarities = [float(np.dot(v, vector)) for v in cited]
        return self.corrections.check(question, vector, similarities, view.articles)

    def _stored_vectors(self, citations: Sequence[Citation], view: CorpusView) -> list[Vectors | None]:
        """The stored vectors of the cited sentences (what retrieval compared), None if not found."""
        ids = [_sentence_id(view, c) for c in citations]
        found = fetch_embeddings(self.store, self.store.sentences, [i for i in ids if i])
        return [found.get(i) if i else None for i in ids]


def _sentence_id(view: CorpusView, citation: Citation) -> str:
    """The store id of a cited sentence of the view, "" when the view does not hold it."""
    pos = view.doc_pos.get(citation.doc_id)
    if pos is None:
        return ""
    rows = np.flatnonzero((view.s_doc == pos) & (view.s_start == citation.char_start))
    if not len(rows):
        return ""
    return sentence_id(citation.doc_id, view.articles[citation.doc_id].version, int(view.s_index[rows[0]]))


def _with_news_time(timings: Mapping[str, float], ms: float) -> dict[str, float]:
    """The timings with this step's time, also counted in the total when there is one."""
    out = {**timings, "news": round(ms, 2)}
    if "total" in out:
        out["total"] = round(out["total"] + ms, 2)
    return out
