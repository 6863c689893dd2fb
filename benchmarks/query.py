"""Answer latency: ``Assistant.ask`` warm and cold, and the plain recipe's similarity search beside it.

    .venv/bin/python -m benchmarks.query [--store DIR] [--articles JSONL] [--limit N]
        [--questions JSONL] [--max-questions N] [--cold-runs R] [--recipe-store DIR | --recipe-on-store]
        [--out FILE]

* ``ours`` (warm): one process builds the assistant, calls ``warm_up()``, then asks every question once
  (distinct questions: no query-vector cache hit), streamed as the API streams it. Percentiles
  p50/p95/p99 of the whole answer (``warm_ms``) and of the time to its citations (``citations_ms``:
  the answer and its citations are given before the news fields are added), the median of each
  stage from the answers' ``timings_ms``; then every question again, the store unchanged
  (``repeated_ms``: the answers kept by the answer cache, assistant/pipeline/cache.py); RSS after
  answering.
* ``ours`` (cold): ``--cold-runs`` fresh processes each build the assistant and answer the first
  question: ``first_ask_ms`` (the first question after start, model and indexes loading included)
  and ``start_to_answer_ms`` (from process start, imports included).
* ``recipe``: the plain LangChain recipe on the same articles (``RecursiveCharacterTextSplitter``
  1000/200 + ``Chroma.from_documents`` + ``HuggingFaceEmbeddings``, same model) answering with
  ``similarity_search(question, k=4)``: its warm latency, in its own process. With
  ``--recipe-on-store`` (an archive too large to embed again for it) the recipe searches the
  store's own sentence vectors instead (``benchmarks.scale``'s recipe: a ``langchain_chroma.Chroma``
  on the sentence collection, the question embedded by ``HuggingFaceEmbeddings``).

Without ``--store`` the first ``--limit`` articles are ingested into a temporary store first (not
timed); with it, ``--articles``/``--limit`` must name the articles it holds (for the recipe). The
recipe store is built once into ``--recipe-store`` and reused when it exists. Prints one JSON
object with the ratios ours/recipe and the targets (p50 60 ms, p95 150 ms warm).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEV_ARTICLES,
    current_rss_mb,
    emit,
    load_average,
    percentile,
    quiet_logs,
    ratio,
    read_jsonl,
    run_worker,
    write_slice,
)
from benchmarks.startup import prepare_store

DEV_QUESTIONS = DEV_ARTICLES.parent / "questions.jsonl"
TARGETS = {"warm_p50_ms": 60.0, "warm_p95_ms": 150.0}
RECIPE_K = 4


def latency_stats(values: Sequence[float]) -> dict[str, Any]:
    return {
        "p50": round(percentile(values, 50), 1),
        "p50_ci95": median_interval(values),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "mean": round(sum(values) / len(values), 1) if values else 0.0,
        "n": len(values),
    }


def median_interval(values: Sequence[float], z: float = 1.96) -> list[float]:
    """A distribution-free 95% interval of the median: the order statistics n/2 -+ z*sqrt(n)/2
    (the binomial normal approximation); [] for fewer than 10 values."""
    n = len(values)
    if n < 10:
        return []
    ordered = sorted(values)
    half = z * math.sqrt(n) / 2
    low, high = max(math.floor(n / 2 - half), 0), min(math.ceil(n / 2 + half), n - 1)
    return [round(ordered[low], 1), round(ordered[high], 1)]


def read_questions(path: Path, limit: int) -> list[str]:
    return [str(row["question"]) for row in read_jsonl(path)][:limit]


# --- workers (each runs in its own process) ------------------------------------------------------
def work_warm(args: argparse.Namespace) -> dict[str, Any]:
    from assistant.core.settings import Settings
    from assistant.service import create_assistant

    questions = list(dict.fromkeys(read_questions(Path(args.questions), args.max_questions)))
    assistant = create_assistant(Settings(store_dir=Path(args.store), answer_cache_size=len(questions)))
    assistant.warm_up()
    totals: list[float] = []
    cited: list[float] = []
    stages: dict[str, list[float]] = {}
    for question in questions:  # each asked once: the pipeline (and the cache's look-up, a miss)
        clock = time.perf_counter()
        answer, citations_ms = streamed(assistant, question, clock)
        totals.append((time.perf_counter() - clock) * 1000)
        cited.append(citations_ms)
        for stage, ms in answer.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    repeated: list[float] = []
    for question in questions:  # asked again, the store unchanged: the kept answers
        clock = time.perf_counter()
        answer, _ = streamed(assistant, question, clock)
        repeated.append((time.perf_counter() - clock) * 1000)
        assert "cache" in answer.timings_ms, "a repeated question was answered again"
    articles, sentences = assistant.components.store.count()
    return {
        "articles": articles,
        "sentences": sentences,
        "warm_ms": latency_stats(totals),
        "citations_ms": latency_stats(cited),
        "repeated_ms": latency_stats(repeated),
        "stage_p50_ms": {k: round(percentile(v, 50), 2) for k, v in sorted(stages.items())},
        "rss_mb": current_rss_mb(),
    }


def streamed(assistant: Any, question: str, clock: float) -> tuple[Any, float]:
    """The answer streamed (as the API streams it), and the ms from ``clock`` to its citations
    (the :class:`~assistant.types.Cited` item, before the news fields)."""
    from assistant.types import Answer, Cited

    answer, citations_ms = None, 0.0
    for item in assistant.stream(question):
        if isinstance(item, Cited):
            citations_ms = (time.perf_counter() - clock) * 1000
        elif isinstance(item, Answer):
            answer = item
    assert answer is not None, "the stream ended without its answer"
    return answer, citations_ms


def work_cold(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    from assistant.core.settings import Settings
    from assistant.service import create_assistant

    imported = time.perf_counter()
    assistant = create_assistant(Settings(store_dir=Path(args.store)))
    assistant.prepare()
    assistant.ask(read_questions(Path(args.questions), 1)[0])
    done = time.perf_counter()
    return {
        "imports_ms": round((imported - started) * 1000, 1),
        "first_ask_ms": round((done - imported) * 1000, 1),
        "start_to_answer_ms": round((done - started) * 1000, 1),
        "rss_mb": current_rss_mb(),
    }


def work_recipe(args: argparse.Namespace) -> dict[str, Any]:
    store = recipe_store(Path(args.recipe_store), Path(args.articles))
    store.similarity_search("Warm-up question for the model?", k=RECIPE_K)
    totals: list[float] = []
    for question in read_questions(Path(args.questions), args.max_questions):
        clock = time.perf_counter()
        store.similarity_search(question, k=RECIPE_K)
        totals.append((time.perf_counter() - clock) * 1000)
    return {"chunks": store._collection.count(), "warm_ms": latency_stats(totals), "rss_mb": current_rss_mb()}


def recipe_store(folder: Path, articles: Path) -> Any:
    """The recipe's Chroma store of ``articles`` in ``folder`` (built there when it is not yet)."""
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from assistant.core.settings import DEFAULT_MODEL
    from ingest.embedding.embedder import resolve_model_path

    embeddings = HuggingFaceEmbeddings(model_name=resolve_model_path(DEFAULT_MODEL))
    if (folder / "chroma.sqlite3").exists():
        return Chroma(collection_name="recipe", embedding_function=embeddings, persist_directory=str(folder))
    docs = [Document(page_content=str(r["text"])) for r in read_jsonl(articles)]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    return Chroma.from_documents(chunks, embeddings, persist_directory=str(folder), collection_name="recipe")


WORKERS = {"warm": work_warm, "cold": work_cold, "recipe": work_recipe}


# --- the driver ----------------------------------------------------------------------------------
def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    articles = workdir / "articles.jsonl"
    count = write_slice(Path(args.articles), args.limit, articles)
    store = Path(args.store) if args.store else workdir / "store"
    if not args.store:
        prepare_store(articles, None, store)
    recipe_dir = Path(args.recipe_store) if args.recipe_store else workdir / "recipe"
    common = ["--store", str(store), "--questions", str(args.questions)]
    common += ["--max-questions", str(args.max_questions), "--articles", str(articles)]
    warm = run_worker("benchmarks.query", ["--worker", "warm", *common])
    if args.recipe_on_store:
        from benchmarks.scale import recipe_on_store

        questions = read_questions(Path(args.questions), args.max_questions)
        searched = recipe_on_store(store, workdir, questions)
        recipe = {
            "on": "the store's sentence vectors",
            "warm_ms": searched["search_ms"],
            "rss_mb": searched["rss_mb"],
        }
    else:
        recipe = run_worker(
            "benchmarks.query", ["--worker", "recipe", "--recipe-store", str(recipe_dir), *common]
        )
    colds = [run_worker("benchmarks.query", ["--worker", "cold", *common]) for _ in range(args.cold_runs)]
    return summarize(warm, recipe, colds, count)


def summarize(
    warm: dict[str, Any], recipe: dict[str, Any], colds: list[dict[str, Any]], articles: int
) -> dict[str, Any]:
    cold = {key: latency_stats([c[key] for c in colds]) for key in ("first_ask_ms", "start_to_answer_ms")}
    ours_p50, ours_p95 = warm["warm_ms"]["p50"], warm["warm_ms"]["p95"]
    return {
        "benchmark": "query",
        "articles": articles,
        "ours": {**warm, "cold": cold, "cold_rss_mb": max((c["rss_mb"] for c in colds), default=0.0)},
        "recipe": recipe,
        "ratios": {
            "ours_vs_recipe_p50": ratio(ours_p50, recipe["warm_ms"]["p50"]),
            "ours_vs_recipe_p95": ratio(ours_p95, recipe["warm_ms"]["p95"]),
        },
        "targets": TARGETS,
        "meets_targets": {
            "warm_p50_ms": ours_p50 < TARGETS["warm_p50_ms"],
            "warm_p95_ms": ours_p95 < TARGETS["warm_p95_ms"],
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        with quiet_logs():
            result = WORKERS[args.worker](args)
        print(json.dumps(result), flush=True)
        return 0
    started_load = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        result = measure(args, Path(tmp))
    result.update({"load_average_start": started_load, "load_average_end": load_average()})
    emit(result, args.out)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--store", help="an existing store holding --articles (default: build one)")
    parser.add_argument("--articles", type=Path, default=DEV_ARTICLES, help="JSONL articles")
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS, help="JSONL with a question field")
    parser.add_argument("--max-questions", type=int, default=1000, help="ask at most N questions")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh processes for the cold figures")
    parser.add_argument("--recipe-store", help="where the recipe's store is kept between runs")
    parser.add_argument(
        "--recipe-on-store", action="store_true", help="the recipe searches --store's sentence vectors"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON (indented) to this file")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
