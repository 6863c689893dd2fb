"""Hit matching of the eval: the issue's definition (normalized containment) and the stricter one."""

from __future__ import annotations

import numpy as np

from assistant.evaluate import (
    QuestionItem,
    QuestionResult,
    answer_hits,
    bootstrap_interval,
    short_answer_hits,
    summarize,
)
from assistant.types import Answer, Citation, ShortAnswer


def answer_citing(*sentences: str) -> Answer:
    citations = [
        Citation(n=i, sentence=s, doc_id=f"d{i}", char_start=0, char_end=len(s))
        for i, s in enumerate(sentences, 1)
    ]
    text = " ".join(f"{s} [{i}]" for i, s in enumerate(sentences, 1))
    return Answer(question="q", answer=text, citations=citations, grounded=True)


def test_a_possessive_or_hyphenated_answer_counts_only_under_the_containment_definition() -> None:
    hits = answer_hits(answer_citing("A 101-year-old former guard was sentenced on Tuesday."), "101")
    assert hits["first_sentence_hit"] and hits["first_300_hit"] and hits["any_citation_hit"]
    assert not hits["first_sentence_hit_word_boundary"] and not hits["first_300_hit_word_boundary"]


def test_the_first_300_characters_exclude_a_later_sentence_that_holds_the_answer() -> None:
    hits = answer_hits(answer_citing("Officials met. " + "x" * 300, "The vote was 63 to 35."), "63")
    assert (hits["first_sentence_hit"], hits["first_300_hit"], hits["any_citation_hit"]) == (
        False,
        False,
        True,
    )


def test_a_refusal_scores_no_hit_even_when_its_text_names_the_answer() -> None:
    refusal = Answer(question="q", answer="I found nothing about 63 hot dogs.", grounded=False)
    assert not any(answer_hits(refusal, "63").values())


def result(qid: str, first_hit: bool, in_candidates: bool, grounded: bool = True) -> QuestionResult:
    sentence = "The answer is 63." if first_hit else "Something else happened."
    answer = answer_citing(sentence) if grounded else Answer(question="q", answer="no", grounded=False)
    item = QuestionItem(qid, "How many?", "63", "2024/01/05")
    return QuestionResult(item, answer, answer_hits(answer, "63"), in_candidates, 10.0)


def test_the_bootstrap_interval_brackets_the_rate_and_narrows_with_more_questions() -> None:
    few = np.array([1.0, 0.0] * 10)
    many = np.array([1.0, 0.0] * 500)
    lo_few, hi_few = bootstrap_interval(few)
    lo_many, hi_many = bootstrap_interval(many)
    assert lo_few < 0.5 < hi_few and lo_many < 0.5 < hi_many
    assert hi_many - lo_many < (hi_few - lo_few) / 3


def test_summary_reports_candidate_recall_beside_the_answer_rates_per_week() -> None:
    results = [
        result("20240105_0", True, True),
        result("20240105_1", False, True),
        result("20240112_0", False, False, grounded=False),
        result("20240112_1", True, True),
    ]
    metrics = summarize(results, bootstrap=200)
    assert metrics["first_sentence_hit"] == 0.5 and metrics["candidate_recall"] == 0.75
    assert metrics["refusal_rate"] == 0.25
    assert set(metrics["weeks"]) == {"20240105", "20240112"}
    assert metrics["weeks"]["20240112"]["candidate_recall"] == 0.5
    lo, hi = metrics["interval_95"]["first_sentence_hit"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0


def test_a_miss_says_whether_the_gold_was_among_the_candidates() -> None:
    miss = result("20240105_1", False, True).miss()
    assert miss["gold"] == "63" and miss["gold_in_candidates"] is True
    assert miss["first_citation"] == "Something else happened."


def test_a_short_answer_counts_as_exact_when_it_equals_the_gold_and_as_containing_when_it_holds_it() -> None:
    answer = answer_citing("The Colorado Avalanche won the Stanley Cup.")
    short = ShortAnswer(text="Colorado Avalanche", doc_id="d1", char_start=4, char_end=22)
    given = answer.model_copy(update={"short_answer": short})
    assert short_answer_hits(given, "colorado avalanche") == {
        "short_answer_given": True,
        "short_answer_exact": True,
        "short_answer_contains": True,
    }
    assert short_answer_hits(given, "Avalanche")["short_answer_contains"]
    assert not short_answer_hits(given, "Avalanche")["short_answer_exact"]
    assert not any(short_answer_hits(answer, "Avalanche").values())
