"""The question limits: checked once, in assistant/text/question.py, with the same messages everywhere."""

from __future__ import annotations

import pytest

from assistant.core.errors import InvalidQuestionError
from assistant.text.question import QuestionLimits, check_asked, check_question
from assistant.types import ChatTurn

LIMITS = QuestionLimits(max_chars=20, max_history_turns=2)


def test_a_question_as_sent_is_refused_when_blank_or_over_the_limit() -> None:
    check_asked("Who won?", [], LIMITS)
    with pytest.raises(InvalidQuestionError, match="the question is empty"):
        check_asked(" \n\t", [], LIMITS)
    with pytest.raises(InvalidQuestionError, match="longer than 20 characters"):
        check_asked("why  " * 5, [], LIMITS)  # as sent: its white space counts


def test_the_history_is_refused_with_too_many_turns_or_a_turn_too_long() -> None:
    turn = ChatTurn(role="user", content="x" * LIMITS.max_turn_chars)
    check_asked("Who won?", [turn, turn], LIMITS)
    with pytest.raises(InvalidQuestionError, match="more than 2 history turns"):
        check_asked("Who won?", [turn] * 3, LIMITS)
    too_long = ChatTurn(role="user", content="x" * (LIMITS.max_turn_chars + 1))
    with pytest.raises(InvalidQuestionError, match="a history turn is longer than 200 characters"):
        check_asked("Who won?", [too_long], LIMITS)


def test_the_service_check_folds_white_space_before_measuring() -> None:
    assert check_question("why  " * 5, LIMITS.max_chars) == "why why why why why"
    with pytest.raises(InvalidQuestionError, match="the question is empty"):
        check_question("   ", LIMITS.max_chars)
