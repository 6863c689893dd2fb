"""The persistent lexical indexes (SQLite FTS5, Tantivy) beside today's in-memory BM25 (bm25s).

    .venv/bin/python -m benchmarks.lexical [--articles JSONL ...] [--questions JSONL ...] [--limit N]
        [--index FILE] [--k 40] [--readers N] [--out FILE]

Loads the articles as ingest does (:func:`ingest.loading.sources.iter_articles`, the default sentence
splitter), then builds both indexes over the same sentences and the same analyzer
(``content_terms``): the FTS5 file with :meth:`Fts5LexicalIndex.rebuild` (articles/s, size on disk)
and the in-memory :class:`benchmarks.baselines.bm25_memory.MemoryBM25Index` (build seconds, RSS it
added). For every
question (``read_question(...).terms``, as the retriever asks): the overlap of the two top-``k``
sets (|A ∩ B| / |B|, B the in-memory list), of the top 10, whether the first hit is the same, and
the latency of each, unfiltered and with a 7-day date filter. No embedding: cheap enough to run on
the whole archive (9,617 articles). Prints one JSON object.

The Tantivy index (:mod:`ingest.storage.lexical_tantivy`, ranking only) is built over the same
records with :meth:`TantivyLexicalIndex.rebuild` (the stemmer's cache emptied first, as for FTS5)
and compared the same way (``tantivy_*`` keys), plus the read side's lexical step with Tantivy
ranking and SQLite fetching the candidates' text and neighbours (``tantivy_then_fetch_ms``).
Per engine, a reader process opens the index and asks ``--readers`` questions: the RSS that added
(and its anonymous part: what is not shared page cache); then one new article is added and the
time until that reader finds it is measured (``*_write_s``: the add's own time at this size).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEV_ARTICLES,
    DEV_QUESTIONS,
    REPO,
    current_rss_mb,
    emit,
    load_average,
    read_jsonl,
    worker_env,
)
from benchmarks.query import latency_stats

ANALYZER_NAME = "content_terms/snowball-english/v1"
WEEK_S = 7 * 86400


def load_records(paths: Sequence[Path], limit: int | None) -> Iterator[Any]:
    """IndexedArticle records of the articles in ``paths`` (first ``limit`` in all), as ingest reads them."""
    from assistant.core.settings import Settings
    from assistant.core.types import Article
    from ingest.loading.sources import iter_articles
    from ingest.pipeline import published_timestamp
    from ingest.sentences import split_sentences
    from ingest.storage.lexical_records import IndexedArticle

    settings = Settings(store_dir=Path(tempfile.gettempdir()) / "unused-store")
    count = 0
    for item in iter_articles([str(p) for p in paths], settings.ingest, settings.server):
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


def build(
    args: argparse.Namespace, index_file: Path, tantivy_dir: Path
) -> tuple[Any, Any, Any, list[Any], dict[str, Any]]:
    """The three indexes over the same sentences, and what building them cost."""
    from assistant.text.lexical import content_terms, stem
    from benchmarks.baselines.bm25_memory import MemoryBM25Index
    from benchmarks.baselines.fts5_index import Fts5LexicalIndex
    from ingest.storage.lexical_tantivy import TantivyLexicalIndex

    records = list({r.doc_id: r for r in load_records(args.articles, args.limit)}.values())  # each id once
    index_file.unlink(missing_ok=True)
    fts = Fts5LexicalIndex.open(index_file, content_terms, ANALYZER_NAME, timeout_s=600.0)
    clock = time.perf_counter()
    sentences = fts.rebuild(records)
    fts_s = time.perf_counter() - clock
    stem.cache_clear()
    tantivy = TantivyLexicalIndex.open(tantivy_dir, content_terms, ANALYZER_NAME, timeout_s=600.0)
    clock = time.perf_counter()
    tantivy.rebuild(records)
    tantivy_s = time.perf_counter() - clock
    keys = [(r.doc_id, i) for r in sorted(records, key=lambda r: r.doc_id) for i in range(len(r.spans))]
    texts = [r.text[a:b] for r in sorted(records, key=lambda r: r.doc_id) for a, b in r.spans]
    rss, clock = current_rss_mb(), time.perf_counter()
    memory = MemoryBM25Index(texts)
    mem_s = time.perf_counter() - clock
    cost = {
        "articles": len(records),
        "sentences": sentences,
        "fts_build_s": round(fts_s, 2),
        "fts_articles_per_s": round(len(records) / fts_s, 1),
        "fts_file_mb": round(files_mb(index_file), 1),
        "tantivy_build_s": round(tantivy_s, 2),
        "tantivy_articles_per_s": round(len(records) / tantivy_s, 1),
        "tantivy_dir_mb": round(tantivy.size_bytes() / 1e6, 1),
        "memory_build_s": round(mem_s, 2),
        "memory_rss_added_mb": round(current_rss_mb() - rss, 1),
    }
    return fts, tantivy, memory, keys, cost


def timed(call: Any, *args: Any) -> tuple[Any, float]:
    clock = time.perf_counter()
    out = call(*args)
    return out, (time.perf_counter() - clock) * 1000


def agreement(prefix: str, found: list[list[Any]], expected: list[list[Any]]) -> dict[str, float]:
    """Overlap of each top-k list with the in-memory one (questions the in-memory index answers)."""
    import numpy as np

    pairs = [(mine, theirs) for mine, theirs in zip(found, expected, strict=True) if theirs]
    if not pairs:
        return {}
    at_k = [len(set(m) & set(t)) / len(t) for m, t in pairs]
    at_10 = [len(set(m[:10]) & set(t[:10])) / len(t[:10]) for m, t in pairs]
    first = [float(bool(m) and m[0] == t[0]) for m, t in pairs]
    return {
        f"{prefix}overlap_at_k_mean": round(float(np.mean(at_k)), 4),
        f"{prefix}overlap_at_k_min": round(float(np.min(at_k)), 4),
        f"{prefix}overlap_at_10_mean": round(float(np.mean(at_10)), 4),
        f"{prefix}same_first_hit": round(float(np.mean(first)), 4),
    }


def compare(fts: Any, tantivy: Any, memory: Any, keys: list[Any], asked: list[str], k: int) -> dict[str, Any]:
    """Overlap of each persistent index's top-k list with the in-memory one, and their latencies."""
    from assistant.text.question import read_question
    from ingest.storage.lexical_records import SearchFilters

    found: dict[str, list[list[Any]]] = {"fts": [], "tantivy": []}
    expected: list[list[Any]] = []
    ms: dict[str, list[float]] = {
        name: [] for name in ("fts", "fts_7_day", "tantivy", "tantivy_7_day", "tantivy_then_fetch", "memory")
    }
    for question in asked:
        terms = read_question(question).terms
        hits, took = timed(fts.search, terms, k)
        ms["fts"].append(took)
        ranked, took = timed(tantivy.search, terms, k)
        ms["tantivy"].append(took)
        clock = time.perf_counter()
        candidates = [h.key for h in tantivy.search(terms, k)]
        fts.sentences(candidates), fts.neighbours(candidates), fts.articles({c.doc_id for c in candidates})
        ms["tantivy_then_fetch"].append((time.perf_counter() - clock) * 1000)
        rows, took = timed(memory.top, terms, k)
        ms["memory"].append(took)
        found["fts"].append([(h.key.doc_id, h.key.index) for h in hits])
        found["tantivy"].append([(h.key.doc_id, h.key.index) for h in ranked])
        expected.append([keys[r] for r in rows])
        if hits:
            newest = max(fts.articles([h.key.doc_id for h in hits]).values(), key=lambda a: a.published_ts)
            window = SearchFilters(ts_from=newest.published_ts - WEEK_S, ts_to=newest.published_ts)
            ms["fts_7_day"].append(timed(fts.search, terms, k, window)[1])
            ms["tantivy_7_day"].append(timed(tantivy.search, terms, k, window)[1])
    return {
        "questions": sum(1 for e in expected if e),
        "k": k,
        **agreement("", found["fts"], expected),
        **agreement("tantivy_", found["tantivy"], expected),
        "fts_ms": latency_stats(ms["fts"]),
        "fts_7_day_filter_ms": latency_stats(ms["fts_7_day"]),
        "tantivy_ms": latency_stats(ms["tantivy"]),
        "tantivy_7_day_filter_ms": latency_stats(ms["tantivy_7_day"]),
        "tantivy_then_fetch_ms": latency_stats(ms["tantivy_then_fetch"]),
        "memory_ms": latency_stats(ms["memory"]),
    }


READER = """
import json, sys, time
from pathlib import Path
from assistant.text.lexical import content_terms
from assistant.text.question import read_question
from benchmarks.common import current_rss_mb

engine, path, analyzer, word, asked = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
[term] = content_terms(word)
terms = [read_question(q).terms for q in asked]
before = current_rss_mb()
def anon_mb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return 0.0
anon_before = anon_mb()
if engine == "tantivy":
    from ingest.storage.lexical_tantivy import TantivyLexicalIndex as Index
else:
    from benchmarks.baselines.fts5_index import Fts5LexicalIndex as Index
index = Index.open(path, content_terms, analyzer, create=False)
for t in terms:
    index.search(t, 40)
print(json.dumps({"rss_added_mb": round(current_rss_mb() - before, 1),
                  "anon_added_mb": round(anon_mb() - anon_before, 1)}), flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    if index.search([term], 1):
        print("seen", flush=True)
        break
    time.sleep(0.01)
"""


def reader_costs(engine: str, index: Any, path: Path, asked: list[str], record: Any) -> dict[str, Any]:
    """RSS a reader process adds by opening ``index`` and asking ``asked``, and the time until it
    finds an article added after that (and the add's own time)."""
    import dataclasses

    term = f"zzfresh{engine}"
    env = worker_env({"PYTHONPATH": str(REPO)})
    argv = [sys.executable, "-c", READER, engine, str(path), ANALYZER_NAME, term, *asked]
    reader = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None
    try:
        memory = json.loads(reader.stdout.readline())
        fresh = dataclasses.replace(
            record,
            doc_id=f"{record.doc_id}-fresh-{engine}",
            text=record.text + f" {term}.",
            spans=[*record.spans, (len(record.text) + 1, len(record.text) + len(term) + 2)],
        )
        clock = time.perf_counter()
        index.add([fresh])
        written = time.perf_counter()
        seen = reader.stdout.readline().strip() == "seen"
        visible = time.perf_counter()
    finally:
        reader.kill()
        reader.wait()
    return {
        f"{engine}_reader_rss_added_mb": memory["rss_added_mb"],
        f"{engine}_reader_anon_added_mb": memory["anon_added_mb"],
        f"{engine}_write_s": round(written - clock, 3),
        f"{engine}_write_to_seen_s": round(visible - clock, 3) if seen else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started_load = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-lexical-") as tmp:
        index_file = args.index or Path(tmp) / "lexical.sqlite3"
        fts, tantivy, memory, keys, cost = build(args, index_file, Path(tmp) / "lexical.tantivy")
        result: dict[str, Any] = {"benchmark": "lexical", **cost}
        asked = questions(args.questions)
        result.update(compare(fts, tantivy, memory, keys, asked, args.k))
        del memory
        sample = asked[: args.readers]
        record = next(iter(load_records(args.articles, 1)))
        result.update(reader_costs("tantivy", tantivy, tantivy.path, sample, record))
        result.update(reader_costs("fts", fts, fts.path, sample, record))
        result["tantivy_dir_mb_after_write"] = round(tantivy.size_bytes() / 1e6, 1)
        fts.close()
        tantivy.close()
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
    parser.add_argument("--readers", type=int, default=200, help="questions a reader process asks")
    parser.add_argument("--out", type=Path, help="also write the JSON (indented) to this file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
