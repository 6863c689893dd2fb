"""The archive at scale: ingest rate, store size, serving memory, ask latency and freshness per size.

    .venv/bin/python -m benchmarks.scale [--sizes 1000,5000,10000] [--store-root DIR] [--tiny]
        [--articles JSONL[.gz] ...] [--questions JSONL ...] [--max-questions N]
        [--from-stores DIR,DIR] [--no-server-mode] [--no-maintenance] [--new-articles N] [--out FILE]

Stores of the first N articles of the RealTimeQA archive (both splits, interleaved line by line,
each doc_id once) are built under ``--store-root`` (outside the repository) and **reused** when a
run finds them complete (``archive-N.json`` beside ``archive-N/``): building 10k articles takes
about an hour on two cores. A larger store starts as a copy of the largest smaller one and ingests
only the articles it lacks. ``--from-stores`` instead copies records *with their stored vectors*
from existing complete stores (first copied aside: the sources are only read), no embedding; their
lexical index is then built with ``newsdesk reindex`` (``reindex_s``). A size larger than the sources
copies them again as new articles: each further round renames every doc id (a hash of the id and
the round), dates it ``COPY_SHIFT_DAYS`` (three years) earlier per round, and gives it its own
outlet (``copyK.`` before the source) and URL (``newsdesk_copy=K``), same text and vectors.

Per size, in a fresh ``python -m assistant serve`` process on a free loopback port:
``ingest_articles_per_s`` (the CLI ingest of the articles this size added, its ~10 s start-up
included: meaningful from about 1k articles; recorded when the store was built),
``store_mb`` on disk and the parts that are Chroma's HNSW files and the lexical index,
``chroma_index_rss_mb`` (the memory Chroma's own sentence vector index takes once loaded, measured in
a separate process), the server's RSS after the questions (``/proc/PID/status`` VmRSS, its peak
VmHWM, its anonymous and file-backed parts RssAnon and RssFile, and ``rss_without_chroma_index_mb``),
``ask_ms`` p50/p95 (with a 95% interval of the p50) over a fixed set of archive
questions (``--max-questions`` from each split's questions file, the same at every size), and
``recipe``: the plain LangChain recipe's ``similarity_search(k=4)`` over the same sentence vectors
(``langchain_chroma`` + ``HuggingFaceEmbeddings``, same model) in its own process, with the ratios
of our ask p50 and RSS to it; freshness: one new article posted to ``/api/ingest``, then the same
question asked until an answer cites it (``write_to_cited_answer_s``; ``first_ask_after_write_ms``
is the first ask's own time). The new article is deleted again, so the store can be reused.
``chroma_server``: the same serving figures with the store behind a ``chroma run`` server on
loopback (``--no-server-mode`` skips it). ``maintenance`` (``--no-maintenance`` skips it): the CLI's
``backup`` of the store, its ``restore`` into a second folder, ``reindex`` of that copy and an
``ingest`` of ``--new-articles`` new articles into it (archive articles under new ids), each timed
from the command's start (a CLI start of a few seconds included); the copies are removed after, so
the measured store never changes. ``ready_s`` is the server's process start to its first answer.
``--tiny`` (CI): sizes 20 and 40, 3 questions a split.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, emit, load_average, run_worker, worker_env
from benchmarks.query import latency_stats
from benchmarks.startup import _stop, _wait_ready, free_port, process_rss_mb

ARCHIVE = REPO / ".." / "shared" / "data" / "realtimeqa-archive"
SPLITS = ("2022", "2024h1")
COPY_SHIFT_DAYS = 1095  # each further copy of the sources three years earlier
TARGETS = {
    "ask_p50_ms": 60.0,
    "ask_p95_ms": 150.0,
    "write_to_cited_answer_s": 2.0,
    "rss_without_chroma_index_largest_vs_smallest": 1.3,
}
FRESH_TEXT = (
    "The Quendale city council named Ilsa Varnholt the first harbour master of the Zorblatt Bridge "
    "port on Monday. Varnholt, a former ferry captain, takes office in June."
)
FRESH_QUESTION = "Who was named the first harbour master of the Zorblatt Bridge port?"


# --- data ----------------------------------------------------------------------------------------
def open_text(path: Path) -> Any:
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def pooled_lines(paths: Sequence[Path]) -> Iterator[str]:
    """The JSONL lines of several files interleaved (one of each in turn), each ``id`` once."""
    handles = [open_text(p) for p in paths]
    seen: set[str] = set()
    try:
        while handles:
            for handle in list(handles):
                line = handle.readline()
                if not line:
                    handles.remove(handle)
                elif line.strip() and (key := str(json.loads(line).get("id", line))) not in seen:
                    seen.add(key)
                    yield line if line.endswith("\n") else line + "\n"
    finally:
        for handle in handles:
            handle.close()


def write_pool(paths: Sequence[Path], n: int, dest: Path) -> int:
    """The first ``n`` pooled articles as one JSONL file; how many there were."""
    count = 0
    with dest.open("w", encoding="utf-8") as out:
        for line in pooled_lines(paths):
            if count >= n:
                break
            out.write(line)
            count += 1
    return count


def fixed_questions(paths: Sequence[Path], per_file: int) -> list[str]:
    """The first ``per_file`` questions of each file: the same set at every size."""
    out: list[str] = []
    for path in paths:
        with open_text(path) as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        out += [str(row["question"]) for row in rows[:per_file]]
    return out


# --- stores --------------------------------------------------------------------------------------
def folder_mb(folder: Path, pattern: str = "*") -> float:
    return round(sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file()) / 1e6, 1)


def run_cli(argv: Sequence[str], timeout_s: float = 4 * 3600.0) -> dict[str, Any]:
    """``python -m assistant ARGV`` from the repo; its last stdout line as JSON."""
    result: dict[str, Any] = json.loads(_cli(argv, timeout_s).stdout.strip().splitlines()[-1])
    return result


def timed_cli(argv: Sequence[str], timeout_s: float = 4 * 3600.0) -> float:
    """Seconds ``python -m assistant ARGV`` took."""
    started = time.perf_counter()
    _cli(argv, timeout_s)
    return round(time.perf_counter() - started, 2)


def _cli(argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """``python -m assistant ARGV`` run from the repo; RuntimeError naming the command if it failed."""
    cmd = [sys.executable, "-m", "assistant", *argv]
    done = subprocess.run(
        cmd, cwd=REPO, env=worker_env(), capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def complete_stores(root: Path) -> dict[int, dict[str, Any]]:
    """Sizes with a complete store under ``root``, and what was recorded when it was built."""
    out: dict[int, dict[str, Any]] = {}
    for marker in root.glob("archive-*.json"):
        record = json.loads(marker.read_text(encoding="utf-8"))
        if (root / marker.stem).is_dir():
            out[int(record["articles_wanted"])] = record
    return out


def ensure_store(root: Path, n: int, articles: Sequence[Path]) -> tuple[Path, dict[str, Any]]:
    """The store of the first ``n`` pooled articles: reused, or grown from a smaller one by ingest."""
    store, marker = root / f"archive-{n}", root / f"archive-{n}.json"
    done = complete_stores(root)
    if n in done:
        return store, {**done[n], "reused": True}
    shutil.rmtree(store, ignore_errors=True)
    smaller = max((size for size in done if size < n), default=0)
    if smaller:
        shutil.copytree(root / f"archive-{smaller}", store)
    pool = root / f"archive-{n}.jsonl"
    count = write_pool(articles, n, pool)
    started = time.perf_counter()
    report = run_cli(["--store", str(store), "ingest", str(pool), "--quiet", "--json"])
    seconds = time.perf_counter() - started
    added = int(report.get("added", 0)) + int(report.get("updated", 0))
    record = {
        "articles_wanted": n,
        "articles": count,
        "built": f"ingest after a copy of archive-{smaller}" if smaller else "ingest",
        "ingested": added,
        "ingest_s": round(seconds, 1),
        "ingest_articles_per_s": round(added / seconds, 2) if seconds else 0.0,
    }
    marker.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return store, {**record, "reused": False}


def copy_from_stores(
    root: Path, n: int, sources: Sequence[Path], shift_days: int = COPY_SHIFT_DAYS
) -> tuple[Path, dict[str, Any]]:
    """A store of ``n`` articles made of records copied with their vectors from complete stores.

    The sources are copied whole, in order; when they hold fewer than ``n`` articles they are copied
    again, and again, each time as new articles (:func:`renamed`: new doc ids, dates ``shift_days``
    earlier per round, a copy's own outlet and URL), until the store holds ``n``. The order is fixed,
    so a store is the first ``n`` articles of one sequence: a new store starts as a copy of the largest
    complete smaller one copied from the same sources, and an interrupted copy (no marker yet) goes on
    from the articles it holds (the records of a page in flight are written again)."""
    store, marker = root / f"archive-{n}", root / f"archive-{n}.json"
    done = complete_stores(root)
    if n in done:
        return store, {**done[n], "reused": True}
    import chromadb

    names = [source.name for source in sources]
    progress = root / f"archive-{n}.copying.json"
    state, resuming = _copy_state(store, progress, names, seed_from(root, done, n, names))
    dest = chromadb.PersistentClient(path=str(store))
    copied = _articles_in(dest)
    resumed_at = copied if resuming else None
    started, spent = time.perf_counter(), float(state.get("copy_s", 0.0))

    def report(done: int) -> None:  # ``done`` by the copy_store call under way, ``copied`` before it
        total, seconds = copied + done, spent + time.perf_counter() - started
        _write_json(progress, {**state, "articles": total, "copy_s": round(seconds, 1)})
        print(f"archive-{n}: {total:,}/{n:,} articles copied, {seconds:,.0f} s", file=sys.stderr, flush=True)

    position, rounds = 0, 0  # position: articles of the sequence before this source's first
    while position < n:
        before = position
        for source in sources:
            if position >= n:
                break
            private = private_copy(root, source)
            size = min(source_articles(private), n - position)
            if copied < position + size:
                copy_store(
                    private,
                    dest,
                    position + size - copied,
                    copy_round=rounds,
                    shift_days=shift_days,
                    start=copied - position,
                    progress=report,
                )
                copied = _articles_in(dest)
            position += size
        rounds += 1
        if position == before:
            break
    record = {
        "articles_wanted": n,
        "articles": copied,
        "built": "copied vectors"
        + (f" ({rounds} rounds of the sources, renamed after the first)" if rounds > 1 else ""),
        "sources": names,
        "seeded_from": state.get("seeded_from"),
        "resumed_at": resumed_at,
        "copy_shift_days": shift_days,
        "copy_s": round(spent + time.perf_counter() - started, 1),
    }
    _write_json(marker, record)
    progress.unlink(missing_ok=True)
    return store, {**record, "reused": False}


def seed_from(root: Path, done: dict[int, dict[str, Any]], n: int, names: list[str]) -> int:
    """The largest complete store smaller than ``n`` copied from the same sources (0: none)."""
    copied = [
        size
        for size, record in done.items()
        if size < n
        and str(record.get("built", "")).startswith("copied vectors")
        and record.get("sources", names) == names
    ]
    return max(copied, default=0)


def _copy_state(store: Path, progress: Path, names: list[str], seed: int) -> tuple[dict[str, Any], bool]:
    """The copy's recorded state and whether it is an interrupted copy's (same sources), else a new
    one's (from a copy of the seed store without its lexical index, rebuilt after)."""
    if store.is_dir() and progress.is_file():
        state: dict[str, Any] = json.loads(progress.read_text(encoding="utf-8"))
        if state.get("sources") != names:
            raise SystemExit(f"{store} is a copy from {state.get('sources')}, not {names}: remove it")
        return state, True
    shutil.rmtree(store, ignore_errors=True)
    store.parent.mkdir(parents=True, exist_ok=True)
    if seed:
        seeded = store.parent / f"archive-{seed}"
        shutil.copytree(seeded, store, ignore=shutil.ignore_patterns("lexical.tantivy"))
    state = {"sources": names, "seeded_from": seed or None, "copy_s": 0.0}
    _write_json(progress, state)
    return state, False


def _articles_in(client: Any, collection: str = "news") -> int:
    from chromadb.errors import NotFoundError

    try:
        return int(client.get_collection(f"{collection}_articles").count())
    except NotFoundError:  # nothing copied yet
        return 0


def source_articles(source: Path, collection: str = "news") -> int:
    import chromadb

    return int(chromadb.PersistentClient(path=str(source)).get_collection(f"{collection}_articles").count())


def _write_json(path: Path, value: dict[str, Any]) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def renamed(doc_id: str, copy_round: int) -> str:
    """The doc id of the ``copy_round``-th copy of an article (the id itself in round 0)."""
    if not copy_round:
        return doc_id
    return hashlib.blake2b(f"{doc_id}#copy{copy_round}".encode(), digest_size=8).hexdigest()


def copied_meta(meta: dict[str, Any], copy_round: int, shift_days: int) -> dict[str, Any]:
    """An article's or sentence's metadata as the ``copy_round``-th copy: its doc and story ids
    renamed, published ``copy_round * shift_days`` days earlier, outlet and URL its own."""
    if not copy_round:
        return meta
    out = dict(meta)
    for key in ("doc_id", "story_id"):
        if isinstance(out.get(key), str):
            out[key] = renamed(out[key], copy_round)
    if isinstance(out.get("published_ts"), int):
        out["published_ts"] -= copy_round * shift_days * 86400
        if isinstance(out.get("published"), str) and out["published"]:
            day = datetime.fromtimestamp(out["published_ts"], UTC)
            out["published"] = day.date().isoformat() if len(out["published"]) == 10 else day.isoformat()
    if isinstance(out.get("source"), str) and out["source"]:
        out["source"] = f"copy{copy_round}.{out['source']}"
    if isinstance(out.get("url"), str) and out["url"]:
        out["url"] += ("&" if "?" in out["url"] else "?") + f"newsdesk_copy={copy_round}"
    return out


def private_copy(root: Path, source: Path) -> Path:
    """A copy of a source store to read from (opening a Chroma folder may write to it)."""
    copy = root / "_sources" / source.name
    if not copy.is_dir():
        shutil.copytree(source, copy)
    return copy


def copy_store(
    source: Path,
    dest: Any,
    limit: int,
    collection: str = "news",
    page: int = 200,
    copy_round: int = 0,
    shift_days: int = COPY_SHIFT_DAYS,
    start: int = 0,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Copy up to ``limit`` articles, from the ``start``-th, and their committed sentence records
    (vectors included); from round 1 on as new articles (:func:`copied_meta`). A page's sentence
    records are read with one query; its article records are written last, so the article count of
    ``dest`` is what was copied whole. ``progress(copied)`` after each page."""
    import chromadb

    src = chromadb.PersistentClient(path=str(source))
    config: Any = {"hnsw": {"space": "cosine"}}
    articles_in, sentences_in = (src.get_collection(f"{collection}_{s}") for s in ("articles", "sentences"))
    articles_out, sentences_out = (
        dest.get_or_create_collection(f"{collection}_{s}", configuration=config)
        for s in ("articles", "sentences")
    )
    copied = 0
    batch = max(1, int(dest.get_max_batch_size()))
    while copied < limit:
        got = articles_in.get(
            limit=min(page, limit - copied),
            offset=start + copied,
            include=["embeddings", "documents", "metadatas"],
        )
        if not got["ids"]:
            break
        ids, vectors, metas = _page_sentences(sentences_in, got, copy_round, shift_days)
        for begin in range(0, len(ids), batch):  # few large writes: Chroma's cost is per call
            end = begin + batch
            sentences_out.upsert(
                ids=ids[begin:end], embeddings=vectors[begin:end], metadatas=metas[begin:end]
            )
        articles_out.upsert(
            ids=[renamed(doc_id, copy_round) for doc_id in got["ids"]],
            embeddings=got["embeddings"],
            documents=got["documents"],
            metadatas=[copied_meta(dict(m or {}), copy_round, shift_days) for m in got["metadatas"] or []],
        )
        copied += len(got["ids"])
        if progress is not None:
            progress(copied)
    return copied


def _page_sentences(
    sentences: Any, articles: Any, copy_round: int, shift_days: int
) -> tuple[list[str], list[Any], list[dict[str, Any]]]:
    """The sentence records of a page of articles at their versions (one query), as copies."""
    versions = {
        d: str((m or {}).get("version", "")) for d, m in zip(articles["ids"], articles["metadatas"] or [])
    }
    got = sentences.get(where={"doc_id": {"$in": list(versions)}}, include=["embeddings", "metadatas"])
    ids: list[str] = []
    vectors: list[Any] = []
    metas: list[dict[str, Any]] = []
    embeddings = got["embeddings"] if got["embeddings"] is not None else []
    for sid, vector, meta in zip(got["ids"], embeddings, got["metadatas"] or []):
        doc_id = str((meta or {}).get("doc_id", ""))
        if versions.get(doc_id) != (meta or {}).get("version", ""):
            continue  # an orphan of the source
        ids.append(renamed(doc_id, copy_round) + sid[len(doc_id) :])
        vectors.append(vector)
        metas.append(copied_meta(dict(meta or {}), copy_round, shift_days))
    return ids, vectors, metas


# --- serving -------------------------------------------------------------------------------------
def measure_serving(
    store: Path, questions: Sequence[str], env: dict[str, str] | None = None, timeout_s: float = 900.0
) -> dict[str, Any]:
    """Start ``assistant serve`` on the store; ask latency, RSS and freshness of one new article.
    ``env``: more settings (a Chroma server's address)."""
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "assistant", "serve", "--store", str(store), "--port", str(port)]
    started = time.perf_counter()
    with (store.parent / f"serve-{store.name}.log").open("ab") as log:  # read after a failure
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=worker_env(
                {"NEWSDESK_RATE_LIMIT_PER_MINUTE": "0", **(env or {})}
            ),  # no 429 for our questions
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout_s) as client:
            _wait_ready(client, proc, started + timeout_s)
            client.post("/api/ask", json={"question": questions[0]}).raise_for_status()  # warm up
            ready_s = time.perf_counter() - started
            asks = [timed_ask(client, q)[0] for q in questions]
            rss = serving_memory(proc.pid)
            fresh = freshness(client)
    finally:
        _stop(proc)
    return {"ready_s": round(ready_s, 1), "ask_ms": latency_stats(asks), **rss, **fresh}


def timed_ask(client: Any, question: str) -> tuple[float, dict[str, Any]]:
    clock = time.perf_counter()
    response = client.post("/api/ask", json={"question": question})
    response.raise_for_status()
    return (time.perf_counter() - clock) * 1000, dict(response.json())


def freshness(client: Any, deadline_s: float = 120.0) -> dict[str, Any]:
    """Post a new article, then ask about it until an answer cites it; delete it again."""
    doc_id = f"scale-fresh-{time.time_ns()}"
    document = {
        "id": doc_id,
        "text": FRESH_TEXT,
        "title": "Quendale names a harbour master",
        "source": "bench",
    }
    clock = time.perf_counter()
    client.post("/api/ingest", json={"documents": [document]}).raise_for_status()
    written = time.perf_counter()
    first_ms, cited = None, False
    while not cited and time.perf_counter() - written < deadline_s:
        ms, answer = timed_ask(client, FRESH_QUESTION)
        first_ms = ms if first_ms is None else first_ms
        cited = any(c.get("doc_id") == doc_id for c in answer.get("citations", []))
    cited_s = time.perf_counter() - written
    client.delete(f"/api/documents/{doc_id}").raise_for_status()
    return {
        "write_s": round(written - clock, 3),
        "first_ask_after_write_ms": round(first_ms or 0.0, 1),
        "write_to_cited_answer_s": round(cited_s, 3) if cited else None,
    }


def status_mb(pid: int, field: str) -> float:
    """A memory field of ``/proc/PID/status`` (kB there), in MB; 0 when the kernel has no such field."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def serving_memory(pid: int) -> dict[str, float]:
    """RSS now and at its peak, and what of it is anonymous memory (the heap: caches, Chroma's
    embedded vector index) or file pages mapped into the process (libraries, the model file, the
    lexical index's memory-mapped segments: page cache that processes share and the kernel can drop)."""
    fields = {"rss_mb": "VmRSS", "peak_rss_mb": "VmHWM", "rss_anon_mb": "RssAnon", "rss_file_mb": "RssFile"}
    return {key: status_mb(pid, field) for key, field in fields.items()}


def new_articles(articles: Sequence[Path], n: int, dest: Path) -> Path:
    """``n`` pooled archive articles under new ids (``new-`` before each), as a JSONL file."""
    with dest.open("w", encoding="utf-8") as out:
        for number, line in zip(range(n), pooled_lines(articles)):
            row = json.loads(line)
            out.write(json.dumps({**row, "id": f"new-{number}-{row.get('id', '')}"}) + "\n")
    return dest


def maintenance(store: Path, root: Path, articles: Sequence[Path], count: int) -> dict[str, Any]:
    """Backup, restore into a second folder, reindex and new articles' ingest there (then removed)."""
    backup, copy = root / f"_backup-{store.name}", root / f"_restored-{store.name}"
    for folder in (backup, copy):
        shutil.rmtree(folder, ignore_errors=True)
    fresh = new_articles(articles, count, root / f"_new-{store.name}.jsonl")
    try:
        row: dict[str, Any] = {"backup_s": timed_cli(["--store", str(store), "backup", str(backup)])}
        row["backup_mb"] = folder_mb(backup)
        row["restore_s"] = timed_cli(["--store", str(copy), "restore", str(backup)])
        row["reindex_s"] = timed_cli(["--store", str(copy), "reindex", "--quiet"])
        started = time.perf_counter()
        report = run_cli(["--store", str(copy), "ingest", str(fresh), "--quiet", "--json"])
        seconds = time.perf_counter() - started
        added = int(report.get("added", 0))
        row.update(new_articles=added, new_ingest_s=round(seconds, 1))
        row["new_ingest_articles_per_s"] = round(added / seconds, 3) if seconds else 0.0
        return row
    finally:
        for folder in (backup, copy):
            shutil.rmtree(folder, ignore_errors=True)
        fresh.unlink(missing_ok=True)


# --- the driver ----------------------------------------------------------------------------------
def measure_size(args: argparse.Namespace, root: Path, n: int, questions: Sequence[str]) -> dict[str, Any]:
    if args.from_stores:
        store, built = copy_from_stores(root, n, [Path(p) for p in args.from_stores.split(",")])
    else:
        store, built = ensure_store(root, n, args.articles)
    row: dict[str, Any] = {"size": n, **built, **ensure_lexical_index(store)}
    row.update(
        store_mb=folder_mb(store),
        hnsw_files_mb=folder_mb(store, "*.bin"),
        lexical_index_mb=folder_mb(store / "lexical.tantivy"),
    )
    row.update(chroma_index_rss_mb=chroma_index_rss_mb(store))
    row.update(measure_serving(store, questions))
    row["rss_without_chroma_index_mb"] = round(row["rss_mb"] - row["chroma_index_rss_mb"], 1)
    row["recipe"] = recipe_on_store(store, root, questions)
    row["ask_p50_vs_recipe"] = _ratio(row["ask_ms"]["p50"], row["recipe"]["search_ms"]["p50"])
    row["rss_vs_recipe"] = _ratio(row["rss_mb"], row["recipe"]["rss_mb"])
    if args.server_mode:
        with chroma_run(store) as port:
            served = {"NEWSDESK_CHROMA_HOST": "127.0.0.1", "NEWSDESK_CHROMA_PORT": str(port)}
            row["chroma_server"] = measure_serving(store, questions, served)
    if args.maintenance:
        row["maintenance"] = maintenance(store, root, args.articles, args.new_articles)
    return row


@contextmanager
def chroma_run(store: Path, timeout_s: float = 120.0) -> Iterator[int]:
    """``chroma run`` on the store folder, on a free loopback port, for the block (then stopped).
    The serving process reaches it with NEWSDESK_CHROMA_HOST/PORT; its lexical index stays the
    store's (``<store>/lexical.tantivy/``), as ``--store`` is still given."""
    import httpx

    cli = Path(sys.executable).parent / "chroma"
    port = free_port()
    cmd = [str(cli), "run", "--path", str(store), "--host", "127.0.0.1", "--port", str(port)]
    with (store.parent / f"chroma-{store.name}.log").open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.perf_counter() + timeout_s
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"chroma run on {store} did not start (see chroma-{store.name}.log)")
            time.sleep(0.2)
        yield port
    finally:
        _stop(proc)


def recipe_on_store(store: Path, root: Path, questions: Sequence[str]) -> dict[str, Any]:
    """The plain LangChain recipe over the same sentence vectors, in its own process: a
    ``langchain_chroma.Chroma`` on the store's sentence collection with ``HuggingFaceEmbeddings``
    (same model), ``similarity_search(question, k=4)``; its latency and RSS."""
    listed = root / "scale-questions.json"
    listed.write_text(json.dumps(list(questions)), encoding="utf-8")
    return run_worker("benchmarks.scale", ["--recipe-worker", str(store), "--out", str(listed)])


def recipe_worker(store: Path, questions: Sequence[str]) -> dict[str, Any]:
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    from assistant.core.settings import DEFAULT_MODEL
    from ingest.embedding.embedder import resolve_model_path

    embeddings = HuggingFaceEmbeddings(model_name=resolve_model_path(DEFAULT_MODEL))
    recipe = Chroma(
        collection_name="news_sentences", embedding_function=embeddings, persist_directory=str(store)
    )
    recipe.similarity_search("Warm-up question for the model?", k=4)
    times = []
    for question in questions:
        clock = time.perf_counter()
        recipe.similarity_search(question, k=4)
        times.append((time.perf_counter() - clock) * 1000)
    return {"search_ms": latency_stats(times), "rss_mb": process_rss_mb(os.getpid())}


def ensure_lexical_index(store: Path) -> dict[str, Any]:
    """Build the lexical index of a store that has none (a store copied record by record)."""
    if any((store / "lexical.tantivy").glob("*/meta.json")):
        return {}
    started = time.perf_counter()
    run_cli(["--store", str(store), "reindex", "--json"])
    return {"reindex_s": round(time.perf_counter() - started, 1)}


CHROMA_PROBE = """
import sys, chromadb
from pathlib import Path
def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
client = chromadb.PersistentClient(path=sys.argv[1])
sentences = client.get_collection("news_sentences")
before = rss()
sentences.query(query_embeddings=[[0.05] * 384], n_results=10, include=["distances"])
print(round(rss() - before, 1))
"""


def chroma_index_rss_mb(store: Path) -> float:
    """Memory Chroma takes to load the store's sentence vector index (embedded mode), measured in a
    separate process (while no server runs): RSS after its first query minus RSS before it."""
    cmd = [sys.executable, "-c", CHROMA_PROBE, str(store)]
    done = subprocess.run(cmd, cwd=REPO, env=worker_env(), capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The ratios of the largest to the smallest size, and which targets the largest size meets
    (the ask targets in both modes when the Chroma-server run was made)."""
    largest, smallest = rows[-1], rows[0]
    own = "rss_without_chroma_index_mb"
    runs = [largest, *([largest["chroma_server"]] if "chroma_server" in largest else [])]
    heap = [row["rss_anon_mb"] - row["chroma_index_rss_mb"] for row in (largest, smallest)]
    served = [row["chroma_server"]["rss_mb"] for row in (largest, smallest) if "chroma_server" in row]
    return {
        "rss_largest_vs_smallest": _ratio(largest["rss_mb"], smallest["rss_mb"]),
        "rss_without_chroma_index_largest_vs_smallest": _ratio(largest[own], smallest[own]),
        # the same without the file pages mapped in (the lexical index's touched pages among them)
        "anonymous_rss_without_chroma_index_largest_vs_smallest": _ratio(*heap),
        # with a Chroma server the vector index is not in the process at all
        "chroma_server_rss_largest_vs_smallest": _ratio(*served) if len(served) == 2 else None,
        "meets_targets": {
            "rss_without_chroma_index_largest_vs_smallest": _ratio(largest[own], smallest[own])
            <= TARGETS["rss_without_chroma_index_largest_vs_smallest"],
            "ask_p50_ms": all(r["ask_ms"]["p50"] <= TARGETS["ask_p50_ms"] for r in runs),
            "ask_p95_ms": all(r["ask_ms"]["p95"] <= TARGETS["ask_p95_ms"] for r in runs),
            "write_to_cited_answer_s": all(
                (r["write_to_cited_answer_s"] or 1e9) <= TARGETS["write_to_cited_answer_s"]
                for row in rows
                for r in (row, row.get("chroma_server", row))
            ),
        },
    }


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.recipe_worker:  # the child process of recipe_on_store
        questions = json.loads(Path(args.out).read_text(encoding="utf-8"))
        print(json.dumps(recipe_worker(Path(args.recipe_worker), questions)))
        return 0
    root = Path(args.store_root or tempfile.mkdtemp(prefix="bench-scale-")).resolve()
    if root.is_relative_to(REPO.resolve()):
        raise SystemExit(f"--store-root {root} is inside the repository: keep the stores outside it")
    root.mkdir(parents=True, exist_ok=True)
    questions = fixed_questions(args.questions, args.max_questions)
    started_load = load_average()
    rows = [measure_size(args, root, n, questions) for n in sorted(args.sizes)]
    result: dict[str, Any] = {"benchmark": "scale", "store_root": str(root), "questions": len(questions)}
    result.update(sizes=rows, targets=TARGETS, **summarize(rows))
    result.update(load_average_start=started_load, load_average_end=load_average())
    if not args.store_root:
        shutil.rmtree(root, ignore_errors=True)
    emit(result, args.out)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], help="default 1000,5000,10000"
    )
    parser.add_argument("--store-root", help="where the stores are built and reused (outside the repo)")
    parser.add_argument("--tiny", action="store_true", help="CI: sizes 20,40 and 3 questions a split")
    archive = [ARCHIVE / s for s in SPLITS]
    parser.add_argument(
        "--articles", type=Path, nargs="+", default=[d / "articles.jsonl.gz" for d in archive]
    )
    parser.add_argument("--questions", type=Path, nargs="+", default=[d / "questions.jsonl" for d in archive])
    parser.add_argument("--max-questions", type=int, default=50, help="questions taken from each file")
    parser.add_argument("--from-stores", help="comma-separated complete stores to copy vectors from")
    parser.add_argument("--out", type=Path, help="also write the JSON (indented) to this file")
    parser.add_argument("--recipe-worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-server-mode", dest="server_mode", action="store_false", help="skip the Chroma-server run"
    )
    parser.add_argument(
        "--no-maintenance", dest="maintenance", action="store_false", help="skip backup/restore/reindex"
    )
    parser.add_argument("--new-articles", type=int, default=100, help="new articles ingested per size")
    args = parser.parse_args(argv)
    if args.tiny:
        args.sizes, args.max_questions = args.sizes or [20, 40], min(args.max_questions, 3)
        args.new_articles = min(args.new_articles, 2)
    args.sizes = args.sizes or [1000, 5000, 10000]
    return args


if __name__ == "__main__":
    sys.exit(main())
