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

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from assistant.retrieval.corpus import CorpusView
from assistant.retrieval.retrieve import Candidate, Retrieval
from assistant.text.lexical import content_terms
from assistant.text.question import AnswerType, Question, answer_type_score
from assistant.types import Citation
from ingest.errors import ConfigError
from ingest.settings import Settings

TERMINAL_RE = re.compile(r"[.!?][\"'”’)\]]*\s*$")
# A related-story link glued to its label ("Learn more:Cassidy Hutchinson to testify ..."): a headline.
LINK_LABEL_RE = re.compile(r"^[^:.!?]{2,40}:(?=[A-Z“\"‘'])")
ECHO_OVERLAP = 0.7  # Jaccard of sentence and question terms above which the sentence is an echo
# A sentence opening with a personal pronoun ("Tuesday night, he picked up ...") names its subject in
# the sentence before it.
PRONOUN_OPENING_RE = re.compile(r"^(?:[^,]{0,25},\s*)?(?:he|she|they|his|her|their)\b", re.IGNORECASE)
RECENCY_SCALE_S = 30 * 86400  # a month older than the newest candidate: weight 1/e


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the sentence score; see docs/answering.md for how they were measured."""

    dense: float = 1.0
    lexical: float = 0.5
    context: float = 0.0
    title: float = 0.0
    coverage: float = 0.3
    answer_type: float = 0.7
    rrf: float = 0.0
    boilerplate: float = -1.0
    fragment: float = -0.3
    repeat: float = -0.6
    headline: float = -0.4
    recency: float = 0.2
    novelty: float = 0.0
    echo: float = -1.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> ScoreWeights:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown score weights {sorted(unknown)}; known: {sorted(known)}")
        return cls(**values)


def sentence_features(
    retrieval: Retrieval, cand: Candidate, lexical_max: float, newest: int = -1
) -> dict[str, float]:
    """The signals of one candidate, each roughly in [0, 1]."""
    view, question = retrieval.view, retrieval.question
    neighbours = view.neighbours(cand.row)
    context_lex = max((float(retrieval.lexical_scores[r]) for r in neighbours), default=0.0)
    return {
        "dense": cand.dense,
        "lexical": cand.lexical / lexical_max if lexical_max > 0 else 0.0,
        "context": context_lex / lexical_max if lexical_max > 0 else 0.0,
        "title": cand.title_sim,
        "coverage": coverage(view, question, cand, neighbours),
        "answer_type": answer_type_score(cand.text, question),
        "rrf": cand.fused * 30.0,
        "boilerplate": float(view.boilerplate[cand.row]),
        "fragment": 1.0 if len(cand.text) < 40 or len(cand.text.split()) < 6 else 0.0,
        "repeat": float(cand.repeat),
        "headline": 1.0 if is_headline(cand.text) else 0.0,
        "recency": recency(view, cand, newest),
        "novelty": novelty(view, question, cand),
        "echo": 1.0 if _echoes(view, question, cand) else 0.0,
    }


def is_headline(text: str) -> bool:
    """A heading or related-story link rather than a sentence of the article's body."""
    return not TERMINAL_RE.search(text) or bool(LINK_LABEL_RE.search(text))


def recency(view: CorpusView, cand: Candidate, newest: int) -> float:
    """1 for the newest candidate article, decaying with its age relative to it (undated: 0)."""
    published = int(view.s_ts[cand.row])
    if published < 0 or newest < 0:
        return 0.0
    return math.exp(-max(0, newest - published) / RECENCY_SCALE_S)


def novelty(view: CorpusView, question: Question, cand: Candidate) -> float:
    """Share of the sentence's terms that are not in the question (restatements score low)."""
    terms = view.terms(cand.row)
    if not terms:
        return 0.0
    return len(terms - set(question.terms)) / len(terms)


def _echoes(view: CorpusView, question: Question, cand: Candidate) -> bool:
    """The sentence restates the question (e.g. a news quiz quoting it) rather than answering it."""
    terms, asked = view.terms(cand.row), set(question.terms)
    return bool(terms) and len(terms & asked) / len(terms | asked) >= ECHO_OVERLAP


def coverage(view: CorpusView, question: Question, cand: Candidate, neighbours: Sequence[int]) -> float:
    """IDF-weighted share of the question's terms found in the sentence, its neighbours or title."""
    terms = set(question.terms)
    if not terms:
        return 0.0
    found = view.terms(cand.row) | view.title_terms[int(view.s_doc[cand.row])]
    for row in neighbours:
        found = found | view.terms(row)
    weights = {t: view.lexical.idf(t) for t in terms}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in found) / total if total else 0.0


def score_candidates(retrieval: Retrieval, weights: ScoreWeights) -> list[Candidate]:
    """Fill each candidate's features and score; return them best first."""
    lexical_max = max((c.lexical for c in retrieval.candidates), default=0.0)
    newest = max((int(retrieval.view.s_ts[c.row]) for c in retrieval.candidates), default=-1)
    for cand in retrieval.candidates:
        cand.features = sentence_features(retrieval, cand, lexical_max, newest)
        cand.score = sum(getattr(weights, name) * value for name, value in cand.features.items())
    return sorted(retrieval.candidates, key=lambda c: -c.score)


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

    def __init__(self, settings: Settings, weights: ScoreWeights | None = None) -> None:
        if not 0.0 <= settings.duplicate_overlap <= 1.0:
            raise ConfigError(f"duplicate_overlap must be within [0, 1], got {settings.duplicate_overlap}")
        self.settings = settings
        self.weights = weights or ScoreWeights()

    def compose(self, retrieval: Retrieval) -> Composition:
        ranked = score_candidates(retrieval, self.weights)
        ranked = [c for c in ranked if c.features.get("boilerplate", 0.0) < 1.0]
        if not ranked:
            return Composition([], False, "nothing in the articles matches the question")
        best = ranked[0]
        if not self.supported(best, retrieval.question):
            return Composition([], False, "the closest sentences do not answer the question")
        chosen = with_antecedent(retrieval.view, self._select(ranked), self.settings.answer_max_sentences)
        return Composition(chosen, True)

    def supported(self, best: Candidate, question: Question) -> bool:
        """Evidence test: the sentence is close to the question and enough of the question is found."""
        return support(best) >= self.settings.refusal_min_support

    def _select(self, ranked: list[Candidate]) -> list[Candidate]:
        best = ranked[0]
        chosen = [best]
        floor = best.score - self.settings.answer_score_margin
        for cand in ranked[1:]:
            if len(chosen) >= self.settings.answer_max_sentences or cand.score < floor:
                break
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
    if view.boilerplate[row]:
        return chosen
    s = view.sentence(row)
    before = Candidate(row, s.doc_id, s.index, s.start, s.end, view.text(row), score=best.score)
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
    "ScoreWeights",
    "answer_text",
    "make_citations",
    "refusal_text",
    "score_candidates",
]
