"""Candidate features and the learned sentence ranker.

Every candidate sentence of a retrieval is described by generic signals that mean the same in any
news week: how close it is to the question (dense similarity, BM25, their ranks and their gaps to
the best candidate), how much of the question is found in it and around it, whether it holds an
expression of the type the question asks for that the question does not already contain, where it
stands in its article, how its article fares among the candidates, and how old it is on the day the
question is asked. :func:`candidate_features` computes them; :class:`LearnedRanker` turns them into
one score with a gradient-boosted model fitted on the 2022 weeks of the archive
(``assistant/models/ranker.txt``, refitted with ``python -m assistant.ranker_fit``, see
docs/answering.md). The same function computes the features when fitting and when answering, so
the model sees at run time exactly what it was fitted on.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from assistant.answering.trees import Trees
from assistant.retrieval.corpus import CorpusView
from assistant.retrieval.models import fitted_model, model_text
from assistant.text.question import AnswerType, Question, answer_type_score, novel_spans

if TYPE_CHECKING:
    from assistant.retrieval.retrieve import Candidate, Retrieval

FloatArray = npt.NDArray[np.float64]
DAY_S = 86400.0
UNDATED_AGE_DAYS = 3650.0  # an undated article counts as ten years old
MODEL_FILE = "ranker.txt"
META_FILE = "ranker.json"
QUESTION_TYPES = tuple(AnswerType)

# Feature names, in the order of the model's columns. Keep in step with _rows().
FEATURES: tuple[str, ...] = (
    "dense",
    "dense_gap",
    "dense_rank",
    "lexical",
    "lexical_gap",
    "lexical_rank",
    "context",
    "expanded",
    "neighbour_dense",
    "title",
    "title_gap",
    "coverage",
    "sentence_coverage",
    "answer_type",
    "novel_spans",
    "boilerplate",
    "fragment",
    "headline",
    "repeat",
    "echo",
    "novelty",
    "position",
    "relative_position",
    "article_sentences",
    "article_candidates",
    "article_best_dense",
    "age_days",
    "newer_than_best",
    "words",
    "digits",
    "quote",
    *(f"asks_{t.value}" for t in QUESTION_TYPES),
)


@dataclass(frozen=True)
class CandidateContext:
    """What every candidate of one retrieval is compared with."""

    lexical_max: float
    dense_max: float
    title_max: float
    reference_ts: float
    newest_ts: float
    per_article: Counter[str]
    article_best: dict[str, float]
    dense_by_row: dict[int, float]
    weights: dict[str, float]  # idf of each of the question's terms
    asks: dict[str, float]  # the asks_* features: the question's answer type, one-hot


def candidate_features(retrieval: Retrieval, today: date | None = None) -> FloatArray:
    """One row of :data:`FEATURES` per candidate of the retrieval (in candidate order); also fills
    each candidate's ``features`` mapping with the named values."""
    cands = retrieval.candidates
    out = np.zeros((len(cands), len(FEATURES)), dtype=np.float64)
    if not cands:
        return out
    retrieval.view.load_idf(retrieval.question.terms)  # archive-wide signals: one index call each
    retrieval.view.mark_boilerplate(c.row for c in cands)
    context = _context(retrieval, today)
    for i, cand in enumerate(cands):
        named = _named_features(retrieval, cand, context)
        cand.features = named
        out[i] = [named[name] for name in FEATURES]
    return out


def _context(retrieval: Retrieval, today: date | None) -> CandidateContext:
    cands, view = retrieval.candidates, retrieval.view
    day = today or date.today()
    end_of_day = datetime.combine(day, time.max, tzinfo=UTC).timestamp()
    dated = [int(view.s_ts[c.row]) for c in cands]
    # Ages count from the newest candidate published by the end of today, not from today itself: a
    # question about an archive of old news sees the same ages as one asked the week the news broke.
    reference = max((ts for ts in dated if 0 <= ts <= end_of_day), default=end_of_day)
    best: dict[str, float] = {}
    for c in cands:
        best[c.doc_id] = max(best.get(c.doc_id, -1.0), c.dense)
    return CandidateContext(
        lexical_max=max(c.lexical for c in cands),
        dense_max=max(c.dense for c in cands),
        title_max=max(c.title_sim for c in cands),
        reference_ts=float(reference),
        newest_ts=float(max(dated)),
        per_article=Counter(c.doc_id for c in cands),
        article_best=best,
        dense_by_row={c.row: c.dense for c in cands},
        weights={t: view.idf(t) for t in set(retrieval.question.terms)},
        asks={f"asks_{t.value}": 1.0 if retrieval.question.answer_type is t else 0.0 for t in QUESTION_TYPES},
    )


def _named_features(retrieval: Retrieval, cand: Candidate, ctx: CandidateContext) -> dict[str, float]:
    view, question = retrieval.view, retrieval.question
    neighbours = view.neighbours(cand.row)
    lex_max = ctx.lexical_max if ctx.lexical_max > 0 else 1.0
    context_lex = max((retrieval.lexical_scores.get(r, 0.0) for r in neighbours), default=0.0)
    rows = view.article_rows(cand.doc_id)
    published = int(view.s_ts[cand.row])
    age = (ctx.reference_ts - published) / DAY_S if published >= 0 else UNDATED_AGE_DAYS
    text = cand.text
    novel = novel_spans(text, question)
    named = {
        "dense": cand.dense,
        "dense_gap": cand.dense - ctx.dense_max,
        "dense_rank": _reciprocal_rank(cand.dense_rank),
        "lexical": cand.lexical / lex_max,
        "lexical_gap": (cand.lexical - ctx.lexical_max) / lex_max,
        "lexical_rank": _reciprocal_rank(cand.lexical_rank),
        "context": context_lex / lex_max,
        "expanded": 1.0 if cand.dense_rank is None and cand.lexical_rank is None else 0.0,
        "neighbour_dense": max((ctx.dense_by_row.get(r, 0.0) for r in neighbours), default=0.0),
        "title": cand.title_sim,
        "title_gap": cand.title_sim - ctx.title_max,
        "coverage": coverage(view, ctx.weights, cand.row, neighbours),
        "sentence_coverage": coverage(view, ctx.weights, cand.row, ()),
        "answer_type": answer_type_score(text, question, novel),
        "novel_spans": float(min(len(novel), 5)),
        "boilerplate": float(view.is_boilerplate(cand.row)),
        "fragment": 1.0 if len(text) < 40 or len(text.split()) < 6 else 0.0,
        "headline": 1.0 if is_headline(text) else 0.0,
        "repeat": float(cand.repeat),
        "echo": 1.0 if echoes(view, question, cand.row) else 0.0,
        "novelty": novelty(view, question, cand.row),
        "position": math.log1p(cand.index),
        "relative_position": cand.index / max(len(rows), 1),
        "article_sentences": math.log1p(len(rows)),
        "article_candidates": float(ctx.per_article[cand.doc_id]),
        "article_best_dense": ctx.article_best[cand.doc_id],
        "age_days": max(min(age, UNDATED_AGE_DAYS), -UNDATED_AGE_DAYS),
        "newer_than_best": (published - ctx.newest_ts) / DAY_S if published >= 0 else -UNDATED_AGE_DAYS,
        "words": float(len(text.split())),
        "digits": 1.0 if DIGIT.search(text) else 0.0,
        "quote": 1.0 if text.lstrip()[:1] in QUOTE_OPENERS else 0.0,
    }
    named.update(ctx.asks)
    return named


QUOTE_OPENERS = frozenset("\"“‘'«")
DIGIT = re.compile(r"\d")


def _reciprocal_rank(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / (1 + rank)


def coverage(view: CorpusView, weights: Mapping[str, float], row: int, neighbours: Sequence[int]) -> float:
    """IDF-weighted share of the question's terms (``weights``: term -> idf) found in the sentence
    (and its neighbours and title, when ``neighbours`` are given)."""
    total = sum(weights.values())
    if not total:
        return 0.0
    found = view.terms(row)
    if neighbours:
        found = found.union(view.title_terms[int(view.s_doc[row])], *(view.terms(r) for r in neighbours))
    return sum(w for t, w in weights.items() if t in found) / total


def novelty(view: CorpusView, question: Question, row: int) -> float:
    """Share of the sentence's terms that are not in the question (restatements score low)."""
    terms = view.terms(row)
    if not terms:
        return 0.0
    return len(terms - set(question.terms)) / len(terms)


ECHO_OVERLAP = 0.7  # Jaccard of sentence and question terms above which the sentence is an echo


def echoes(view: CorpusView, question: Question, row: int) -> bool:
    """The sentence restates the question (e.g. a news quiz quoting it) rather than answering it."""
    terms, asked = view.terms(row), set(question.terms)
    return bool(terms) and len(terms & asked) / len(terms | asked) >= ECHO_OVERLAP


TERMINAL_RE = re.compile(r"[.!?][\"'”’)\]]*\s*$")
# A related-story link glued to its label ("Learn more:Cassidy Hutchinson to testify ..."): a headline.
LINK_LABEL_RE = re.compile(r"^[^:.!?]{2,40}:(?=[A-Z“\"‘'])")


def is_headline(text: str) -> bool:
    """A heading or related-story link rather than a sentence of the article's body."""
    return not TERMINAL_RE.search(text) or bool(LINK_LABEL_RE.search(text))


class LearnedRanker:
    """Scores candidates with the fitted model; higher is better."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder

    @cached_property
    def meta(self) -> dict[str, Any]:
        return fitted_model(self.folder, META_FILE, "the ranker model", FEATURES)

    @cached_property
    def trees(self) -> Trees:
        """The model's trees, evaluated with numpy (assistant/answering/trees.py: LightGBM's import
        alone would cost a cold start about 1.9 s)."""
        _ = self.meta  # checks the features first
        return Trees.parse(model_text(self.folder, MODEL_FILE, "the ranker model"))

    def scores(self, rows: FloatArray) -> FloatArray:
        if rows.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        return self.trees.predict(rows)

    def score(self, retrieval: Retrieval, today: date | None = None) -> list[Candidate]:
        """Fill each candidate's features and score; the candidates best first."""
        rows = candidate_features(retrieval, today)
        for cand, value in zip(retrieval.candidates, self.scores(rows)):
            cand.score = float(value)
        return sorted(retrieval.candidates, key=lambda c: -c.score)
