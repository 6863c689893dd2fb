"""The archive registry: names, where each archive lives, the JSON file, removal (issue 28)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.core.errors import (
    ArchiveExistsError,
    ArchiveNameError,
    ArchiveNotFoundError,
    NamedArchiveError,
)
from assistant.core.settings import Settings
from ingest.storage.archives import DEFAULT_ARCHIVE, ArchiveRegistry, check_name
from ingest.storage.lexical_sync import lexical_path
from ingest.storage.store import NewsStore


@pytest.mark.parametrize("name", ["a", "news-2024", "x" * 40, "0", "-"])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 41, "Upper", "under_score", "sp ace", "dot.s", "slash/x", "é"])
def test_bad_names_are_refused_naming_the_value(name: str) -> None:
    with pytest.raises(ArchiveNameError) as refused:
        check_name(name)
    assert repr(name[:80]) in str(refused.value)
    assert "lowercase letters, digits or hyphens" in str(refused.value)


def test_the_default_archive_is_the_configured_store_exactly(tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store", collection="news")
    registry = ArchiveRegistry(settings.store)
    assert registry.location(DEFAULT_ARCHIVE) == {}
    assert registry.store_settings(DEFAULT_ARCHIVE) == settings.store
    assert registry.names() == [DEFAULT_ARCHIVE]
    assert not (tmp_path / "store").exists()  # nothing is written for a single-archive install


def test_an_embedded_archive_is_a_folder_under_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    settings = Settings(store_dir=store, lexical_dir=tmp_path / "lex")
    named = ArchiveRegistry(settings.store).store_settings("sports")
    assert named.store_dir == store / "archives" / "sports"
    assert named.collection == settings.collection
    assert lexical_path(named) == tmp_path / "lex" / "archives" / "sports" / settings.collection
    plain = ArchiveRegistry(Settings(store_dir=store).store).store_settings("sports")
    assert lexical_path(plain) == store / "archives" / "sports" / "lexical.tantivy" / "news"


def test_a_server_archive_is_a_collection_of_its_own(tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store", chroma_host="127.0.0.1", collection="news")
    named = ArchiveRegistry(settings.store).store_settings("sports")
    assert named.collection == "news--sports"
    assert named.store_dir == settings.store_dir
    assert lexical_path(named) != lexical_path(settings.store)


def test_create_list_and_persist(tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store")
    registry = ArchiveRegistry(settings.store)
    made = registry.create("sports")
    registry.create("business")
    assert made.name == "sports" and made.created_at
    again = ArchiveRegistry(settings.store)  # another process reads the same file
    assert again.names() == ["default", "business", "sports"]
    assert [info.is_default for info in again.listed()] == [True, False, False]
    written = json.loads((tmp_path / "store" / "archives.json").read_text(encoding="utf-8"))
    assert set(written["archives"]) == {"sports", "business"}
    assert not list((tmp_path / "store").glob(".newsdesk-archives-*"))  # no temporary file left
    with pytest.raises(ArchiveExistsError):
        registry.create("sports")
    with pytest.raises(ArchiveNameError, match="default"):
        registry.create("default")
    with pytest.raises(ArchiveNotFoundError, match="'golf'"):
        registry.require("golf")


def test_remove_needs_the_confirmation_and_never_takes_the_default(tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store")
    registry = ArchiveRegistry(settings.store)
    registry.create("sports")
    store = NewsStore(registry.store_settings("sports"))  # the archive's data exists
    store.close()
    folder = tmp_path / "store" / "archives" / "sports"
    assert folder.is_dir()
    with pytest.raises(NamedArchiveError, match="confirm with --yes"):
        registry.remove("sports", delete_data=False)
    assert folder.is_dir() and registry.exists("sports")
    with pytest.raises(ArchiveNameError, match="cannot be removed"):
        registry.remove("default", delete_data=True)
    with pytest.raises(ArchiveNotFoundError):
        registry.remove("golf", delete_data=True)
    registry.remove("sports", delete_data=True)
    assert not folder.exists()
    assert registry.names() == ["default"]


def test_a_backup_of_the_default_archive_leaves_the_named_ones_out_and_a_restore_keeps_them(
    tmp_path: Path,
) -> None:
    from ingest.storage.backup import backup_store, restore_store

    settings = Settings(store_dir=tmp_path / "store")
    NewsStore(settings.store).close()
    registry = ArchiveRegistry(settings.store)
    registry.create("sports")
    NewsStore(registry.store_settings("sports")).close()
    backup_store(settings.store, tmp_path / "backup")
    assert (tmp_path / "backup" / "store" / "chroma.sqlite3").is_file()
    assert not (tmp_path / "backup" / "store" / "archives").exists()
    assert not (tmp_path / "backup" / "store" / "archives.json").exists()
    restore_store(settings.store, tmp_path / "backup", force=True)
    assert (tmp_path / "store" / "archives" / "sports").is_dir()
    assert ArchiveRegistry(settings.store).names() == ["default", "sports"]
    backup_store(registry.store_settings("sports"), tmp_path / "sports-backup")  # an archive's own
    assert (tmp_path / "sports-backup" / "manifest.json").is_file()
