"""The analyzer: words with the possessive dropped (either apostrophe), and the content terms."""

from __future__ import annotations

from ingest.terms import content_terms, words


def test_words_drop_the_possessive_s_of_either_apostrophe_and_keep_other_apostrophes() -> None:
    text = "Biden’s plan: the party's chief didn't say it's over, O'Neill said"
    expected = ["biden", "plan", "the", "party", "chief", "didn't", "say", "it", "over", "o'neill", "said"]
    assert words(text) == expected


def test_words_of_a_sentence_without_a_possessive_are_its_lowercased_tokens() -> None:
    assert words("No apostrophe here, 42 TIMES_over") == ["no", "apostrophe", "here", "42", "times", "over"]


def test_content_terms_are_stemmed_words_without_stopwords() -> None:
    assert content_terms("Biden’s plan: the party's chief") == ["biden", "plan", "parti", "chief"]
