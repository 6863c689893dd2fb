"""A web archive against the same articles as JSONL: reading at full size, ingest rate, memory, answers.

    .venv/bin/python -m benchmarks.web_archive [--articles JSONL] [--questions JSONL] [--records N]
        [--ingest-limit N] [--repeat R] [--workdir DIR] [--out FILE] [--tiny]

From the archive's ``2022/`` articles (``--articles``; default the shared archive's file) it makes
two inputs holding the same articles, outside the repository (``--workdir``, kept for reuse):

* a JSONL file, one article a line, as the archive ships them;
* a gzipped WARC file of about ``--records`` records (default 10,000), the shape a crawler writes:
  a ``warcinfo`` record, then per article a ``request`` and a ``response`` record whose page is the
  article rendered as a news site renders it (a navigation bar, the headline in ``<h1>``, one
  ``<p>`` per paragraph of the archive's text, a footer, and a schema.org ``NewsArticle`` JSON-LD
  node with its headline, ``datePublished`` and authors), and, to fill the records up to the number
  asked, section front pages (a ``request`` and a ``response`` each, lists of linked headlines) that
  the article rule must skip as index pages.

It then measures, each contender in its own process:

1. ``reading``: the whole WARC read by ingest's :class:`ArchiveReader` (decompress, parse, extract,
   judge) and the whole JSONL by ingest's JSONL reader, without embedding: items per second, the
   counts of articles and of skipped pages by reason, and the reader's memory along the file
   (RSS after each tenth of the records: flat means the file is streamed).
2. ``ingest``: the first ``--ingest-limit`` articles (default 600), as their own JSONL and WARC (the
   WARC made the same way), ingested end to end by ``IngestPipeline.run`` into fresh embedded stores
   (split, embed, write), ``--repeat`` rounds in the order jsonl, warc, warc, jsonl, ...: articles per
   second of each, the per-round ratio warc/jsonl (target: at least 0.9), and RSS sampled every two
   seconds (its value at each tenth of the run, and its peak).
3. ``answers``: the archive's ``2022/`` questions asked on the two stores of the first round, each
   with its own date as "today": how many answers are the same (the same first cited sentence text,
   and the same cited article by URL), and the gold-answer rates of both with 95% intervals.

Prints one JSON object. ``--tiny`` (CI): 30 records, 6 articles ingested, 5 questions.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    current_rss_mb,
    emit,
    load_average,
    median,
    peak_rss_mb,
    ratio,
    run_worker,
    work_as_worker,
)
from benchmarks.scale import open_text

ARCHIVE = REPO / ".." / "shared" / "data" / "realtimeqa-archive" / "2022"
TARGET_WARC_VS_JSONL = 0.9
CRAWL_DATE = "2022-12-31T12:00:00Z"
FRONT_LINKS = 40


# --- making the inputs ----------------------------------------------------------------------------
def read_rows(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with open_text(path) as handle:
        for line in handle:
            if limit is not None and len(rows) >= limit:
                break
            if line.strip():
                rows.append(json.loads(line))
    return rows


def iso_date(published: str) -> str:
    """``2022/06/17`` (the archive's form) as ``2022-06-17``."""
    return published.replace("/", "-")


def article_page(row: dict[str, Any]) -> str:
    """The article as a news site's page: navigation, headline, paragraphs, footer, JSON-LD."""
    node: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": row.get("title") or "",
        "url": row["url"],
    }
    if row.get("published"):
        node["datePublished"] = iso_date(str(row["published"]))
    if row.get("authors"):
        node["author"] = [{"@type": "Person", "name": str(a)} for a in row["authors"]]
    ld = json.dumps(node).replace("</", "<\\/")
    title = html.escape(str(row.get("title") or ""))
    paragraphs = [p.strip() for p in str(row["text"]).split("\n") if p.strip()]
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    nav = " ".join(f'<a href="/section/{n}">Section {n}</a>' for n in range(6))
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f'<script type="application/ld+json">{ld}</script></head><body><nav>{nav}</nav>'
        f"<main><article><h1>{title}</h1>{body}</article></main>"
        "<footer><p>Copyright the publisher. All rights reserved.</p></footer></body></html>"
    )


def front_page(number: int, rows: Sequence[dict[str, Any]]) -> str:
    """A section front listing linked headlines (an index page the article rule skips)."""
    links = ((html.escape(r["url"]), html.escape(str(r.get("title") or r["url"]))) for r in rows)
    items = "".join(f'<li><h3><a href="{href}">{text}</a></h3></li>' for href, text in links)
    return (
        f"<!DOCTYPE html><html><head><title>News, page {number}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><main><h1>Latest news</h1><ul>{items}</ul></main></body></html>"
    )


class WarcOut:
    """A gzipped WARC written record by record (warcio), counting its records."""

    def __init__(self, path: Path) -> None:
        from warcio.warcwriter import WARCWriter

        self._handle = path.open("wb")
        self._writer = WARCWriter(self._handle, gzip=True)
        self.records = 0
        self._write(self._writer.create_warcinfo_record(path.name, {"software": "newsdesk-benchmark"}))

    def capture(self, url: str, page: str, date: str = CRAWL_DATE) -> None:
        from warcio.statusandheaders import StatusAndHeaders

        host = url.split("/")[2] if "://" in url else "example"
        request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        self._write(
            self._writer.create_warc_record(
                url, "request", payload=io.BytesIO(request), warc_headers_dict={"WARC-Date": date}
            )
        )
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        self._write(
            self._writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(page.encode("utf-8")),
                http_headers=http,
                warc_headers_dict={"WARC-Date": date},
            )
        )

    def _write(self, record: Any) -> None:
        self._writer.write_record(record)
        self.records += 1

    def close(self) -> None:
        self._handle.close()


def write_inputs(rows: Sequence[dict[str, Any]], records: int, folder: Path, name: str) -> dict[str, Any]:
    """``name.jsonl`` and ``name.warc.gz`` of ``rows``; fronts fill the WARC up to ``records``."""
    jsonl, warc_path = folder / f"{name}.jsonl", folder / f"{name}.warc.gz"
    with jsonl.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    fronts = max(0, (records - 1 - 2 * len(rows)) // 2)
    every = max(1, len(rows) // fronts) if fronts else 0
    warc = WarcOut(warc_path)
    made = 0
    for number, row in enumerate(rows):
        warc.capture(row["url"], article_page(row))
        if every and number % every == every - 1 and made < fronts:
            start = max(0, number - FRONT_LINKS + 1)
            warc.capture(
                f"https://news.example/latest/page/{made + 2}", front_page(made + 2, rows[start : number + 1])
            )
            made += 1
    while made < fronts:
        warc.capture(f"https://news.example/latest/page/{made + 2}", front_page(made + 2, rows[:FRONT_LINKS]))
        made += 1
    warc.close()
    return {
        "jsonl": str(jsonl),
        "warc": str(warc_path),
        "articles": len(rows),
        "warc_records": warc.records,
        "index_pages": fronts,
        "jsonl_mb": round(jsonl.stat().st_size / 1e6, 1),
        "warc_mb": round(warc_path.stat().st_size / 1e6, 1),
    }


# --- workers (each in its own process) ------------------------------------------------------------
def settings_for(store: Path) -> Any:
    from assistant.core.settings import Settings

    return Settings(store_dir=store, collection="bench", feeds_sync=False)


def work_read(args: argparse.Namespace) -> dict[str, Any]:
    """Read the whole input without embedding; memory after each tenth of it."""
    from assistant.core.types import Article, LoadFailure, Skipped
    from ingest.loading.sources import iter_articles
    from ingest.loading.warc import ArchiveReader

    settings = settings_for(Path(tempfile.mkdtemp(prefix="bench-read-")))
    path = Path(args.input)
    size = path.stat().st_size
    position = {"bytes": 0}
    if args.kind == "warc":

        def meter(done: int) -> None:
            position["bytes"] = done

        items: Iterator[Any] = ArchiveReader(settings.ingest).read(path, path.name, meter)
    else:
        items = iter_articles([str(path)], settings.ingest, settings.server)
    counts: Counter[str] = Counter()
    samples: list[float] = []
    rss_start = current_rss_mb()
    started = time.perf_counter()
    for n, item in enumerate(items, 1):
        if isinstance(item, Article):
            counts["articles"] += 1
        elif isinstance(item, Skipped):
            counts[f"skipped: {item.reason}"] += 1
        elif isinstance(item, LoadFailure):
            counts["failed"] += 1
        if tenth_done(args, position["bytes"], size, n, len(samples)):
            samples.append(current_rss_mb())
    seconds = time.perf_counter() - started
    return {
        "items": sum(counts.values()),
        "counts": dict(counts),
        "seconds": round(seconds, 2),
        "items_per_s": ratio(sum(counts.values()), seconds),
        "articles_per_s": ratio(counts["articles"], seconds),
        "rss_start_mb": rss_start,
        "rss_by_tenth_mb": samples,
        "peak_rss_mb": peak_rss_mb(),
    }


def tenth_done(args: argparse.Namespace, done_bytes: int, size: int, items: int, tenths: int) -> bool:
    """Whether the reader has just passed another tenth of its input (by bytes, or by lines)."""
    if args.kind == "warc":
        return bool(done_bytes * 10 >= size * (tenths + 1))
    return bool(items % max(1, args.expected // 10) == 0)


class RssSampler:
    """This process's RSS every ``every`` seconds, in a daemon thread."""

    def __init__(self, every: float = 2.0) -> None:
        self.samples: list[tuple[float, float]] = []
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.perf_counter()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.samples.append((time.perf_counter() - self._start, current_rss_mb()))

    def by_tenth(self) -> list[float]:
        """The RSS at each tenth of the run (the last sample before it)."""
        if not self.samples:
            return []
        end = self.samples[-1][0]
        out = []
        for tenth in range(1, 11):
            before = [rss for t, rss in self.samples if t <= end * tenth / 10]
            out.append(before[-1] if before else self.samples[0][1])
        return out


def work_ingest(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest the input end to end into a fresh embedded store."""
    from ingest.components import IngestComponents

    components = IngestComponents.build(settings_for(Path(args.store)))
    components.embedder.embed(["Warm-up sentence for the model."])
    rss_start = current_rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    with RssSampler() as sampler:
        report = components.pipeline.run([args.input], show_progress=False)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    stored = report.added + report.updated
    return {
        "articles": stored,
        "sentences": report.sentences,
        "skipped": dict(report.skipped),
        "failed": len(report.failed),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "articles_per_s": ratio(stored, seconds),
        "articles_per_cpu_s": ratio(stored, cpu),
        "rss_start_mb": rss_start,
        "rss_by_tenth_mb": sampler.by_tenth(),
        "peak_rss_mb": peak_rss_mb(),
    }


def work_answers(args: argparse.Namespace) -> dict[str, Any]:
    """Each question asked on the store with its own date; what each answer cites first."""
    from assistant.evaluate import answer_hits, read_questions
    from assistant.pipeline.request import Request
    from assistant.service import create_assistant
    from assistant.text.dates import parse_day

    assistant = create_assistant(settings_for(Path(args.store)))
    rows = []
    for item in read_questions(Path(args.questions), args.max_questions or None):
        answer = assistant.ask(Request(item.question, today=parse_day(item.date)))
        first = answer.citations[0] if answer.citations else None
        hits = answer_hits(answer, item.answer)
        rows.append(
            {
                "id": item.id,
                "first": first.sentence if first else "",
                "url": (first.url or "") if first else "",
                "grounded": answer.grounded,
                "first_sentence_hit": hits["first_sentence_hit"],
                "any_citation_hit": hits["any_citation_hit"],
            }
        )
    return {"answers": rows}


WORKERS = {"read": work_read, "ingest": work_ingest, "answers": work_answers}


# --- parent ---------------------------------------------------------------------------------------
def worker(name: str, **options: Any) -> dict[str, Any]:
    argv = ["--worker", name]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return run_worker("benchmarks.web_archive", argv, timeout_s=6 * 3600.0)


def flatness(tenths: Sequence[float]) -> float:
    """Growth from the second tenth to the end, MB (the first tenth holds warm-up allocations)."""
    return round(tenths[-1] - tenths[1], 1) if len(tenths) >= 2 else 0.0


def reading(full: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("jsonl", "warc"):
        result = worker("read", kind=kind, input=full[kind], expected=full["articles"])
        result["rss_growth_after_first_tenth_mb"] = flatness(result["rss_by_tenth_mb"])
        out[kind] = result
    out["warc_vs_jsonl_articles_per_s"] = ratio(out["warc"]["articles_per_s"], out["jsonl"]["articles_per_s"])
    return out


def ingesting(small: dict[str, Any], workdir: Path, repeat: int) -> tuple[dict[str, Any], dict[str, Path]]:
    rounds: list[dict[str, dict[str, Any]]] = []
    first_stores: dict[str, Path] = {}
    for number in range(repeat):
        order = ("jsonl", "warc") if number % 2 == 0 else ("warc", "jsonl")
        this: dict[str, dict[str, Any]] = {}
        for kind in order:
            store = workdir / f"store-{kind}-{number}"
            shutil.rmtree(store, ignore_errors=True)
            this[kind] = worker("ingest", input=small[kind], store=store)
            this[kind]["rss_growth_after_first_tenth_mb"] = flatness(this[kind]["rss_by_tenth_mb"])
            first_stores.setdefault(kind, store)
        rounds.append(this)
    per_round = [ratio(r["warc"]["articles_per_s"], r["jsonl"]["articles_per_s"]) for r in rounds]
    per_round_cpu = [ratio(r["warc"]["articles_per_cpu_s"], r["jsonl"]["articles_per_cpu_s"]) for r in rounds]
    summary = {
        "rounds": rounds,
        "warc_vs_jsonl_articles_per_s": median(per_round),
        "warc_vs_jsonl_articles_per_s_per_round": per_round,
        "warc_vs_jsonl_articles_per_cpu_s": median(per_round_cpu),
        "target": TARGET_WARC_VS_JSONL,
        "meets_target": median(per_round) >= TARGET_WARC_VS_JSONL,
    }
    return summary, first_stores


def answering(stores: dict[str, Path], questions: Path, limit: int) -> dict[str, Any]:
    import numpy as np

    from assistant.evaluate import bootstrap_interval

    got = {
        kind: worker("answers", store=stores[kind], questions=questions, max_questions=limit)["answers"]
        for kind in ("jsonl", "warc")
    }
    pairs = list(zip(got["jsonl"], got["warc"], strict=True))
    same_sentence = sum(1 for a, b in pairs if a["first"] == b["first"])
    same_article = sum(1 for a, b in pairs if a["url"] == b["url"])
    out: dict[str, Any] = {
        "questions": len(pairs),
        "same_first_sentence": same_sentence,
        "same_first_article": same_article,
        "differing_ids": [a["id"] for a, b in pairs if a["first"] != b["first"]][:20],
    }
    for kind, rows in got.items():
        for key in ("first_sentence_hit", "any_citation_hit"):
            values = np.array([float(r[key]) for r in rows])
            out[f"{kind}_{key}"] = round(float(values.mean()), 4) if len(values) else 0.0
            out[f"{kind}_{key}_interval_95"] = bootstrap_interval(values)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if work_as_worker(args.worker, args, WORKERS):
        return 0
    if args.tiny:
        args.records, args.ingest_limit, args.max_questions = 30, 6, 5
    started = load_average()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-warc-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = read_rows(args.articles, limit=(args.records - 1) // 2 if args.tiny else None)
    full = write_inputs(rows, args.records, workdir, "full")
    small = write_inputs(rows[: args.ingest_limit], 2 * args.ingest_limit + 1, workdir, "first")
    result: dict[str, Any] = {"benchmark": "web_archive", "inputs": {"full": full, "ingest": small}}
    result["reading"] = reading(full)
    result["ingest"], stores = ingesting(small, workdir, args.repeat)
    result["answers"] = answering(stores, args.questions, args.max_questions)
    result.update(load_average_start=started, load_average_end=load_average(), python=sys.version.split()[0])
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    emit(result, args.out)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks.web_archive", description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", type=Path, default=ARCHIVE / "articles.jsonl.gz")
    p.add_argument("--questions", type=Path, default=ARCHIVE / "questions.jsonl")
    p.add_argument("--records", type=int, default=10_000, help="records of the full WARC (about)")
    p.add_argument("--ingest-limit", type=int, default=600, help="articles ingested end to end")
    p.add_argument("--repeat", type=int, default=2, help="ingest rounds (order alternates)")
    p.add_argument("--max-questions", type=int, default=0, help="questions asked (0: all)")
    p.add_argument("--workdir", type=Path, help="keep the inputs and stores here (default: a temp dir)")
    p.add_argument("--tiny", action="store_true", help="CI size: 30 records, 6 articles, 5 questions")
    p.add_argument("--out", type=Path, help="also write the JSON (indented) to this file")
    p.add_argument("--worker", choices=tuple(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--kind", choices=("jsonl", "warc"), help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    p.add_argument("--expected", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.records < 3 or args.ingest_limit < 1 or args.repeat < 1:
        p.error("--records must be at least 3, --ingest-limit and --repeat at least 1")
    return args


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
