"""Permissions per archive (issue 28): API keys that read or write only some archives. A key
without read on an archive gets 403 from its routes and never sees it listed; today's keys (no
``key_permissions``) keep reading and writing every archive. Real model, real Chroma, in process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.archives import Archives
from assistant.core.access import FULL_ACCESS, READ_ACCESS, Grants, Level
from assistant.core.errors import ConfigError
from assistant.frontends.http.api import create_api
from assistant.frontends.http.archives import add_archive_routes
from assistant.frontends.http.principals import KeyRing
from assistant.service import Assistant
from ingest.embedding.embedder import Embedder
from tests.assistant.conftest_api import OTHER_RW_KEY, RO_KEY, RW_KEY, sample_assistant
from tests.assistant.frontends.http.test_archives_api import CROISSANT, LIGHTHOUSE

SPORTS_KEY = "sports-reader-key-0123456789"
DESK_KEY = "sports-writer-key-0123456789"
KEYS = f"{RW_KEY},{RO_KEY}:ro,{SPORTS_KEY},{DESK_KEY},{OTHER_RW_KEY}:ro"
PERMISSIONS = {"key#3": "sports:read", "key#4": "sports:write, politics:read", "key#5": "*:write"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[TestClient]:
    assistant: Assistant = sample_assistant(tmp_path_factory.mktemp("permissions"), embedder)
    settings = assistant.settings.model_copy(
        update={"api_keys": SecretStr(KEYS), "key_permissions": PERMISSIONS}
    )
    api = create_api(assistant, settings)
    add_archive_routes(api, Archives(settings, assistant))
    with TestClient(api, base_url="http://127.0.0.1") as client:
        for name in ("sports", "politics"):
            assert (
                client.post("/api/archives", json={"name": name}, headers=bearer(RW_KEY)).status_code == 201
            )
        for name, doc in (("sports", LIGHTHOUSE), ("politics", CROISSANT)):
            done = client.post(
                f"/api/archives/{name}/ingest", json={"documents": [doc]}, headers=bearer(RW_KEY)
            )
            assert done.status_code == 200, done.text
        yield client


def names(client: TestClient, key: str) -> list[str]:
    listed = client.get("/api/archives", headers=bearer(key))
    assert listed.status_code == 200, listed.text
    return [a["name"] for a in listed.json()]


def test_grants_parse_union_and_cap() -> None:
    sports = Grants.parse("sports:read, politics:write")
    assert sports.can_read("sports") and not sports.can_write("sports") and sports.can_write("politics")
    assert not sports.can_read("default") and not sports.can_read("wire")
    admins = Grants.parse("*:write")
    both = Grants.union([sports, Grants.parse("wire:read")])
    assert both.readable(["default", "sports", "wire", "politics"]) == ["sports", "wire", "politics"]
    assert admins.can_write("anything") and not admins.capped(Level.READ).can_write("anything")
    assert FULL_ACCESS.can_write("x") and READ_ACCESS.can_read("x") and not READ_ACCESS.can_write("x")
    with pytest.raises(ValueError, match="'sports' is not ARCHIVE:read"):
        Grants.parse("sports")


def test_a_permission_for_a_key_that_is_not_configured_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="key_permissions names 'key#3', but NEWSDESK_API_KEYS has 2"):
        KeyRing(f"{RW_KEY},{RO_KEY}", {"key#3": "sports:read"})


def test_keys_see_only_the_archives_they_may_read(keyed: TestClient) -> None:
    assert names(keyed, RW_KEY) == ["default", "politics", "sports"]  # today's keys: every archive
    assert names(keyed, RO_KEY) == ["default", "politics", "sports"]
    assert names(keyed, SPORTS_KEY) == ["sports"]
    assert names(keyed, DESK_KEY) == ["politics", "sports"]
    assert names(keyed, OTHER_RW_KEY) == ["default", "politics", "sports"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/archives/politics/ask", {"question": "Which baker won the croissant contest?"}),
        ("POST", "/api/archives/politics/ask/stream", {"question": "Which baker won?"}),
        ("GET", "/api/archives/politics/stats", None),
        ("GET", "/api/archives/politics/documents/beta-croissant", None),
        ("GET", "/api/archives/nowhere/stats", None),  # 403, not 404: no key learns what exists
        ("POST", "/api/ask", {"question": "Who led the Russian delegation to Damascus?"}),
        ("GET", "/api/stats", None),
    ],
)
def test_a_key_without_read_gets_403_from_the_archives_routes(
    keyed: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    refused = keyed.request(method, path, json=body, headers=bearer(SPORTS_KEY))
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"].startswith("this API key may not read archive")
    assert "Dupuis" not in refused.text


def test_a_key_reads_and_writes_exactly_what_it_is_given(keyed: TestClient) -> None:
    asked = keyed.post(
        "/api/archives/sports/ask",
        json={"question": "Who restored the lens of the Lindesnes lighthouse?"},
        headers=bearer(SPORTS_KEY),
    )
    assert asked.status_code == 200 and {c["doc_id"] for c in asked.json()["citations"]} == {
        "alpha-lighthouse"
    }
    reader = keyed.post(
        "/api/archives/sports/ingest", json={"documents": [CROISSANT]}, headers=bearer(SPORTS_KEY)
    )
    assert reader.status_code == 403 and reader.json() == {"error": "this API key is read-only"}
    document = {**CROISSANT, "id": "sports-croissant"}
    writer = keyed.post(
        "/api/archives/sports/ingest", json={"documents": [document]}, headers=bearer(DESK_KEY)
    )
    assert writer.status_code == 200, writer.text
    assert (
        keyed.delete("/api/archives/sports/documents/sports-croissant", headers=bearer(DESK_KEY)).status_code
        == 200
    )
    elsewhere = keyed.post(
        "/api/archives/politics/ingest", json={"documents": [document]}, headers=bearer(DESK_KEY)
    )
    assert elsewhere.status_code == 403
    assert elsewhere.json() == {"error": "this API key may not write to archive 'politics'"}
    assert keyed.post("/api/archives", json={"name": "wire"}, headers=bearer(DESK_KEY)).status_code == 403
    assert keyed.delete("/api/archives/politics", headers=bearer(DESK_KEY)).status_code == 403
    # a ":ro" key given "*:write" still only reads
    capped = keyed.post(
        "/api/archives/sports/ingest", json={"documents": [document]}, headers=bearer(OTHER_RW_KEY)
    )
    assert capped.status_code == 403
