"""Corrections and versions: earlier versions of re-ingested articles are kept as history.

When a changed article is written again, the version it replaces is first copied to two side
collections (before the store replaces it, so nothing is lost if the write is interrupted: the
copy is idempotent):

* ``{collection}_versions``: one record per superseded version, id ``doc_id|version``; the document
  is that version's canonical text, the metadata its article metadata plus ``doc_id``, ``seq``
  (1 for the first superseded version), ``superseded_at`` and ``superseded_by``.
* ``{collection}_retracted``: the sentences of that version that the new text no longer contains,
  with their stored vectors, so the answering side can ask "would an older version have answered
  this differently?" with a vector query (metadata ``doc_id, version, index, start, end, model``).

Retrieval never reads these collections: it uses the newest version only.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from assistant.core.types import MetaValue
from ingest.embedding.embedder import Vectors
from ingest.storage.chroma import chroma_call
from ingest.storage.records import ID_SEP, StoredArticle
from ingest.storage.sidecar import SideCollection, placeholder_vectors
from ingest.storage.store import NewsStore


def normalize_space(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class ArticleVersion:
    """One superseded version of an article."""

    doc_id: str
    version: str
    text: str
    metadata: Mapping[str, MetaValue]

    @property
    def seq(self) -> int:
        value = self.metadata.get("seq", 0)
        return int(value) if isinstance(value, int | float) else 0

    @property
    def superseded_at(self) -> str:
        return str(self.metadata.get("superseded_at", ""))


@dataclass(frozen=True)
class RetractedSentence:
    """A sentence of an older version that the newer version no longer says."""

    doc_id: str
    version: str
    index: int
    start: int
    end: int
    distance: float


class VersionArchive:
    """Reads and writes the history of articles (see the module doc)."""

    def __init__(self, store: NewsStore) -> None:
        self.store = store
        self.versions = SideCollection(store, "versions")
        self.retracted = SideCollection(store, "retracted")

    def archive(self, doc_id: str, new_text: str, new_version: str) -> ArticleVersion | None:
        """Keep the stored version of ``doc_id`` as history before it is replaced; None when there is
        no stored version or it is ``new_version`` already."""
        current = self.store.get_article(doc_id)
        if current is None or current.version == new_version:
            return None
        seq = self._next_seq(doc_id, current.version)
        meta: dict[str, MetaValue] = {
            **current.metadata,
            "doc_id": doc_id,
            "seq": seq,
            "superseded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "superseded_by": new_version,
        }
        self.versions.call(
            "write",
            lambda: self.versions.collection.upsert(
                ids=[version_id(doc_id, current.version)],
                embeddings=placeholder_vectors(1),
                metadatas=[meta],
                documents=[current.text],
            ),
        )
        self._archive_sentences(current, normalize_space(new_text))
        return ArticleVersion(doc_id, current.version, current.text, meta)

    def history(self, doc_id: str) -> list[ArticleVersion]:
        """The superseded versions of ``doc_id``, oldest first."""
        got = self.versions.call(
            "read",
            lambda: self.versions.collection.get(
                where={"doc_id": doc_id}, include=["documents", "metadatas"]
            ),
        )
        found = [
            ArticleVersion(doc_id, str((m or {}).get("version", "")), text or "", _scalars(m))
            for text, m in zip(got["documents"] or [], got["metadatas"] or [])
        ]
        return sorted(found, key=lambda v: (v.seq, v.superseded_at))

    def get_version(self, doc_id: str, version: str) -> ArticleVersion | None:
        got = self.versions.call(
            "read",
            lambda: self.versions.collection.get(
                ids=[version_id(doc_id, version)], include=["documents", "metadatas"]
            ),
        )
        if not got["ids"]:
            return None
        return ArticleVersion(
            doc_id, version, (got["documents"] or [""])[0] or "", _scalars((got["metadatas"] or [{}])[0])
        )

    def has_retracted(self) -> bool:
        """True when any article has dropped a sentence in a newer version."""
        return self.retracted.call("count", self.retracted.collection.count) > 0

    def nearest_retracted(
        self, vector: Vectors, k: int, model: str, doc_ids: Sequence[str] | None = None
    ) -> list[RetractedSentence]:
        """The k retracted sentences nearest to ``vector`` (embedded with ``model``)."""
        count = self.retracted.call("count", self.retracted.collection.count)
        if count == 0 or k < 1:
            return []
        where: dict[str, Any] = {"model": model}
        if doc_ids is not None:
            where = {"$and": [where, {"doc_id": {"$in": list(doc_ids)}}]}
        got = self.retracted.call(
            "query",
            lambda: self.retracted.collection.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
                n_results=min(k, count),
                where=where,
                include=["metadatas", "distances"],
            ),
        )
        metas, dists = (got["metadatas"] or [[]])[0], (got["distances"] or [[]])[0]
        return [_retracted(m or {}, float(d)) for m, d in zip(metas, dists)]

    def forget(self, doc_id: str) -> None:
        """Remove the whole history of ``doc_id`` (when the article itself is deleted)."""
        self.versions.call("delete", lambda: self.versions.collection.delete(where={"doc_id": doc_id}))
        self.retracted.call("delete", lambda: self.retracted.collection.delete(where={"doc_id": doc_id}))

    def _next_seq(self, doc_id: str, version: str) -> int:
        existing = {v.version: v.seq for v in self.history(doc_id)}
        return existing.get(version) or max(existing.values(), default=0) + 1

    def _archive_sentences(self, old: StoredArticle, new_text: str) -> None:
        where = {"$and": [{"doc_id": old.doc_id}, {"version": old.version}]}
        got = chroma_call(
            self.store.where,
            "read",
            lambda: self.store.sentences.get(where=where, include=["metadatas", "embeddings"]),  # type: ignore[arg-type]
        )
        keep = [
            i
            for i, meta in enumerate(got["metadatas"] or [])
            if normalize_space(old.text[int(meta["start"]) : int(meta["end"])]) not in new_text  # type: ignore[arg-type]
        ]
        if not keep or got["embeddings"] is None:
            return
        model = str(old.metadata.get("model", ""))
        self.retracted.call(
            "write",
            lambda: self.retracted.collection.upsert(
                ids=[got["ids"][i] for i in keep],
                embeddings=np.asarray([got["embeddings"][i] for i in keep], dtype=np.float32),  # type: ignore[index]
                metadatas=[{**(got["metadatas"] or [])[i], "model": model} for i in keep],  # type: ignore[misc]
            ),
        )


def sentence_diff(old: str, new: str) -> list[str]:
    """Sentences ``old`` has and ``new`` lacks ("- ...") and the reverse ("+ ..."), in text order."""
    from ingest.sentences import split_sentences

    before = [normalize_space(old[s.start : s.end]) for s in split_sentences(old)]
    after = [normalize_space(new[s.start : s.end]) for s in split_sentences(new)]
    lines = difflib.unified_diff(before, after, lineterm="", n=0)
    return [
        f"{line[0]} {line[1:]}" for line in lines if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def history_report(current: StoredArticle, versions: Sequence[ArticleVersion]) -> dict[str, Any]:
    """The history of an article as JSON-ready data: each earlier version, oldest first, with its
    metadata, text and what the version after it changed (sentences removed "- " and added "+ ")."""
    texts = [v.text for v in versions] + [current.text]
    return {
        "doc_id": current.doc_id,
        "current": {"version": current.version, "metadata": dict(current.metadata)},
        "versions": [
            {
                "seq": v.seq,
                "version": v.version,
                "superseded_at": v.superseded_at,
                "metadata": dict(v.metadata),
                "text": v.text,
                "changes": sentence_diff(v.text, texts[i + 1]),
            }
            for i, v in enumerate(versions)
        ],
    }


def format_history(report: Mapping[str, Any]) -> str:
    """The history report as readable text (what ``newsdesk show DOC_ID --versions`` prints)."""
    current = report["current"]
    lines = [
        f"doc_id: {report['doc_id']}",
        f"current version: {current['version']} (ingested {current['metadata'].get('ingested_at', '?')}) "
        f"{current['metadata'].get('title', '')}".rstrip(),
        f"earlier versions: {len(report['versions'])}",
    ]
    for v in report["versions"]:
        meta = v["metadata"]
        lines += [
            "",
            f"version {v['seq']}: {v['version']} (ingested {meta.get('ingested_at', '?')}, "
            f"replaced {v['superseded_at']} by {meta.get('superseded_by', '?')})",
            f"title: {meta.get('title', '')}",
            *(f"  {change}" for change in v["changes"] or ["(same text; metadata changed)"]),
        ]
    return "\n".join(lines)


def version_id(doc_id: str, version: str) -> str:
    return f"{doc_id}{ID_SEP}{version}"


def _scalars(meta: Mapping[str, Any] | None) -> dict[str, MetaValue]:
    return {k: v for k, v in (meta or {}).items() if isinstance(v, str | int | float | bool)}


def _retracted(meta: Mapping[str, Any], distance: float) -> RetractedSentence:
    return RetractedSentence(
        doc_id=str(meta.get("doc_id", "")),
        version=str(meta.get("version", "")),
        index=int(meta.get("index", 0)),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        distance=distance,
    )
