"""The extractive answerer: score candidate sentences, refuse or compose a short cited answer.

Scoring is a small linear model over signals that generalize across news weeks (no per-question
tuning): dense similarity of the sentence (with its context) to the question, its BM25 score, its
neighbours' BM25 (the sentence's context), the article title's similarity, the share of the
question's (IDF-weighted) terms found around it, and whether it holds a *new* expression of the
type the question asks for (a name for "who", a number for "how many", ...). Boilerplate lines and
fragments are pushed down. Composition takes the best sentence first (preceded by the sentence
naming its subject when it opens with "he", "they", ...), then at most a few more that are not
near-repeats of what is already said (by word overlap).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from assistant.answering.ranking import LearnedRanker
from assistant.retrieval.corpus import CorpusView
from assistant.retrieval.retrieve import Candidate, Retrieval
from assistant.text.lexical import content_terms
from assistant.text.question import AnswerType, Question
from assistant.types import Citation
from ingest.sections import AnsweringSettings

# A sentence opening with a personal pronoun ("Tuesday night, he picked up ...") names its subject in
# the sentence before it.
REFUSAL_PEERS = 3  # the best-ranked sentences of which one must be supported to answer
PRONOUN_OPENING_RE = re.compile(r"^(?:[^,]{0,25},\s*)?(?:he|she|they|his|her|their)\b", re.IGNORECASE)


def score_candidates(
    retrieval: Retrieval, ranker: LearnedRanker, today: date | None = None
) -> list[Candidate]:
    """Fill each candidate's features and score (the learned ranker); best first, boilerplate out,
    repeats of the previous answer last."""
    ranked = [c for c in ranker.score(retrieval, today) if c.features.get("boilerplate", 0.0) < 1.0]
    # A follow-up's candidates that the previous answer already gave go after the others: the model
    # is fitted on single questions, where no sentence is a repeat, so this stays a rule.
    return [c for c in ranked if not c.repeat] + [c for c in ranked if c.repeat]


def support(cand: Candidate) -> float:
    """How well a sentence is backed: mean of its dense similarity and the question-term coverage."""
    return (cand.features.get("dense", 0.0) + cand.features.get("coverage", 0.0)) / 2


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of content terms: near 1 for near-repeats (syndicated copies)."""
    ta, tb = set(content_terms(a)), set(content_terms(b))
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


@dataclass(frozen=True)
class Composition:
    """The sentences chosen for an answer, in order, or none (a refusal)."""

    chosen: list[Candidate]
    grounded: bool
    reason: str = ""


class ExtractiveAnswerer:
    """Refuses when the evidence is weak; otherwise the best sentence plus a few that add to it."""

    def __init__(self, settings: AnsweringSettings, ranker: LearnedRanker | None = None) -> None:
        self.settings = settings
        self.ranker = ranker or LearnedRanker()

    def rank(self, retrieval: Retrieval, today: date | None = None) -> list[Candidate]:
        """The candidates best first, boilerplate left out; kept on the retrieval, so a second call
        for the same day and the same repeats of the previous answer (a date phrase's search is
        ranked to be compared, then answered from) does not score the candidates again."""
        key = (today, tuple(c.repeat for c in retrieval.candidates))
        if retrieval.ranked is not None and retrieval.ranked[0] == key:
            return list(retrieval.ranked[1])
        ranked = score_candidates(retrieval, self.ranker, today)
        retrieval.ranked = (key, ranked)
        return list(ranked)

    def compose(self, retrieval: Retrieval, today: date | None = None) -> Composition:
        ranked = self.rank(retrieval, today)
        if not ranked:
            return Composition([], False, "nothing in the articles matches the question")
        if not self.answerable(ranked, retrieval.question):
            return Composition([], False, "the closest sentences do not answer the question")
        chosen = with_antecedent(
            retrieval.view, self._select(ranked, retrieval.question), self.settings.answer_max_sentences
        )
        return Composition(chosen, True)

    def answerable(self, ranked: Sequence[Candidate], question: Question) -> bool:
        """Whether the evidence around the best-ranked sentences is strong enough to answer: one of
        the first few is supported. (The ranker may put first the sentence after the one that matches
        the question's words, which alone is weakly supported.)"""
        return any(self.supported(c, question) for c in ranked[:REFUSAL_PEERS])

    def supported(self, best: Candidate, question: Question) -> bool:
        """Evidence test: the sentence is close to the question and enough of the question is found."""
        return support(best) >= self.settings.refusal_min_support

    def _select(self, ranked: list[Candidate], question: Question) -> list[Candidate]:
        best = ranked[0]
        chosen = [best]
        floor = best.score - self.settings.answer_score_margin
        for cand in ranked[1:]:
            if len(chosen) >= self.settings.answer_max_sentences or cand.score < floor:
                break
            if not self.supported(cand, question):  # every cited sentence is evidence, not only the first
                continue
            if any(_same_or_repeat(cand, c, self.settings.duplicate_overlap) for c in chosen):
                continue
            chosen.append(cand)
        return chosen


def with_antecedent(view: CorpusView, chosen: list[Candidate], limit: int) -> list[Candidate]:
    """When the best sentence opens with a personal pronoun, the sentence before it in its article
    (which names who "he" or "they" is) goes first; the answer keeps at most ``limit`` sentences."""
    best = chosen[0]
    row = best.row - 1
    if not PRONOUN_OPENING_RE.search(best.text.strip()) or row < 0 or view.s_doc[row] != view.s_doc[best.row]:
        return chosen
    if view.is_boilerplate(row):
        return chosen
    before = Candidate.at(view, row, score=best.score)
    return [before, best, *(c for c in chosen[1:] if c.row != row)][:limit]


def _same_or_repeat(a: Candidate, b: Candidate, threshold: float) -> bool:
    if (a.doc_id, a.index) == (b.doc_id, b.index):
        return True
    return word_overlap(a.text, b.text) >= threshold


def make_citations(view: CorpusView, chosen: Sequence[Candidate]) -> list[Citation]:
    """Citations numbered 1..n; ``sentence`` is cut from the canonical text by the offsets."""
    out = []
    for n, cand in enumerate(chosen, start=1):
        article = view.articles[cand.doc_id]
        meta = article.metadata
        out.append(
            Citation(
                n=n,
                sentence=article.text[cand.start : cand.end],
                doc_id=cand.doc_id,
                title=str(meta.get("title", "")),
                url=str(meta.get("url", "")),
                published=str(meta.get("published", "")),
                source=str(meta.get("source", "")),
                char_start=cand.start,
                char_end=cand.end,
                score=round(cand.score, 4),
            )
        )
    return out


def answer_text(citations: Sequence[Citation]) -> str:
    """Cited sentences, each followed by its ``[n]`` marker."""
    return " ".join(f"{_one_line(c.sentence)} [{c.n}]" for c in citations)


def _one_line(text: str) -> str:
    return " ".join(text.split())


REFUSAL_TEXT = "I could not find this in the articles: {reason}."


def refusal_text(reason: str) -> str:
    return REFUSAL_TEXT.format(reason=reason)


__all__ = [
    "AnswerType",
    "Composition",
    "ExtractiveAnswerer",
    "answer_text",
    "make_citations",
    "refusal_text",
    "score_candidates",
]
