"""The short answer: the span of the first cited sentence that answers the question."""

from __future__ import annotations

from assistant.answering.short_answer import short_answer
from assistant.text.places import is_city
from assistant.text.question import read_question


def span_text(question: str, sentence: str, others: tuple[str, ...] = ()) -> str | None:
    span = short_answer(read_question(question), sentence, others)
    if span is None:
        return None
    assert sentence[span.start : span.end] == span.text
    return span.text


def test_a_who_question_gets_the_name_the_question_does_not_already_hold() -> None:
    sentence = "The Colorado Avalanche won the Stanley Cup on Sunday, beating the Tampa Bay Lightning."
    others = ("Colorado Avalanche players lifted the Cup.", "The Avalanche of Colorado Avalanche fame won.")
    assert span_text("Which team won the Stanley Cup?", sentence, others) == "Colorado Avalanche"


def test_a_how_many_question_gets_the_number() -> None:
    sentence = "Officials said on Tuesday that the heat wave killed 115 people in the region."
    assert span_text("How many people died in the heat wave?", sentence) == "115"


def test_the_span_named_by_the_other_candidates_wins_between_several() -> None:
    sentence = "Romania and Bulgaria were both considered, but the summit went to Romania."
    others = ("Leaders will meet in Romania next month.", "The Romania summit opens Monday.")
    assert span_text("Which country will host the summit?", sentence, others) == "Romania"


def test_a_why_question_gets_no_short_answer() -> None:
    assert span_text("Why did the talks fail?", "The talks failed because neither side moved.") is None


def test_a_sentence_without_an_expression_of_the_asked_type_gets_no_short_answer() -> None:
    assert span_text("How many people died?", "Officials said the toll was still unclear.") is None


def test_a_wire_dateline_is_never_the_short_answer() -> None:
    sentence = "LONDON (Reuters) - Britain's new prime minister is Liz Truss, the party said."
    assert span_text("Who is Britain's new prime minister?", sentence) == "Liz Truss"


def test_a_persons_title_and_the_questions_words_before_the_name_are_left_out() -> None:
    sentence = (
        "Russian Deputy Defense Minister General Army Yunus-Bege Evkurov led the delegation to Damascus."
    )
    assert span_text("Who led the Russian delegation to Damascus?", sentence) == "Yunus-Bege Evkurov"


def test_a_who_question_is_never_answered_by_a_city() -> None:
    question = read_question("Who did Evkurov meet in Syria?")
    sentence = "Russian Deputy Defense Minister Yunus-Bege Evkurov led a delegation to Damascus on Monday."
    assert short_answer(question, sentence) is None


def test_a_name_sharing_a_word_with_the_question_is_the_same_person_not_an_answer() -> None:
    question = read_question("Who did Biden meet in Tokyo?")
    span = short_answer(question, "President Joe Biden met Fumio Kishida, Japan's prime minister.")
    assert span is not None and span.text == "Fumio Kishida"


def test_a_who_question_without_a_new_person_is_answered_by_an_organisation() -> None:
    question = read_question("Who did Evkurov meet in Syria?")
    span = short_answer(question, "Evkurov met officials of the Syrian Defense Ministry in the capital.")
    assert span is not None and "Ministry" in span.text


def test_city_names_are_read_from_the_packaged_list() -> None:
    assert is_city("Damascus") and is_city("Addis Ababa") and is_city("Damascus on Monday")
    assert not is_city("Lloyd Austin") and not is_city("Damascus University")
