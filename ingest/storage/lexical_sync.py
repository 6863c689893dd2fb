"""The store's lexical index: where it lives, and how the store's writes keep it in step with Chroma.

The index (:class:`~ingest.storage.lexical_tantivy.TantivyLexicalIndex`: BM25 over the sentences'
analyzer terms, their line keys and publication times) is a folder of this machine,
:func:`lexical_path`: ``<store_dir>/lexical.tantivy/<collection>/``, or ``<lexical_dir>/<collection>/``
when that setting names another parent (the workers of a Chroma server on one machine share it;
workers on several machines would need another engine behind the same interface).

Write order: :class:`~ingest.storage.store.NewsStore` commits to Chroma first (the sentence records,
then the article records: the commit point), then to the index, one Tantivy commit per group of
articles. The index is derived data: a kill between the two commits leaves it behind Chroma, never
ahead. So before its first write a writer (:meth:`LexicalSync.prepare`) compares the versions the
index holds with Chroma's and re-indexes or removes what differs: cheap when nothing does (the
versions of both sides, no texts). With an embedded store the check is skipped when the last writer
left the index in step (:mod:`ingest.storage.in_step`). An index folder that is missing, damaged,
or of another schema or analyzer is rebuilt from the store, with a progress bar on stderr
(:meth:`LexicalSync.rebuild`, also ``newsdesk reindex``).

Several writers (a Chroma server): Tantivy's write lock orders their index writes, and under it a
writer indexes an article only while Chroma still holds the version it wrote (a later writer indexes
its own), and a repair or a delete reads Chroma's current record of each article it touches. So the
index ends with each article's last committed version, whatever the interleaving.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from filelock import FileLock
from tqdm import tqdm

from assistant.core.errors import LexicalIndexError
from assistant.core.sections import StoreSettings
from ingest.storage.chroma import chroma_call, store_where
from ingest.storage.in_step import Fingerprint, InStepMark
from ingest.storage.lexical_records import IndexedArticle, indexed_article, written_article
from ingest.storage.lexical_tantivy import LexicalIndexUnreadableError, TantivyLexicalIndex
from ingest.storage.quantized import quantize
from ingest.storage.records import (
    SPANS_KEY,
    ArticleWrite,
    StoredArticle,
    decode_spans,
    sentence_id,
    stored_article,
)
from ingest.storage.spans import committed_sentences
from ingest.storage.tantivy_schema import tantivy_path
from ingest.terms import ANALYZER_NAME, content_terms

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Include

T = TypeVar("T")
PAGE = 500  # article records read per Chroma call
RECORD: Include = ["documents", "metadatas", "embeddings"]  # what the index copies of an article record
PROGRESS_MIN = 200  # a repair of this many articles or more shows a progress bar
REBUILD_LOCK = ".newsdesk-reindex-{}.lock"  # beside the index folders; '.newsdesk-*': backups skip it


def lexical_path(settings: StoreSettings) -> Path:
    """The lexical index folder of a store's collection."""
    parent = settings.lexical_dir if settings.lexical_dir is not None else tantivy_path(settings.store_dir)
    return Path(parent) / settings.collection


@dataclass(frozen=True)
class Reindexed:
    """What a rebuild of the lexical index wrote, and how long it took."""

    articles: int
    sentences: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sentence_less(meta: Mapping[str, Any]) -> bool:
    """An article record of no sentence (a text of punctuation only, say)."""
    return meta.get("n_sentences") == 0 or decode_spans(meta.get(SPANS_KEY)) == ()


def version_map(got: Any) -> dict[str, str]:
    """doc_id -> version of the article records of a Chroma ``get``."""
    return {d: str((m or {}).get("version", "")) for d, m in zip(got["ids"], got["metadatas"] or [])}


class LexicalSync:
    """The lexical index of one store: opened on first use, repaired before the first write,
    written after each Chroma commit. Safe to share between the threads of a process."""

    def __init__(
        self, settings: StoreSettings, articles: Collection, sentences: Collection, batch_size: int
    ) -> None:
        self.settings = settings
        self.path = lexical_path(settings)
        self._articles, self._sentences, self._batch = articles, sentences, batch_size
        self._where = store_where(settings)
        self._index: TantivyLexicalIndex | None = None
        self._mark = InStepMark(self.path, enabled=not settings.uses_server)
        self._repaired = False
        self._writing = 0  # writes between their Chroma and index commits (:meth:`changing`)
        self._lock = threading.RLock()

    # --- opening ---------------------------------------------------------------------------------
    @property
    def index(self) -> TantivyLexicalIndex:
        """The index, opened (created when missing) on first use; LexicalIndexError naming the folder
        when it cannot be read (``newsdesk reindex`` rebuilds it)."""
        index = self._index
        if index is not None:
            return index
        with self._lock:
            if self._index is None:
                try:
                    self._index = self._open()
                except LexicalIndexUnreadableError as exc:
                    raise LexicalIndexError(f"{exc} (`newsdesk reindex`)") from exc
            return self._index

    def _open(self) -> TantivyLexicalIndex:
        return TantivyLexicalIndex.open(
            self.path, content_terms, ANALYZER_NAME, timeout_s=self.settings.chroma_timeout_s
        )

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
            self._index, self._repaired = None, False

    def prepare(self, show_progress: bool = True) -> TantivyLexicalIndex:
        """The index, ready for this process's writes: rebuilt from the store when it cannot be read,
        and (once per store object, and again after a failed index write) brought in step with Chroma."""
        with self._lock:
            if self._index is None:
                try:
                    self._index = self._open()
                except LexicalIndexUnreadableError:
                    self._recover(show_progress)
            index = self.index
            if not self._repaired:
                if not self._marked_in_step(index):
                    self._sync(index, self._stale(index), show_progress)
                index.articles_in_step(self.sentence_vectors)  # a store from before it, a kill
                self._repaired = True
                self._mark_in_step(index)
            return index

    # --- the in-step mark (embedded stores: ingest/storage/in_step.py) -------------------------
    @contextmanager
    def changing(self) -> Iterator[None]:
        """Around a write to Chroma and then to the index: the in-step mark is removed before the
        block and written again after it when it succeeded and no other write is under way."""
        with self._lock:
            self._writing += 1
            self._mark.clear()
        done = False
        try:
            yield
            done = True
        finally:
            with self._lock:
                self._writing -= 1
                if done and self._repaired and self._writing == 0:
                    self._mark_in_step(self.index)

    def _fingerprint(self, index: TantivyLexicalIndex) -> Fingerprint:
        articles = int(self._call("count", self._articles.count))
        return {"articles": articles, "sentences": index.sentence_count()}

    def _marked_in_step(self, index: TantivyLexicalIndex) -> bool:
        return self._mark.enabled and self._mark.holds(self._fingerprint(index))

    def _mark_in_step(self, index: TantivyLexicalIndex) -> None:
        if self._mark.enabled and not self._writing:
            self._mark.write(self._fingerprint(index))

    def _recover(self, show_progress: bool) -> None:
        """Rebuild an unreadable index, unless another process did while this one waited for it."""
        with self._rebuild_lock():
            try:
                self._index = self._open()
            except LexicalIndexUnreadableError:
                self._rebuild(show_progress)

    @contextmanager
    def _rebuild_lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path.parent / REBUILD_LOCK.format(self.path.name))):
            yield

    # --- writes after Chroma's ---------------------------------------------------------------------
    def write(self, items: Sequence[ArticleWrite]) -> None:
        """Index a group of articles whose Chroma records just committed (one Tantivy commit)."""
        articles = [written_article(item) for item in items]
        with self._failing_marks_stale():
            if self.settings.uses_server:
                self.index.add(self._still_committed(articles))
            else:  # the folder's write lock makes this process the only writer
                self.index.add(articles)

    def delete(self, doc_id: str) -> None:
        """Remove an article whose Chroma records were just deleted."""
        with self._failing_marks_stale():
            if self.settings.uses_server:
                self._sync(self.index, [doc_id], show_progress=False)
            else:
                self.index.delete(doc_id)

    @contextmanager
    def _failing_marks_stale(self) -> Iterator[None]:
        """An index write that fails after Chroma's commit leaves the index behind: the next
        :meth:`prepare` repairs it."""
        try:
            yield
        except BaseException:
            self._repaired = False
            raise

    def _still_committed(self, articles: Sequence[IndexedArticle]) -> Iterator[IndexedArticle]:
        """The articles whose version Chroma still holds (read under the index's write lock)."""
        ids = [a.doc_id for a in articles]
        current = version_map(self._call("read", partial(self._articles.get, ids=ids, include=["metadatas"])))
        yield from (a for a in articles if current.get(a.doc_id) == a.version)

    # --- repair and rebuild ----------------------------------------------------------------------
    def _stale(self, index: TantivyLexicalIndex) -> list[str]:
        """The doc_ids whose index entry differs from Chroma's record (missing, other version, gone)."""
        redo, drop = index.stale(self._chroma_versions())
        return [*redo, *drop]

    def _chroma_versions(self) -> dict[str, str]:
        """doc_id -> version of every stored article with sentences (one without has nothing to index)."""
        versions: dict[str, str] = {}
        for offset in count(0, PAGE):
            got = self._call(
                "read", partial(self._articles.get, include=["metadatas"], limit=PAGE, offset=offset)
            )
            empty = {d for d, m in zip(got["ids"], got["metadatas"] or []) if sentence_less(m or {})}
            versions.update((d, v) for d, v in version_map(got).items() if d not in empty)
            if len(got["ids"]) < PAGE:
                break
        return versions

    def _sync(self, index: TantivyLexicalIndex, doc_ids: Sequence[str], show_progress: bool) -> None:
        """Make the index hold Chroma's current record of each of ``doc_ids`` (read under the index's
        write lock): indexed when stored, removed when not. One commit."""
        if not doc_ids:
            return
        gone: list[str] = []
        shown = show_progress and len(doc_ids) >= PROGRESS_MIN
        with tqdm(total=len(doc_ids), desc="lexical index: repair", unit="article", disable=not shown) as bar:

            def current() -> Iterator[IndexedArticle]:
                for begin in range(0, len(doc_ids), self._batch):
                    batch = list(doc_ids[begin : begin + self._batch])
                    found = self._read(batch)
                    gone.extend(d for d in batch if d not in found)
                    yield from found.values()
                    bar.update(len(batch))

            index.add(current(), delete=gone)  # ``gone`` is read after ``current()`` is consumed

    def rebuild(self, show_progress: bool = True) -> Reindexed:
        """Rebuild the index from every article in the store (one commit; readers keep the old index
        until it lands); a folder that is not a readable index is replaced."""
        with self._lock, self._rebuild_lock():
            try:
                self._index = self._index or self._open()
            except LexicalIndexUnreadableError:
                self._index = None
            return self._rebuild(show_progress)

    def _rebuild(self, show_progress: bool) -> Reindexed:
        started = time.perf_counter()
        if self._index is None:
            self._remove_unreadable()
            self._index = self._open()
        index = self._index
        total: int = self._call("count", self._articles.count)
        done = 0
        with tqdm(
            total=total, desc="lexical index: rebuild", unit="article", disable=not show_progress
        ) as bar:

            def every_article() -> Iterator[IndexedArticle]:
                nonlocal done
                for page in self._pages():
                    yield from page
                    done += len(page)
                    bar.update(len(page))

            sentences = index.rebuild(every_article(), self.sentence_vectors)
        self._repaired = True
        self._mark_in_step(index)
        return Reindexed(done, sentences, round(time.perf_counter() - started, 2))

    def _remove_unreadable(self) -> None:
        try:
            if self.path.is_dir() and not self.path.is_symlink():
                shutil.rmtree(self.path)
            elif self.path.exists() or self.path.is_symlink():
                self.path.unlink()
        except OSError as exc:
            raise LexicalIndexError(f"lexical index {self.path}: cannot remove it to rebuild: {exc}") from exc

    # --- reading Chroma ----------------------------------------------------------------------------
    def _pages(self) -> Iterator[list[IndexedArticle]]:
        for offset in count(0, PAGE):
            page = partial(self._articles.get, include=RECORD, limit=PAGE, offset=offset)
            got = self._call("read", page)
            yield list(self._indexed(got, vectors=False).values())
            if len(got["ids"]) < PAGE:
                return

    def _read(self, doc_ids: list[str]) -> dict[str, IndexedArticle]:
        """Chroma's current record of each of ``doc_ids`` that is stored."""
        got = self._call("read", partial(self._articles.get, ids=doc_ids, include=RECORD))
        return self._indexed(got)

    def _indexed(self, got: Any, vectors: bool = True) -> dict[str, IndexedArticle]:
        """The records of a Chroma ``get`` as the index holds them (``vectors``: with their
        sentences' vectors, read from the sentence records; a rebuild has the article index read
        them afterwards instead)."""
        stored = [
            stored_article(d, t, m)
            for d, t, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
        ]
        titles = got.get("embeddings")
        titles = [None] * len(stored) if titles is None else titles
        found = committed_sentences(self._sentences, self._where, stored)
        sentence = self._quantized(stored, found) if vectors else {}
        return {
            a.doc_id: indexed_article(
                a.doc_id,
                a.text,
                a.metadata,
                ((s, e) for _, s, e in found.get(a.doc_id, [])),
                title,
                sentence.get(a.doc_id, b""),
            )
            for a, title in zip(stored, titles)
        }

    def sentence_vectors(self, articles: Sequence[StoredArticle]) -> dict[str, bytes]:
        """The int8 vectors of the committed sentences of each of ``articles``, from their Chroma
        sentence records (an article with a record missing gets none)."""
        return self._quantized(articles, committed_sentences(self._sentences, self._where, articles))

    def _quantized(
        self, articles: Sequence[StoredArticle], found: Mapping[str, Sequence[tuple[int, int, int]]]
    ) -> dict[str, bytes]:
        ids = {
            a.doc_id: [sentence_id(a.doc_id, a.version, i) for i, _, _ in found.get(a.doc_id, [])]
            for a in articles
        }
        wanted = [i for record_ids in ids.values() for i in record_ids]
        vectors: dict[str, Any] = {}
        for begin in range(0, len(wanted), self._batch):
            batch = wanted[begin : begin + self._batch]
            got = self._call("read", partial(self._sentences.get, ids=batch, include=["embeddings"]))
            embeddings = got["embeddings"] if got["embeddings"] is not None else []
            vectors.update(zip(got["ids"], embeddings))
        return {
            doc_id: quantize(np.asarray([vectors[i] for i in record_ids], dtype=np.float32))
            for doc_id, record_ids in ids.items()
            if record_ids and all(i in vectors for i in record_ids)
        }

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        return chroma_call(self._where, what, fn)
