"""Ingest throughput: our pipeline, the plain LangChain recipe, and the model alone, in one run.

    .venv/bin/python -m benchmarks.ingest [--articles PATH] [--limit N] [--repeat R] [--out FILE]

On the same articles (the first ``--limit`` lines of a JSONL file, default the 710 shared dev
articles), each contender runs in its own process, rounds interleaved (ours, recipe, raw, ours, ...)
so load from other jobs on the machine hits all of them alike:

* ``ours``: ``IngestPipeline.run`` into a fresh embedded store (read, split, hash, embed, write).
* ``recipe``: ``RecursiveCharacterTextSplitter(1000, 200)`` + ``Chroma.from_documents`` (langchain-chroma)
  + ``HuggingFaceEmbeddings`` (langchain-huggingface) with the same bundled model folder, defaults.
* ``raw``: the model's ``encode`` alone (the same model object ours uses) on exactly the texts our
  pipeline embeds (titles and sentences with their context; each distinct text once, as ours does),
  sorted by length, same batch size and precision as ours: the practical limit. ``tokens`` counts
  the distinct texts: what the model really processes. ``raw_st`` (optional, ``--contenders``) does the same
  through ``SentenceTransformer.encode``, to compare our light encoder with the library.

The model is loaded and warmed before the clock starts in every contender. Prints one JSON object:
per contender the medians over rounds (articles/s, sentences or chunks/s, embedding tokens/s, wall
and CPU seconds, peak RSS), and the medians of the per-round ratios ours/recipe (articles/s) and
ours/raw (throughput on the same texts), with the targets (1.5 and 0.8).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEV_ARTICLES,
    Stopwatch,
    load_average,
    median,
    peak_rss_mb,
    ratio,
    read_jsonl,
    run_worker,
    work_as_worker,
    write_slice,
)

CONTENDERS = ("ours", "recipe", "raw")
OPTIONAL = ("raw_st",)  # the model alone through sentence-transformers instead of our light encoder
TARGETS = {"ours_vs_recipe_articles_per_s": 1.5, "ours_vs_raw_throughput": 0.8}
RECIPE_CHUNK, RECIPE_OVERLAP = 1000, 200


# --- workers (each runs in its own process) ------------------------------------------------------
def our_settings(args: argparse.Namespace) -> Any:
    from assistant.core.settings import Settings

    extra: dict[str, Any] = {"embed_precision": args.precision} if args.precision else {}
    if args.batch_size:
        extra["embed_batch_size"] = args.batch_size
    if args.context_words is not None:
        extra["context_words"] = args.context_words
    if args.context_mode:
        extra["context_mode"] = args.context_mode
    return Settings(store_dir=Path(args.store), collection="bench", **extra)


def pipeline_texts(articles_file: Path, settings: Any) -> list[str]:
    """Exactly what our pipeline embeds: each article's title (or lead), then its sentence texts."""
    from assistant.core.types import Article
    from ingest.loading.sources import iter_articles
    from ingest.pipeline import embedding_texts_for
    from ingest.sentences import SentenceSplitter

    splitter = SentenceSplitter()
    heads: list[str] = []
    sentences: list[str] = []
    for article in iter_articles([str(articles_file)], settings.ingest, settings.server):
        if isinstance(article, Article):
            heads.append(article.title or article.text[:300])
            spans = splitter.split(article.text)
            sentences.extend(embedding_texts_for(article.text, spans, settings))
    return heads + sentences


def count_tokens(texts: Sequence[str]) -> int:
    """Tokens the model sees for ``texts`` (special tokens included, truncated like the model)."""
    from assistant.core.settings import DEFAULT_MODEL
    from ingest.embedding.embedder import resolve_model_path
    from ingest.embedding.layout import load_tokenizer, read_layout

    folder = Path(resolve_model_path(DEFAULT_MODEL))
    layout = read_layout(folder)
    tokenizer = load_tokenizer(folder, layout.max_seq_length if layout else 256)
    tokenizer.no_padding()
    return sum(len(e.ids) for e in tokenizer.encode_batch(list(texts)))


def work_ours(args: argparse.Namespace) -> dict[str, Any]:
    from ingest.components import IngestComponents

    settings = our_settings(args)
    components = IngestComponents.build(settings)
    components.embedder.embed(["Warm-up sentence for the model."])
    with Stopwatch() as clock:
        report = components.pipeline.run([args.articles], show_progress=False)
    texts = pipeline_texts(Path(args.articles), settings)
    return {
        "articles": report.added + report.updated,
        "sentences": report.sentences,
        "texts": len(texts),
        "unique_texts": len(set(texts)),
        "tokens": count_tokens(list(set(texts))),  # identical texts are embedded once
        "failed": len(report.failed),
        "embedding": components.pipeline.embedding_variant,
        **_clock_fields(clock),
        **_model_fields(components.embedder),
    }


def work_recipe(args: argparse.Namespace) -> dict[str, Any]:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from assistant.core.settings import DEFAULT_MODEL
    from ingest.embedding.embedder import resolve_model_path

    embeddings = HuggingFaceEmbeddings(model_name=resolve_model_path(DEFAULT_MODEL))
    embeddings.embed_query("Warm-up sentence for the model.")
    with Stopwatch() as clock:
        docs = [
            Document(page_content=r["text"], metadata=_recipe_meta(r))
            for r in read_jsonl(Path(args.articles))
        ]
        splitter = RecursiveCharacterTextSplitter(chunk_size=RECIPE_CHUNK, chunk_overlap=RECIPE_OVERLAP)
        chunks = splitter.split_documents(docs)
        Chroma.from_documents(chunks, embeddings, persist_directory=args.store, collection_name="recipe")
    texts = [c.page_content.replace("\n", " ") for c in chunks]  # what HuggingFaceEmbeddings embeds
    return {
        "articles": len(docs),
        "chunks": len(chunks),
        "tokens": count_tokens(texts),
        **_clock_fields(clock),
        "threads": _torch_threads(),
    }


def _recipe_meta(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "title", "url", "published")
    return {k: str(row[k]) for k in keys if row.get(k) is not None}


def work_raw(args: argparse.Namespace) -> dict[str, Any]:
    from ingest.embedding.embedder import Backend, Embedder

    settings = our_settings(args)
    backend: Backend = "sentence-transformers" if args.worker == "raw_st" else settings.embed_backend
    embedder = Embedder(
        settings.model_name,
        settings.embed_batch_size,
        settings.torch_threads,
        settings.embed_precision,
        backend,
    )
    texts = sorted(set(pipeline_texts(Path(args.articles), settings)), key=len)  # ours embeds each once
    model = embedder.model
    embedder.embed(["Warm-up sentence for the model."])
    with Stopwatch() as clock, embedder.precision_context():
        model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    return {
        "texts": len(texts),
        "tokens": count_tokens(texts),
        **_clock_fields(clock),
        **_model_fields(embedder),
    }


def _clock_fields(clock: Stopwatch) -> dict[str, float]:
    return {"seconds": round(clock.wall, 3), "cpu_seconds": round(clock.cpu, 3), "peak_rss_mb": peak_rss_mb()}


def _model_fields(embedder: Any) -> dict[str, Any]:
    return {
        "precision": embedder.precision,
        "backend": embedder.backend,
        "batch_size": embedder.batch_size,
        "threads": _torch_threads(),
    }


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


WORKERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "ours": work_ours,
    "recipe": work_recipe,
    "raw": work_raw,
    "raw_st": work_raw,
}


# --- parent: rounds, medians, ratios ----------------------------------------------------------------
def rates(result: dict[str, Any]) -> dict[str, Any]:
    """Per-second figures of one worker result (wall clock, and per CPU-second)."""
    seconds, cpu = result["seconds"], result["cpu_seconds"]
    out = dict(result)
    for key in ("articles", "sentences", "chunks", "texts", "tokens"):
        if key in result:
            out[f"{key}_per_s"] = ratio(result[key], seconds)
            out[f"{key}_per_cpu_s"] = ratio(result[key], cpu)
    return out


def run_round(args: argparse.Namespace, slice_path: Path, workdir: Path, n: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name in args.contenders:
        store = workdir / f"store-{name}-{n}"
        argv = ["--worker", name, "--articles", str(slice_path), "--store", str(store)]
        argv += ["--precision", args.precision, "--batch-size", str(args.batch_size or 0)]
        if args.context_words is not None:
            argv += ["--context-words", str(args.context_words)]
        if args.context_mode:
            argv += ["--context-mode", args.context_mode]
        results[name] = rates(run_worker("benchmarks.ingest", argv))
    return results


def round_ratios(result: dict[str, dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    ours, recipe, raw = result.get("ours"), result.get("recipe"), result.get("raw")
    if ours and recipe:
        out["ours_vs_recipe_articles_per_s"] = ratio(ours["articles_per_s"], recipe["articles_per_s"])
        out["ours_vs_recipe_articles_per_cpu_s"] = ratio(
            ours["articles_per_cpu_s"], recipe["articles_per_cpu_s"]
        )
    if ours and raw:
        out["ours_vs_raw_throughput"] = ratio(raw["seconds"], ours["seconds"])
        out["ours_vs_raw_throughput_cpu"] = ratio(raw["cpu_seconds"], ours["cpu_seconds"])
    return out


def summarize(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Medians over rounds of every numeric field of each contender, and of each ratio."""
    summary: dict[str, Any] = {}
    for name in rounds[0]:
        runs = [r[name] for r in rounds]
        numeric = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
        summary[name] = {k: median([float(run[k]) for run in runs]) for k in numeric}
        summary[name].update({k: v for k, v in runs[0].items() if isinstance(v, str)})
    per_round = [round_ratios(r) for r in rounds]
    summary["ratios"] = {k: median([r[k] for r in per_round]) for k in per_round[0]}
    summary["ratios_per_round"] = per_round
    summary["targets"] = TARGETS
    summary["meets_targets"] = {
        k: summary["ratios"][k] >= t for k, t in TARGETS.items() if k in summary["ratios"]
    }
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if work_as_worker(args.worker, args, WORKERS):
        return 0
    from benchmarks.common import emit

    started = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        slice_path = workdir / "articles.jsonl"
        n = write_slice(Path(args.articles), args.limit, slice_path)
        rounds = [run_round(args, slice_path, workdir, i) for i in range(args.repeat)]
    result = {
        "benchmark": "ingest",
        "articles_file": str(args.articles),
        "articles": n,
        "repeat": args.repeat,
    }
    result.update(summarize(rounds), load_average_start=started, load_average_end=load_average())
    emit(result, args.out)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks.ingest", description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", default=str(DEV_ARTICLES), help="JSONL articles (default: shared dev set)")
    p.add_argument("--limit", type=int, help="only the first N articles")
    p.add_argument("--repeat", type=int, default=1, help="rounds (contenders interleaved); medians reported")
    p.add_argument("--out", type=Path, help="also write the JSON (indented) to this file")
    p.add_argument(
        "--contenders",
        type=lambda s: s.split(","),
        default=list(CONTENDERS),
        help=f"comma-separated, of {', '.join(CONTENDERS + OPTIONAL)} (default: {','.join(CONTENDERS)})",
    )
    p.add_argument("--precision", default="", help="embed_precision for ours and raw (default: setting)")
    p.add_argument("--batch-size", type=int, default=0, help="embed_batch_size (default: setting)")
    p.add_argument("--context-words", type=int, help="context_words for ours and raw (default: setting)")
    p.add_argument(
        "--context-mode",
        choices=("previous", "pairs"),
        help="context_mode for ours and raw (default: setting)",
    )
    p.add_argument("--worker", choices=CONTENDERS + OPTIONAL, help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat < 1 or (args.limit is not None and args.limit < 1):
        p.error("--repeat and --limit must be at least 1")
    return args


if __name__ == "__main__":
    raise SystemExit(main())
