"""Newsdesk on a real ``chroma run`` server: same results as embedded, several processes, crashes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from assistant.core.settings import Settings
from assistant.core.types import Article, MetaValue, Span
from assistant.service import Assistant, create_assistant
from assistant.text.question import read_question
from assistant.types import Answer
from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder
from ingest.pipeline import article_metadata, content_hash
from ingest.storage.lexical_records import SentenceKey
from ingest.storage.records import ArticleWrite
from ingest.storage.store import NewsStore
from ingest.terms import content_terms
from tests.assistant.conftest_api import SAMPLE_QUESTION, api_settings, serve_app
from tests.chroma_server import ChromaServer, chroma_cli, chroma_server, free_port, new_collection
from tests.conftest import REPO, SAMPLE
from tests.ingest.test_pipeline import dev_rows, stored_ids, write_jsonl

pytestmark = pytest.mark.server
__all__ = ["chroma_server"]  # the module-scoped server fixture, used by name below


def components_on(
    server: ChromaServer, tmp_path: Path, embedder: Embedder, collection: str | None = None
) -> IngestComponents:
    return IngestComponents.build(server.settings(tmp_path, collection), embedder=embedder)


def ingest_child(server: ChromaServer, collection: str, *sources: Path) -> subprocess.Popen[str]:
    """``python -m assistant ingest`` in another process, against the server."""
    env = {**os.environ, **server.env(collection), "NEWSDESK_EMBED_BATCH_SIZE": "16"}
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "ingest", "--quiet", *map(str, sources)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout_s: float = 600) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, err


def committed_sentence_counts(store: NewsStore) -> tuple[dict[str, int], dict[str, int]]:
    """Per article: sentences it declares (n_sentences), and records of its version stored."""
    declared = {a.doc_id: int(a.metadata["n_sentences"]) for a in store.iter_articles()}
    versions = {a.doc_id: a.version for a in store.iter_articles()}
    stored = dict.fromkeys(declared, 0)
    for record in store.iter_sentences():
        if versions.get(record.doc_id) == record.version:
            stored[record.doc_id] += 1
    return declared, stored


def short_rows(n: int, chars: int = 400) -> list[dict[str, object]]:
    """The first ``n`` dev articles, cut to about ``chars`` characters (a few sentences each)."""
    rows = dev_rows(n)
    for row in rows:
        text = str(row["text"])
        row["text"] = text[: text.rfind(" ", 0, chars)] if len(text) > chars else text
    return rows


def citations(answer: Answer) -> list[tuple[str, int, int]]:
    return [(c.doc_id, c.char_start, c.char_end) for c in answer.citations]


# --- one process --------------------------------------------------------------------------
def test_results_on_a_server_equal_those_of_the_embedded_store(
    chroma_server: ChromaServer, embedder: Embedder, settings: Settings, tmp_path: Path
) -> None:
    rows = short_rows(6, chars=1500)
    data = write_jsonl(tmp_path / "dev.jsonl", rows)
    questions = [str(r["title"]) for r in rows[:3]]
    answers = []
    for where in (settings, chroma_server.settings(tmp_path)):
        assistant = create_assistant(where, embedder=embedder)
        assert assistant.ingest_sources([str(data)]).added == len(rows)
        answers.append(
            (stored_ids(assistant.components.store), [citations(assistant.ask(q)) for q in questions])
        )
    assert answers[0] == answers[1]
    assert any(answers[1][1])  # some questions are answered (with citations) at all


def test_reingest_update_and_delete_on_a_server_leave_exactly_the_current_sentences(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    components = components_on(chroma_server, tmp_path, embedder)
    store, pipeline = components.store, components.pipeline
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "a1", "text": "First claim.\nSecond claim."}])
    pipeline.run([str(SAMPLE), str(path)], show_progress=False)
    before = stored_ids(store)
    report = pipeline.run([str(SAMPLE), str(path)], show_progress=False)
    assert (report.added, report.updated, report.unchanged) == (0, 0, 2)
    assert stored_ids(store) == before
    write_jsonl(path, [{"id": "a1", "text": "Only the corrected claim remains."}])
    assert pipeline.run([str(path)], show_progress=False).updated == 1
    assert [(r.start, r.end) for r in store.iter_sentences() if r.doc_id == "a1"] == [(0, 33)]
    store.delete_article("a1")
    assert {a.doc_id for a in store.iter_articles()} == {s.doc_id for s in store.iter_sentences()}
    assert store.get_article("a1") is None
    assert committed_sentence_counts(store)[0] == committed_sentence_counts(store)[1]


def test_filters_on_published_date_and_source_work_against_a_server(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    components = components_on(chroma_server, tmp_path, embedder)
    rows = [
        {"id": "old", "text": "The dam opened today.", "published": "2020-01-05", "source": "Gazette"},
        {"id": "new", "text": "The dam opened again today.", "published": "2023-03-01", "source": "Herald"},
    ]
    components.pipeline.run([str(write_jsonl(tmp_path / "f.jsonl", rows))], show_progress=False)
    vector = embedder.embed_query("When did the dam open?")
    store = components.store
    assert {r.doc_id for r in store.query_sentences(vector, 10)} == {"old", "new"}
    assert {r.doc_id for r in store.query_sentences(vector, 10, {"source": "Herald"})} == {"new"}
    since_2021 = {"published_ts": {"$gte": 1609459200}}
    assert {r.doc_id for r in store.query_sentences(vector, 10, since_2021)} == {"new"}


def test_concurrent_updates_of_one_article_end_with_the_last_commit_and_all_its_sentences(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    """Two writers, driven step by step through the interleaving that lost sentences before."""
    collection = new_collection()
    first, second = (NewsStore(chroma_server.settings(tmp_path, collection).store) for _ in range(2))
    a = prepared_write(embedder, "Version A says one thing.\nAnd a second thing.")
    b = prepared_write(embedder, "Version B differs.\nIt has two.\nNo, three sentences.")
    first._upsert_sentences(*a.sentences)  # A: sentences in flight
    second._upsert_sentences(*b.sentences)  # B: sentences in flight
    second._upsert(second.articles, *b.article)  # B commits...
    second._settle("d1", b.version, *b.sentences)  # ...and deletes every version but B: A's too
    first._upsert(first.articles, *a.article)  # A commits last, its sentences gone
    first._settle("d1", a.version, *a.sentences)
    second._settle("d1", b.version, *b.sentences)  # B's settle again (a late retry) must not undo A
    declared, stored = committed_sentence_counts(first)
    assert first.require_article("d1").version == a.version
    assert declared == stored == {"d1": 2}
    assert first.count() == (1, 2)


def test_on_a_server_the_lexical_index_lives_in_lexical_dir_and_follows_the_pipeline(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    settings = chroma_server.settings(tmp_path, lexical_dir=tmp_path / "lexical")
    components = IngestComponents.build(settings, embedder=embedder)
    rows = [{"id": "z1", "text": "The zeppelin landed in Lisbon.\nLate."}, {"id": "z2", "text": "Ferry."}]
    components.pipeline.run([str(write_jsonl(tmp_path / "z.jsonl", rows))], show_progress=False)
    store = components.store
    assert store.lexical.path == tmp_path / "lexical" / settings.collection
    hits = store.lexical.search(content_terms("zeppelin in Lisbon"), 5)
    assert [h.key for h in hits] == [SentenceKey("z1", 0)]
    components.pipeline.delete("z2")
    assert store.lexical.versions() == {"z1": store.require_article("z1").version}
    assert store.lexical.check() == [] and not settings.store_dir.exists()  # nothing in store_dir


def test_an_index_write_that_lands_after_a_later_commit_of_the_article_is_skipped(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    collection = new_collection()
    first, second = (NewsStore(chroma_server.settings(tmp_path, collection).store) for _ in range(2))
    older, newer = (article_write(embedder, f"The {craft} landed.") for craft in ("zeppelin", "airship"))
    first.write_articles([older])
    second.write_articles([newer])  # a later commit of the same article, by another process
    first.lexical_sync.write([older])  # the first writer's index write, late
    assert second.lexical.versions() == {"d1": newer.version}
    assert [h.key.doc_id for h in second.lexical.search(content_terms("airship"), 5)] == ["d1"]
    assert second.lexical.search(content_terms("zeppelin"), 5) == []


def article_write(embedder: Embedder, text: str) -> ArticleWrite:
    """What the pipeline writes for doc ``d1`` with this one-sentence text."""
    article = Article(doc_id="d1", text=text)
    meta = article_metadata(article, content_hash(article, embedder.model_name), embedder.model_name, 1)
    vectors = embedder.embed([text, text])
    return ArticleWrite("d1", text, meta, vectors[0], [Span(0, len(text))], vectors[1:])


@dataclass
class PreparedWrite:
    version: str
    sentences: tuple[list[str], np.ndarray, list[Mapping[str, MetaValue]]]
    article: tuple[list[str], np.ndarray, list[Mapping[str, MetaValue]], list[str]]


def prepared_write(embedder: Embedder, text: str) -> PreparedWrite:
    """The records ``write_articles`` would write for doc ``d1`` with this text."""
    article = Article(doc_id="d1", text=text)
    digest = content_hash(article, embedder.model_name)
    lines = text.split("\n")
    starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    spans = [Span(s, s + len(line)) for s, line in zip(starts, lines)]
    meta = article_metadata(article, digest, embedder.model_name, len(spans))
    version = str(meta["version"])
    ids = [f"d1|{version}|{i}" for i in range(len(spans))]
    metas: list[Mapping[str, MetaValue]] = [
        {"doc_id": "d1", "version": version, "index": i, "start": s.start, "end": s.end}
        for i, s in enumerate(spans)
    ]
    vectors = embedder.embed([*lines, text])
    return PreparedWrite(version, (ids, vectors[:-1], metas), (["d1"], vectors[-1:], [meta], [text]))


# --- several processes --------------------------------------------------------------------
@dataclass
class SharedIngest:
    """Two child processes ingested two overlapping files while this app process was running."""

    settings: Settings
    assistant: Assistant
    rows: list[dict[str, object]]
    question: str
    before: Answer
    generation_before: str
    exits: list[tuple[int, str]]


@pytest.fixture(scope="module")
def shared_ingest(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> SharedIngest:
    folder = tmp_path_factory.mktemp("shared")
    collection = new_collection()
    settings = chroma_server.settings(folder, collection)
    assistant = create_assistant(settings, embedder=embedder)
    rows = short_rows(10, chars=1000)
    question = str(rows[7]["title"])
    before, generation = assistant.ask(question), assistant.components.store.generation()
    left = write_jsonl(folder / "left.jsonl", rows[:5])
    right = write_jsonl(folder / "right.jsonl", [rows[0], *rows[5:]])  # rows[0] in both
    children = [ingest_child(chroma_server, collection, left), ingest_child(chroma_server, collection, right)]
    exits = [finish(child) for child in children]
    return SharedIngest(settings, assistant, rows, question, before, generation, exits)


def test_two_processes_ingesting_at_once_store_every_article_once(shared_ingest: SharedIngest) -> None:
    assert [code for code, _ in shared_ingest.exits] == [0, 0], shared_ingest.exits
    store = NewsStore(shared_ingest.settings.store)
    declared, stored = committed_sentence_counts(store)
    assert set(declared) == {str(r["id"]) for r in shared_ingest.rows}
    assert stored == declared
    assert store.count() == (len(declared), sum(declared.values()))  # no orphan or duplicate records


def test_a_running_app_sees_articles_another_process_ingested_without_restart(
    shared_ingest: SharedIngest,
) -> None:
    assistant = shared_ingest.assistant
    assert assistant.components.store.generation() != shared_ingest.generation_before
    assert not shared_ingest.before.citations
    after = assistant.ask(shared_ingest.question)
    doc_id = str(shared_ingest.rows[7]["id"])
    assert doc_id in {c.doc_id for c in after.citations}
    found = assistant.search.search(read_question(shared_ingest.question)).candidates
    assert any(c.doc_id == doc_id and c.lexical_rank is not None for c in found)  # the shared index
    assert any(c.doc_id == doc_id and c.dense_rank is not None for c in found)  # the Chroma server


# --- crashes ------------------------------------------------------------------------------
@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A server this test may kill and restart (on the same port and folder)."""
    cli = chroma_cli()
    if cli is None:
        pytest.skip("the chroma CLI is not installed")
    server = ChromaServer(cli, tmp_path / "chroma-data", free_port())
    server.start()
    yield server
    server.stop()


def wait_for_first_article(store: NewsStore, child: subprocess.Popen[str], timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.poll() is None:
        if store.count()[0] > 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"the ingest never committed an article (exit {child.poll()})")


def test_killing_the_server_mid_ingest_fails_cleanly_and_a_rerun_matches_a_clean_run(
    own_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    rows = short_rows(100)  # four groups of articles
    data = write_jsonl(tmp_path / "dev.jsonl", rows)
    collection = new_collection()
    child = ingest_child(own_server, collection, data)
    wait_for_first_article(NewsStore(own_server.settings(tmp_path, collection).store), child)
    own_server.kill()
    code, err = finish(child)
    assert code == 2, err
    assert err.strip().splitlines()[-1].startswith("error: ") and own_server.url in err
    assert "Traceback" not in err
    own_server.start()
    killed = NewsStore(own_server.settings(tmp_path, collection).store)
    assert killed.count()[0] < len(rows)  # it really stopped midway
    assert finish(ingest_child(own_server, collection, data))[0] == 0
    clean = components_on(own_server, tmp_path, embedder)
    clean.pipeline.run([str(data)], show_progress=False)
    assert stored_ids(killed) == stored_ids(clean.store)
    assert killed.count() == clean.store.count() == (len(rows), len(stored_ids(clean.store)[1]))


def test_a_hung_chroma_server_fails_every_call_in_bounded_time_and_recovers_when_it_resumes(
    own_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    collection = new_collection()
    settings = api_settings(
        tmp_path,
        chroma_host=own_server.settings(tmp_path).chroma_host,
        chroma_port=own_server.port,
        collection=collection,
        chroma_timeout_s=1.0,
        port=free_port(),
    )
    assistant = create_assistant(settings, embedder=embedder)
    assert assistant.ingest_sources([str(SAMPLE)]).added == 1
    with serve_app(assistant, settings) as served:
        assert ask_over_http(served.base).status_code == 200
        own_server.pause()
        try:
            started = time.monotonic()
            hung, health = ask_over_http(served.base), httpx.get(f"{served.base}/api/health", timeout=30)
            api_seconds = time.monotonic() - started
            cli = cli_ask(own_server, collection, NEWSDESK_CHROMA_TIMEOUT_S="1")
        finally:
            own_server.resume()
        assert hung.status_code == 503 and "did not answer in time" in hung.json()["error"]
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert api_seconds < 10
        assert cli.returncode == 2, cli.stderr
        assert cli.stderr.strip().startswith("error: ") and len(cli.stderr.strip().splitlines()) == 1
        assert own_server.url in cli.stderr and "did not answer in time" in cli.stderr
        assert ask_over_http(served.base).status_code == 200  # the same client recovers
    assert cli_ask(own_server, collection).returncode == 0


def ask_over_http(base: str) -> httpx.Response:
    return httpx.post(f"{base}/api/ask", json={"question": SAMPLE_QUESTION}, timeout=30)


def cli_ask(server: ChromaServer, collection: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m assistant ask`` against the server, given at most a minute."""
    return subprocess.run(
        [sys.executable, "-m", "assistant", "ask", SAMPLE_QUESTION],
        cwd=REPO,
        env={**os.environ, **server.env(collection), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
