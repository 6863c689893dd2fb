"""Named archives on a Chroma server: a collection of its own, removed with its lexical index."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.archives import archive_settings
from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder
from ingest.storage.archives import ArchiveRegistry
from ingest.storage.lexical_sync import lexical_path
from ingest.storage.store import NewsStore
from tests.chroma_server import ChromaServer, chroma_server
from tests.conftest import SAMPLE

pytestmark = pytest.mark.server
__all__ = ["chroma_server"]  # the module-scoped server fixture, used by name below


def test_an_archive_on_a_server_is_its_own_collection(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    settings = chroma_server.settings(tmp_path)
    registry = ArchiveRegistry(settings.store)
    registry.create("sports")
    named = archive_settings(settings, "sports")
    assert named.collection == f"{settings.collection}--sports"
    report = IngestComponents.build(named, embedder=embedder).pipeline.run([str(SAMPLE)], show_progress=False)
    assert report.added == 1
    default = NewsStore(settings.store)
    assert default.stats().articles == 0
    archive = NewsStore(named.store)
    assert archive.stats().articles == 1
    names = set(archive.collection_counts())
    assert {f"{named.collection}_articles", f"{named.collection}_sentences"} <= names
    assert lexical_path(named.store).is_dir()
    archive.close()

    registry.remove("sports", delete_data=True)
    left = set(default.collection_counts())
    assert not {n for n in left if n.startswith(f"{named.collection}_")}
    assert f"{settings.collection}_articles" in left  # the default archive's stay
    assert not lexical_path(named.store).exists()
    assert registry.names() == ["default"]
