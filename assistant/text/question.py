"""Reading a question: its content terms and the type of answer it asks for, and finding
expressions of that type in a sentence that the question does not already contain.

No NER model: answer types are recognised with patterns (numbers, money, percentages, dates,
capitalized names, quoted titles) plus a small gazetteer of countries, continents and US states.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from assistant.core.errors import InvalidQuestionError
from assistant.text.lexical import content_terms, stem, words, wordset
from assistant.types import ChatTurn

LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def check_text(text: str, what: str) -> None:
    """InvalidQuestionError when ``text`` is not valid Unicode: a lone surrogate (U+D800..U+DFFF)
    comes from a JSON ``\\ud800`` escape or from bytes that are not UTF-8 in a command-line argument."""
    bad = LONE_SURROGATE_RE.search(text)
    if bad is not None:
        raise InvalidQuestionError(
            f"{what} is not valid text: character {bad.start() + 1} is a lone surrogate "
            f"(U+{ord(bad.group()):04X}); send UTF-8"
        )


class AnswerType(StrEnum):
    PERSON = "person"
    PLACE = "place"
    ENTITY = "entity"  # a named thing: company, team, show, song, painting ...
    NUMBER = "number"
    MONEY = "money"
    PERCENT = "percent"
    DATE = "date"
    DURATION = "duration"
    NONE = "none"  # why / how / open questions: no typed expression expected


PERSON_NOUNS = (
    "person|man|woman|celebrity|celeb|actor|actress|star|singer|rapper|player|athlete|politician|"
    "leader|president|minister|senator|lawmaker|official|ceo|executive|founder|designer|author|writer|"
    "director|judge|justice|candidate|mp|peer|member|musician|artist|comedian|host|coach|investor|"
    "billionaire|head of state|monarch|king|queen|prince|princess|pope|chancellor|governor|mayor"
)
PLACE_NOUNS = (
    "country|countries|nation|city|cities|state|states|continent|town|region|island|county|capital|"
    "province|territory|village|park|national park|place|location|area|neighborhood|port|airport"
)
MONEY_CUES = (
    r"cost|pay|paid|raise|raised|worth|spend|spent|price|money|fund|charge|offer|offered|sum|earn|sell|"
    r"sold|fine|bid"
)
DURATION_UNITS = r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centur(?:y|ies)"
NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|"
    "thousand|million|billion|trillion|dozen|dozens|hundreds|thousands|millions|billions|half|once|twice"
)
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"

NUM = rf"(?:\d[\d,]*(?:\.\d+)?|\b(?:{NUMBER_WORDS})\b)"
MONEY_RE = re.compile(
    rf"(?:[$£€¥]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|trillion|bn|m|k)\b)?|"
    rf"\b{NUM}\s?(?:million|billion|trillion)?\s?(?:dollars|pounds|euros|cents|pence|yen)\b)",
    re.IGNORECASE,
)
PERCENT_RE = re.compile(rf"{NUM}\s?(?:%|percent\b|per cent\b|percentage points?\b)", re.IGNORECASE)
DURATION_RE = re.compile(rf"{NUM}(?:[-\s]{NUM})?[-\s](?:{DURATION_UNITS})\b", re.IGNORECASE)
NUMBER_RE = re.compile(rf"(?<![\w.]){NUM}(?![\w])", re.IGNORECASE)
DATE_RE = re.compile(
    rf"\b(?:(?:{MONTHS})(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?|(?:{WEEKDAYS})|"
    r"(?:1[6-9]|20)\d\d|(?:next|last|this)\s+(?:week|month|year|summer|fall|winter|spring)|"
    r"tomorrow|yesterday|today)\b",
    re.IGNORECASE,
)
QUOTED_RE = re.compile(r"[\"“”‘«]([^\"“”«»]{2,80}?)[\"“”’»]")
CONNECTOR = r"(?:of|the|de|del|da|di|du|la|le|van|von|der|bin|al|and|&|for|on|in)"
CAP_WORD = r"(?:[A-Z](?:[\w'’\-&]|\.(?=\w))*|\d+[A-Z]\w*)"
CAPS_RE = re.compile(rf"{CAP_WORD}(?:\s+(?:{CONNECTOR}\s+)?{CAP_WORD})*")
ORG_WORDS = wordset(
    "inc corp corporation company co ltd llc group university college school association party bank "
    "airlines airline news times post agency institute foundation council committee court department "
    "ministry league club fc united motors media network studios records"
)
NOT_NAMES = wordset(
    """the a an and but or so if in on at of for to by with from as it he she they we i you his her its
    their our this that these those there here when where what which who why how after before while
    during since until mr mrs ms dr sen rep gov president minister prime chief former new last first
    read more sign watch related advertisement also however meanwhile still"""
    + " ".join(MONTHS.split("|") + WEEKDAYS.split("|"))
)

ROLE_WORDS = wordset(
    PERSON_NOUNS.replace("|", " ")
    + " associate secretary spokesperson spokesman spokeswoman general gen lt col sgt dr prof"
    + " sir dame lord lady"
)
# A wire dateline or outlet credit opening a sentence: "Berlin (CNN)", "(Reuters) -", "LONDON —".
DATELINE_RE = re.compile(
    r"^\s*(?:[A-Z][\w.'’-]*(?:,? [A-Z][\w.'’-]*){0,2} )?"
    r"\((?:[A-Z]{2,6}(?: [A-Z][a-z]+)?|Reuters|Bloomberg)\)\s*(?:[-–—:]+\s*)?"
    r"|^\s*[A-Z][A-Z.'’]+(?:,? [A-Z][\w.'’-]*){0,2}\s*[-–—]+\s*"
)

GAZETTEER_PLACES = wordset(
    """afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan bahamas
    bahrain bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia botswana brazil brunei
    bulgaria burkina burundi cambodia cameroon canada chad chile china colombia congo croatia cuba cyprus
    czech denmark djibouti dominica ecuador egypt eritrea estonia eswatini ethiopia fiji finland france
    gabon gambia georgia germany ghana greece grenada guatemala guinea guyana haiti honduras hungary
    iceland india indonesia iran iraq ireland israel italy jamaica japan jordan kazakhstan kenya kiribati
    korea kosovo kuwait kyrgyzstan laos latvia lebanon lesotho liberia libya liechtenstein lithuania
    luxembourg madagascar malawi malaysia maldives mali malta mauritania mauritius mexico micronesia
    moldova monaco mongolia montenegro morocco mozambique myanmar namibia nauru nepal netherlands
    nicaragua niger nigeria norway oman pakistan palau palestine panama paraguay peru philippines poland
    portugal qatar romania russia rwanda samoa senegal serbia seychelles singapore slovakia slovenia
    somalia spain sudan suriname sweden switzerland syria taiwan tajikistan tanzania thailand togo tonga
    tunisia turkey turkmenistan tuvalu uganda ukraine uruguay uzbekistan vanuatu venezuela vietnam yemen
    zambia zimbabwe britain england scotland wales uk usa america europe asia africa antarctica oceania
    alabama alaska arizona arkansas california colorado connecticut delaware florida hawaii idaho
    illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota
    mississippi missouri montana nebraska nevada ohio oklahoma oregon pennsylvania tennessee texas utah
    vermont virginia washington wisconsin wyoming london paris moscow beijing tokyo berlin rome madrid
    vienna kyiv kiev"""
)
GAZETTEER_MULTI = (
    "saudi arabia|south africa|south korea|north korea|new zealand|sri lanka|costa rica|el salvador|"
    "united states|united kingdom|united arab emirates|czech republic|dominican republic|ivory coast|"
    "north america|south america|latin america|middle east|new york|new jersey|new mexico|"
    "new hampshire|north carolina|south carolina|north dakota|south dakota|west virginia|rhode island|"
    "hong kong|los angeles|san francisco|puerto rico"
)
GAZETTEER_MULTI_RE = re.compile(rf"\b(?:{GAZETTEER_MULTI})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    """A question as read: its text, stemmed content terms and the answer type it asks for."""

    text: str
    terms: tuple[str, ...]
    answer_type: AnswerType
    focus: str = ""
    word_set: frozenset[str] = field(default_factory=frozenset)


WH_WORD_RE = re.compile(r"\b(?:who|whom|whose|what|which|where|when|how|why)\b", re.IGNORECASE)
WEAKER_TYPE = {
    AnswerType.PLACE: AnswerType.ENTITY,
    AnswerType.PERSON: AnswerType.ENTITY,
    AnswerType.MONEY: AnswerType.NUMBER,
    AnswerType.PERCENT: AnswerType.NUMBER,
    AnswerType.DURATION: AnswerType.NUMBER,
    AnswerType.DATE: AnswerType.NUMBER,
}

WH_PATTERNS: tuple[tuple[re.Pattern[str], AnswerType], ...] = tuple(
    (re.compile(p, re.IGNORECASE), t)
    for p, t in (
        (
            r"\bwhat (?:percentage|percent|share|proportion|fraction)\b|\bhow high\b.*\b(?:inflation|rate)\b",
            AnswerType.PERCENT,
        ),
        (
            rf"\bhow much\b.*\b(?:{MONEY_CUES})\b|\bhow much (?:money|cash)\b|\bwhat (?:price|sum|amount)\b",
            AnswerType.MONEY,
        ),
        (r"\bhow long\b|\bhow many (?:years|months|weeks|days|hours|minutes|seconds)\b", AnswerType.DURATION),
        (
            r"\bhow (?:many|much|old|high|tall|big|far|fast)\b"
            r"|\bwhat (?:number|magnitude|age)\b|\bmagnitude\b",
            AnswerType.NUMBER,
        ),
        (
            r"\bwhat (?:year|date|day|month|time)\b|\bwhich (?:year|date|day|month)\b"
            r"|\bwhen\b|\bhow soon\b|\bsince:?\s*$",
            AnswerType.DATE,
        ),
        (rf"\bwho(?:m|se)?\b|\b(?:which|what) (?:\w+ )?(?:{PERSON_NOUNS})\b", AnswerType.PERSON),
        (rf"\bwhere\b|\b(?:which|what) (?:\w+ )?(?:{PLACE_NOUNS})\b", AnswerType.PLACE),
        (r"\bwhy\b|\bhow (?:did|does|do|is|are|was|were|can|could|will|would)\b", AnswerType.NONE),
        (r"\b(?:which|what)\b|:\s*$", AnswerType.ENTITY),
    )
)


def ask_part(text: str) -> str:
    """The sentence of a question that asks (quiz questions often lead with context)."""
    parts = [p for p in re.split(r"(?<=[.!?])\s+(?=[A-Z“\"'])", text.strip()) if p]
    asking = [p for p in parts if WH_WORD_RE.search(p)] or [
        p for p in parts if p.rstrip().endswith(("?", ":"))
    ]
    return (asking or parts or [text])[-1]


def read_question(text: str) -> Question:
    """Content terms and answer type of a question."""
    ask = ask_part(text)
    answer_type, focus = _earliest_type(ask)
    terms = tuple(content_terms(text))
    return Question(text, terms, answer_type, focus, frozenset(_word_keys(text)))


def _earliest_type(ask: str) -> tuple[AnswerType, str]:
    """The type named by the earliest wh-phrase (ties go to the more specific pattern)."""
    best: tuple[int, int, AnswerType, str] | None = None
    for priority, (pattern, kind) in enumerate(WH_PATTERNS):
        match = pattern.search(ask)
        if match and (best is None or (match.start(), priority) < best[:2]):
            best = (match.start(), priority, kind, match.group(0).lower())
    return (best[2], best[3]) if best else (AnswerType.NONE, "")


def _word_keys(text: str) -> set[str]:
    return {stem(w) for w in words(text)} | set(words(text))


@lru_cache(maxsize=50_000)
def typed_spans(sentence: str, answer_type: AnswerType) -> tuple[str, ...]:
    """Expressions in ``sentence`` that could answer a question of ``answer_type``."""
    finders: dict[AnswerType, Callable[[str], list[str]]] = {
        AnswerType.MONEY: lambda s: MONEY_RE.findall(s),
        AnswerType.PERCENT: lambda s: PERCENT_RE.findall(s),
        AnswerType.DURATION: lambda s: DURATION_RE.findall(s),
        AnswerType.NUMBER: lambda s: NUMBER_RE.findall(s),
        AnswerType.DATE: lambda s: DATE_RE.findall(s),
        AnswerType.PERSON: _person_spans,
        AnswerType.PLACE: _place_spans,
        AnswerType.ENTITY: lambda s: QUOTED_RE.findall(s) + _name_spans(s),
    }
    finder = finders.get(answer_type)
    return tuple(m.strip() for m in finder(strip_dateline(sentence))) if finder else ()


def strip_dateline(sentence: str) -> str:
    """The sentence without an opening wire dateline or outlet credit (not part of what it says)."""
    return DATELINE_RE.sub("", sentence, count=1)


def novel_spans(sentence: str, question: Question) -> list[str]:
    """Typed expressions of the sentence that are not already in the question."""
    return [s for s in typed_spans(sentence, question.answer_type) if _is_novel(s, question)]


def answer_type_score(sentence: str, question: Question, novel: Sequence[str] | None = None) -> float:
    """1 when the sentence holds a new expression of the asked type, 0.5 for a weaker sign, else 0
    (``novel``: the sentence's :func:`novel_spans`, when they are known already)."""
    if question.answer_type is AnswerType.NONE:
        return 0.0
    if novel_spans(sentence, question) if novel is None else novel:
        return 1.0
    weaker = WEAKER_TYPE.get(question.answer_type)
    if weaker and any(_is_novel(s, question) for s in typed_spans(sentence, weaker)):
        return 0.5
    return 0.0


def _is_novel(span: str, question: Question) -> bool:
    keys = [w for w in words(span) if w not in NOT_NAMES and w not in ROLE_WORDS]
    if not keys:
        return False
    return any(w not in question.word_set and stem(w) not in question.word_set for w in keys)


def _name_spans(sentence: str) -> list[str]:
    """Capitalized word sequences, without a sentence-initial function word."""
    out = []
    for match in CAPS_RE.finditer(sentence):
        tokens = match.group(0).split()
        while tokens and tokens[0].lower().strip(".,") in NOT_NAMES:
            tokens = tokens[1:]
        if tokens:
            out.append(" ".join(tokens))
    return out


def _person_spans(sentence: str) -> list[str]:
    return [s for s in _name_spans(sentence) if not _is_place(s) and not _is_org(s)]


def _place_spans(sentence: str) -> list[str]:
    found = [m.group(0) for m in GAZETTEER_MULTI_RE.finditer(sentence)]
    return found + [s for s in _name_spans(sentence) if _is_place(s)]


def _is_place(span: str) -> bool:
    lowered = span.lower()
    return bool(GAZETTEER_MULTI_RE.search(lowered)) or any(w in GAZETTEER_PLACES for w in words(lowered))


def _is_org(span: str) -> bool:
    return any(w in ORG_WORDS for w in words(span))


HISTORY_TURN_FACTOR = 10  # a history turn (an earlier answer, say) may be this many questions long
NOT_BLANK = r"\S"  # what a question must contain: the rule as a regular expression (the API schema's)


@dataclass(frozen=True)
class QuestionLimits:
    """The limits on a question and its chat history (the settings ``max_question_chars`` and
    ``max_history_turns``): :func:`check_asked` applies them, the HTTP API's schema states them."""

    max_chars: int
    max_history_turns: int

    @property
    def max_turn_chars(self) -> int:
        """The longest history turn, in characters."""
        return self.max_chars * HISTORY_TURN_FACTOR


def check_asked(question: str, history: Sequence[ChatTurn], limits: QuestionLimits) -> None:
    """InvalidQuestionError when a question as sent (its white space not yet folded) is blank or
    over the limit, or its history has too many turns or a turn over the limit."""
    _check_length(question.strip(), len(question), limits.max_chars)
    if len(history) > limits.max_history_turns:
        raise InvalidQuestionError(f"more than {limits.max_history_turns} history turns")
    if any(len(turn.content) > limits.max_turn_chars for turn in history):
        raise InvalidQuestionError(f"a history turn is longer than {limits.max_turn_chars} characters")


def check_question(question: str, max_chars: int) -> str:
    """The question with its white space folded; an empty, too long or malformed one is refused."""
    check_text(question, "the question")
    text = " ".join(question.split())
    _check_length(text, len(text), max_chars)
    return text


def _check_length(text: str, length: int, max_chars: int) -> None:
    """InvalidQuestionError when ``text`` is empty or ``length`` is over ``max_chars``."""
    if not text:
        raise InvalidQuestionError("the question is empty")
    if length > max_chars:
        raise InvalidQuestionError(f"the question is longer than {max_chars} characters")


def check_history(history: Sequence[ChatTurn]) -> list[ChatTurn]:
    """The chat history, each turn checked like a question's text."""
    for number, turn in enumerate(history, start=1):
        check_text(turn.content, f"history turn {number}")
    return list(history)
