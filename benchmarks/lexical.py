"""The persistent lexical index (SQLite FTS5) beside today's in-memory BM25 (bm25s), same sentences.

    .venv/bin/python -m benchmarks.lexical [--articles JSONL ...] [--questions JSONL ...] [--limit N]
        [--index FILE] [--k 40] [--out FILE]

Loads the articles as ingest does (:func:`ingest.sources.iter_articles`, the default sentence
splitter), then builds both indexes over the same sentences and the same analyzer
(``content_terms``): the FTS5 file with :meth:`LexicalIndex.rebuild` (articles/s, size on disk)
and the in-memory :class:`assistant.lexical.LexicalIndex` (build seconds, RSS it added). For every
question (``read_question(...).terms``, as the retriever asks): the overlap of the two top-``k``
sets (|A ∩ B| / |B|, B the in-memory list), of the top 10, whether the first hit is the same, and
the latency of each, unfiltered and with a 7-day date filter. No embedding: cheap enough to run on
the whole archive (9,617 articles). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import DEV_ARTICLES, DEV_QUESTIONS, current_rss_mb, emit, load_average, read_jsonl
from benchmarks.query import latency_stats

ANALYZER_NAME = "content_terms/snowball-english/v1"
WEEK_S = 7 * 86400


def load_records(paths: Sequence[Path], limit: int | None) -> Iterator[Any]:
    """IndexedArticle records of the articles in ``paths`` (first ``limit`` in all), as ingest reads them."""
    from ingest.pipeline import published_timestamp
    from ingest.sentences import split_sentences
    from ingest.settings import Settings
    from ingest.sources import iter_articles
    from ingest.storage.lexical_records import IndexedArticle
    from ingest.types import Article

    settings = Settings(store_dir=Path(tempfile.gettempdir()) / "unused-store")
    count = 0
    for item in iter_articles([str(p) for p in paths], settings):
        if limit is not None and count >= limit:
            return
        if not isinstance(item, Article):
            continue
        count += 1
        ts = published_timestamp(item.published)
        spans = [(s.start, s.end) for s in split_sentences(item.text)]
        yield IndexedArticle(
            item.doc_id, "", item.text, spans, item.title, item.source, -1 if ts is None else ts
        )


def files_mb(index_file: Path) -> float:
    """Size of the index file with its -wal and -shm companions, in MB."""
    return sum(p.stat().st_size for p in index_file.parent.glob(index_file.name + "*")) / 1e6


def questions(paths: Sequence[Path]) -> list[str]:
    return [str(row["question"]) for path in paths for row in read_jsonl(path)]


def build(args: argparse.Namespace, index_file: Path) -> tuple[Any, Any, list[Any], dict[str, Any]]:
    """Both indexes over the same sentences, and what building them cost."""
    from assistant.lexical import LexicalIndex as MemoryIndex
    from assistant.lexical import content_terms
    from ingest.storage.lexical_index import LexicalIndex

    records = list({r.doc_id: r for r in load_records(args.articles, args.limit)}.values())  # each id once
    index_file.unlink(missing_ok=True)
    fts = LexicalIndex.open(index_file, content_terms, ANALYZER_NAME, timeout_s=600.0)
    clock = time.perf_counter()
    sentences = fts.rebuild(records)
    fts_s = time.perf_counter() - clock
    keys = [(r.doc_id, i) for r in sorted(records, key=lambda r: r.doc_id) for i in range(len(r.spans))]
    texts = [r.text[a:b] for r in sorted(records, key=lambda r: r.doc_id) for a, b in r.spans]
    rss, clock = current_rss_mb(), time.perf_counter()
    memory = MemoryIndex(texts)
    mem_s = time.perf_counter() - clock
    cost = {
        "articles": len(records),
        "sentences": sentences,
        "fts_build_s": round(fts_s, 2),
        "fts_articles_per_s": round(len(records) / fts_s, 1),
        "fts_file_mb": round(
            sum(p.stat().st_size for p in index_file.parent.glob(index_file.name + "*")) / 1e6, 1
        ),
        "memory_build_s": round(mem_s, 2),
        "memory_rss_added_mb": round(current_rss_mb() - rss, 1),
    }
    return fts, memory, keys, cost


def compare(fts: Any, memory: Any, keys: list[Any], asked: list[str], k: int) -> dict[str, Any]:
    """Overlap of the two top-k lists per question, and the latency of each."""
    import numpy as np

    from assistant.question import read_question
    from ingest.storage.lexical_records import SearchFilters

    overlap, overlap10, same_first = [], [], []
    fts_ms, mem_ms, fts_filtered_ms = [], [], []
    for question in asked:
        terms = read_question(question).terms
        clock = time.perf_counter()
        hits = fts.search(terms, k)
        fts_ms.append((time.perf_counter() - clock) * 1000)
        clock = time.perf_counter()
        rows = memory.top(terms, k)
        mem_ms.append((time.perf_counter() - clock) * 1000)
        mine = [(h.key.doc_id, h.key.index) for h in hits]
        theirs = [keys[r] for r in rows]
        if not theirs:
            continue
        overlap.append(len(set(mine) & set(theirs)) / len(theirs))
        overlap10.append(len(set(mine[:10]) & set(theirs[:10])) / len(theirs[:10]))
        same_first.append(float(bool(mine) and mine[0] == theirs[0]))
        if hits:
            newest = max(fts.articles([h.key.doc_id for h in hits]).values(), key=lambda a: a.published_ts)
            window = SearchFilters(ts_from=newest.published_ts - WEEK_S, ts_to=newest.published_ts)
            clock = time.perf_counter()
            fts.search(terms, k, window)
            fts_filtered_ms.append((time.perf_counter() - clock) * 1000)
    return {
        "questions": len(overlap),
        "k": k,
        "overlap_at_k_mean": round(float(np.mean(overlap)), 4) if overlap else 0.0,
        "overlap_at_k_min": round(float(np.min(overlap)), 4) if overlap else 0.0,
        "overlap_at_10_mean": round(float(np.mean(overlap10)), 4) if overlap10 else 0.0,
        "same_first_hit": round(float(np.mean(same_first)), 4) if same_first else 0.0,
        "fts_ms": latency_stats(fts_ms),
        "fts_7_day_filter_ms": latency_stats(fts_filtered_ms),
        "memory_ms": latency_stats(mem_ms),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started_load = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-lexical-") as tmp:
        index_file = args.index or Path(tmp) / "lexical.sqlite3"
        fts, memory, keys, cost = build(args, index_file)
        result: dict[str, Any] = {"benchmark": "lexical", **cost}
        result.update(compare(fts, memory, keys, questions(args.questions), args.k))
        fts.close()
    result.update({"load_average_start": started_load, "load_average_end": load_average()})
    emit(result, args.out)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--articles", type=Path, nargs="+", default=[DEV_ARTICLES], help="JSONL articles")
    parser.add_argument("--questions", type=Path, nargs="+", default=[DEV_QUESTIONS], help="JSONL questions")
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--index", type=Path, help="build the FTS5 file here (default: a temporary one)")
    parser.add_argument("--k", type=int, default=40, help="candidates compared per question")
    parser.add_argument("--out", type=Path, help="also write the JSON (indented) to this file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
