"""NewsStore: the writer lock across processes, the generation token, connecting to a server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.core.errors import StoreError, StoreLockedError
from assistant.core.settings import Settings
from assistant.core.types import Span
from assistant.frontends.cli.main import main
from ingest.components import IngestComponents
from ingest.pipeline import embedding_texts
from ingest.storage.chroma import check_server_version
from ingest.storage.records import SPANS_KEY, decode_spans, encode_spans
from ingest.storage.store import NewsStore
from tests.chroma_server import free_port
from tests.conftest import REPO, SAMPLE
from tests.ingest.test_pipeline import write_jsonl

HOLD_LOCK = """
import sys
from assistant.core.settings import Settings
from ingest.storage.store import NewsStore
store = NewsStore(Settings(store_dir=sys.argv[1]).store)
with store.write_lock():
    print("locked", flush=True)
    sys.stdin.read()
"""

PRINT_GENERATION = """
import sys
from assistant.core.settings import Settings
from ingest.storage.store import NewsStore
print(NewsStore(Settings(store_dir=sys.argv[1]).store).generation())
"""


def python(code: str, *args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=dict(os.environ),
        text=True,
        **kw,  # type: ignore[call-overload]
    )


def test_a_second_writer_process_gets_a_clear_error_until_the_first_one_finishes(
    components: IngestComponents, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(components.settings.store_dir)
    holder = python(HOLD_LOCK, folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    try:
        assert main(["--store", folder, "ingest", "--quiet", str(SAMPLE)]) == 2
        err = capsys.readouterr().err
        assert "another process is writing to the store" in err and "Traceback" not in err
        with pytest.raises(StoreLockedError):
            components.pipeline.run([str(SAMPLE)], show_progress=False)
    finally:
        holder.communicate("", timeout=60)
    assert components.pipeline.run([str(SAMPLE)], show_progress=False).added == 1


def test_generation_changes_on_every_write_and_delete_and_other_processes_read_the_same(
    components: IngestComponents, tmp_path: Path
) -> None:
    store = components.store
    seen = [store.generation()]
    path = write_jsonl(
        tmp_path / "a.jsonl", [{"id": "a1", "text": "One claim."}, {"id": "a2", "text": "Two."}]
    )
    components.pipeline.run([str(path)], show_progress=False)
    seen.append(store.generation())
    store.delete_article("a1")
    seen.append(store.generation())
    components.pipeline.run([str(path)], show_progress=False)  # a1 again; a2 unchanged
    seen.append(store.generation())
    assert len(set(seen)) == 4
    child = python(PRINT_GENERATION, str(store.settings.store_dir), stdout=subprocess.PIPE)
    out, _ = child.communicate(timeout=120)
    assert out.strip() == seen[-1]


def test_an_unchanged_reingest_leaves_the_generation_alone(components: IngestComponents) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    before = components.store.generation()
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    assert components.store.generation() == before


def test_writes_in_a_generation_batch_are_announced_once_at_its_end_even_on_error(
    components: IngestComponents, tmp_path: Path
) -> None:
    store = components.store
    path = write_jsonl(
        tmp_path / "a.jsonl", [{"id": "a1", "text": "One claim."}, {"id": "a2", "text": "Two."}]
    )
    before = store.generation()
    with store.generation_batch():
        components.pipeline.run([str(path)], show_progress=False)
        assert store.count()[0] == 2
        assert store.generation() == before
    after = store.generation()
    assert after != before
    with pytest.raises(RuntimeError), store.generation_batch():
        store.delete_article("a1")
        raise RuntimeError("the ingest broke after a write")
    assert store.generation() != after


def test_the_server_version_check_accepts_the_bundled_server_and_refuses_other_majors() -> None:
    check_server_version("1.0.0", "1.5.9", "http://127.0.0.1:8000")  # what chroma run 1.5.9 reports
    check_server_version("1.5.9", "1.5.9", "http://127.0.0.1:8000")
    with pytest.raises(StoreError, match=r"runs version 0\.5\.23, which chromadb 1\.5\.9 .* cannot use"):
        check_server_version("0.5.23", "1.5.9", "http://127.0.0.1:8000")
    with pytest.raises(StoreError, match=r"install chromadb 2\.0\.x here"):
        check_server_version("2.0.1", "1.5.9", "http://127.0.0.1:8000")
    with pytest.raises(StoreError, match=r"1\.6\.0"):
        check_server_version("1.6.0", "1.5.9", "http://127.0.0.1:8000")
    with pytest.raises(StoreError, match="unrecognised Chroma version"):
        check_server_version("dev", "1.5.9", "http://127.0.0.1:8000")


def test_an_unreachable_server_gives_one_clear_line_and_exit_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(
        StoreError, match=rf"cannot reach the Chroma server at http://127\.0\.0\.1:{port}: .*chroma run"
    ):
        NewsStore(Settings(chroma_host="127.0.0.1", chroma_port=port, store_dir=tmp_path / "unused").store)
    monkeypatch.setenv("NEWSDESK_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("NEWSDESK_CHROMA_PORT", str(port))
    assert main(["stats"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach the Chroma server at http://127.0.0.1:{port}")
    assert "is `chroma run` started?" in err and "Traceback" not in err


def test_the_article_record_keeps_its_sentence_offsets_out_of_the_metadata(
    components: IngestComponents,
) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    [article] = list(components.store.iter_articles())
    records = sorted(components.store.iter_sentences(), key=lambda s: s.index)
    assert article.spans == tuple((s.start, s.end) for s in records)
    assert len(records) > 10
    assert SPANS_KEY not in article.metadata
    assert components.store.require_article(article.doc_id).spans == article.spans


def test_sentence_offsets_round_trip_and_unreadable_ones_are_ignored() -> None:
    spans = [Span(0, 12), Span(13, 40)]
    assert decode_spans(encode_spans(spans)) == ((0, 12), (13, 40))
    assert decode_spans(encode_spans([])) == ()
    assert decode_spans("0:12 x:4") is None
    assert decode_spans(None) is None


def test_a_group_written_in_one_call_gives_every_sentence_of_every_article_its_own_vector(
    components: IngestComponents, tmp_path: Path
) -> None:
    rows = [
        {"id": "g1", "title": "Rain", "text": "Rain fell in Lisbon. The river rose by a metre."},
        {
            "id": "g2",
            "title": "Wheat",
            "text": "Wheat prices doubled. Bakers raised bread prices. Farmers cheered.",
        },
        {"id": "g3", "title": "Chess", "text": "A teenager won the chess final in Oslo."},
    ]
    components.pipeline.run([str(write_jsonl(tmp_path / "g.jsonl", rows))], show_progress=False)
    store = components.store
    for article in store.iter_articles():
        got = store.sentences.get(where={"doc_id": article.doc_id}, include=["embeddings", "metadatas"])
        embeddings = got["embeddings"]
        assert embeddings is not None
        stored = {int(str(m["index"])): np.asarray(e) for m, e in zip(got["metadatas"] or [], embeddings)}
        spans = components.splitter.split(article.text)
        expected = components.embedder.embed(embedding_texts(article.text, spans, 1))
        assert sorted(stored) == list(range(len(spans)))
        for index, vector in stored.items():
            assert float(vector @ expected[index]) > 0.999, (article.doc_id, index)
