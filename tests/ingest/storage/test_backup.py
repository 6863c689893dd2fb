"""Backup and restore of the embedded store, with a restore drill on real dev articles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import chromadb
import pytest

from assistant.core.errors import BackupError, StoreLockedError
from assistant.core.settings import Settings
from assistant.frontends.cli.main import main
from assistant.service import create_assistant
from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder
from ingest.storage.backup import MANIFEST_NAME, backup_store, folder_counts, restore_store
from ingest.storage.locks import folder_write_lock
from ingest.storage.store import NewsStore
from ingest.terms import content_terms
from tests.conftest import SAMPLE
from tests.ingest.test_pipeline import dev_rows, write_jsonl

N_ARTICLES = 8


def store_settings(folder: Path) -> Settings:
    return Settings(store_dir=folder / "store", feedback_path=folder / "feedback.jsonl")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """An embedded store holding a few real dev articles (built once for the module)."""
    folder = tmp_path_factory.mktemp("backup-source")
    settings = store_settings(folder)
    components = IngestComponents.build(settings, embedder=embedder)
    rows = dev_rows(N_ARTICLES)
    for row in rows:  # a few paragraphs of each article are enough for the drill
        row["text"] = str(row["text"])[:2000]
    report = components.pipeline.run([str(write_jsonl(folder / "dev.jsonl", rows))], False)
    assert report.added == N_ARTICLES
    components.store.close()
    return settings


@pytest.fixture(scope="module")
def backup_dir(source: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("backups") / "b1"
    backup_store(source.store, target)
    return target


Cited = list[tuple[str, int, int]]


def top_answers(settings: Settings, embedder: Embedder, questions: list[str]) -> list[tuple[str, Cited]]:
    assistant = create_assistant(settings, embedder=embedder)
    answers = [assistant.ask(q) for q in questions]
    assistant.components.store.close()
    return [(a.answer, [(c.doc_id, c.char_start, c.char_end) for c in a.citations]) for a in answers]


def top_sentences(
    settings: Settings, embedder: Embedder, questions: list[str]
) -> list[list[tuple[str, int, str]]]:
    store = NewsStore(settings.store)
    hits = [store.query_sentences(embedder.embed([q])[0], k=10) for q in questions]
    store.close()
    return [[(h.doc_id, h.index, h.version) for h in hit] for hit in hits]


def test_backup_manifest_records_the_counts_and_the_chromadb_version(
    source: Settings, backup_dir: Path
) -> None:
    manifest = json.loads((backup_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["chromadb_version"] == chromadb.__version__
    assert manifest["counts"] == folder_counts(source.store_dir)
    assert manifest["counts"][f"{source.collection}_articles"] == N_ARTICLES
    assert manifest["files"] and all(len(f["sha256"]) == 64 for f in manifest["files"].values())


def test_restore_drill_gives_the_same_counts_and_the_same_top_answers(
    source: Settings, backup_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    restored = store_settings(tmp_path)
    restore_store(restored.store, backup_dir)
    assert folder_counts(restored.store_dir) == folder_counts(source.store_dir)
    titles = [str(r["title"]) for r in dev_rows(N_ARTICLES)][:4]
    questions = [*titles, "Who won the election?"]
    assert top_sentences(restored, embedder, questions) == top_sentences(source, embedder, questions)
    before = top_answers(source, embedder, questions)
    assert top_answers(restored, embedder, questions) == before
    assert any(citations for _, citations in before)


def test_a_restored_store_answers_lexical_searches_from_its_restored_index(
    backup_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    assert not [p.name for p in (backup_dir / "store").rglob(".tantivy-*")]  # no lock files copied
    restored = store_settings(tmp_path)
    restore_store(restored.store, backup_dir)
    rows = {str(r["id"]): str(r["text"])[:2000] for r in dev_rows(N_ARTICLES)}
    first = next(iter(rows))
    elsewhere = {t for doc_id, text in rows.items() if doc_id != first for t in content_terms(text)}
    word = next(t for t in content_terms(rows[first]) if t not in elsewhere)
    components = IngestComponents.build(restored, embedder=embedder)
    store = components.store
    assert store.lexical.path.is_relative_to(restored.store_dir)
    assert {hit.key.doc_id for hit in store.lexical.search([word], 5)} == {first}
    assert store.lexical.stale({a.doc_id: a.version for a in store.iter_articles()}) == ([], [])
    components.pipeline.run([str(SAMPLE)], show_progress=False)  # the restored index takes writes
    assert store.lexical.doc_count() == N_ARTICLES + 1 and store.lexical.check() == []
    store.close()


def test_restore_refuses_a_store_that_holds_records_unless_forced(
    backup_dir: Path, source: Settings, embedder: Embedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = store_settings(tmp_path)
    components = IngestComponents.build(target, embedder=embedder)
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    components.store.close()
    assert main(["--store", str(target.store_dir), "restore", str(backup_dir)]) == 2
    assert "--force" in capsys.readouterr().err
    assert folder_counts(target.store_dir)[f"{target.collection}_articles"] == 1
    assert main(["--store", str(target.store_dir), "restore", "--force", str(backup_dir)]) == 0
    assert "restored" in capsys.readouterr().out
    assert folder_counts(target.store_dir) == folder_counts(source.store_dir)


def test_restore_refuses_a_backup_whose_files_do_not_match_its_manifest(
    backup_dir: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(backup_dir, damaged)
    with (damaged / "store" / "chroma.sqlite3").open("ab") as fh:
        fh.write(b"\0")
    target = store_settings(tmp_path)
    with pytest.raises(BackupError, match=r"does not match its manifest.*changed \['chroma.sqlite3'\]"):
        restore_store(target.store, damaged)
    assert not target.store_dir.exists()


def test_restore_refuses_a_backup_made_by_a_newer_chromadb(backup_dir: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    shutil.copytree(backup_dir, newer)
    manifest = json.loads((newer / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["chromadb_version"] = "2.0.0"
    (newer / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BackupError, match=r"made with chromadb 2\.0\.0"):
        restore_store(store_settings(tmp_path).store, newer)


def test_a_folder_without_a_manifest_is_not_restored(backup_dir: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(backup_dir, partial)
    (partial / MANIFEST_NAME).unlink()
    with pytest.raises(BackupError, match=r"manifest\.json is missing"):
        restore_store(store_settings(tmp_path).store, partial)


def test_backup_waits_for_no_writer_and_refuses_a_used_folder(source: Settings, tmp_path: Path) -> None:
    with (
        folder_write_lock(source.store_dir),
        pytest.raises(StoreLockedError, match="another process is writing"),
    ):
        backup_store(source.store, tmp_path / "during-ingest")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(BackupError, match="not empty"):
        backup_store(source.store, tmp_path / "used")


def test_backup_of_a_server_store_points_to_the_server_folder(tmp_path: Path) -> None:
    settings = Settings(chroma_host="127.0.0.1", chroma_port=1, store_dir=tmp_path / "store")
    with pytest.raises(BackupError, match="chroma run --path"):
        backup_store(settings.store, tmp_path / "b")
