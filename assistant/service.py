"""The Assistant: the one object every front end (CLI, Gradio, HTTP API) answers through.

The answer chain is a LangChain runnable sequence (:mod:`assistant.answering.chain`)::

    standalone question (answering/condense.py) -> hybrid retrieval (retrieval/retrieve.py)
        -> answer (answering/llm.py, falling back to answering/extractive.py)

Everything is built in :func:`create_assistant`; nothing happens at import time.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from assistant.answering.chain import LLMFallback, build_chain
from assistant.answering.condense import Standalone, condense
from assistant.answering.date_scope import date_phrase_notice, prefer_dated, question_filters
from assistant.answering.evidence import evidence_of
from assistant.answering.extractive import (
    Composition,
    ExtractiveAnswerer,
    answer_text,
    make_citations,
    refusal_text,
    word_overlap,
)
from assistant.answering.llm import LLMAnswerer, LLMOutcome, build_chat_model, condense_with_llm
from assistant.answering.newest import NewestFirst, answers_as_well, prefer_newest
from assistant.answering.repeats import mark_repeats
from assistant.answering.short_answer import short_answer_of
from assistant.answering.turn import Mode, Turn
from assistant.news.enrich import NewsEnricher
from assistant.retrieval.corpus import ArticleLookup
from assistant.retrieval.filters import empty_range_notice
from assistant.retrieval.retrieve import Candidate, HybridSearch, Retrieval, SentenceRetriever
from assistant.text.dates import asks_for_latest
from assistant.text.injection import screen, suspect_notice
from assistant.text.question import Question, check_history, check_question, read_question
from assistant.text.titles import clean_title, real_title
from assistant.types import Answer, ChatTurn, Citation, Filters
from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder, Vectors
from ingest.errors import NewsdeskError, StoreLockedError
from ingest.pipeline import IngestReport
from ingest.settings import Settings
from ingest.storage.records import StoredArticle, StoreStats
from ingest.types import Article

READ_WORKERS = 8  # threads for the reads of an answer that overlap others (a task never waits on another)

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable


class Assistant:
    """Answers questions about the stored articles with cited sentences; also ingests and reports."""

    def __init__(
        self, settings: Settings, components: IngestComponents, chat_model: BaseChatModel | None = None
    ) -> None:
        self.settings = settings
        self.components = components
        self.chat_model = chat_model
        # threads for the overlapping reads of an answer (shared by this process's requests; see READ_WORKERS)
        self.workers = ThreadPoolExecutor(READ_WORKERS, thread_name_prefix="newsdesk-read")
        self.news = NewsEnricher(settings.news, components.store, components.embedder, self.workers)
        self.search = HybridSearch(settings.retrieval, components.store, components.embedder, self.workers)
        self.retriever = SentenceRetriever(search=self.search, k=settings.llm_max_evidence)
        self.extractive = ExtractiveAnswerer(settings.answering)
        self.llm = (
            LLMAnswerer(chat_model, settings.llm_timeout_s, settings.llm_max_reply_chars, self._embed)
            if chat_model is not None
            else None
        )
        self._chain: Runnable[Turn, str | Answer] | None = None

    # --- answering -------------------------------------------------------------------------
    @property
    def llm_available(self) -> bool:
        return self.llm is not None

    @property
    def chain(self) -> Runnable[Turn, str | Answer]:
        """The whole answering path as a LangChain runnable (built on first use): its steps are
        the methods below (:func:`assistant.answering.chain.build_chain`)."""
        if self._chain is None:
            self._chain = build_chain(self)
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
        turn = Turn(
            check_question(question, self.settings.max_question_chars),
            check_history(history),
            filters,
            mode or self.settings.answer_mode,
            today,
        )
        yield from self._answer_turn(turn)

    def trace(
        self, question: str, mode: Mode | None = None, today: date | None = None
    ) -> tuple[Answer, Retrieval | None]:
        """The answer with the retrieval it was composed from (its candidates): for evaluation."""
        checked = check_question(question, self.settings.max_question_chars)
        turn = Turn(checked, [], None, mode or self.settings.answer_mode, today)
        answers = [item for item in self._answer_turn(turn) if isinstance(item, Answer)]
        return answers[-1], turn.retrieval

    def _answer_turn(self, turn: Turn) -> Iterator[str | Answer]:
        yield from self.chain.stream(turn)

    def answer_mode(self, turn: Turn) -> Turn:
        """LLM mode without an LLM configured answers extractively, saying so."""
        if turn.mode == "llm" and self.llm is None:
            turn.notices.append(
                "LLM mode is not configured (set llm_base_url); this is the extractive answer."
            )
            turn.mode = "extractive"
        return turn

    def standalone(self, turn: Turn) -> Turn:
        clock = time.perf_counter()
        turn.standalone = condense(turn.question, turn.history, self.settings.chat_history_turns)
        if turn.standalone.is_follow_up and turn.mode == "llm" and self.chat_model is not None:
            lines = [f"{t.role}: {t.content}" for t in turn.history[-self.settings.chat_history_turns :]]
            rewritten = condense_with_llm(self.chat_model, turn.question, lines, self.settings.llm_timeout_s)
            if rewritten:
                turn.standalone = Standalone(rewritten, True, turn.standalone.previous_answer)
        turn.timings["condense"] = _ms(clock)
        return turn

    def retrieve(self, turn: Turn) -> Turn:
        assert turn.standalone is not None
        question = read_question(turn.standalone.text)
        turn.retrieval, turn.suspect = self._search(question, turn.filters)
        turn.timings.update(turn.retrieval.timings_ms)
        turn.filters_applied = turn.filters
        if notice := empty_range_notice(turn.filters):
            turn.notices.append(notice)
        if self.settings.question_date_filters:
            self._date_phrase(turn, question)
        if turn.suspect:
            turn.notices.append(suspect_notice(turn.suspect))
        return turn

    def _search(
        self, question: Question, filters: Filters | None, known: Retrieval | None = None
    ) -> tuple[Retrieval, int]:
        """The hybrid search's candidates, less the sentences that address the reader or a model
        (possible prompt injection: they are neither evidence nor an answer); and how many those were.
        ``known``: an earlier search of the question, whose articles are not read again."""
        retrieval = self.search.search(question, filters, known.view if known else None)
        retrieval.candidates, suspect = screen(retrieval.candidates)
        return retrieval, len(suspect)

    def _embed(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors of a few sentences (the LLM reply's support check), with the query threads."""
        embedder = self.components.embedder
        return embedder.embed(list(texts), threads=embedder.query_threads)

    def _date_phrase(self, turn: Turn, question: Question) -> None:
        """Search again within the date range the question names ("in January 2023", "last week")
        and keep that search when it answers about as well as the search of all dates."""
        assert turn.standalone is not None and turn.retrieval is not None
        dated = question_filters(turn.standalone.text, turn.filters, turn.today or date.today())
        if dated is None or dated is turn.filters:
            return
        clock = time.perf_counter()
        narrow, suspect = self._search(question, dated, turn.retrieval)
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

    def extractive_answer(self, turn: Turn) -> Iterator[str | Answer]:
        retrieval = turn.retrieval
        assert retrieval is not None and turn.standalone is not None
        clock = time.perf_counter()
        mark_repeats(retrieval.candidates, turn.standalone.previous_answer)
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

    def llm_answer(self, turn: Turn) -> Iterator[str | Answer]:
        """The LLM's answer from the best evidence; :class:`LLMFallback` when it fails before any of it
        was streamed (the chain then answers extractively)."""
        retrieval = turn.retrieval
        assert retrieval is not None and self.llm is not None and turn.standalone is not None
        clock = time.perf_counter()
        ranked = self.extractive.rank(retrieval, turn.today)
        evidence_rows = ranked[: self.settings.llm_max_evidence]
        evidence = [evidence_of(retrieval, n, c) for n, c in enumerate(evidence_rows, start=1)]
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
        self, turn: Turn, outcome: LLMOutcome, rows: Sequence[Candidate], pieces_started: bool
    ) -> Iterator[str | Answer]:
        assert turn.retrieval is not None
        turn.notices.extend(outcome.notices)
        if outcome.failed and not pieces_started:  # the chain's fallback gives the extractive answer
            turn.notices.append(f"Showing the extractive answer: {outcome.reason}.")
            turn.mode = "extractive"
            raise LLMFallback(outcome.reason)
        if not outcome.grounded or not rows:
            text = refusal_text(outcome.reason or "the evidence does not answer the question")
            yield text
            yield self._answer(turn, text, [], grounded=False)
            return
        chosen = [rows[n - 1] for n in outcome.cited]
        citations = make_citations(turn.retrieval.view, chosen)
        yield self._answer(turn, outcome.text, citations, grounded=True)

    def _answer(self, turn: Turn, text: str, citations: list[Citation], grounded: bool) -> Answer:
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
        found = turn.retrieval
        known, vectors = (found.view.articles, found.vectors) if found is not None else ({}, None)
        return self.news.enrich(answer, known, vectors)  # syndication, corroboration, dates, corrections...

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
        newest = self.components.store.lexical.newest_articles(max(n * 5, n) * 2)
        found = ArticleLookup(self.components.store)
        found.load(newest)
        dated = [found[d] for d in newest if d in found]
        titles = [t for t in dict.fromkeys(clean_title(real_title(a.metadata)) for a in dated) if t]
        rng = random.Random(",".join(newest))
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
        """Load the model (in a thread: it mostly waits on torch) while the lexical index is brought
        in step with the store (:meth:`prepare_index`)."""
        loader = threading.Thread(target=self._load_model_quietly, name="newsdesk-model-load")
        loader.start()
        try:
            self.prepare_index()
        finally:
            loader.join()
        _ = self.components.embedder.model  # re-raises a load error in this thread, as a ModelError

    def prepare_index(self) -> None:
        """Open the lexical index, rebuilt or repaired from Chroma if a crash or an older Newsdesk left
        it behind, when this process may write to the store; when another process writes or serves
        it, that process keeps the index in step, and this one only reads it."""
        store = self.components.store
        try:
            with store.write_lock():
                store.lexical_sync.prepare()
        except StoreLockedError:
            store.lexical.sentence_count()

    def _load_model_quietly(self) -> None:
        """Load and run the model, then touch the vector index (Chroma loads it on the first query)."""
        with contextlib.suppress(NewsdeskError):  # prepare() raises it again in the caller's thread
            embedder = self.components.embedder
            embedder.load()
            embedder.embed(["warm up the kernels"], threads=embedder.query_threads)  # first pass is slow
            embedder.embed(["and the thread pool", "of a batch"])  # corroboration's may use all cores
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
    return Assistant(settings, components, chat_model or build_chat_model(settings.llm))


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
