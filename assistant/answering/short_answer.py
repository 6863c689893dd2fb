"""The short answer: the span of the first cited sentence that answers the question.

"Who won the Stanley Cup?" is answered by a sentence; the short answer is the expression inside it
that the question asks for ("Colorado Avalanche"). The spans considered are the expressions of the
question's answer type (:func:`assistant.text.question.typed_spans`: names, places, numbers, amounts,
dates) that the question does not already contain. Among them, the one chosen is the one that
recurs most in the other candidate sentences (independent reports name the same answer), then the
nearest to the question's words in the sentence, then the longest. No span is given when the
question asks for no typed expression ("why", "how did") or the sentence holds none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.retrieval.retrieve import Retrieval
from assistant.text.lexical import normalize_for_match, stem, words, wordset
from assistant.text.question import ROLE_WORDS, WEAKER_TYPE, AnswerType, Question, strip_dateline, typed_spans
from assistant.types import Citation, ShortAnswer

PEERS = 10  # best candidates whose agreement picks between several spans
# Words of a title before a name ("Deputy Defense Minister General ..."), besides the role words.
TITLE_WORDS = wordset(
    "deputy vice acting former interim prime foreign defense defence army navy chief state interior "
    "finance health justice first lady head top senior new late"
)


@dataclass(frozen=True)
class Span:
    """A span of a sentence: ``sentence[start:end] == text``."""

    text: str
    start: int
    end: int


def short_answer_of(retrieval: Retrieval | None, citations: Sequence[Citation]) -> ShortAnswer | None:
    """The short answer of a composed answer: a span of its first cited sentence, with offsets into
    the article's canonical text; the best other candidates decide between several spans."""
    if not citations or retrieval is None:
        return None
    first = citations[0]
    ranked = sorted(retrieval.candidates, key=lambda c: -c.score)[:PEERS]
    span = short_answer(retrieval.question, first.sentence, [c.text for c in ranked])
    if span is None:
        return None
    start = first.char_start + span.start
    return ShortAnswer(text=span.text, doc_id=first.doc_id, char_start=start, char_end=start + len(span.text))


def short_answer(question: Question, sentence: str, others: Sequence[str] = ()) -> Span | None:
    """The span of ``sentence`` that answers ``question``, or None; ``others`` are the other
    candidate sentences, whose agreement decides between several spans."""
    if question.answer_type is AnswerType.NONE:
        return None
    spans = _spans(sentence, question, question.answer_type)
    weaker = WEAKER_TYPE.get(question.answer_type)
    if not spans and weaker is not None:
        spans = _spans(sentence, question, weaker)
    if not spans:
        return None
    keys = _question_positions(sentence, question)
    support = [normalize_for_match(o) for o in others]
    return max(spans, key=lambda s: (_agreement(s, support), -_distance(s, keys), len(s.text)))


def _spans(sentence: str, question: Question, kind: AnswerType) -> list[Span]:
    """Typed expressions of the sentence not already in the question, with their offsets."""
    body_start = len(sentence) - len(strip_dateline(sentence))
    out: list[Span] = []
    seen: set[str] = set()
    for text in typed_spans(sentence, kind):
        text = text.strip(" ,;:.\"'“”‘’()")
        if kind is AnswerType.PERSON:
            text = _without_title(text, question)
        if not text or text.lower() in seen or not _is_new(text, question):
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


def _is_new(text: str, question: Question) -> bool:
    keys = words(text)
    return bool(keys) and any(w not in question.word_set and stem(w) not in question.word_set for w in keys)


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
