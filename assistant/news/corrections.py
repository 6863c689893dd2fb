"""Corrections: flag an answer when an older version of an article said something relevant that the
newest version no longer says.

Retrieval reads only the newest version of each article. The sentences that a re-ingested
article dropped are kept with their vectors (ingest/storage/versions.py); for a question, the nearest of
them are scored like dense retrieval scores sentences (cosine of the question to the stored
sentence vector). One that scores within ``MARGIN`` of the best cited sentence (the way the
extractive answerer admits further sentences after the best one), or, when nothing was cited, at
least ``REFUSED_FLOOR``, and that shares a content word with the question would have been cited:
the answer gets a notice quoting it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assistant.text.lexical import content_terms
from ingest.embedding.embedder import Vectors
from ingest.storage.records import StoredArticle
from ingest.storage.versions import RetractedSentence, VersionArchive, normalize_space

NEAREST = 5
MARGIN = 0.1
FLOOR = 0.35  # a dropped sentence less similar to the question than this is never flagged
REFUSED_FLOOR = 0.5  # the bar when the answer cites nothing


@dataclass(frozen=True)
class CorrectionFlag:
    """A sentence an older version of an article said, which the newest version no longer says."""

    doc_id: str
    version: str
    sentence: str
    similarity: float
    title: str
    superseded_at: str

    def notice(self) -> str:
        when = f", replaced {self.superseded_at[:10]}" if self.superseded_at else ""
        return (
            f'Corrected since: an earlier version of "{self.title or self.doc_id}"{when} said '
            f'"{self.sentence}", which the current version no longer says.'
        )


class CorrectionChecker:
    """Finds dropped sentences of older versions that would have been cited for a question."""

    def __init__(self, archive: VersionArchive, model: str) -> None:
        self.archive = archive
        self.model = model

    def check(
        self,
        question: str,
        question_vector: Vectors,
        cited_similarities: Sequence[float],
        articles: Mapping[str, StoredArticle],
    ) -> list[CorrectionFlag]:
        """Flags for the dropped sentences that compete with what was cited (best first)."""
        bar = max(FLOOR, max(cited_similarities) - MARGIN) if cited_similarities else REFUSED_FLOOR
        terms = set(content_terms(question))
        flags = []
        for hit in self.archive.nearest_retracted(question_vector, NEAREST, self.model):
            similarity = 1.0 - hit.distance
            if similarity < bar or hit.doc_id not in articles:
                continue
            flag = self._flag(hit, similarity, articles[hit.doc_id])
            if flag is not None and terms & set(content_terms(flag.sentence)):
                flags.append(flag)
        return flags

    def _flag(
        self, hit: RetractedSentence, similarity: float, current: StoredArticle
    ) -> CorrectionFlag | None:
        old = self.archive.get_version(hit.doc_id, hit.version)
        if old is None:
            return None
        sentence = old.text[hit.start : hit.end]
        if not sentence.strip() or normalize_space(sentence) in normalize_space(current.text):
            return None
        title = str(current.metadata.get("title", "")) or str(old.metadata.get("title", ""))
        return CorrectionFlag(hit.doc_id, hit.version, sentence, similarity, title, old.superseded_at)
