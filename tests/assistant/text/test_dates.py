"""Relative dates in cited sentences anchored to the publication day; date phrases in questions."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from assistant.text.dates import (
    anchor_dates,
    annotate_dates,
    asks_for_latest,
    parse_day,
    parse_question_dates,
)
from tests.conftest import dev_articles_path

TODAY = date(2023, 3, 15)  # a Wednesday


def dev_sentence_with(word: str, published: str) -> str:
    """A real sentence of the dev set, from an article published that day, containing ``word``."""
    with dev_articles_path().open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["published"].replace("/", "-") != published:
                continue
            for sentence in re.split(r"(?<=[.!?])\s+|\n", row["text"]):
                if re.search(rf"\b{word}\b", sentence, re.IGNORECASE):
                    return sentence
    pytest.skip(f"no dev sentence with {word!r} published {published}")


def test_yesterday_in_an_article_published_2022_06_16_is_2022_06_15() -> None:
    sentence = dev_sentence_with("yesterday", "2022-06-16")
    dates = anchor_dates(sentence, "2022-06-16")
    assert dates == {"yesterday": "2022-06-15"}
    assert "yesterday [2022-06-15]" in annotate_dates(sentence, dates)


def test_on_tuesday_is_the_last_tuesday_up_to_publication() -> None:
    dates = anchor_dates("The committee met on Tuesday to vote.", "2023-01-05")  # a Thursday
    assert dates == {"on Tuesday": "2023-01-03"}
    assert annotate_dates("The committee met on Tuesday to vote.", dates) == (
        "The committee met on Tuesday [2023-01-03] to vote."
    )


def test_weekday_of_the_publication_day_is_that_day() -> None:
    assert anchor_dates("Biden on Wednesday called on Congress.", "2022-06-22") == {
        "on Wednesday": "2022-06-22"
    }


def test_weekday_in_a_future_clause_is_the_next_such_day() -> None:
    dates = anchor_dates("The board met Monday, and it will vote on Friday.", "2023-01-04")
    assert dates == {"Monday": "2023-01-02", "on Friday": "2023-01-06"}


def test_weeks_months_and_years_become_iso_periods() -> None:
    dates = anchor_dates(
        "Sales fell last week, rose last month and will rise next year; this week is calm.", "2023-01-04"
    )
    assert dates == {
        "last week": "2022-12-26/2023-01-01",
        "last month": "2022-12",
        "next year": "2024",
        "this week": "2023-01-02/2023-01-08",
    }


def test_today_tonight_tomorrow() -> None:
    dates = anchor_dates("Today it rains, tonight it snows and tomorrow it clears.", "2022-02-28")
    assert dates == {"Today": "2022-02-28", "tonight": "2022-02-28", "tomorrow": "2022-03-01"}


def test_named_days_that_are_not_dates_are_left_alone() -> None:
    assert anchor_dates("Black Friday and Cyber Monday sales were strong.", "2022-11-30") == {}


def test_no_published_date_means_nothing_is_anchored() -> None:
    assert anchor_dates("It happened yesterday.", "") == {}
    assert parse_day("not a date") is None
    assert parse_day("2022/06/16") == date(2022, 6, 16)
    assert parse_day("2022-06-16T23:00:00-04:00") == date(2022, 6, 16)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What happened in January 2023?", ("2023-01-01", "2023-01-31")),
        ("Who won the vote on 16 June 2022?", ("2022-06-16", "2022-06-16")),
        ("Who won the vote on June 16, 2022?", ("2022-06-16", "2022-06-16")),
        ("What changed since June 2022?", ("2022-06-01", None)),
        ("What did the Fed do before March 2022?", (None, "2022-02-28")),
        ("What did the Fed do after 2021-05-03?", ("2021-05-04", None)),
        ("Which storms hit between March 2022 and May 2022?", ("2022-03-01", "2022-05-31")),
        ("What happened in 2021?", ("2021-01-01", "2021-12-31")),
        ("Who resigned last week?", ("2023-03-06", "2023-03-12")),
        ("What happened yesterday?", ("2023-03-14", "2023-03-14")),
        ("What happened in the past 7 days?", ("2023-03-08", "2023-03-15")),
    ],
)
def test_date_phrases_in_questions_become_ranges(
    question: str, expected: tuple[str | None, str | None]
) -> None:
    assert parse_question_dates(question, TODAY) == expected


@pytest.mark.parametrize(
    "question",
    [
        "Which team won the 2022 NHL Stanley Cup Finals?",
        "What share of power will be nuclear by 2025?",
        "How many hot dogs did Joey Chestnut eat?",
    ],
)
def test_years_that_are_not_a_time_frame_do_not_filter(question: str) -> None:
    assert parse_question_dates(question, TODAY) == (None, None)


def test_latest_and_current_questions_are_recognised() -> None:
    assert asks_for_latest("What is the latest death toll of the earthquake?")
    assert asks_for_latest("Who is currently the prime minister of Japan?")
    assert not asks_for_latest("Who was the prime minister of Japan in 2007?")
