"""Stage 5, answer: the reply composed from the reading, streamed as pieces of its text, then the
:class:`Drafted` answer (the enrich stage adds the news fields).

The mode is decided here: LLM mode without a configured LLM answers extractively, saying so. The
extractive answer cites the best sentences (:class:`~assistant.answering.extractive.ExtractiveAnswerer`),
for a question about the latest state led by the newest one that answers as well
(:mod:`assistant.answering.newest`). The LLM answer is written from the best sentences as numbered
evidence and checked sentence by sentence (:class:`~assistant.answering.llm.LLMAnswerer`); when it
fails before any of it was shown, the extractive answer of the same reading is given, saying why.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from assistant.answering.evidence import evidence_of
from assistant.answering.extractive import (
    Composition,
    ExtractiveAnswerer,
    answer_text,
    make_citations,
    refusal_text,
    word_overlap,
)
from assistant.answering.llm import LLMAnswerer, LLMOutcome
from assistant.answering.newest import NewestFirst, answers_as_well, prefer_newest
from assistant.answering.reading import Ranking
from assistant.answering.short_answer import short_answer_of
from assistant.core.sections import AnsweringSettings
from assistant.pipeline.read import Reading
from assistant.pipeline.request import Mode, Trail, ms_since
from assistant.retrieval.retrieve import Candidate, Retrieval
from assistant.text.dates import asks_for_latest
from assistant.types import Answer, Citation

NO_LLM = "LLM mode is not configured (set llm_base_url); this is the extractive answer."


@dataclass(frozen=True)
class Drafted:
    """The composed answer, and the retrieval it was read from (whose articles and sentence
    vectors the enrich stage reuses)."""

    answer: Answer
    retrieval: Retrieval


Piece = str | Drafted


class AnswerStage:
    """The answer stage (see the module doc); ``llm``: None when no LLM is configured;
    ``max_evidence``: the ``llm_max_evidence`` setting."""

    def __init__(
        self,
        settings: AnsweringSettings,
        extractive: ExtractiveAnswerer,
        llm: LLMAnswerer | None,
        max_evidence: int,
    ) -> None:
        self.settings = settings
        self.extractive = extractive
        self.llm = llm
        self.max_evidence = max_evidence

    def __call__(self, reading: Reading) -> Iterator[Piece]:
        if reading.request.mode == "llm":
            if self.llm is not None:
                yield from self._llm(reading, self.llm)
                return
            reading = _with_trail(reading, reading.trail.notice(NO_LLM))
        yield from self._extractive(reading)

    def _extractive(self, reading: Reading) -> Iterator[Piece]:
        ranking = reading.ranking
        clock = time.perf_counter()
        composition = self.extractive.compose(ranking)
        if composition.grounded and self._prefers_newest(reading):
            chosen = prefer_newest(composition.chosen, ranking.retrieval.candidates, self._newest(ranking))
            composition = Composition(chosen, True)
        trail = reading.trail.timed("answer", clock)
        if not composition.grounded:
            text = refusal_text(composition.reason)
            yield text
            yield self._drafted(reading, trail, "extractive", text, [], grounded=False)
            return
        citations = make_citations(ranking.retrieval.view, composition.chosen)
        for i, citation in enumerate(citations):
            yield ("" if i == 0 else " ") + answer_text([citation])
        yield self._drafted(reading, trail, "extractive", answer_text(citations), citations, grounded=True)

    def _prefers_newest(self, reading: Reading) -> bool:
        return self.settings.latest_prefers_newest and asks_for_latest(reading.standalone.text)

    def _newest(self, ranking: Ranking) -> NewestFirst[Candidate]:
        """How a "latest" answer may put a newer sentence first: it must score within
        ``latest_score_margin`` of the best, pass the refusal test and answer as well."""
        settings, view, supported = self.settings, ranking.retrieval.view, self.extractive.reader.supported
        return NewestFirst(
            published_ts=lambda c: int(view.s_ts[c.row]),
            eligible=lambda c, best: supported(c) and answers_as_well(c, best),
            repeats=lambda a, b: a.row == b.row or word_overlap(a.text, b.text) >= settings.duplicate_overlap,
            margin=settings.latest_score_margin,
            limit=settings.answer_max_sentences,
        )

    def _llm(self, reading: Reading, llm: LLMAnswerer) -> Iterator[Piece]:
        """The LLM's answer from the best evidence; the extractive answer when it fails before any of
        it was streamed."""
        ranking = reading.ranking
        clock = time.perf_counter()
        rows = ranking.ranked[: self.max_evidence]
        evidence = [evidence_of(ranking.retrieval, n, c) for n, c in enumerate(rows, start=1)]
        outcome = LLMOutcome(failed=True, reason="no evidence")
        started = False
        if evidence:
            for item in llm.stream(reading.standalone.text, evidence):
                if isinstance(item, LLMOutcome):
                    outcome = item
                else:
                    started = True
                    yield item
        trail = reading.trail.timed("llm", clock).notice(*outcome.notices)
        if outcome.failed and not started:
            trail = trail.notice(f"Showing the extractive answer: {outcome.reason}.")
            yield from self._extractive(_with_trail(reading, trail))
            return
        if not outcome.grounded or not rows:
            text = refusal_text(outcome.reason or "the evidence does not answer the question")
            yield text
            yield self._drafted(reading, trail, "llm", text, [], grounded=False)
            return
        citations = make_citations(ranking.retrieval.view, [rows[n - 1] for n in outcome.cited])
        yield self._drafted(reading, trail, "llm", outcome.text, citations, grounded=True)

    def _drafted(
        self,
        reading: Reading,
        trail: Trail,
        mode: Mode,
        text: str,
        citations: Sequence[Citation],
        *,
        grounded: bool,
    ) -> Drafted:
        request, standalone, retrieval = reading.request, reading.standalone, reading.ranking.retrieval
        trail = trail.with_timings({"total": ms_since(request.started)})
        answer = Answer(
            question=request.question,
            answer=text,
            citations=list(citations),
            short_answer=short_answer_of(retrieval, citations) if grounded else None,
            grounded=grounded,
            mode=mode,
            standalone_question=standalone.text if standalone.is_follow_up else "",
            notices=list(trail.notices),
            filters_applied=reading.filters_applied,
            timings_ms=trail.timings_ms(),
        )
        return Drafted(answer, retrieval)


def _with_trail(reading: Reading, trail: Trail) -> Reading:
    return replace(reading, trail=trail)
