"""Hit matching of the eval: the issue's definition (normalized containment) and the stricter one."""

from __future__ import annotations

from assistant.evaluate import answer_hits
from assistant.types import Answer, Citation


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
