"""Permissions per archive (issue 28): API keys that read or write only some archives. A key
without read on an archive gets 403 from its routes and never sees it listed; today's keys (no
``key_permissions``) keep reading and writing every archive. Real model, real Chroma, in process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.archives import Archives, merge_answers
from assistant.core.access import FULL_ACCESS, READ_ACCESS, Grants, Level
from assistant.core.errors import ArchiveForbiddenError, ConfigError
from assistant.frontends.http.api import create_api
from assistant.frontends.http.archives import add_archive_routes
from assistant.frontends.http.feeds import add_feed_routes
from assistant.frontends.http.principals import KeyRing
from assistant.pipeline.request import Request
from assistant.service import Assistant
from assistant.types import Answer, Citation
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
def archives(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Archives:
    assistant: Assistant = sample_assistant(tmp_path_factory.mktemp("permissions"), embedder)
    settings = assistant.settings.model_copy(
        update={"api_keys": SecretStr(KEYS), "key_permissions": PERMISSIONS}
    )
    return Archives(settings, assistant)


@pytest.fixture(scope="module")
def keyed(archives: Archives) -> Iterator[TestClient]:
    api = create_api(archives.default, archives.settings)
    add_archive_routes(api, archives)
    add_feed_routes(api, archives)
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
        ("GET", "/api/feeds", None),  # the default archive's feeds
        ("GET", "/api/archives/politics/feeds", None),
        ("GET", "/api/archives/nowhere/feeds", None),
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


def test_an_archives_feeds_are_read_and_changed_with_that_archives_permissions(keyed: TestClient) -> None:
    feed = {"url": "https://news.test/rss", "every": "1h"}
    reader = keyed.post("/api/archives/sports/feeds", json=feed, headers=bearer(SPORTS_KEY))
    assert reader.status_code == 403 and reader.json() == {"error": "this API key is read-only"}
    added = keyed.post("/api/archives/sports/feeds", json=feed, headers=bearer(DESK_KEY))
    assert added.status_code == 200, added.text
    feed_id = added.json()["feed_id"]
    listed = keyed.get("/api/archives/sports/feeds", headers=bearer(SPORTS_KEY))
    assert listed.status_code == 200 and [f["feed_id"] for f in listed.json()] == [feed_id]
    assert keyed.get("/api/feeds", headers=bearer(RW_KEY)).json() == []  # not the default archive's
    assert keyed.get("/api/archives/politics/feeds", headers=bearer(DESK_KEY)).json() == []
    elsewhere = keyed.post("/api/archives/politics/feeds", json=feed, headers=bearer(DESK_KEY))
    assert elsewhere.status_code == 403
    assert elsewhere.json() == {"error": "this API key may not write to archive 'politics'"}
    for refused in (
        keyed.post("/api/archives/sports/feeds/sync", json={}, headers=bearer(SPORTS_KEY)),
        keyed.delete(f"/api/archives/sports/feeds/{feed_id}", headers=bearer(SPORTS_KEY)),
    ):
        assert refused.status_code == 403, refused.text
    missing = keyed.get("/api/archives/nowhere/feeds", headers=bearer(RW_KEY))
    assert missing.status_code == 404 and "nowhere" in missing.json()["error"]
    removed = keyed.delete(f"/api/archives/sports/feeds/{feed_id}", headers=bearer(DESK_KEY))
    assert removed.status_code == 200 and removed.json() == {"removed": "https://news.test/rss"}
    gone = keyed.delete(f"/api/archives/sports/feeds/{feed_id}", headers=bearer(DESK_KEY))
    assert gone.status_code == 404 and "no followed feed" in gone.json()["error"]


BOTH_QUESTION = "Who restored the lighthouse lens, and which baker won the croissant contest?"
ARCHIVE_OF = {"alpha-lighthouse": "sports", "beta-croissant": "politics"}


def assert_citations_name_their_archives(body: dict[str, Any]) -> set[str]:
    """The archives cited; each citation's article is in the archive it names, and each [n] of the
    answer text is a citation's number."""
    for citation in body["citations"]:
        assert ARCHIVE_OF.get(citation["doc_id"], "default") == citation["archive"], citation
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])}
    assert markers <= {c["n"] for c in body["citations"]}
    return {c["archive"] for c in body["citations"]}


def test_asking_across_archives_never_reads_one_the_asker_may_not(
    keyed: TestClient, archives: Archives
) -> None:
    """At the assistant level: an archive the grants do not read is refused before it is opened, so
    none of its sentences can be retrieved; asked of both with both readable, each archive answers
    from its own articles and every citation names its archive."""
    archives._built.pop("politics", None)
    with pytest.raises(ArchiveForbiddenError, match="may not read archive 'politics'"):
        archives.ask_across(Request(BOTH_QUESTION), ["sports", "politics"], Grants.parse("sports:read"))
    assert "politics" not in archives._built  # never opened, never searched
    with pytest.raises(ArchiveForbiddenError):
        list(archives.stream_across(Request(BOTH_QUESTION), ["politics"], Grants.parse("sports:write")))
    both = archives.ask_across(Request(BOTH_QUESTION), ["sports", "politics"], Grants.parse("*:read"))
    cited = assert_citations_name_their_archives(both.model_dump())
    assert cited == {"sports", "politics"}, both.model_dump()
    assert any(n.startswith("Asked the archives sports, politics") for n in both.notices)
    only_sports = archives.ask_across(Request(BOTH_QUESTION), ["sports"], Grants.parse("sports:read"))
    assert {c.archive for c in only_sports.citations} == {"sports"}
    assert "Dupuis" not in only_sports.answer


def test_the_api_asks_several_archives_at_once_within_the_keys_grants(keyed: TestClient) -> None:
    both = keyed.post(
        "/api/archives/sports,politics/ask", json={"question": BOTH_QUESTION}, headers=bearer(DESK_KEY)
    )
    assert both.status_code == 200, both.text
    assert assert_citations_name_their_archives(both.json()) == {"sports", "politics"}
    streamed = keyed.post(
        "/api/archives/politics,sports/ask/stream", json={"question": BOTH_QUESTION}, headers=bearer(DESK_KEY)
    )
    assert streamed.status_code == 200 and "event: answer" in streamed.text
    assert '"archive":"politics"' in streamed.text and '"archive":"sports"' in streamed.text
    refused = keyed.post(
        "/api/archives/sports,politics/ask", json={"question": BOTH_QUESTION}, headers=bearer(SPORTS_KEY)
    )
    assert refused.status_code == 403 and "Dupuis" not in refused.text
    assert refused.json() == {"error": "this API key may not read archive 'politics'"}
    too_many = keyed.post(
        "/api/archives/" + ",".join(["sports"] * 2 + [f"a{i}" for i in range(8)]) + "/ask",
        json={"question": BOTH_QUESTION},
        headers=bearer(RW_KEY),
    )
    assert too_many.status_code == 400 and "ask 1 to 8 archives at once" in too_many.json()["error"]


def citation(n: int, doc_id: str, score: float) -> Citation:
    return Citation(n=n, sentence=doc_id, doc_id=doc_id, char_start=0, char_end=1, score=score)


def test_merged_answers_put_the_best_first_and_number_on() -> None:
    weak = Answer(
        question="q",
        answer="Weak [1] and [2].",
        citations=[citation(1, "w1", 0.2), citation(2, "w2", 0.1)],
        grounded=True,
    )
    strong = Answer(question="q", answer="Strong [1].", citations=[citation(1, "s1", 0.9)], grounded=True)
    refusal = Answer(question="q", answer="Nothing found.", grounded=False)
    merged = merge_answers([("weak", weak), ("none", refusal), ("strong", strong)])
    assert merged.answer == "Strong [1].\n\nWeak [2] and [3]."
    assert [(c.n, c.doc_id, c.archive) for c in merged.citations] == [
        (1, "s1", "strong"),
        (2, "w1", "weak"),
        (3, "w2", "weak"),
    ]
    nothing = merge_answers([("none", refusal), ("other", refusal)])
    assert not nothing.grounded and nothing.notices == ["Asked the archives none, other."]
