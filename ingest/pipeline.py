"""Ingestion: sources -> articles -> sentences -> vectors -> Chroma, idempotently.

Articles are processed in groups: unchanged ones (same content hash as stored) are skipped
before any embedding; the sentences of the rest are embedded together (length-sorted batches)
and the group is then written with :meth:`NewsStore.write_articles`, whose write order makes an
interrupted run safe to repeat. When the model leaves a core free (``torch_threads`` below the
number of cores), the writes of a group run in a writer thread while the next group is read, split
and embedded (:class:`GroupWriter`: one group in flight, groups stored in order); otherwise they
run in turn with the embedding, which on 2 busy cores is faster (docs/performance.md).

An article over ``max_article_chars`` or, once split, over ``max_article_sentences`` is refused
before anything of it is embedded: it becomes a failure of the report naming it and the limit, the
rest of its group is stored, and a stored version of the same doc_id is kept as it was.

Several articles of one doc_id (captures of one URL in a web archive) are stored one after the
other, each compared with the one stored before it, so each change is a version; one that says it
is older than the stored version (ingest/storage/revisions.py) is skipped. What the loaders skip
(pages of an archive or a sitemap that are no article: ingest/loading/page_kind.py) is counted by
reason in the report. A web archive shows its progress in bytes, as a second bar.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, islice

from tqdm import tqdm

from assistant.core.settings import Settings
from assistant.core.telemetry import tracing
from assistant.core.telemetry.metrics import record_ingest, record_ingest_group
from assistant.core.types import Article, LoadFailure, MetaValue, Skipped, Span
from ingest.embedding.embedder import Embedder, Vectors, default_threads
from ingest.loading.articles import Item, within_limits
from ingest.loading.crawl import SitemapRequest, iter_sitemaps
from ingest.loading.extract import over_limit
from ingest.loading.sources import Meters, iter_articles
from ingest.loading.warc import Meter
from ingest.memory import release_freed_memory
from ingest.sentences import SentenceSplitter
from ingest.storage.records import ArticleWrite
from ingest.storage.revisions import OLDER_VERSION, is_older
from ingest.storage.store import NewsStore
from ingest.storage.stories import StoryIndex
from ingest.storage.versions import VersionArchive
from ingest.storage.writer import GroupWriter

WORD = re.compile(r"\S+")
SCHEME_VERSION = "1"  # bump when what is embedded per sentence changes


@dataclass
class IngestReport:
    """What an ingest run did; ``failed`` names each source that produced no article, ``skipped``
    counts the pages left out on purpose by reason (``index page``, ``redirect``, ``HTTP 404``...)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    sentences: int = 0
    failed: list[LoadFailure] = field(default_factory=list)
    added_ids: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "sentences": self.sentences,
            "failed": [{"source": f.source, "error": f.error} for f in self.failed],
            "skipped": dict(sorted(self.skipped.items())),
        }


@dataclass(frozen=True)
class PreparedArticle:
    """An article ready to be written: its spans, the texts to embed, and its metadata."""

    article: Article
    spans: list[Span]
    embed_texts: list[str]
    metadata: dict[str, MetaValue]
    is_update: bool


def content_hash(article: Article, model_name: str) -> str:
    """Hash of everything that is stored for an article, so any change is seen as an update; but a
    web archive's capture date (and a published date that is only the capture's) is not: two
    identical captures of one page at two times are one version."""
    captured = article.extra.get("captured")
    payload = {
        "text": article.text,
        "title": article.title,
        "url": article.url,
        "published": "" if captured and article.published == captured else article.published,
        "source": article.source,
        "authors": list(article.authors),
        "extra": dict(sorted((k, v) for k, v in article.extra.items() if k != "captured")),
        "model": model_name,
        "scheme": SCHEME_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def published_timestamp(published: str) -> int | None:
    """Seconds since the epoch (UTC) of an ISO 8601 date or date-time, or None."""
    if not published:
        return None
    try:
        moment = datetime.fromisoformat(published.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def article_metadata(article: Article, digest: str, model: str, n_sentences: int) -> dict[str, MetaValue]:
    meta: dict[str, MetaValue] = {f"x_{k}": v for k, v in article.extra.items()}
    meta.update(
        title=article.title,
        url=article.url,
        published=article.published,
        source=article.source,
        authors="; ".join(article.authors),
        origin=article.origin,
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
        content_hash=digest,
        version=digest[:16],
        model=model,
        n_sentences=n_sentences,
    )
    ts = published_timestamp(article.published)
    if ts is not None:
        meta["published_ts"] = ts
    return meta


def embedding_texts(text: str, spans: Sequence[Span], context: int, words: int = 0) -> list[str]:
    """What is embedded for each sentence: the sentence, after up to ``context`` previous ones (of
    which only the last ``words`` words when ``words`` > 0). Always one stretch of ``text``."""
    out = []
    for i, span in enumerate(spans):
        begin = spans[max(0, i - context)].start
        if words and begin < span.start:
            begin = last_words_start(text, begin, span.start, words)
        out.append(text[begin : span.end])
    return out


def embedding_texts_for(text: str, spans: Sequence[Span], settings: Settings) -> list[str]:
    """What is embedded for each sentence as the settings ask: :func:`pair_texts` for context_mode
    ``pairs``, else :func:`embedding_texts` with context_sentences and context_words."""
    if settings.context_mode == "pairs":
        return pair_texts(text, spans)
    return embedding_texts(text, spans, settings.context_sentences, settings.context_words)


def pair_texts(text: str, spans: Sequence[Span]) -> list[str]:
    """Sentences 2k and 2k+1 both get the stretch from the start of 2k to the end of 2k+1: one text,
    which the embedder embeds once (it embeds identical texts once) and gives to both. A last
    unpaired sentence gets itself after the sentence before it."""
    out = []
    for i, span in enumerate(spans):
        first = i - i % 2
        if first + 1 < len(spans):
            out.append(text[spans[first].start : spans[first + 1].end])
        else:
            out.append(text[spans[max(0, i - 1)].start : span.end])
    return out


def last_words_start(text: str, begin: int, end: int, words: int) -> int:
    """Offset of the ``words``-th last word of ``text[begin:end]`` (``begin`` if it has fewer)."""
    starts = [m.start() for m in WORD.finditer(text, begin, end)]
    return starts[-words] if len(starts) >= words else begin


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class IngestPipeline:
    """Loads sources and stores their articles; safe to interrupt and run again."""

    def __init__(
        self, settings: Settings, store: NewsStore, embedder: Embedder, splitter: SentenceSplitter
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.splitter = splitter
        self.stories = StoryIndex(settings.news, store)
        self.versions = VersionArchive(store)

    @property
    def embedding_variant(self) -> str:
        """How the sentence vectors are made, stored with each article: precision and context, e.g.
        ``bf16/ctx1`` (one previous sentence), ``bf16/ctx1/w16`` (its last 16 words) or ``bf16/pairs``."""
        if self.settings.context_mode == "pairs":
            return f"{self.embedder.precision}/pairs"
        variant = f"{self.embedder.precision}/ctx{self.settings.context_sentences}"
        words = self.settings.context_words
        return f"{variant}/w{words}" if words and self.settings.context_sentences else variant

    @property
    def overlap_writes(self) -> bool:
        """Write a group while the next one is embedded only when the model leaves a core free: on
        cores the model uses, the writes slow its threads more than they save (docs/performance.md)."""
        return 0 < self.embedder.threads < default_threads()

    def run(
        self, sources: Sequence[str], show_progress: bool = True, sitemaps: Sequence[SitemapRequest] = ()
    ) -> IngestReport:
        """Ingest every source, then the pages of every sitemap (ingest/loading/crawl.py); bad
        sources are reported in the result, never raised."""
        report = IngestReport()
        with (
            self.store.write_lock(),
            tqdm(desc="ingest", unit="item", disable=not show_progress, dynamic_ncols=True) as bar,
            ExitStack() as byte_bars,
        ):
            self.store.lexical_sync.prepare(show_progress)  # heals what a crash left behind, before writes
            if not self.settings.uses_server:  # with a server, other writers' records are in flight
                self.store.purge_orphans()
            ingest, server, stored = self.settings.ingest, self.settings.server, self.store.article_metadatas
            items = chain(
                iter_articles(sources, ingest, server, stored, _byte_meters(byte_bars, show_progress)),
                iter_sitemaps(sitemaps, ingest, server, stored),
            )
            with GroupWriter(self.overlap_writes) as writer:
                for group in batched(items, self.settings.ingest_group_size):
                    self._ingest_group(group, report, writer)
                    bar.update(len(group))
                    bar.set_postfix(
                        added=report.added,
                        updated=report.updated,
                        skipped=report.skipped.total(),
                        failed=len(report.failed),
                    )
        return report

    def ingest_articles(self, articles: Sequence[Article]) -> IngestReport:
        """Ingest already-loaded articles (used by the API and the UI)."""
        report = IngestReport()
        with self.store.write_lock(), GroupWriter(self.overlap_writes) as writer:
            for group in batched(articles, self.settings.ingest_group_size):
                self._ingest_group(group, report, writer)
        return report

    def delete(self, doc_id: str) -> None:
        """Remove an article, all its sentences and its version history (DocumentNotFoundError if absent)."""
        with self.store.write_lock():
            self.store.delete_article(doc_id)
            self.versions.forget(doc_id)

    def _ingest_group(self, group: Sequence[Item], report: IngestReport, writer: GroupWriter) -> None:
        """One group in a span, counted (``newsdesk_ingest_*``; added and updated when written)."""
        started, unchanged, failed = time.perf_counter(), report.unchanged, len(report.failed)
        with tracing.span("newsdesk.ingest.group", {"newsdesk.group_size": len(group)}):
            self._prepare_group(group, report, writer)
            counts = {"unchanged": report.unchanged - unchanged, "failed": len(report.failed) - failed}
            tracing.add_attributes({f"newsdesk.{result}": n for result, n in counts.items()})
        record_ingest(counts)
        record_ingest_group(time.perf_counter() - started)
        release_freed_memory()  # what the group's embedding freed (ingest/memory.py)

    def _prepare_group(self, group: Sequence[Item], report: IngestReport, writer: GroupWriter) -> None:
        bounded = [within_limits(item, self.settings.max_article_chars) for item in group]
        report.failed.extend(f for f in bounded if isinstance(f, LoadFailure))
        report.skipped.update(s.reason for s in bounded if isinstance(s, Skipped))
        for articles in _rounds([a for a in bounded if isinstance(a, Article)]):
            self._ingest_round(articles, report, writer)

    def _ingest_round(self, articles: Sequence[Article], report: IngestReport, writer: GroupWriter) -> None:
        """Store articles of distinct doc_ids: each compared with its stored version first."""
        writer.wait_for(a.doc_id for a in articles)  # an article of the group in flight: read it stored
        stored = self.store.article_metadatas([a.doc_id for a in articles])
        prepared = []
        for article in articles:
            digest = content_hash(article, self.embedder.model_name)
            kept = stored.get(article.doc_id)
            if kept is not None and kept.get("content_hash") == digest:
                report.unchanged += 1
            elif kept is not None and is_older(article.extra, kept):
                report.skipped[OLDER_VERSION] += 1
            elif isinstance(item := self._prepare(article, digest, kept is not None), LoadFailure):
                report.failed.append(item)
            else:
                prepared.append(item)
        self._assign_stories(prepared)
        if prepared:
            vectors = self._embed(prepared)
            writer.submit(
                lambda: self._write(prepared, vectors, report), (p.article.doc_id for p in prepared)
            )

    def _assign_stories(self, prepared: Sequence[PreparedArticle]) -> None:
        """Syndicated copies share a ``story_id`` (see ingest/storage/stories.py)."""
        stories = self.stories.assign_many([(p.article.doc_id, p.article.text) for p in prepared])
        for item in prepared:
            item.metadata["story_id"] = stories[item.article.doc_id]

    def _prepare(self, article: Article, digest: str, is_update: bool) -> PreparedArticle | LoadFailure:
        """The article split and ready to embed, or a LoadFailure when it has too many sentences."""
        spans = self.splitter.split(article.text)
        limit = self.settings.max_article_sentences
        if len(spans) > limit:
            found = f"article has {len(spans):,} sentences"
            where = article.origin or article.doc_id
            return LoadFailure(where, over_limit(found, limit, "max_article_sentences"))
        texts = embedding_texts_for(article.text, spans, self.settings)
        meta = article_metadata(article, digest, self.embedder.model_name, len(spans))
        meta["embedding"] = self.embedding_variant
        return PreparedArticle(article, spans, texts, meta, is_update)

    def _embed(self, prepared: Sequence[PreparedArticle]) -> Vectors:
        """The vectors of the group: one per article (title, else lead), then its sentences in order."""
        heads = [p.article.title or p.article.text[:300] for p in prepared]
        return self.embedder.embed(heads + [t for p in prepared for t in p.embed_texts])

    def _write(self, prepared: Sequence[PreparedArticle], vectors: Vectors, report: IngestReport) -> None:
        """Store the group (vectors: one title vector per article, then each article's sentences)."""
        items, offset = [], len(prepared)
        for i, item in enumerate(prepared):
            n = len(item.spans)
            items.append(
                ArticleWrite(
                    item.article.doc_id,
                    item.article.text,
                    item.metadata,
                    vectors[i],
                    item.spans,
                    vectors[offset : offset + n].reshape(n, vectors.shape[1]),
                )
            )
            offset += n
        for item in prepared:
            if item.is_update:  # keep the version being replaced as history (ingest/storage/versions.py)
                self.versions.archive(item.article.doc_id, item.article.text, str(item.metadata["version"]))
        with self.store.generation_batch():  # readers rebuild once per group, not per article
            self.store.write_articles(items)
        for item in prepared:
            report.sentences += len(item.spans)
            _count(report, item)
        updated = sum(item.is_update for item in prepared)
        record_ingest(
            {"added": len(prepared) - updated, "updated": updated}, sum(len(p.spans) for p in prepared)
        )


def _count(report: IngestReport, item: PreparedArticle) -> None:
    if item.is_update:
        report.updated += 1
    else:
        report.added += 1
        report.added_ids.append(item.article.doc_id)


def _rounds(articles: Sequence[Article]) -> list[list[Article]]:
    """The articles in rounds of distinct doc_ids, in order: the k-th article of a doc_id in the
    group goes in round k, so it is stored after, and compared with, the one before it."""
    rounds: list[list[Article]] = []
    seen: Counter[str] = Counter()
    for article in articles:
        seen[article.doc_id] += 1
        if seen[article.doc_id] > len(rounds):
            rounds.append([])
        rounds[seen[article.doc_id] - 1].append(article)
    return rounds


def _byte_meters(bars: ExitStack, show: bool) -> Meters:
    """A progress bar in bytes for each web archive read (closed with ``bars``)."""

    def meter(name: str, total: int) -> Meter:
        shown = tqdm(desc=name[-40:], total=total, unit="B", unit_scale=True, disable=not show)
        bar = bars.enter_context(shown)

        def advance(done: int) -> None:
            bar.update(done - bar.n)

        return advance

    return meter
