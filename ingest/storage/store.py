"""The only code that talks to Chroma, and the owner of the store's lexical index.

What the two collections hold: :mod:`ingest.storage.records`.

Writes go sentences first, then the article record, then stale sentences are deleted, so an
interrupted write leaves at most unreferenced sentence records, which readers ignore (their
``version`` is not the article's) and the next write of that article replaces or removes. An
ingest group is written the same way with few calls (:meth:`NewsStore.write_articles`): the
sentences of all its articles, then all their records in one upsert, then the stale sentences;
then the lexical index, one commit per group (:mod:`ingest.storage.lexical_sync`: a writer first
repairs what a crash between the two commits left behind).
Every change sets a new ``generation`` token on the articles collection so other processes know
when their in-memory views (lexical index, texts) are stale: read the token *before* reading the
data it stands for, then a write that lands in between is seen as a change next time. Readers
rebuild on every change, so an ingest announces each group of articles once
(:meth:`NewsStore.generation_batch`).

Several writers (server mode only; the embedded folder admits one writer, see :meth:`write_lock`,
and while ``newsdesk serve`` holds it, only that server: :mod:`ingest.storage.locks`).
Chroma has no transactions, so two processes writing different content for the same article at
once could delete each other's sentence records ("version != mine" removes the other's records
still in flight) and leave a committed article without its sentences. After its commit a server
writer therefore *settles*: it re-reads the committed version; if a later write won, it leaves the
cleanup to that writer; if its own version is current, it deletes the stale versions and checks
that all its sentence records are present, rewriting any that a concurrent delete removed.
Versions are content hashes, so writers of the same content write the same ids (idempotent),
and re-running an interrupted ingest rewrites, never duplicates, what it had written.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from assistant.core.errors import DocumentNotFoundError, StoreError
from assistant.core.sections import StoreSettings
from assistant.core.types import MetaValue
from ingest.embedding.embedder import Vectors
from ingest.storage.chroma import chroma_call, make_client, store_where
from ingest.storage.lexical_sync import LexicalSync
from ingest.storage.lexical_tantivy import TantivyLexicalIndex
from ingest.storage.locks import StoreFolderLocks
from ingest.storage.records import (
    SPANS_KEY,
    ArticleWrite,
    SentenceRecord,
    StoredArticle,
    StoreStats,
    encode_spans,
    sentence_record,
    sentence_rows,
    stored_article,
)

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

T = TypeVar("T")
SETTLE_ROUNDS = 3
HEALTH_QUERY_K = 10


class NewsStore(StoreFolderLocks):
    """Articles and their sentence vectors in Chroma, embedded or on a server (and their lexical
    index); its folder's locks: :class:`~ingest.storage.locks.StoreFolderLocks`."""

    def __init__(self, settings: StoreSettings, client: ClientAPI | None = None) -> None:
        self.settings = settings
        self.where = store_where(settings)
        self._client = client or make_client(settings)
        self.articles = self._collection(f"{settings.collection}_articles")
        self.sentences = self._collection(f"{settings.collection}_sentences")
        max_batch: int = self._call("connect", self._client.get_max_batch_size)
        self.batch_size = min(settings.write_batch_size, max_batch)
        self._batch_lock = threading.Lock()
        self._batch_depth = 0
        self._bump_pending = False
        self.lexical_sync = LexicalSync(settings, self.articles, self.sentences, self.batch_size)

    def _collection(self, name: str) -> Collection:
        try:
            return self._client.get_or_create_collection(
                name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
            )
        except Exception as exc:
            raise StoreError(f"cannot open collection {name!r} at {self.where}: {exc}") from exc

    @property
    def lexical(self) -> TantivyLexicalIndex:
        """The store's lexical index (BM25, line keys, newest articles), opened on first use."""
        return self.lexical_sync.index

    def close(self) -> None:
        """Release this store's Chroma client (embedded: the folder's files once no client uses them)."""
        self.lexical_sync.close()
        close = getattr(self._client, "close", None)
        if callable(close):
            close()

    def collection_counts(self) -> dict[str, int]:
        """Records per collection of the whole Chroma database (every prefix, side collections too)."""
        collections = self._call("read", self._client.list_collections)
        return {c.name: self._call("count", c.count) for c in collections}

    def side_collection(self, suffix: str) -> Collection:
        """Another collection of this store, ``{collection}_{suffix}`` (stories, versions...)."""
        return self._collection(f"{self.settings.collection}_{suffix}")

    # --- generation ------------------------------------------------------------------------
    def generation(self) -> str:
        """A token that changes whenever any article is written or deleted (by any process).

        One small read of the collection record (a sqlite read embedded, one GET of well under a
        millisecond on a loopback server). Read it before the data it stands for.
        """
        fresh: Collection = self._call(
            "read", lambda: self._client.get_collection(self.articles.name, embedding_function=None)
        )
        return str((fresh.metadata or {}).get("generation", "0"))

    @contextmanager
    def generation_batch(self) -> Iterator[None]:
        """Announce all writes made inside with one generation change, at the end.

        Every reader rebuilds its in-memory view on a change, so an ingest announces each group
        of articles once instead of each article. Readers see the group's articles at the latest
        when the block ends (also when it ends with an error).
        """
        with self._batch_lock:
            self._batch_depth += 1
        try:
            yield
        except BaseException:
            with suppress(StoreError):  # the error in flight is the news
                self._end_batch()
            raise
        self._end_batch()

    def _end_batch(self) -> None:
        with self._batch_lock:
            self._batch_depth -= 1
            flush = self._batch_depth == 0 and self._bump_pending
            if flush:
                self._bump_pending = False
        if flush:
            self._bump_generation()

    def _generation_changed(self) -> None:
        with self._batch_lock:
            if self._batch_depth:
                self._bump_pending = True
                return
        self._bump_generation()

    def _bump_generation(self) -> None:
        # A random token, not a counter: concurrent bumps need no read-modify-write, and whichever
        # lands last still differs from every token a reader can have seen before the writes.
        self._call("write", lambda: self.articles.modify(metadata={"generation": uuid.uuid4().hex}))

    # --- reads -----------------------------------------------------------------------------
    def get_article(self, doc_id: str) -> StoredArticle | None:
        got = self._call("read", lambda: self.articles.get(ids=[doc_id], include=["documents", "metadatas"]))
        if not got["ids"]:
            return None
        return stored_article(doc_id, (got["documents"] or [""])[0], (got["metadatas"] or [{}])[0])

    def require_article(self, doc_id: str) -> StoredArticle:
        article = self.get_article(doc_id)
        if article is None:
            raise DocumentNotFoundError(doc_id)
        return article

    def article_hashes(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """content_hash of each stored doc_id among ``doc_ids``."""
        return {d: str(m.get("content_hash", "")) for d, m in self.article_metadatas(doc_ids).items()}

    def article_metadatas(self, doc_ids: Sequence[str]) -> dict[str, Mapping[str, MetaValue]]:
        """The article metadata of each stored doc_id among ``doc_ids``."""
        out: dict[str, Mapping[str, MetaValue]] = {}
        for begin in range(0, len(doc_ids), self.batch_size):
            ids = list(doc_ids[begin : begin + self.batch_size])
            got = self._call("read", partial(self.articles.get, ids=ids, include=["metadatas"]))
            for doc_id, meta in zip(got["ids"], got["metadatas"] or []):
                out[doc_id] = cast("Mapping[str, MetaValue]", meta or {})
        return out

    def iter_articles(self, page: int = 500) -> Iterator[StoredArticle]:
        """Every stored article, in pages."""
        offset = 0
        while True:
            got = self._call(
                "read",
                lambda offset=offset: self.articles.get(  # type: ignore[misc]
                    include=["documents", "metadatas"], limit=page, offset=offset
                ),
            )
            for doc_id, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or []):
                yield stored_article(doc_id, text, meta)
            if len(got["ids"]) < page:
                return
            offset += page

    def iter_sentences(self, page: int = 5000) -> Iterator[SentenceRecord]:
        """Every stored sentence record (including any not yet committed: check versions)."""
        offset = 0
        while True:
            got = self._call(
                "read",
                partial(self.sentences.get, include=["metadatas"], limit=page, offset=offset),
            )
            for meta in got["metadatas"] or []:
                yield sentence_record(meta or {}, 0.0)
            if len(got["ids"]) < page:
                return
            offset += page

    def query_sentences(
        self, vector: Vectors, k: int, where: Mapping[str, Any] | None = None
    ) -> list[SentenceRecord]:
        """The k nearest sentence records to a query vector, optionally filtered in the store."""
        if k < 1:
            return []
        got = self._call(
            "query",
            lambda: self.sentences.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
                n_results=k,
                where=dict(where) if where else None,
                include=["metadatas", "distances"],
            ),
        )
        metas = (got["metadatas"] or [[]])[0]
        dists = (got["distances"] or [[]])[0]
        return [sentence_record(m or {}, float(d)) for m, d in zip(metas, dists)]

    def count(self) -> tuple[int, int]:
        counts: tuple[int, int] = self._call("count", lambda: (self.articles.count(), self.sentences.count()))
        return counts

    def check_readable(self) -> int:
        """The number of stored articles, after the reads an answer makes: a count, one sentence
        record with its vector, and a vector query with it. StoreError when any of them fails
        (a count alone succeeds on a store whose vector index no longer matches its records)."""
        articles, _ = self.count()
        got = self._call("read", lambda: self.sentences.get(limit=1, include=["embeddings"]))
        vectors = got["embeddings"]
        if vectors is not None and len(vectors):
            self.query_sentences(np.asarray(vectors[0], dtype=np.float32), HEALTH_QUERY_K)
        return articles

    def stats(self) -> StoreStats:
        articles, sentences = self.count()
        stats = StoreStats(articles=articles, sentences=sentences)
        dates: list[str] = []
        for art in self.iter_articles():
            source = str(art.metadata.get("source", "")) or "(unknown)"
            stats.sources[source] = stats.sources.get(source, 0) + 1
            if art.metadata.get("published"):
                dates.append(str(art.metadata["published"]))
        if dates:
            stats.first_published, stats.last_published = min(dates), max(dates)
        return stats

    # --- writes ----------------------------------------------------------------------------
    def write_articles(self, items: Sequence[ArticleWrite]) -> None:
        """Store several articles in the write order of the module doc, with few Chroma calls: the
        sentences of all of them (in batches of ``write_batch_size``), then their article records
        in one call (the commit point of each), then stale sentence records of each.

        A few calls per group instead of two per article: much less write time (docs/performance.md).
        """
        if not items:
            return
        self.lexical_sync.prepare()
        sentences = [sentence_rows(item) for item in items]
        with self.lexical_sync.changing():
            self._upsert_sentences(
                [i for ids, _ in sentences for i in ids],
                np.concatenate([item.vectors.reshape(-1, item.title_vector.size) for item in items]),
                [m for _, metas in sentences for m in metas],
            )
            records = [{**item.metadata, SPANS_KEY: encode_spans(item.spans)} for item in items]
            titles = np.stack([item.title_vector.reshape(-1) for item in items])
            ids_ = [item.doc_id for item in items]
            self._upsert(self.articles, ids_, titles, records, [i.text for i in items])
            for item, (ids, metas) in zip(items, sentences):
                self._after_commit(item, ids, metas)
            try:
                self.lexical_sync.write(items)
            finally:  # Chroma changed, whatever the index did
                self._generation_changed()

    def _after_commit(
        self, item: ArticleWrite, ids: list[str], metas: Sequence[Mapping[str, MetaValue]]
    ) -> None:
        if self.settings.uses_server:
            self._settle(item.doc_id, item.version, ids, item.vectors, metas)
        else:  # the write lock makes this process the only writer
            self._delete_stale(item.doc_id, keep_version=item.version)

    def _upsert_sentences(
        self, ids: list[str], vectors: Vectors, metas: Sequence[Mapping[str, MetaValue]]
    ) -> None:
        for begin in range(0, len(ids), self.batch_size):
            end = begin + self.batch_size
            self._upsert(self.sentences, ids[begin:end], vectors[begin:end], metas[begin:end], None)

    def _settle(
        self,
        doc_id: str,
        version: str,
        ids: list[str],
        vectors: Vectors,
        metas: Sequence[Mapping[str, MetaValue]],
    ) -> None:
        """After a commit with other writers about: clean up, and restore what a race deleted."""
        for _ in range(SETTLE_ROUNDS):
            if self._committed_version(doc_id) != version:
                return  # deleted, or a later write won: that writer cleans up after itself
            self._delete_stale(doc_id, keep_version=version)
            missing = self._missing_sentences(ids)
            if not missing:
                return
            self._upsert_sentences([ids[i] for i in missing], vectors[missing], [metas[i] for i in missing])
        raise StoreError(
            f"article {doc_id!r}: concurrent writers kept deleting its sentences; ingest it again"
        )

    def _committed_version(self, doc_id: str) -> str | None:
        got = self._call("read", lambda: self.articles.get(ids=[doc_id], include=["metadatas"]))
        if not got["ids"]:
            return None
        return str(((got["metadatas"] or [{}])[0] or {}).get("version", ""))

    def _missing_sentences(self, ids: list[str]) -> list[int]:
        """Positions in ``ids`` of sentence records that are not stored."""
        present: set[str] = set()
        for begin in range(0, len(ids), self.batch_size):
            chunk = ids[begin : begin + self.batch_size]
            got = self._call("read", partial(self.sentences.get, ids=chunk, include=[]))
            present.update(got["ids"])
        return [i for i, sid in enumerate(ids) if sid not in present]

    def delete_article(self, doc_id: str) -> None:
        """Remove an article and every sentence record of it; DocumentNotFoundError if absent."""
        self.require_article(doc_id)
        self.lexical_sync.prepare()
        with self.lexical_sync.changing():
            self._call("delete", lambda: self.articles.delete(ids=[doc_id]))
            self._delete_stale(doc_id, keep_version=None)
            try:
                self.lexical_sync.delete(doc_id)
            finally:
                self._generation_changed()

    def purge_orphans(self) -> int:
        """Delete sentence records whose article is missing or has another version; read only when
        Chroma holds more sentence records than the index in step with its articles holds sentences."""
        index = self.lexical_sync.prepare(show_progress=False)
        if self._call("count", self.sentences.count) == index.sentence_count():
            return 0
        versions = {a.doc_id: a.version for a in self.iter_articles()}
        orphan_docs = {rec.doc_id for rec in self.iter_sentences() if versions.get(rec.doc_id) != rec.version}
        for doc_id in orphan_docs:
            self._delete_stale(doc_id, keep_version=versions.get(doc_id))
        return len(orphan_docs)

    def _delete_stale(self, doc_id: str, keep_version: str | None) -> None:
        where: dict[str, Any] = {"doc_id": doc_id}
        if keep_version is not None:
            where = {"$and": [{"doc_id": doc_id}, {"version": {"$ne": keep_version}}]}
        self._call("delete", lambda: self.sentences.delete(where=where))

    def _upsert(
        self,
        collection: Collection,
        ids: list[str],
        vectors: Vectors,
        metas: Sequence[Mapping[str, MetaValue]],
        documents: list[str] | None,
    ) -> None:
        self._call(
            "write",
            lambda: collection.upsert(
                ids=ids,
                embeddings=np.asarray(vectors, dtype=np.float32),
                metadatas=[dict(m) for m in metas],  # type: ignore[misc]
                documents=documents,
            ),
        )

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        return chroma_call(self.where, what, fn)
