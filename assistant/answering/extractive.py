"""The extractive answerer: refuse, or compose a short cited answer from the ranked candidates.

The candidates come scored by the reader (:mod:`assistant.answering.reading`, the learned ranker
over signals that generalize across news weeks). Composition takes the best sentence first
(preceded by the sentence naming its subject when it opens with "he", "they", ...), then at most a
few more that are not near-repeats of what is already said (by word overlap).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answering.reading import Ranking, Reader
from assistant.core.sections import AnsweringSettings
from assistant.retrieval.corpus import CorpusView
from assistant.retrieval.retrieve import Candidate
from assistant.text.lexical import content_terms
from assistant.types import Citation

# A sentence opening with a personal pronoun ("Tuesday night, he picked up ...") names its subject in
# the sentence before it.
PRONOUN_OPENING_RE = re.compile(r"^(?:[^,]{0,25},\s*)?(?:he|she|they|his|her|their)\b", re.IGNORECASE)


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

    def __init__(self, settings: AnsweringSettings, reader: Reader) -> None:
        self.settings = settings
        self.reader = reader

    def compose(self, ranking: Ranking) -> Composition:
        """The answer's sentences from a reading of the candidates, or the reason to refuse."""
        ranked = list(ranking.ranked)
        if not ranked:
            return Composition([], False, "nothing in the articles matches the question")
        if not ranking.answerable:
            return Composition([], False, "the closest sentences do not answer the question")
        chosen = with_antecedent(
            ranking.retrieval.view, self._select(ranked), self.settings.answer_max_sentences
        )
        return Composition(chosen, True)

    def _select(self, ranked: list[Candidate]) -> list[Candidate]:
        best = ranked[0]
        chosen = [best]
        floor = best.score - self.settings.answer_score_margin
        for cand in ranked[1:]:
            if len(chosen) >= self.settings.answer_max_sentences or cand.score < floor:
                break
            if not self.reader.supported(cand):  # every cited sentence is evidence, not only the first
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
    "Composition",
    "ExtractiveAnswerer",
    "answer_text",
    "make_citations",
    "refusal_text",
]
