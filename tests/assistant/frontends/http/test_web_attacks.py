"""What a hostile client tries against the served app (real model, real Chroma, uvicorn on 127.0.0.1).

No browser: each attack is sent as the raw requests an attacker would write, to the Gradio queue
(``/gradio_api/queue/join`` then the event stream) or to the JSON API. One real assistant with the
sample corpus is built for the module and served without keys (the development default).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ingest.embedding.embedder import Embedder
from tests.assistant.conftest_api import (
    Served,
    api_settings,
    free_port,
    sample_assistant,
    serve_app,
)
from tests.conftest import REPO

if TYPE_CHECKING:
    from assistant.service import Assistant

SECRET = "The vault code of the Quillport harbour office is 7741-ALPHA-TANGO."


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attacks")


@pytest.fixture(scope="module")
def assistant(data: Path, embedder: Embedder) -> Assistant:
    return sample_assistant(data, embedder)


@pytest.fixture(scope="module")
def app(data: Path, assistant: Assistant) -> Iterator[Served]:
    with serve_app(assistant, api_settings(data, port=free_port())) as served:
        yield served


@pytest.fixture(scope="module")
def client(app: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.base, timeout=120) as http:
        yield http


# --- the Gradio queue, driven without a browser ------------------------------------------------


def fn_index(client: httpx.Client, api_name: str) -> int:
    """The queue index of the UI event whose function is ``api_name`` (from Gradio's /config)."""
    config = client.get("/config").json()
    for index, dep in enumerate(config["dependencies"]):
        if dep.get("api_name") == api_name:
            return int(dep.get("id", index))
    raise AssertionError(f"no UI event named {api_name!r}")


def queue_call(client: httpx.Client, api_name: str, data: list[Any]) -> dict[str, Any]:
    """Join the queue with ``data`` as the event's inputs; the final ``process_completed`` message."""
    session = uuid.uuid4().hex[:12]
    joined = client.post(
        "/gradio_api/queue/join",
        json={
            "data": data,
            "fn_index": fn_index(client, api_name),
            "session_hash": session,
            "event_data": None,
            "trigger_id": None,
        },
    )
    assert joined.status_code == 200, joined.text
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as events:
        for line in events.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                return dict(message)
    raise AssertionError("the queue closed without a process_completed message")


def file_data(path: str) -> dict[str, Any]:
    return {"path": path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


def stored_texts(assistant: Assistant) -> str:
    return "\n".join(article.text for article in assistant.components.store.iter_articles())


def test_gradio_queue_cannot_ingest_a_server_path(
    client: httpx.Client, assistant: Assistant, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    before = assistant.stats().articles
    result = queue_call(client, "ingest", [[file_data(str(secret))], ""])
    assert not result.get("success", False)
    assert "Added" not in json.dumps(result)
    assert assistant.stats().articles == before
    assert "7741-ALPHA-TANGO" not in stored_texts(assistant)


def test_gradio_queue_ingests_a_file_the_server_received_as_an_upload(
    client: httpx.Client, assistant: Assistant, tmp_path: Path
) -> None:
    upload = tmp_path / "bakery-vote.txt"
    upload.write_text(
        "The Testville zoning board approved fourteen new neighbourhood bakeries on Monday.\n",
        encoding="utf-8",
    )
    with upload.open("rb") as handle:
        sent = client.post("/gradio_api/upload", files={"files": ("bakery-vote.txt", handle, "text/plain")})
    assert sent.status_code == 200, sent.text
    server_path = sent.json()[0]
    result = queue_call(client, "ingest", [[file_data(server_path)], ""])
    assert result.get("success"), result
    assert "fourteen new neighbourhood bakeries" in stored_texts(assistant)


# --- text that is not valid Unicode ----------------------------------------------------------


@pytest.mark.parametrize("route", ["/api/ask", "/api/ask/stream"])
@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "Who led the delegation \\ud800 to Damascus?"}',
        b'{"question": "Who led it?", "history": [{"role": "user", "content": "Damascus \\udfff"}]}',
    ],
)
def test_a_lone_surrogate_in_a_question_is_a_400_naming_the_problem(
    client: httpx.Client, route: str, body: bytes
) -> None:
    response = client.post(route, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert "lone surrogate" in response.json()["error"]


def test_invalid_utf8_in_a_cli_question_is_a_one_line_error(tmp_path: Path) -> None:
    question = b"Who led the delegation \xff\xfe to Damascus?"
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "--store", str(tmp_path / "store"), "ask", question],
        capture_output=True,
        cwd=REPO,
        timeout=300,
    )
    errors = done.stderr.decode("utf-8", "replace").strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(errors) == 1 and errors[0].startswith("error: the question is not valid text"), errors


# --- links, cross-site writes, forwarded addresses, server paths -----------------------------

FEED = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Quillport Courier</title>
<item><title>Ferry timetable changes</title><guid>ferry-1</guid>
<description>The Quillport ferries will run every ninety minutes through the winter season.</description>
</item></channel></rss>
"""


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", "data:text/html,<b>x</b>", "/relative"])
def test_an_article_url_that_is_not_http_is_refused_at_ingest(
    client: httpx.Client, assistant: Assistant, url: str
) -> None:
    document = {
        "id": "js-link",
        "text": "The harbour office opened a new ferry terminal on Monday.",
        "url": url,
    }
    response = client.post("/api/ingest", json={"documents": [document]})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["added"] == 0 and "`url`" in result["failed"][0]["error"]
    assert "is not an http(s) URL" in result["failed"][0]["error"]
    assert client.get("/api/documents/js-link").status_code == 404


def test_a_stored_javascript_url_never_reaches_an_answer_as_a_link(
    client: httpx.Client, assistant: Assistant
) -> None:
    from ingest.types import Article

    text = "The Quillport lighthouse keeper retired after forty-one years of service on Friday."
    article = Article(doc_id="old-js-link", text=text, title="Lighthouse", url="javascript:alert(1)")
    assert assistant.ingest_articles([article]).added == 1  # as a store written before the check
    response = client.post(
        "/api/ask", json={"question": "How long did the Quillport lighthouse keeper serve?"}
    )
    cited = [c for c in response.json()["citations"] if c["doc_id"] == "old-js-link"]
    assert cited and all(c["url"] == "" and c["deep_link"] == "" for c in cited)


def test_a_cross_site_form_cannot_ingest_or_delete_without_keys(
    client: httpx.Client, app: Served, assistant: Assistant
) -> None:
    evil = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    files = {
        "files": (
            "csrf.txt",
            b"The Quillport mayor resigned on Tuesday after the ferry scandal.",
            "text/plain",
        )
    }
    forged = client.post("/api/ingest", files=files, headers=evil)
    assert forged.status_code == 403 and "cross-site" in forged.json()["error"]
    assert "mayor resigned" not in stored_texts(assistant)
    doc_id = next(assistant.components.store.iter_articles()).doc_id
    assert client.delete(f"/api/documents/{doc_id}", headers=evil).status_code == 403
    own_page = client.post("/api/ingest", files=files, headers={"Origin": app.base})
    assert own_page.status_code == 200, own_page.text
    assert "mayor resigned" in stored_texts(assistant)


def test_x_forwarded_for_cannot_reset_the_rate_limit_unless_a_proxy_is_configured(
    data: Path, assistant: Assistant
) -> None:
    def statuses(settings_overrides: dict[str, Any]) -> list[int]:
        settings = api_settings(data, port=free_port(), rate_limit_per_minute=3, **settings_overrides)
        with serve_app(assistant, settings) as served, httpx.Client(base_url=served.base) as http:
            return [
                http.get("/api/stats", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                for i in range(5)
            ]

    assert statuses({}) == [200, 200, 200, 429, 429]
    assert statuses({"forwarded_allow_ips": "127.0.0.1"}) == [200] * 5  # behind a configured proxy


def test_a_feed_upload_keeps_no_server_path_in_its_items_metadata(client: httpx.Client, data: Path) -> None:
    response = client.post("/api/ingest", files={"files": ("courier.rss", FEED, "application/rss+xml")})
    assert response.status_code == 200, response.text
    (doc_id,) = response.json()["doc_ids"]
    metadata = client.get(f"/api/documents/{doc_id}").json()["metadata"]
    assert metadata["x_feed"] == "courier.rss"
    leaked = {k: v for k, v in metadata.items() if isinstance(v, str) and ("/" in v and "upload" in v)}
    assert not leaked, leaked
    assert str(data) not in json.dumps(metadata)
