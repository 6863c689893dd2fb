"""Is a sentence the LLM wrote supported by the evidence sentence(s) its markers cite?

A valid marker is not enough: the model can misnumber (quote sentence 8, mark it [1]) or copy an
instruction planted in an article. A written sentence is *supported* when

* every number in it occurs in the cited evidence ("1,200" and "1200" are the same number), and
* enough of it is found there: at least ``term_share`` (0.8) of its content terms (stemmed,
  stopwords dropped) occur in the cited sentences; or at least ``min_term_share`` (0.5) do and the
  mean of that share and its cosine similarity to the closest cited sentence (the real sentence
  model) is at least ``min_mean`` (0.55), which admits a paraphrase ("headed" for "led"),

and no cited sentence addresses the reader or a model (:mod:`assistant.text.injection`): an instruction
supports nothing, even when the written words are all in it. docs/answering.md gives the
measurements behind the thresholds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.text.injection import addresses_model
from assistant.text.lexical import content_terms
from ingest.embedding.embedder import Vectors

Embed = Callable[[Sequence[str]], Vectors]
NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class SupportThresholds:
    """When a written sentence counts as supported (see docs/answering.md for the measurements)."""

    term_share: float = 0.8
    min_term_share: float = 0.5
    min_mean: float = 0.55


@dataclass(frozen=True)
class Verdict:
    """The support check's result for one written sentence."""

    supported: bool
    cited: tuple[int, ...] = ()  # the cited evidence numbers that count (suspect ones left out)
    term_share: float = 0.0
    similarity: float | None = None
    reason: str = ""


def numbers(text: str) -> set[str]:
    """The numbers in a text, thousands separators dropped: {"1200", "3.5"}."""
    out = set()
    for match in NUMBER_RE.findall(text):
        plain = re.sub(r",(?=\d{3}\b)", "", match).rstrip(".,")
        out.add(plain)
    return out


def term_share(written: str, cited: str) -> float:
    """Share of the written sentence's content terms that occur in the cited text (0 if it has none)."""
    terms = set(content_terms(written))
    if not terms:
        return 0.0
    return len(terms & set(content_terms(cited))) / len(terms)


class SupportCheck:
    """Checks written sentences against the numbered evidence sentences they cite."""

    def __init__(
        self,
        evidence: Mapping[int, str],
        embed: Embed | None = None,
        thresholds: SupportThresholds | None = None,
    ) -> None:
        self.evidence = dict(evidence)
        self.embed = embed
        self.thresholds = thresholds or SupportThresholds()
        self.suspect = {n for n, text in self.evidence.items() if addresses_model(text)}
        self._vectors: dict[int, Vectors] | None = None

    def verdict(self, sentence: str, cited: Sequence[int]) -> Verdict:
        """Whether ``sentence`` is supported by the evidence sentences numbered ``cited``."""
        usable = tuple(n for n in dict.fromkeys(cited) if n in self.evidence and n not in self.suspect)
        if not usable:
            return Verdict(False, reason="it cites only sentences that address the reader or a model")
        cited_text = " ".join(self.evidence[n] for n in usable)
        if not numbers(sentence) <= numbers(cited_text):
            return Verdict(False, usable, reason="it has numbers the cited sentences do not have")
        share = term_share(sentence, cited_text)
        limits = self.thresholds
        if share >= limits.term_share:
            return Verdict(True, usable, share)
        if self.embed is None or share < limits.min_term_share:
            return Verdict(False, usable, share, reason="the cited sentences do not say it")
        similarity = self.similarity(sentence, usable)
        supported = (share + similarity) / 2 >= limits.min_mean
        return Verdict(
            supported, usable, share, similarity, "" if supported else "the cited sentences do not say it"
        )

    def similarity(self, sentence: str, cited: Sequence[int]) -> float:
        """Cosine similarity of the sentence to the closest of the cited evidence sentences."""
        assert self.embed is not None
        vectors = self._evidence_vectors()
        written = self.embed([sentence])[0]
        return max(float(np.dot(written, vectors[n])) for n in cited)

    def _evidence_vectors(self) -> dict[int, Vectors]:
        """Evidence vectors, embedded in one batch the first time a similarity is needed."""
        if self._vectors is None:
            assert self.embed is not None
            numbers_ = list(self.evidence)
            matrix = self.embed([self.evidence[n] for n in numbers_])
            self._vectors = {n: matrix[i] for i, n in enumerate(numbers_)}
        return self._vectors
