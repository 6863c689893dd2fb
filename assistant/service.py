"""The Assistant: the one object every front end (CLI, Gradio, HTTP API) answers through.

The answer chain is a LangChain runnable sequence::

    standalone question (chat.py) -> hybrid retrieval (retrieve.py) -> answer (answer.py | llm.py)

Everything is built in :func:`create_assistant`; nothing happens at import time.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePath
from typing import TYPE_CHECKING, Literal

import numpy as np

from assistant.answer import (
    Composition,
    ExtractiveAnswerer,
    answer_text,
    make_citations,
    refusal_text,
    word_overlap,
)
from assistant.chat import Standalone, condense
from assistant.corpus import CorpusCache
from assistant.dates import asks_for_latest
from assistant.injection import screen, suspect_notice
from assistant.llm import Evidence, LLMAnswerer, LLMOutcome, build_chat_model, condense_with_llm
from assistant.news import (
    NewestFirst,
    NewsEnricher,
    answers_as_well,
    date_phrase_notice,
    prefer_dated,
    prefer_newest,
    question_filters,
)
from assistant.question import InvalidQuestionError, Question, check_text, read_question
from assistant.retrieve import Candidate, HybridSearch, Retrieval, SentenceRetriever
from assistant.short_answer import short_answer_of
from assistant.types import Answer, ChatTurn, Citation, Filters
from ingest.components import IngestComponents
from ingest.embedder import Embedder, Vectors
from ingest.errors import NewsdeskError
from ingest.pipeline import IngestReport
from ingest.settings import Settings
from ingest.store import StoredArticle, StoreStats
from ingest.types import Article

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

Mode = Literal["extractive", "llm"]
TITLE_TAIL_RE = re.compile(r"\s+(?:[-|–—]\s+[^-|–—]{2,40}|\.\.\.|…)\s*$")


@dataclass
class _Turn:
    """State of one question as it flows through the chain."""

    question: str
    history: Sequence[ChatTurn]
    filters: Filters | None
    mode: Mode
    today: date | None = None  # what "last week" in the question is relative to (None: today)
    started: float = field(default_factory=time.perf_counter)
    filters_applied: Filters | None = None
    standalone: Standalone | None = None
    retrieval: Retrieval | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    suspect: int = 0  # retrieved sentences left out: they address the reader or a model


class Assistant:
    """Answers questions about the stored articles with cited sentences; also ingests and reports."""

    def __init__(
        self, settings: Settings, components: IngestComponents, chat_model: BaseChatModel | None = None
    ) -> None:
        self.settings = settings
        self.components = components
        self.chat_model = chat_model
        self.cache = CorpusCache(components.store)
        self.news = NewsEnricher(settings, components.store, components.embedder, self.cache)
        self.search = HybridSearch(settings, components.store, components.embedder, self.cache)
        self.retriever = SentenceRetriever(search=self.search, k=settings.llm_max_evidence)
        self.extractive = ExtractiveAnswerer(settings)
        self.llm = (
            LLMAnswerer(chat_model, settings.llm_timeout_s, settings.llm_max_reply_chars, self._embed)
            if chat_model is not None
            else None
        )
        self._chain: Runnable[_Turn, _Turn] | None = None

    # --- answering -------------------------------------------------------------------------
    @property
    def llm_available(self) -> bool:
        return self.llm is not None

    @property
    def chain(self) -> Runnable[_Turn, _Turn]:
        """standalone question -> retrieval, as a LangChain runnable (built on first use)."""
        if self._chain is None:
            from langchain_core.runnables import RunnableLambda

            self._chain = RunnableLambda(self._standalone, name="standalone_question") | RunnableLambda(
                self._retrieve, name="hybrid_retrieval"
            )
        return self._chain

    def ask(
        self,
        question: str,
        history: Sequence[ChatTurn] = (),
        filters: Filters | None = None,
        mode: Mode | None = None,
        today: date | None = None,
    ) -> Answer:
        """The answer to a question, with citations (or a refusal); ``today`` (default: the
        current date) anchors relative dates of the question such as "last week"."""
        final: Answer | None = None
        for item in self.stream(question, history, filters, mode, today):
            if isinstance(item, Answer):
                final = item
        assert final is not None  # stream always ends with the Answer
        return final

    def stream(
        self,
        question: str,
        history: Sequence[ChatTurn] = (),
        filters: Filters | None = None,
        mode: Mode | None = None,
        today: date | None = None,
    ) -> Iterator[str | Answer]:
        """Answer text pieces, then the complete Answer (the same as :meth:`ask` returns)."""
        turn = _Turn(
            _checked(question, self.settings.max_question_chars),
            _checked_history(history),
            filters,
            mode or self.settings.answer_mode,
            today,
        )
        yield from self._answer_turn(turn)

    def trace(
        self, question: str, mode: Mode | None = None, today: date | None = None
    ) -> tuple[Answer, Retrieval | None]:
        """The answer with the retrieval it was composed from (its candidates): for evaluation."""
        checked = _checked(question, self.settings.max_question_chars)
        turn = _Turn(checked, [], None, mode or self.settings.answer_mode, today)
        answers = [item for item in self._answer_turn(turn) if isinstance(item, Answer)]
        return answers[-1], turn.retrieval

    def _answer_turn(self, turn: _Turn) -> Iterator[str | Answer]:
        turn = self.chain.invoke(turn)
        if turn.mode == "llm" and self.llm is None:
            turn.notices.append(
                "LLM mode is not configured (set llm_base_url); this is the extractive answer."
            )
            turn.mode = "extractive"
        if turn.mode == "llm":
            yield from self._llm_answer(turn)
        else:
            yield from self._extractive_answer(turn)

    def _standalone(self, turn: _Turn) -> _Turn:
        clock = time.perf_counter()
        turn.standalone = condense(turn.question, turn.history, self.settings.chat_history_turns)
        if turn.standalone.is_follow_up and turn.mode == "llm" and self.chat_model is not None:
            lines = [f"{t.role}: {t.content}" for t in turn.history[-self.settings.chat_history_turns :]]
            rewritten = condense_with_llm(self.chat_model, turn.question, lines, self.settings.llm_timeout_s)
            if rewritten:
                turn.standalone = Standalone(rewritten, True, turn.standalone.previous_answer)
        turn.timings["condense"] = _ms(clock)
        return turn

    def _retrieve(self, turn: _Turn) -> _Turn:
        assert turn.standalone is not None
        question = read_question(turn.standalone.text)
        turn.retrieval, turn.suspect = self._search(question, turn.filters)
        turn.timings.update(turn.retrieval.timings_ms)
        turn.filters_applied = turn.filters
        if self.settings.question_date_filters:
            self._date_phrase(turn, question)
        if turn.suspect:
            turn.notices.append(suspect_notice(turn.suspect))
        return turn

    def _search(self, question: Question, filters: Filters | None) -> tuple[Retrieval, int]:
        """The hybrid search's candidates, less the sentences that address the reader or a model
        (possible prompt injection: they are neither evidence nor an answer); and how many those were."""
        retrieval = self.search.search(question, filters)
        retrieval.candidates, suspect = screen(retrieval.candidates)
        return retrieval, len(suspect)

    def _embed(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors of a few sentences (the LLM reply's support check), with the query threads."""
        embedder = self.components.embedder
        return embedder.embed(list(texts), threads=embedder.query_threads)

    def _date_phrase(self, turn: _Turn, question: Question) -> None:
        """Search again within the date range the question names ("in January 2023", "last week")
        and keep that search when it answers about as well as the search of all dates."""
        assert turn.standalone is not None and turn.retrieval is not None
        dated = question_filters(turn.standalone.text, turn.filters, turn.today or date.today())
        if dated is None or dated is turn.filters:
            return
        clock = time.perf_counter()
        narrow, suspect = self._search(question, dated)
        kept = prefer_dated(
            self._strength(turn.retrieval, turn.today),
            self._strength(narrow, turn.today),
            self.settings.date_phrase_margin,
        )
        if kept:
            turn.retrieval, turn.filters_applied, turn.suspect = narrow, dated, suspect
        turn.notices.append(date_phrase_notice(dated, kept))
        turn.timings["date_phrase"] = _ms(clock)

    def _strength(self, retrieval: Retrieval, today: date | None) -> float | None:
        """The score of the sentence an extractive answer would lead with; None for a refusal."""
        ranked = self.extractive.rank(retrieval, today)
        if not ranked or not self.extractive.answerable(ranked, retrieval.question):
            return None
        return ranked[0].score

    def _extractive_answer(self, turn: _Turn) -> Iterator[str | Answer]:
        retrieval = turn.retrieval
        assert retrieval is not None and turn.standalone is not None
        clock = time.perf_counter()
        _mark_repeats(retrieval.candidates, turn.standalone.previous_answer)
        composition = self.extractive.compose(retrieval, turn.today)
        if (
            composition.grounded
            and self.settings.latest_prefers_newest
            and asks_for_latest(turn.standalone.text)
        ):
            composition = Composition(
                prefer_newest(composition.chosen, retrieval.candidates, self._newest(retrieval)), True
            )
        turn.timings["answer"] = _ms(clock)
        if not composition.grounded:
            text = refusal_text(composition.reason)
            yield text
            yield self._answer(turn, text, [], grounded=False)
            return
        citations = make_citations(retrieval.view, composition.chosen)
        for i, citation in enumerate(citations):
            yield ("" if i == 0 else " ") + answer_text([citation])
        yield self._answer(turn, answer_text(citations), citations, grounded=True)

    def _newest(self, retrieval: Retrieval) -> NewestFirst[Candidate]:
        """How a "latest" answer may put a newer sentence first: it must score within
        ``latest_score_margin`` of the best, pass the refusal test and answer as well."""
        settings, question = self.settings, retrieval.question
        return NewestFirst(
            published_ts=lambda c: int(retrieval.view.s_ts[c.row]),
            eligible=lambda c, best: self.extractive.supported(c, question) and answers_as_well(c, best),
            repeats=lambda a, b: a.row == b.row or word_overlap(a.text, b.text) >= settings.duplicate_overlap,
            margin=settings.latest_score_margin,
            limit=settings.answer_max_sentences,
        )

    def _llm_answer(self, turn: _Turn) -> Iterator[str | Answer]:
        retrieval = turn.retrieval
        assert retrieval is not None and self.llm is not None and turn.standalone is not None
        clock = time.perf_counter()
        ranked = self.extractive.rank(retrieval, turn.today)
        evidence_rows = ranked[: self.settings.llm_max_evidence]
        evidence = [_evidence(retrieval, n, c) for n, c in enumerate(evidence_rows, start=1)]
        outcome = LLMOutcome(failed=True, reason="no evidence")
        pieces_started = False
        if evidence:
            for item in self.llm.stream(turn.standalone.text, evidence):
                if isinstance(item, LLMOutcome):
                    outcome = item
                else:
                    pieces_started = True
                    yield item
        turn.timings["llm"] = _ms(clock)
        yield from self._finish_llm(turn, outcome, evidence_rows, pieces_started)

    def _finish_llm(
        self, turn: _Turn, outcome: LLMOutcome, rows: Sequence[Candidate], pieces_started: bool
    ) -> Iterator[str | Answer]:
        assert turn.retrieval is not None
        turn.notices.extend(outcome.notices)
        if outcome.failed and not pieces_started:
            turn.notices.append(f"Showing the extractive answer: {outcome.reason}.")
            turn.mode = "extractive"
            yield from self._extractive_answer(turn)
            return
        if not outcome.grounded or not rows:
            text = refusal_text(outcome.reason or "the evidence does not answer the question")
            yield text
            yield self._answer(turn, text, [], grounded=False)
            return
        chosen = [rows[n - 1] for n in outcome.cited]
        citations = make_citations(turn.retrieval.view, chosen)
        yield self._answer(turn, outcome.text, citations, grounded=True)

    def _answer(self, turn: _Turn, text: str, citations: list[Citation], grounded: bool) -> Answer:
        turn.timings["total"] = _ms(turn.started)
        standalone = turn.standalone.text if turn.standalone and turn.standalone.is_follow_up else ""
        answer = Answer(
            question=turn.question,
            answer=text,
            citations=citations,
            short_answer=short_answer_of(turn.retrieval, citations) if grounded else None,
            grounded=grounded,
            mode=turn.mode,
            standalone_question=standalone,
            notices=list(turn.notices),
            filters_applied=turn.filters_applied,
            timings_ms=dict(turn.timings),
        )
        return self.news.enrich(answer)  # syndication, corroboration, dates, deep links, corrections

    # --- corpus ----------------------------------------------------------------------------
    def ingest_sources(self, sources: Sequence[str]) -> IngestReport:
        return self.components.pipeline.run(list(sources), show_progress=False)

    def ingest_articles(self, articles: Sequence[Article]) -> IngestReport:
        return self.components.pipeline.ingest_articles(list(articles))

    def document(self, doc_id: str) -> StoredArticle:
        return self.components.store.require_article(doc_id)

    def delete(self, doc_id: str) -> None:
        self.components.pipeline.delete(doc_id)

    def stats(self) -> StoreStats:
        return self.components.store.stats()

    def example_questions(self, n: int = 4) -> list[str]:
        """Questions about the newest stories of the loaded corpus, from their real titles (an article
        whose title is only its file's name gives none)."""
        view = self.cache.get()
        dated = sorted(
            view.articles.values(), key=lambda a: str(a.metadata.get("published", "")), reverse=True
        )
        titles = [t for t in dict.fromkeys(_clean_title(real_title(a.metadata)) for a in dated) if t]
        rng = random.Random(view.generation)
        picked = rng.sample(titles[: max(n * 5, n)], k=min(n, len(titles)))
        return [f"What do the articles say about “{t}”?" for t in picked]

    def health(self) -> dict[str, object]:
        try:
            articles = self.components.store.check_readable()
            store_ok = True
        except NewsdeskError:
            articles, store_ok = 0, False
        return {"store": store_ok, "model_loaded": self.components.embedder.loaded, "articles": articles}

    def prepare(self) -> None:
        """Load the model (in a thread: it mostly waits on torch) while the corpus view is built."""
        loader = threading.Thread(target=self._load_model_quietly, name="newsdesk-model-load")
        loader.start()
        try:
            self.cache.get()
        finally:
            loader.join()
        _ = self.components.embedder.model  # re-raises a load error in this thread, as a ModelError

    def _load_model_quietly(self) -> None:
        """Load and run the model, then touch the vector index (Chroma loads it on the first query)."""
        with contextlib.suppress(NewsdeskError):  # prepare() raises it again in the caller's thread
            embedder = self.components.embedder
            embedder.load()
            embedder.embed(["warm up the kernels"], threads=embedder.query_threads)  # first pass is slow
            probe = np.full(embedder.dimension, embedder.dimension**-0.5, dtype=np.float32)
            self.components.store.query_sentences(probe, 1)

    def warm_up(self) -> None:
        """Load the model and the in-memory indexes, and run one query through the chain."""
        self.prepare()
        self.ask("What is the latest news?")


def create_assistant(
    settings: Settings, embedder: Embedder | None = None, chat_model: BaseChatModel | None = None
) -> Assistant:
    """Build the store, model (loaded on first use), indexes and optional LLM from settings."""
    components = IngestComponents.build(settings, embedder=embedder)
    return Assistant(settings, components, chat_model or build_chat_model(settings))


def _checked(question: str, max_chars: int) -> str:
    check_text(question, "the question")
    text = " ".join(question.split())
    if not text:
        raise InvalidQuestionError("the question is empty")
    if len(text) > max_chars:
        raise InvalidQuestionError(f"the question is longer than {max_chars} characters")
    return text


def _checked_history(history: Sequence[ChatTurn]) -> list[ChatTurn]:
    for number, turn in enumerate(history, start=1):
        check_text(turn.content, f"history turn {number}")
    return list(history)


def _mark_repeats(candidates: Sequence[Candidate], previous_answer: str) -> None:
    """In a follow-up, sentences already given in the last answer should not be the new answer."""
    if not previous_answer:
        return
    flat = " ".join(previous_answer.split())
    for cand in candidates:
        cand.repeat = " ".join(cand.text.split()) in flat


def _evidence(retrieval: Retrieval, n: int, cand: Candidate) -> Evidence:
    meta = retrieval.view.articles[cand.doc_id].metadata
    return Evidence(n, cand.text, str(meta.get("source", "")), str(meta.get("published", "")))


def real_title(metadata: Mapping[str, object]) -> str:
    """The article's title, or "" when it is its file's name standing in for a missing title."""
    title = str(metadata.get("title", "")).strip()
    origin = str(metadata.get("origin", ""))
    return "" if origin and title == PurePath(origin).stem else title


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    while TITLE_TAIL_RE.search(title):
        title = TITLE_TAIL_RE.sub("", title)
    return title.strip(" '\"“”")


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
