"""The short answer: the span of the first cited sentence that answers the question.

"Who won the Stanley Cup?" is answered by a sentence; the short answer is the expression inside it
that the question asks for ("Colorado Avalanche"). The spans considered are the expressions of the
question's answer type (:func:`assistant.text.question.typed_spans`: names, places, numbers, amounts,
dates) that the question does not already contain. Among them, the one chosen is the one that
recurs most in the other candidate sentences (independent reports name the same answer), then the
nearest to the question's words in the sentence, then the longest. No span is given when the
question asks for no typed expression ("why", "how did") or no cited sentence holds one. A "who"
question is answered by a person (never a city's name: ``assistant/text/cities.txt``), else an
organisation; the first cited sentence that holds one gives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.retrieval.retrieve import Retrieval
from assistant.text.lexical import normalize_for_match, stem, words, wordset
from assistant.text.places import is_city
from assistant.text.question import (
    ROLE_WORDS,
    WEAKER_TYPE,
    AnswerType,
    Question,
    organisation_spans,
    strip_dateline,
    typed_spans,
)
from assistant.types import Citation, ShortAnswer

PEERS = 10  # best candidates whose agreement picks between several spans
# Words of a title before a name ("Deputy Defense Minister General ..."), besides the role words.
TITLE_WORDS = wordset(
    "deputy vice acting former interim prime foreign defense defence army navy chief state interior "
    "finance health justice first lady head top senior new late"
    # nationalities before a title ("Russian Deputy Defense Minister ...")
    " american russian ukrainian chinese british english french german israeli palestinian iranian "
    "iraqi syrian turkish indian pakistani afghan japanese korean saudi egyptian mexican canadian "
    "australian brazilian italian spanish polish dutch swedish norwegian danish finnish greek swiss "
    "austrian belgian irish scottish welsh nigerian kenyan south-african venezuelan colombian "
    "argentine cuban taiwanese vietnamese thai filipino indonesian lebanese jordanian qatari emirati "
    "yemeni libyan sudanese ethiopian hungarian czech romanian serbian belarusian georgian armenian"
)


@dataclass(frozen=True)
class Span:
    """A span of a sentence: ``sentence[start:end] == text``."""

    text: str
    start: int
    end: int


def short_answer_of(retrieval: Retrieval | None, citations: Sequence[Citation]) -> ShortAnswer | None:
    """The short answer of a composed answer: a span of the first cited sentence that holds one (the
    sentence that answers "who did he meet?" often follows the one naming him), with offsets into
    the article's canonical text; the best other candidates decide between several spans."""
    if not citations or retrieval is None:
        return None
    ranked = sorted(retrieval.candidates, key=lambda c: -c.score)[:PEERS]
    others = [c.text for c in ranked]
    for citation in citations:
        span = short_answer(retrieval.question, citation.sentence, others)
        if span is not None:
            start = citation.char_start + span.start
            end = start + len(span.text)
            return ShortAnswer(text=span.text, doc_id=citation.doc_id, char_start=start, char_end=end)
    return None


def short_answer(question: Question, sentence: str, others: Sequence[str] = ()) -> Span | None:
    """The span of ``sentence`` that answers ``question``, or None; ``others`` are the other
    candidate sentences, whose agreement decides between several spans."""
    if question.answer_type is AnswerType.NONE:
        return None
    spans = _spans(sentence, question, question.answer_type)
    if not spans and question.answer_type is AnswerType.PERSON:  # "who": a person, else an organisation
        spans = _found(sentence, question, organisation_spans(sentence))
    elif not spans and (weaker := WEAKER_TYPE.get(question.answer_type)) is not None:
        spans = _spans(sentence, question, weaker)
    if not spans:
        return None
    keys = _question_positions(sentence, question)
    support = [normalize_for_match(o) for o in others]
    return max(spans, key=lambda s: (_agreement(s, support), -_distance(s, keys), len(s.text)))


def _spans(sentence: str, question: Question, kind: AnswerType) -> list[Span]:
    """Typed expressions of the sentence not already in the question, with their offsets."""
    found = typed_spans(sentence, kind)
    if kind is AnswerType.PERSON:  # a person's name, without the title before it, and no city's
        names = (_without_title(t.strip(" ,;:.\"'“”‘’()"), question) for t in found)
        found = tuple(n for n in names if not is_city(n))
    return _found(sentence, question, found, kind)


def _found(
    sentence: str, question: Question, found: Sequence[str], kind: AnswerType | None = None
) -> list[Span]:
    """The expressions not already in the question, with their offsets in the sentence."""
    body_start = len(sentence) - len(strip_dateline(sentence))
    out: list[Span] = []
    seen: set[str] = set()
    for text in found:
        text = text.strip(" ,;:.\"'“”‘’()")
        if not text or text.lower() in seen or not _is_new(text, question, kind):
            continue
        start = sentence.find(text, body_start)
        if start < 0:
            continue
        seen.add(text.lower())
        out.append(Span(text, start, start + len(text)))
    return out


def _without_title(name: str, question: Question) -> str:
    """A person's name without the title and the question's words before it: "Russian Deputy
    Defense Minister Yunus-Bege Evkurov" -> "Yunus-Bege Evkurov" (the last word always stays)."""
    tokens = name.split()
    while len(tokens) > 1 and _is_title_word(tokens[0], question):
        tokens = tokens[1:]
    return " ".join(tokens)


def _is_title_word(token: str, question: Question) -> bool:
    word = token.lower().strip(".,")
    return (
        word in ROLE_WORDS
        or word in TITLE_WORDS
        or word in question.word_set
        or stem(word) in question.word_set
    )


def _is_new(text: str, question: Question, kind: AnswerType | None = None) -> bool:
    """Whether the expression says something the question does not: one of its words is not in
    the question; for a person's name, none of its words is ("Joe Biden" does not answer "Who did
    Biden meet?")."""
    keys = words(text)
    if not keys:
        return False
    asked = [w in question.word_set or stem(w) in question.word_set for w in keys]
    if kind is AnswerType.PERSON:
        return not any(a for a, w in zip(asked, keys) if len(w) > 2)
    return not all(asked)


def _question_positions(sentence: str, question: Question) -> list[int]:
    """Character offsets of the sentence's words that the question also has."""
    lowered = sentence.lower()
    out = []
    for word in set(words(sentence)):
        if word in question.word_set or stem(word) in question.word_set:
            at = lowered.find(word)
            while at >= 0:
                out.append(at)
                at = lowered.find(word, at + 1)
    return out


def _distance(span: Span, positions: Sequence[int]) -> int:
    if not positions:
        return 0
    return min(min(abs(p - span.start), abs(p - span.end)) for p in positions)


def _agreement(span: Span, others: Sequence[str]) -> int:
    key = normalize_for_match(span.text)
    return sum(1 for other in others if key and key in other)
