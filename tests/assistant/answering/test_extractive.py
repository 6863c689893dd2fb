"""The extractive answerer on the sample corpus and a slice of the dev set (real model and Chroma)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from assistant.answering import reading
from assistant.answering.extractive import with_antecedent, word_overlap
from assistant.answering.ranking import is_headline
from assistant.answering.reading import Reader
from assistant.pipeline.request import Request
from assistant.retrieval.corpus import CorpusView, build_view
from assistant.retrieval.retrieve import Candidate
from assistant.service import Assistant
from assistant.text.question import AnswerType, answer_type_score, read_question, strip_dateline
from tests.assistant.conftest import dev_questions

SAMPLE_QUESTION = "Who led the Russian delegation to Damascus?"


def test_sample_corpus_answers_who_led_the_delegation_with_a_sentence_naming_evkurov(
    sample_assistant: Assistant,
) -> None:
    answer = sample_assistant.ask(SAMPLE_QUESTION)
    assert answer.grounded
    assert "Yunus-Bege Evkurov" in answer.citations[0].sentence
    assert answer.answer.startswith(" ".join(answer.citations[0].sentence.split()))
    assert "[1]" in answer.answer


def test_question_about_an_absent_topic_is_refused_without_citations(sample_assistant: Assistant) -> None:
    answer = sample_assistant.ask("What did the Pope say about the price of bananas in Ecuador?")
    assert not answer.grounded
    assert answer.citations == []
    assert "could not find" in answer.answer


def test_answer_sentences_do_not_repeat_each_other(sample_assistant: Assistant) -> None:
    answer = sample_assistant.ask("What did the Russian delegation discuss in Damascus?")
    sentences = [c.sentence for c in answer.citations]
    assert len(sentences) == len(set(sentences))
    assert all(word_overlap(a, b) < 0.6 for i, a in enumerate(sentences) for b in sentences[i + 1 :])


def test_every_citation_on_dev_questions_has_exact_offsets(dev_assistant: Assistant) -> None:
    cited = 0
    for q in dev_questions():
        answer = dev_assistant.ask(q["question"])
        for citation in answer.citations:
            text = dev_assistant.document(citation.doc_id).text
            assert citation.sentence == text[citation.char_start : citation.char_end]
            assert f"[{citation.n}]" in answer.answer
            cited += 1
    assert cited >= len(dev_questions())


def test_dev_slice_first_sentences_often_hold_the_gold_answer(dev_assistant: Assistant) -> None:
    from assistant.evaluate import QuestionItem, evaluate

    items = [QuestionItem(q["id"], q["question"], q["answer"]) for q in dev_questions()]
    metrics = evaluate(dev_assistant, items)
    assert metrics["first_sentence_hit"] >= 0.5, metrics
    assert metrics["refusal_rate"] <= 0.1, metrics


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who won the NHL’s Hart Trophy?", AnswerType.PERSON),
        ("Which country elected its first-ever leftist leader this week?", AnswerType.PLACE),
        ("How many hot dogs did Joey Chestnut eat?", AnswerType.NUMBER),
        ("How much did the bidder pay for lunch with Warren Buffett?", AnswerType.MONEY),
        ("What percentage of adults disapprove of the decision?", AnswerType.PERCENT),
        ("Microsoft retired Internet Explorer. What year did it debut?", AnswerType.DATE),
        ("Why did some cities cancel their fireworks displays?", AnswerType.NONE),
        ("Which automaker recalled 2.9 million vehicles this week?", AnswerType.ENTITY),
    ],
)
def test_question_type_is_read_from_its_asking_part(question: str, expected: AnswerType) -> None:
    assert read_question(question).answer_type is expected


def test_sentence_with_a_new_name_matches_a_who_question_but_one_repeating_the_question_does_not() -> None:
    question = read_question("Who led the Russian delegation to Damascus?")
    assert answer_type_score("General Yunus-Bege Evkurov led the delegation to Damascus.", question) == 1.0
    assert answer_type_score("The Russian delegation arrived in Damascus on Monday.", question) == 0.0


def test_a_wire_dateline_is_not_taken_for_a_name_that_answers_the_question() -> None:
    question = read_question("Who withdrew from Wimbledon with an injury?")
    assert strip_dateline("Berlin (CNN) A 101-year-old man") == "A 101-year-old man"
    assert strip_dateline("LONDON — Protesters glued") == "Protesters glued"
    assert (
        strip_dateline("The UK Health Security Agency (UKHSA) said")
        == "The UK Health Security Agency (UKHSA) said"
    )
    assert answer_type_score("(CNN) The champion withdrew from Wimbledon with an injury.", question) == 0.0
    assert answer_type_score("(CNN) Rafael Nadal withdrew from Wimbledon with an injury.", question) == 1.0


def test_a_role_word_before_a_name_from_the_question_is_not_a_new_name() -> None:
    question = read_question("Whose seat is Ketanji Brown Jackson filling on the Supreme Court?")
    assert (
        answer_type_score("Judge Ketanji Brown Jackson was sworn in to the Supreme Court.", question) == 0.0
    )
    assert answer_type_score("Jackson takes the seat of Associate Justice Stephen Breyer.", question) == 1.0


def test_related_story_links_and_unpunctuated_lines_count_as_headlines() -> None:
    assert is_headline("Learn more:Cassidy Hutchinson to testify at Jan. 6 hearing.")
    assert is_headline("Sheetz lowers gas prices to $3.99 a gallon")
    assert not is_headline("Topeka: Electric charging stations have been introduced on the turnpike.")
    assert not is_headline("Hutchinson testified on Tuesday.")


def test_a_best_sentence_opening_with_a_pronoun_is_preceded_by_the_sentence_naming_its_subject(
    sample_assistant: Assistant,
) -> None:
    store = sample_assistant.components.store
    view = build_view(store, store.lexical, [a.doc_id for a in store.iter_articles()])
    rows = [r for r in range(view.size) if view.text(r).startswith("Their dialogue")]
    assert len(rows) == 1
    best, other = (_candidate(view, r) for r in (rows[0], 0))
    chosen = with_antecedent(view, [best, other], limit=3)
    assert [c.row for c in chosen] == [rows[0] - 1, rows[0], 0]
    article = view.articles[chosen[0].doc_id]
    assert article.text[chosen[0].start : chosen[0].end].startswith("The two leaders")
    assert with_antecedent(view, [other, best], limit=3) == [other, best]


def _candidate(view: CorpusView, row: int) -> Candidate:
    s = view.sentence(row)
    return Candidate(row, s.doc_id, s.index, s.start, s.end, view.text(row))


def test_the_short_answer_is_the_name_inside_the_first_cited_sentence_with_exact_offsets(
    sample_assistant: Assistant,
) -> None:
    answer = sample_assistant.ask(SAMPLE_QUESTION)
    short = answer.short_answer
    assert short is not None and "Evkurov" in short.text
    first = answer.citations[0]
    assert short.doc_id == first.doc_id
    assert first.char_start <= short.char_start < short.char_end <= first.char_end
    assert sample_assistant.document(short.doc_id).text[short.char_start : short.char_end] == short.text


def test_a_refused_answer_has_no_short_answer(sample_assistant: Assistant) -> None:
    assert sample_assistant.ask("What did the Pope say about bananas in Ecuador?").short_answer is None


def test_each_search_is_read_once_and_the_date_scope_reading_is_the_answers(
    sample_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = reading.score_candidates

    def counted(*args: Any, **kwargs: Any) -> list[Candidate]:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reading, "score_candidates", counted)
    sample_assistant.ask(SAMPLE_QUESTION)
    assert len(calls) == 1
    calls.clear()
    answer = sample_assistant.ask(Request(f"{SAMPLE_QUESTION[:-1]} last week?", today=date(2024, 1, 10)))
    assert any("dates" in n for n in answer.notices)  # the date scope read both searches ...
    assert len(calls) == 2  # ... and the read stage took its reading over


def test_reading_scores_copies_and_leaves_the_retrieval_as_it_was(sample_assistant: Assistant) -> None:
    retrieval = sample_assistant.search.search(read_question(SAMPLE_QUESTION))
    ranking = Reader(0.35).read(retrieval)
    assert ranking.ranked and ranking.ranked[0].score != 0.0
    assert all(c.score == 0.0 and not c.features for c in retrieval.candidates)
    assert ranking.retrieval.view is retrieval.view


def test_a_who_answer_goes_on_to_the_next_sentence_when_that_one_names_the_person(
    sample_assistant: Assistant,
) -> None:
    answer = sample_assistant.ask("Who did Evkurov meet in Syria?")
    assert answer.short_answer is not None and answer.short_answer.text == "Murhaf Abu Kasra"
    sentences = [c.sentence for c in answer.citations]
    assert "Evkurov" in sentences[0] and "Murhaf Abu Kasra" in sentences[1]
