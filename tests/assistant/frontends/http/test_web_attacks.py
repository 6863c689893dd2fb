"""What a hostile client tries against the served app (real model, real Chroma, uvicorn on 127.0.0.1).

No browser: each attack is sent as the raw requests an attacker would write, to the Gradio queue
(``/gradio_api/queue/join`` then the event stream) or to the JSON API. One real assistant with the
sample corpus is built for the module and served without keys (the development default).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
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
    raw_request,
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


def join_with_file(client: httpx.Client, path: str) -> httpx.Response:
    """Join the queue of the library's ingest event with one file object naming ``path``."""
    body = {"data": [[file_data(path)], ""], "fn_index": fn_index(client, "ingest"), "session_hash": "forge"}
    return client.post("/gradio_api/queue/join", json=body)


def test_gradio_queue_cannot_ingest_a_server_path(
    client: httpx.Client, assistant: Assistant, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    before = assistant.stats().articles
    refused = join_with_file(client, str(secret))
    assert refused.status_code == 403 and "uploaded" in refused.json()["error"]
    assert join_with_file(client, f"{tempfile.gettempdir()}/gradio/../../{secret}").status_code == 403
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
    from assistant.core.types import Article

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


# --- the second probe: DNS rebinding, the chat's rate limit, methods, date ranges, log lines ----


def test_dns_rebinding_host_cannot_ingest_or_delete_without_keys(
    client: httpx.Client, app: Served, assistant: Assistant
) -> None:
    rebound = f"rebind.evil.example:{app.port}"
    page = {"Host": rebound, "Origin": f"http://{rebound}"}  # a same-origin request, as the browser sees it
    files = {"files": ("rebind.txt", b"The Quillport council sold the harbour on Sunday.", "text/plain")}
    forged = client.post("/api/ingest", files=files, headers=page)
    assert forged.status_code == 400 and "Host" in forged.json()["error"]
    assert "sold the harbour" not in stored_texts(assistant)
    doc_id = next(assistant.components.store.iter_articles()).doc_id
    assert client.delete(f"/api/documents/{doc_id}", headers=page).status_code == 400
    assert client.get(f"/api/documents/{doc_id}").status_code == 200
    for path in ["/", "/config", "/embed/widget.js"]:  # the UI and the widget too
        assert client.get(path, headers={"Host": rebound}).status_code == 400, path
    joined = client.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0}, headers=page)
    assert joined.status_code == 400
    for host in [f"localhost:{app.port}", f"127.0.0.1:{app.port}", f"[::1]:{app.port}"]:
        assert client.get("/api/stats", headers={"Host": host}).status_code == 200, host


def test_the_chat_queue_cannot_answer_past_the_rate_limit_the_api_has(
    data: Path, assistant: Assistant
) -> None:
    settings = api_settings(data, port=free_port(), rate_limit_per_minute=5)
    with serve_app(assistant, settings) as served, httpx.Client(base_url=served.base, timeout=60) as http:
        chat = fn_index(http, "submit")  # reading /config is not counted: the page and its assets are free
        question = "Who led the Russian delegation?"
        join = {
            "data": [question, [], "", "", "", [], "extractive"],
            "fn_index": chat,
            "session_hash": "flood",
        }
        statuses = [http.post("/gradio_api/queue/join", json=join).status_code for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3, statuses
        limited = http.get("/api/stats")  # one budget for every way in
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", "/api/ask", "POST"),
        ("PUT", "/api/ask", "POST"),
        ("PATCH", "/api/documents/some-id", "DELETE, GET"),
        ("TRACE", "/", "DELETE, GET, HEAD, POST"),
    ],
)
def test_a_method_no_route_takes_is_405_with_allow(app: Served, method: str, path: str, allow: str) -> None:
    response = raw_request(app.port, method, path, {"Host": f"127.0.0.1:{app.port}"})
    assert response.status, response.body
    assert (response.status, response.headers.get("allow")) == (405, allow), response.body


def test_a_date_range_that_ends_before_it_starts_is_answered_as_the_schema_allows(
    client: httpx.Client,
) -> None:
    backwards = {"published_from": "2024-03-01", "published_to": "2024-02-01"}
    response = client.post("/api/ask", json={"question": "Who met in Damascus?", "filters": backwards})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert not answer["grounded"] and answer["citations"] == []
    assert any("is after published_to" in notice for notice in answer["notices"])


def test_a_forged_gradio_path_is_logged_in_one_line_not_a_traceback(
    client: httpx.Client, tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "forged.txt"
    secret.write_text(SECRET, encoding="utf-8")
    capfd.readouterr()
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert join_with_file(client, str(secret)).status_code == 403
        time.sleep(1.0)  # a queued event would be processed (and its traceback printed) by now
    printed = capfd.readouterr()
    logged = [record.getMessage() for record in caplog.records]
    assert "Traceback" not in printed.out + printed.err, (printed.out + printed.err)[-3000:]
    assert [line for line in logged if "forged.txt" in line] == [
        f"403 /gradio_api/queue/join refused: file {str(secret)!r} was not uploaded, from 127.0.0.1"
    ] * 3
