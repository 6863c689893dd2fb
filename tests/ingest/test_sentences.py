"""Sentence splitting: exact offsets on every dev article, accuracy on hand-annotated news, rules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.core.errors import ConfigError
from assistant.core.types import Span
from ingest.sentences import SentenceSplitter, split_sentences
from tests.conftest import REPO, SAMPLE, dev_articles_path

GOLD = REPO / "tests" / "fixtures" / "sentences_gold.json"
LETTER_OR_DIGIT = re.compile(r"[^\W_]")
SPACE = re.compile(r"\s+")


def sentences(text: str, splitter: SentenceSplitter | None = None) -> list[str]:
    spans = splitter.split(text) if splitter else split_sentences(text)
    return [text[span.start : span.end] for span in spans]


def assert_well_formed(text: str, spans: list[Span], max_chars: int) -> None:
    """Spans in order, not overlapping, trimmed, within one line, with letters or digits."""
    previous_end = 0
    for span in spans:
        piece = text[span.start : span.end]
        assert previous_end <= span.start < span.end, (span, text[span.start - 40 : span.end])
        assert piece == piece.strip() and LETTER_OR_DIGIT.search(piece), repr(piece)
        assert not set(piece) & set("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"), repr(piece)
        assert len(piece) <= max_chars
        previous_end = span.end


def assert_nothing_lost(text: str, spans: list[Span]) -> None:
    """Every non-space character of every line with letters or digits is inside some span."""
    lines = [line for line in text.splitlines() if LETTER_OR_DIGIT.search(line)]
    expected = "".join("".join(lines).split())
    covered = "".join("".join(text[span.start : span.end] for span in spans).split())
    assert covered == expected


def dev_texts() -> Iterator[str]:
    with dev_articles_path().open(encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)["text"]


def test_every_dev_article_splits_into_exact_ordered_spans_that_lose_nothing() -> None:
    splitter = SentenceSplitter()
    n_articles = n_spans = 0
    for text in dev_texts():
        spans = splitter.split(text)
        assert_well_formed(text, spans, splitter.max_chars)
        assert_nothing_lost(text, spans)
        n_articles, n_spans = n_articles + 1, n_spans + len(spans)
    assert n_articles == 710
    assert n_spans > 50_000


def boundary_keys(text: str, starts: list[int]) -> set[int]:
    """Inner boundaries as letter/digit counts before them, so quote placement does not matter."""
    total = len(LETTER_OR_DIGIT.findall(text))
    keys = {len(LETTER_OR_DIGIT.findall(text[:start])) for start in starts}
    return {key for key in keys if 0 < key < total}


def gold_boundary_f1(paragraphs: list[dict[str, object]]) -> float:
    found = expected = correct = 0
    for paragraph in paragraphs:
        text, gold = str(paragraph["text"]), paragraph["sentences"]
        assert isinstance(gold, list)
        truth = boundary_keys(text, [text.index(sentence) for sentence in gold])
        guess = boundary_keys(text, [span.start for span in split_sentences(text)])
        found, expected, correct = found + len(guess), expected + len(truth), correct + len(guess & truth)
    precision, recall = correct / found, correct / expected
    return 2 * precision * recall / (precision + recall)


def gold_paragraphs(which: str | None = None) -> list[dict[str, object]]:
    paragraphs: list[dict[str, object]] = json.loads(GOLD.read_text(encoding="utf-8"))["paragraphs"]
    return [p for p in paragraphs if which is None or p["set"] == which]


def test_gold_fixture_sentences_are_exact_pieces_of_their_paragraph() -> None:
    paragraphs = gold_paragraphs()
    assert len(paragraphs) >= 40
    for paragraph in paragraphs:
        gold = paragraph["sentences"]
        assert isinstance(gold, list)
        assert SPACE.sub("", "".join(gold)) == SPACE.sub("", str(paragraph["text"]))


def test_default_splitter_finds_hand_annotated_news_boundaries_with_f1_of_at_least_0_95() -> None:
    assert gold_boundary_f1(gold_paragraphs()) >= 0.95


def test_default_splitter_is_as_accurate_on_held_out_paragraphs_as_on_tuning_ones() -> None:
    assert gold_boundary_f1(gold_paragraphs("held-out")) >= 0.95


def test_seed_article_gives_exactly_one_span_per_nonempty_line() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert sentences(text) == lines


def test_line_breaks_always_end_a_sentence_even_without_punctuation() -> None:
    text = "Russia and Syria Talk Defense\nBy Jane Doe\n\nThe talks began. They ended.\r\nUpdated 5 p.m. ET"
    assert sentences(text) == [
        "Russia and Syria Talk Defense",
        "By Jane Doe",
        "The talks began.",
        "They ended.",
        "Updated 5 p.m. ET",
    ]


def test_unicode_line_and_paragraph_separators_are_line_breaks() -> None:
    assert sentences("First line\u2028Second line\u2029Third line\x0cFourth") == [
        "First line",
        "Second line",
        "Third line",
        "Fourth",
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "U.S. Sen. Chris Coons of Delaware met Gov. Kim Reynolds and Rep. Greg Murphy, R-N.C., on Monday.",
        "J. K. Rowling and George W. Bush never met Dr. Nancy Messonnier.",
        "The world No. 2 lost on Jan. 6 and again on Sept. 11 at 263 N. Center St. in Mesa.",
        "The Fed raised rates to a range of 1.5% to 1.75% and growth slowed to 2.3 percent.",
        "Her case, Roe v. Wade, was argued by Mr. Weddington and Mrs. Coffee.",
        "LOUISVILLE, Ky. — A petition to put a tax increase on the ballot failed.",
        '"Who\'s Afraid of Virginia Woolf?" and "Just Shoot Me!" were hits, he said.',
        '"What if we pushed the boundaries?," Wong asked.',
    ],
)
def test_abbreviations_initials_and_decimals_do_not_end_a_sentence(sentence: str) -> None:
    assert sentences(sentence) == [sentence]


def test_sentences_that_end_with_an_abbreviation_are_still_split() -> None:
    text = (
        "The recall covers 482,000 cars in the U.S. The automaker also recalled others. "
        "The call took place on Jan. 17. Dr. Nancy Messonnier announced screenings."
    )
    assert sentences(text) == [
        "The recall covers 482,000 cars in the U.S.",
        "The automaker also recalled others.",
        "The call took place on Jan. 17.",
        "Dr. Nancy Messonnier announced screenings.",
    ]


def test_quoted_sentences_are_split_and_speaker_tags_stay_with_their_quote() -> None:
    text = '"Can we make a dent?" said Bartoszek. "I don\'t know. We will try." He left.'
    assert sentences(text) == [
        '"Can we make a dent?" said Bartoszek.',
        "\"I don't know.",
        'We will try."',
        "He left.",
    ]


def test_lines_without_letters_or_digits_give_no_span() -> None:
    assert sentences("***\n—\n\n  . . .  \nOnly this counts.\n* * *") == ["Only this counts."]


def test_pieces_without_letters_or_digits_inside_a_line_join_a_neighbour() -> None:
    text = 'He said. *** She said. "\n“… But then it rained.'
    spans = split_sentences(text)
    assert_nothing_lost(text, spans)
    assert all(LETTER_OR_DIGIT.search(text[span.start : span.end]) for span in spans)


def test_numbered_list_markers_stay_with_their_item() -> None:
    assert sentences("1. January 6\n2. Church shooting") == ["1. January 6", "2. Church shooting"]


def test_offsets_stay_exact_when_the_engine_changes_whitespace_or_drops_characters() -> None:
    text = "A  first\tone.   Then a\x00 second.\u00a0 And the café’s “third”."
    spans = split_sentences(text)
    assert_well_formed(text, spans, 1000)
    assert_nothing_lost(text, spans)
    assert sentences(text)[-1] == "And the café’s “third”."


def test_long_sentence_is_cut_at_whitespace_into_pieces_of_at_most_max_chars() -> None:
    words = [f"item{i}" for i in range(400)]
    text = "Table: " + " ".join(words)
    splitter = SentenceSplitter(max_chars=100)
    spans = splitter.split(text)
    assert len(spans) > 20
    assert_well_formed(text, spans, 100)
    assert all(span.end == len(text) or text[span.end] == " " for span in spans)
    assert " ".join(text[span.start : span.end] for span in spans) == text


def test_sentence_of_exactly_max_chars_is_not_cut() -> None:
    first = "A" + "b" * 97 + "."
    assert sentences(f"{first} Next one.", SentenceSplitter(max_chars=99)) == [first, "Next one."]


def test_long_run_without_whitespace_is_cut_hard_at_max_chars() -> None:
    text = "x" * 250
    spans = SentenceSplitter(max_chars=100).split(text)
    assert [(span.start, span.end) for span in spans] == [(0, 100), (100, 200), (200, 250)]


def test_empty_and_blank_texts_give_no_spans() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t\n ") == []


def test_unknown_engine_name_raises_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="nltk"):
        SentenceSplitter(engine="nltk")


@pytest.mark.parametrize("max_chars", [0, -5, True, "100"])
def test_invalid_max_chars_raises_config_error_naming_the_value(max_chars: object) -> None:
    with pytest.raises(ConfigError, match=re.escape(repr(max_chars))):
        SentenceSplitter(max_chars=max_chars)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["pysbd", "syntok"])
def test_other_engines_give_exact_offsets_too(engine: str) -> None:
    pytest.importorskip(engine)
    text = Path(SAMPLE).read_text(encoding="utf-8") + '\n"Hi  there," he said.\tMr. Smith left. Then…'
    spans = SentenceSplitter(engine=engine).split(text)
    assert_well_formed(text, spans, 1000)
    assert_nothing_lost(text, spans)
    assert len(spans) == 20 + 3
