"""Named archives in the HTTP API (issue 28), in process: one app, the default archive (the sample
corpus) and two named archives, each answering only from its own articles (real model, real Chroma)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.archives import Archives
from assistant.frontends.http.api import create_api
from assistant.frontends.http.archives import add_archive_routes
from assistant.frontends.http.responses import is_upload_path
from assistant.service import Assistant
from ingest.embedding.embedder import Embedder
from tests.assistant.conftest_api import (
    RO_KEY,
    RW_KEY,
    SAMPLE_QUESTION,
    sample_assistant,
)

LIGHTHOUSE = {
    "id": "alpha-lighthouse",
    "title": "Keeper restores the Lindesnes lighthouse lens",
    "published": "2024-05-02",
    "source": "Coast Weekly",
    "text": (
        "Ingrid Solberg, the last keeper of the Lindesnes lighthouse, has restored its original glass lens. "
        "The restoration of the lighthouse lens took Solberg four winters of careful work. "
        "The lens was made in Paris in 1854 and had been cracked by a storm. "
        "Visitors can see the restored lens from June, the Norwegian coastal authority said. "
        "Solberg said the lighthouse would shine again on the longest night of the year.\n"
    ),
}
CROISSANT = {
    "id": "beta-croissant",
    "title": "Lyon baker wins the national croissant contest",
    "published": "2024-03-11",
    "source": "Food Daily",
    "text": (
        "Marcel Dupuis, a baker from Lyon, won the national croissant contest on Sunday. "
        "The jury praised the butter layers of the croissant Dupuis baked in the final round. "
        "Dupuis has run his bakery on the Rue Mercière for twenty years. "
        "The prize is a trip to Tokyo, where he will teach a class on laminated dough. "
        "Forty bakers from across France entered the croissant contest this year.\n"
    ),
}
LIGHTHOUSE_QUESTION = "Who restored the lens of the Lindesnes lighthouse?"
CROISSANT_QUESTION = "Which baker won the national croissant contest?"


@pytest.fixture(scope="module")
def default_assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Assistant]:
    yield sample_assistant(tmp_path_factory.mktemp("archives-api"), embedder)


def client_of(assistant: Assistant, **overrides: Any) -> TestClient:
    settings = assistant.settings.model_copy(update=overrides)
    api = create_api(assistant, settings)
    add_archive_routes(api, Archives(settings, assistant))
    return TestClient(api, base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def client(default_assistant: Assistant) -> Iterator[TestClient]:
    with client_of(default_assistant) as served:
        yield served


def cited(body: dict[str, Any]) -> set[str]:
    return {c["doc_id"] for c in body["citations"]}


def ingest(client: TestClient, name: str, document: dict[str, Any]) -> None:
    done = client.post(f"/api/archives/{name}/ingest", json={"documents": [document]})
    assert done.status_code == 200, done.text
    assert done.json()["added"] == 1 and done.json()["doc_ids"] == [document["id"]]


def test_two_archives_answer_only_from_their_own_articles(client: TestClient) -> None:
    for name in ("alpha", "beta"):
        made = client.post("/api/archives", json={"name": name})
        assert made.status_code == 201, made.text
        assert made.json() == {"name": name, "created_at": made.json()["created_at"], "default": False}
    ingest(client, "alpha", LIGHTHOUSE)
    ingest(client, "beta", CROISSANT)
    listed = client.get("/api/archives").json()
    assert [a["name"] for a in listed] == ["default", "alpha", "beta"]

    alpha = client.post("/api/archives/alpha/ask", json={"question": LIGHTHOUSE_QUESTION}).json()
    assert alpha["grounded"] and cited(alpha) == {"alpha-lighthouse"}
    assert "Solberg" in alpha["answer"]
    beta = client.post("/api/archives/beta/ask", json={"question": CROISSANT_QUESTION}).json()
    assert beta["grounded"] and cited(beta) == {"beta-croissant"}
    assert "Dupuis" in beta["answer"]
    crossed = client.post("/api/archives/beta/ask", json={"question": LIGHTHOUSE_QUESTION}).json()
    assert cited(crossed) <= {"beta-croissant"}
    default = client.post("/api/ask", json={"question": LIGHTHOUSE_QUESTION}).json()
    assert not cited(default) & {"alpha-lighthouse", "beta-croissant"}

    streamed = client.post("/api/archives/alpha/ask/stream", json={"question": LIGHTHOUSE_QUESTION})
    assert streamed.status_code == 200 and "event: answer" in streamed.text
    assert "alpha-lighthouse" in streamed.text and "beta-croissant" not in streamed.text

    for name, doc_id in (("alpha", "alpha-lighthouse"), ("beta", "beta-croissant")):
        stats = client.get(f"/api/archives/{name}/stats").json()
        assert stats["articles"] == 1 and stats["sources"] == {
            ("Coast Weekly" if name == "alpha" else "Food Daily"): 1
        }
        assert client.get(f"/api/archives/{name}/documents/{doc_id}").json()["doc_id"] == doc_id
    wrong = client.get("/api/archives/beta/documents/alpha-lighthouse")
    assert wrong.status_code == 404 and "alpha-lighthouse" in wrong.json()["error"]
    assert client.get("/api/stats").json()["articles"] == 1  # the default archive: the sample only

    deleted = client.delete("/api/archives/alpha/documents/alpha-lighthouse")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": "alpha-lighthouse"}
    assert client.get("/api/archives/alpha/stats").json()["articles"] == 0
    assert client.get("/api/archives/beta/stats").json()["articles"] == 1


def test_the_default_routes_are_unchanged(client: TestClient, default_assistant: Assistant) -> None:
    answer = client.post("/api/ask", json={"question": SAMPLE_QUESTION})
    assert answer.status_code == 200 and answer.json()["grounded"]
    by_name = client.post("/api/archives/default/ask", json={"question": SAMPLE_QUESTION})
    assert cited(by_name.json()) == cited(answer.json())
    assert client.get("/api/archives/default/stats").json() == client.get("/api/stats").json()

    plain = create_api(default_assistant, default_assistant.settings).openapi()
    with_archives = client.app.openapi()  # type: ignore[attr-defined]
    for path, operations in plain["paths"].items():
        assert with_archives["paths"][path] == operations, path
    for name, schema in plain["components"]["schemas"].items():
        assert with_archives["components"]["schemas"][name] == schema, name
    assert "HTTPValidationError" not in with_archives["components"]["schemas"]  # every 422 is ours
    added = set(with_archives["paths"]) - set(plain["paths"])
    assert added == {
        "/api/archives",
        "/api/archives/{name}",
        "/api/archives/{name}/ask",
        "/api/archives/{name}/ask/stream",
        "/api/archives/{name}/ingest",
        "/api/archives/{name}/stats",
        "/api/archives/{name}/documents/{doc_id}",
    }
    assert (
        (with_archives["paths"]["/api/archives/{name}/ingest"]["post"]["requestBody"])
        == (plain["paths"]["/api/ingest"]["post"]["requestBody"])
    )


@pytest.mark.parametrize("name", ["Upper", "under_score", "x" * 41])
def test_bad_names_are_a_400_naming_the_value(client: TestClient, name: str) -> None:
    made = client.post("/api/archives", json={"name": name})
    assert made.status_code == 400 and repr(name) in made.json()["error"]
    asked = client.post(f"/api/archives/{name}/ask", json={"question": "Who?"})
    assert asked.status_code == 400 and "lowercase letters, digits or hyphens" in asked.json()["error"]
    assert client.post("/api/archives", json={"name": "default"}).status_code == 400


def test_a_missing_archive_is_a_404_json_error(client: TestClient) -> None:
    for method, path, body in (
        ("POST", "/api/archives/nowhere/ask", {"question": "Who?"}),
        ("POST", "/api/archives/nowhere/ask/stream", {"question": "Who?"}),
        ("POST", "/api/archives/nowhere/ingest", {"documents": [CROISSANT]}),
        ("GET", "/api/archives/nowhere/stats", None),
        ("GET", "/api/archives/nowhere/documents/x", None),
        ("DELETE", "/api/archives/nowhere", None),
    ):
        got = client.request(method, path, json=body)
        assert got.status_code == 404, (path, got.text)
        assert got.json() == {"error": "no archive 'nowhere' (see `newsdesk archives list`)"}


def test_create_and_remove_need_the_write_key(default_assistant: Assistant) -> None:
    keys = SecretStr(f"{RW_KEY},{RO_KEY}:ro")
    with client_of(default_assistant, api_keys=keys) as keyed:
        rw, ro = ({"Authorization": f"Bearer {key}"} for key in (RW_KEY, RO_KEY))
        assert keyed.get("/api/archives").status_code == 401
        assert keyed.get("/api/archives", headers=ro).status_code == 200
        assert keyed.post("/api/archives", json={"name": "gamma"}, headers=ro).status_code == 403
        assert keyed.post("/api/archives", json={"name": "gamma"}, headers=rw).status_code == 201
        assert keyed.post("/api/archives", json={"name": "gamma"}, headers=rw).status_code == 409
        refused = keyed.post("/api/archives/gamma/ingest", json={"documents": [CROISSANT]}, headers=ro)
        assert refused.status_code == 403
        ingest_rw = keyed.post("/api/archives/gamma/ingest", json={"documents": [CROISSANT]}, headers=rw)
        assert ingest_rw.status_code == 200
        assert keyed.delete("/api/archives/gamma", headers=ro).status_code == 403
        assert keyed.delete("/api/archives/default", headers=rw).status_code == 400
        folder = Path(default_assistant.settings.store_dir) / "archives" / "gamma"
        assert folder.is_dir()
        removed = keyed.delete("/api/archives/gamma", headers=rw)
        assert removed.status_code == 200 and removed.json() == {"removed": "gamma"}
        assert not folder.exists()
        assert keyed.get("/api/archives/gamma/stats", headers=ro).status_code == 404
        assert keyed.post("/api/archives", json={"name": "gamma"}, headers=rw).status_code == 201
        assert keyed.get("/api/archives/gamma/stats", headers=ro).json()["articles"] == 0  # a new, empty one
        assert keyed.get("/api/stats", headers=ro).json()["articles"] == 1


def test_an_archive_ingest_takes_uploads_as_api_ingest_does() -> None:
    assert is_upload_path("/api/ingest") and is_upload_path("/api/archives/sports/ingest")
    assert not is_upload_path("/api/archives/ingest") and not is_upload_path("/api/archives//ingest")
    assert not is_upload_path("/api/ask") and not is_upload_path("/api/archives/x/y/ingest")


def test_one_model_for_every_archive(default_assistant: Assistant) -> None:
    archives = Archives(default_assistant.settings, default_assistant)
    archives.create("delta")
    built = archives.assistant("delta")
    assert built is archives.assistant("delta")  # built once, kept
    assert built.components.embedder is default_assistant.components.embedder
    assert built.components.store is not default_assistant.components.store
    assert archives.assistant("default") is default_assistant
    archives.remove("delta")
    archives.close()
