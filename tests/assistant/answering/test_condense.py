"""Follow-up questions are resolved from the conversation history, in both modes."""

from __future__ import annotations

from assistant.pipeline.condense import condense, is_follow_up
from assistant.pipeline.request import Request
from assistant.service import Assistant
from assistant.types import ChatTurn
from tests.assistant.scripted_llm import scripted_model

FIRST = "Who led the Russian delegation to Damascus?"


def history(assistant: Assistant) -> list[ChatTurn]:
    first = assistant.ask(FIRST)
    return [ChatTurn(role="user", content=FIRST), ChatTurn(role="assistant", content=first.answer)]


def test_follow_up_is_resolved_from_history(sample_assistant: Assistant) -> None:
    answer = sample_assistant.ask(Request.of("And who did he meet?", history=history(sample_assistant)))
    assert answer.grounded
    assert "Murhaf Abu Kasra" in answer.citations[0].sentence
    assert "Damascus" in answer.standalone_question


def test_same_follow_up_without_history_is_not_about_damascus(sample_assistant: Assistant) -> None:
    answer = sample_assistant.ask("And who did he meet?")
    assert answer.standalone_question == ""
    assert not answer.citations or "Murhaf Abu Kasra" not in answer.citations[0].sentence


def test_standalone_question_is_left_as_it_is() -> None:
    turns = [ChatTurn(role="user", content=FIRST), ChatTurn(role="assistant", content="Evkurov. [1]")]
    question = "Which automaker recalled 2.9 million vehicles this week?"
    assert not is_follow_up(question)
    assert condense(question, turns).text == question


def test_follow_up_is_condensed_by_the_llm_with_fake_chat_model(sample_assistant: Assistant) -> None:
    model = scripted_model(
        "Whom did Yunus-Bege Evkurov meet in Damascus?", "He met Murhaf Abu Kasra [{Abu Kasra}]."
    )
    llm_assistant = Assistant(sample_assistant.settings, sample_assistant.components, chat_model=model)
    turns = [ChatTurn(role="user", content=FIRST), ChatTurn(role="assistant", content="Evkurov led it. [1]")]
    answer = llm_assistant.ask(Request.of("and who did he meet?", history=turns, mode="llm"))
    assert answer.standalone_question == "Whom did Yunus-Bege Evkurov meet in Damascus?"
    assert answer.mode == "llm" and answer.grounded and len(answer.citations) == 1
    assert "Abu Kasra" in answer.citations[0].sentence
