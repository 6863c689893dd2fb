"""What the store holds, as values: stored articles and sentence records, their ids and
the encoding of sentence spans in metadata.

Two collections per configured name:

* ``{name}_articles``: one record per article. ``document`` is the canonical text, the embedding is
  the article's title (and lead) vector, the metadata holds title, url, published, source, authors,
  ingest time, content hash, model name and the ``version`` of its sentence records. Writing this
  record is the commit point of an article.
* ``{name}_sentences``: one record per sentence, id ``doc_id|version|index``, embedding of the
  sentence (with a little context), metadata ``doc_id, version, index, start, end`` plus the
  filterable fields ``published_ts`` and ``source``. No text: the sentence is always
  ``canonical_text[start:end]`` of its article.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from assistant.core.types import MetaValue, Span
from ingest.embedding.embedder import Vectors

ID_SEP = "|"
IntArray = npt.NDArray[np.int64]


# The article record carries its sentences' offsets too (readers build their view from articles alone,
# without reading every sentence record); it is internal and not part of StoredArticle.metadata.
SPANS_KEY = "sentence_spans"


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored: canonical text and its metadata."""

    doc_id: str
    text: str
    metadata: Mapping[str, MetaValue]
    # (n, 2) start and end of each committed sentence, in text order (None: an older store's record)
    span_array: IntArray | None = field(default=None, compare=False, repr=False)

    @property
    def spans(self) -> tuple[tuple[int, int], ...] | None:
        """The committed sentence offsets as pairs (None: an older store's record, without them)."""
        return _pairs(self.span_array)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", ""))

    @property
    def content_hash(self) -> str:
        return str(self.metadata.get("content_hash", ""))


def encode_spans(spans: Sequence[Span]) -> str:
    """Sentence offsets as compact text for the article record: ``start:end`` separated by spaces."""
    return " ".join(f"{s.start}:{s.end}" for s in spans)


def decode_span_array(value: MetaValue | None) -> IntArray | None:
    """The offsets written by :func:`encode_spans` as an (n, 2) array (None when absent or unreadable)."""
    if not isinstance(value, str):
        return None
    numbers = value.replace(":", " ").split()
    if len(numbers) != 2 * len(value.split()):  # each item is exactly one start:end pair
        return None
    try:
        return np.array(numbers, dtype=np.int64).reshape(-1, 2)
    except ValueError:
        return None


def decode_spans(value: MetaValue | None) -> tuple[tuple[int, int], ...] | None:
    """The offsets written by :func:`encode_spans` as pairs (None when absent or unreadable)."""
    return _pairs(decode_span_array(value))


def _pairs(spans: IntArray | None) -> tuple[tuple[int, int], ...] | None:
    return None if spans is None else tuple((start, end) for start, end in spans.tolist())


def stored_article(doc_id: str, text: str | None, meta: Mapping[str, Any] | None) -> StoredArticle:
    """An article record as read from Chroma, its internal offsets split off the metadata."""
    metadata = dict(meta or {})
    spans = decode_span_array(metadata.pop(SPANS_KEY, None))
    return StoredArticle(doc_id, text or "", metadata, spans)


@dataclass(frozen=True)
class SentenceRecord:
    """A stored sentence: where it is in its article, and (from a query) its distance."""

    doc_id: str
    index: int
    start: int
    end: int
    version: str
    distance: float = 0.0


@dataclass
class StoreStats:
    articles: int
    sentences: int
    sources: dict[str, int] = field(default_factory=dict)
    first_published: str = ""
    last_published: str = ""


def sentence_id(doc_id: str, version: str, index: int) -> str:
    return f"{doc_id}{ID_SEP}{version}{ID_SEP}{index}"


@dataclass(frozen=True)
class ArticleWrite:
    """One article to store: its canonical text, metadata (with ``version``), title vector, and
    its sentence spans with one vector each."""

    doc_id: str
    text: str
    metadata: Mapping[str, MetaValue]
    title_vector: Vectors
    spans: Sequence[Span]
    vectors: Vectors

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def sentence_rows(item: ArticleWrite) -> tuple[list[str], list[Mapping[str, MetaValue]]]:
    """Ids and metadata of an article's sentence records."""
    shared = {k: item.metadata[k] for k in ("published_ts", "source", "story_id") if k in item.metadata}
    ids = [sentence_id(item.doc_id, item.version, i) for i in range(len(item.spans))]
    metas: list[Mapping[str, MetaValue]] = [
        {"doc_id": item.doc_id, "version": item.version, "index": i, "start": s.start, "end": s.end, **shared}
        for i, s in enumerate(item.spans)
    ]
    return ids, metas


def sentence_record(meta: Mapping[str, Any], distance: float) -> SentenceRecord:
    """A sentence record from the metadata Chroma returns for it."""
    return SentenceRecord(
        doc_id=str(meta.get("doc_id", "")),
        index=int(meta.get("index", 0)),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        version=str(meta.get("version", "")),
        distance=distance,
    )
