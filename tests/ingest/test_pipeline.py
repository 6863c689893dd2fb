"""The ingest pipeline with the real model and a real embedded Chroma in tmp_path."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.core.errors import ConfigError, DocumentNotFoundError, StoreError, StoreLockedError
from assistant.core.settings import Settings
from assistant.frontends.cli.main import main
from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder
from ingest.pipeline import embedding_texts, embedding_texts_for, pair_texts
from ingest.sentences import SentenceSplitter
from ingest.storage.store import NewsStore
from ingest.storage.writer import GroupWriter
from tests.conftest import REPO, SAMPLE, dev_articles_path


def write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def dev_rows(n: int) -> list[dict[str, object]]:
    with dev_articles_path().open(encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh)]


def stored_ids(store: NewsStore) -> tuple[set[str], set[tuple[str, int, int, int]]]:
    articles = {a.doc_id: a.version for a in store.iter_articles()}
    sentences = {
        (s.doc_id, s.index, s.start, s.end)
        for s in store.iter_sentences()
        if articles.get(s.doc_id) == s.version
    }
    return set(articles), sentences


def test_ingest_of_sample_stores_every_sentence_with_exact_offsets(components: IngestComponents) -> None:
    report = components.pipeline.run([str(SAMPLE)], show_progress=False)
    assert (report.added, report.updated, report.unchanged, report.failed) == (1, 0, 0, [])
    article = next(components.store.iter_articles())
    assert article.text == SAMPLE.read_text(encoding="utf-8")
    records = sorted(components.store.iter_sentences(), key=lambda s: s.index)
    lines = [line for line in article.text.splitlines() if line.strip()]
    assert [article.text[s.start : s.end] for s in records] == lines
    assert components.store.count() == (1, len(lines))


def test_reingest_of_same_article_adds_nothing(components: IngestComponents) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    before = stored_ids(components.store)
    report = components.pipeline.run([str(SAMPLE)], show_progress=False)
    assert (report.added, report.updated, report.unchanged) == (0, 0, 1)
    assert report.sentences == 0
    assert stored_ids(components.store) == before


def test_changed_article_leaves_no_stale_sentences(components: IngestComponents, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "a1", "text": "First claim here.\nSecond claim here."}])
    components.pipeline.run([str(path)], show_progress=False)
    write_jsonl(path, [{"id": "a1", "text": "Only the corrected claim remains."}])
    report = components.pipeline.run([str(path)], show_progress=False)
    assert (report.added, report.updated) == (0, 1)
    records = list(components.store.iter_sentences())
    assert [(r.start, r.end) for r in records] == [(0, 33)]
    assert components.store.require_article("a1").text == "Only the corrected claim remains."


def test_delete_removes_the_article_and_all_its_sentences(
    components: IngestComponents, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl", [{"id": "keep", "text": "Kept."}, {"id": "gone", "text": "A. B."}]
    )
    components.pipeline.run([str(path)], show_progress=False)
    components.store.delete_article("gone")
    assert {a.doc_id for a in components.store.iter_articles()} == {"keep"}
    assert {s.doc_id for s in components.store.iter_sentences()} == {"keep"}
    with pytest.raises(DocumentNotFoundError):
        components.store.delete_article("gone")


def test_stored_dev_sentences_have_exact_offsets_and_metadata(
    components: IngestComponents, tmp_path: Path
) -> None:
    rows = dev_rows(10)
    components.pipeline.run([str(write_jsonl(tmp_path / "dev.jsonl", rows))], show_progress=False)
    texts = {str(r["id"]): str(r["text"]) for r in rows}
    stored = {a.doc_id: a for a in components.store.iter_articles()}
    assert {k: v.text for k, v in stored.items()} == texts
    for record in components.store.iter_sentences():
        sentence = texts[record.doc_id][record.start : record.end]
        assert sentence and sentence == sentence.strip()
    first = stored[str(rows[0]["id"])].metadata
    assert first["title"] == rows[0]["title"] and first["url"] == rows[0]["url"]
    assert first["model"] and first["content_hash"] and first["ingested_at"]
    assert first["embedding"] == f"{components.embedder.precision}/ctx1"


def test_bad_lines_are_reported_and_good_ones_beside_them_are_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": "g1", "text": "A good article sentence."}])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "b1", "text": "Fine line."}\n{not json\n', encoding="utf-8")
    status = main(["--store", str(tmp_path / "s"), "ingest", "--json", str(good), str(bad)])
    summary = json.loads(capsys.readouterr().out)
    assert status == 1
    assert (summary["added"], summary["updated"], summary["unchanged"]) == (2, 0, 0)
    assert [f["source"] for f in summary["failed"]] == [f"{bad}:2"]


def test_second_writer_on_the_same_folder_gets_a_clear_error(components: IngestComponents) -> None:
    with components.store.write_lock(), pytest.raises(StoreLockedError, match="another process"):
        components.pipeline.run([str(SAMPLE)], show_progress=False)


def run_cli(store: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "NEWSDESK_STORE_DIR": str(store),
        "NEWSDESK_EMBED_BATCH_SIZE": "16",
        "NEWSDESK_INGEST_GROUP_SIZE": "4",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "ingest", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_first_commit(store: Path, proc: subprocess.Popen[str], timeout_s: float = 600) -> None:
    """Block until the child has committed at least one group of articles."""
    deadline = time.monotonic() + timeout_s
    assert proc.stderr is not None
    seen = ""
    while time.monotonic() < deadline and proc.poll() is None:
        seen += os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
        if re.search(r"added=[1-9]", seen):
            return
    raise AssertionError(f"the ingest never committed a group: {seen[-500:]}")


@pytest.mark.slow
def test_ingest_killed_midway_and_rerun_ends_like_a_clean_run(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "dev.jsonl", dev_rows(24))
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = run_cli(killed, str(data))
    wait_for_first_commit(killed, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reopened = NewsStore(Settings(store_dir=killed).store)
    reopened.lexical_sync.prepare(show_progress=False)  # what the next writer does first
    assert lexical_matches_chroma(reopened)
    reopened.close()
    for store in (killed, clean):
        done = run_cli(store, "--quiet", str(data))
        _, err = done.communicate(timeout=600)
        assert done.returncode == 0, err
    results = [stored_ids(NewsStore(Settings(store_dir=s).store)) for s in (killed, clean)]
    assert results[0] == results[1]
    assert len(results[0][0]) == 24
    killed_store = NewsStore(Settings(store_dir=killed).store)
    assert killed_store.count()[1] == len(results[0][1])
    assert lexical_matches_chroma(killed_store)
    assert killed_store.lexical.sentence_count() == len(results[0][1])


def lexical_matches_chroma(store: NewsStore) -> bool:
    """The lexical index holds every committed article at its version, with all its sentences."""
    versions = {a.doc_id: a.version for a in store.iter_articles() if a.spans != ()}
    return store.lexical.check() == [] and store.lexical.stale(versions) == ([], [])


def test_context_words_keep_only_the_last_words_of_the_previous_sentence() -> None:
    text = "One two three four five. Six seven eight nine. Ten."
    spans = SentenceSplitter().split(text)
    assert embedding_texts(text, spans, 1, 3) == [
        "One two three four five.",
        "three four five. Six seven eight nine.",
        "seven eight nine. Ten.",
    ]
    assert embedding_texts(text, spans, 1, 30) == embedding_texts(text, spans, 1)
    assert embedding_texts(text, spans, 0, 3) == ["One two three four five.", "Six seven eight nine.", "Ten."]


def test_pairs_mode_gives_both_sentences_of_a_pair_one_text_and_a_last_odd_one_its_predecessor() -> None:
    text = "One two three. Four five. Six seven. Eight."
    spans = SentenceSplitter().split(text)
    assert pair_texts(text, spans[:3]) == ["One two three. Four five."] * 2 + ["Four five. Six seven."]
    assert pair_texts(text, spans) == ["One two three. Four five."] * 2 + ["Six seven. Eight."] * 2
    assert pair_texts(text, spans[:1]) == ["One two three."]
    pairs = Settings(store_dir=Path("unused"), context_mode="pairs")
    assert embedding_texts_for(text, spans, pairs) == pair_texts(text, spans)
    assert pair_texts(text, spans) != embedding_texts(text, spans, 1)


def test_pairs_mode_stores_one_vector_per_pair_for_both_of_its_sentences(
    settings: Settings, embedder: Embedder
) -> None:
    components = IngestComponents.build(
        settings.model_copy(update={"context_mode": "pairs"}), embedder=embedder
    )
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    [article] = list(components.store.iter_articles())
    assert str(article.metadata["embedding"]).endswith("/pairs")
    got = components.store.sentences.get(
        where={"doc_id": article.doc_id}, include=["embeddings", "metadatas"]
    )
    embeddings = got["embeddings"]
    assert embeddings is not None
    vectors = {int(str(m["index"])): np.asarray(e) for m, e in zip(got["metadatas"] or [], embeddings)}
    spans = article.spans or ()
    assert len(vectors) == len(spans) > 4
    first_pair = embedder.embed([article.text[spans[0][0] : spans[1][1]]])[0]
    assert float(vectors[0] @ first_pair) > 0.999 and float(vectors[1] @ first_pair) > 0.999
    assert float(vectors[2] @ vectors[3]) > 0.999 and float(vectors[1] @ vectors[2]) < 0.99


def test_pairs_mode_with_partial_context_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"context_mode 'pairs' .* got 1 and 8"):
        Settings.load(context_mode="pairs", context_words=8)


def test_negative_context_words_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"context_words\n.*input_value=-1"):
        Settings.load(context_words=-1)


def test_group_writer_stores_groups_in_order_and_raises_a_failed_write_to_the_caller() -> None:
    done: list[int] = []

    def write(n: int) -> None:
        time.sleep(0.02 * (3 - n))  # earlier groups are slower: order must still hold
        done.append(n)

    with GroupWriter() as writer:
        for n in range(3):
            writer.submit(functools.partial(write, n), [str(n)])
        writer.wait_for(["2"])
        assert done == [0, 1, 2]

    def fail() -> None:
        raise StoreError("disk full")

    with pytest.raises(StoreError, match="disk full"), GroupWriter() as writer:
        writer.submit(fail, ["x"])
        writer.submit(lambda: None, ["y"])


def test_writes_overlap_embedding_only_when_the_model_leaves_a_core_free(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ingest.pipeline.default_threads", lambda: 2)
    pipeline = IngestComponents.build(settings, embedder).pipeline
    for threads, overlap in ((0, False), (2, False), (1, True)):
        monkeypatch.setattr(pipeline.embedder, "threads", threads)
        assert pipeline.overlap_writes is overlap, threads
    writer = GroupWriter(background=False)
    done: list[str] = []
    with writer:
        writer.submit(lambda: done.append("now"), ["a"])
        assert done == ["now"]  # written before submit returned
        with pytest.raises(StoreError, match="disk full"):
            writer.submit(functools.partial(_fail, "disk full"), ["b"])


def _fail(message: str) -> None:
    raise StoreError(message)


def test_article_repeated_in_the_next_group_is_stored_once_as_an_update(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    one_per_group = IngestComponents.build(settings.model_copy(update={"ingest_group_size": 1}), embedder)
    rows: list[dict[str, object]] = [
        {"id": "a1", "text": "The first version of the story."},
        {"id": "a1", "text": "The corrected version of the story."},
    ]
    report = one_per_group.pipeline.run([str(write_jsonl(tmp_path / "a.jsonl", rows))], show_progress=False)
    assert (report.added, report.updated) == (1, 1)
    assert one_per_group.store.require_article("a1").text == "The corrected version of the story."
    assert [(s.start, s.end) for s in one_per_group.store.iter_sentences()] == [(0, 35)]
