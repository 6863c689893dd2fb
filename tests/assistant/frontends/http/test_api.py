"""The HTTP API against the real app (real model, real Chroma) served by uvicorn on 127.0.0.1.

One real assistant is built for the module (the sample corpus in a temporary store) and served
under three settings at once: ``secured`` (read-write and read-only keys, an allowed portal
origin, small upload limits), ``open`` (no keys: the development default) and ``limited`` (a rate
limit of 3 per minute, and the UI signed in by a trusted proxy header).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ingest.embedding.embedder import Embedder
from tests.assistant.conftest_api import (
    OTHER_RW_KEY,
    RO_KEY,
    RW_KEY,
    SAMPLE_QUESTION,
    Served,
    api_settings,
    bearer,
    free_port,
    parse_sse,
    raw_request,
    sample_assistant,
    serve_app,
    wait_for_health,
)

if TYPE_CHECKING:
    from assistant.service import Assistant

PORTAL = "http://127.0.0.1:9"  # an allowed origin; nothing needs to listen there
EVIL = "http://127.0.0.1:10"
KEYS = f"{RW_KEY},{RO_KEY}:ro,{OTHER_RW_KEY}"
UPLOAD_MAX_FILE = 64 * 1024
UPLOAD_MAX_REQUEST = 256 * 1024
BAKERY = (
    "The Testville zoning board approved fourteen new neighbourhood bakeries on Monday. "
    "Critics said the decision ignored parking concerns."
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api")


@pytest.fixture(scope="module")
def assistant(data: Path, embedder: Embedder) -> Assistant:
    return sample_assistant(data, embedder)


@pytest.fixture(scope="module")
def secured(data: Path, assistant: Assistant) -> Iterator[Served]:
    settings = api_settings(
        data,
        port=free_port(),
        api_keys=KEYS,
        allowed_origins=[PORTAL],
        max_file_bytes=UPLOAD_MAX_FILE,
        upload_max_bytes=UPLOAD_MAX_REQUEST,
        upload_max_files=3,
    )
    with serve_app(assistant, settings) as served:
        yield served


@pytest.fixture(scope="module")
def open_app(data: Path, assistant: Assistant) -> Iterator[Served]:
    with serve_app(assistant, api_settings(data, port=free_port())) as served:
        yield served


@pytest.fixture(scope="module")
def limited(data: Path, assistant: Assistant) -> Iterator[Served]:
    settings = api_settings(
        data, port=free_port(), api_keys=KEYS, rate_limit_per_minute=3, trusted_user_header="X-Forwarded-User"
    )
    with serve_app(assistant, settings) as served:
        yield served


@pytest.fixture(scope="module")
def rw(secured: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=secured.base, headers=bearer(RW_KEY), timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def ro(secured: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=secured.base, headers=bearer(RO_KEY), timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def sample_answer(ro: httpx.Client) -> dict[str, Any]:
    response = ro.post("/api/ask", json={"question": SAMPLE_QUESTION})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def ingest_bakery(client: httpx.Client, doc_id: str) -> dict[str, Any]:
    document = {"id": doc_id, "text": BAKERY, "title": "Testville <b>bakeries</b>", "source": "Test Gazette"}
    response = client.post("/api/ingest", json={"documents": [document]})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# --- happy paths ---------------------------------------------------------------------------------


def test_ask_answers_the_sample_question_with_a_sentence_cited_by_offsets(
    sample_answer: dict[str, Any], ro: httpx.Client
) -> None:
    assert sample_answer["grounded"] is True
    assert "Evkurov" in sample_answer["answer"]
    assert "[1]" in sample_answer["answer"]
    first = sample_answer["citations"][0]
    document = ro.get(f"/api/documents/{first['doc_id']}").json()
    assert document["text"][first["char_start"] : first["char_end"]] == first["sentence"]


def test_streamed_answer_reassembles_into_the_same_answer_as_ask(
    sample_answer: dict[str, Any], ro: httpx.Client
) -> None:
    response = ro.post("/api/ask/stream", json={"question": SAMPLE_QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "answer"] and set(names[:-2]) == {"delta"}
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    cited, final = events[-2][1], events[-1][1]
    assert streamed == cited["answer"] == final["answer"] == sample_answer["answer"]
    assert final["citations"] == sample_answer["citations"]
    assert final["grounded"] == sample_answer["grounded"]
    where = [(c["doc_id"], c["char_start"], c["char_end"], c["sentence"]) for c in cited["citations"]]
    assert where == [(c["doc_id"], c["char_start"], c["char_end"], c["sentence"]) for c in final["citations"]]
    assert final["citations"][0]["corroboration"] is not None  # the news fields come with the last event
    assert all(c["corroboration"] is None for c in cited["citations"])


def test_follow_up_question_uses_the_history(ro: httpx.Client, sample_answer: dict[str, Any]) -> None:
    history = [
        {"role": "user", "content": SAMPLE_QUESTION},
        {"role": "assistant", "content": sample_answer["answer"]},
    ]
    response = ro.post("/api/ask", json={"question": "Whom did he meet there?", "history": history})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["standalone_question"] != ""
    assert answer["question"] == "Whom did he meet there?"


LAST_WEEK_QUESTION = "What happened in Damascus last week?"


@pytest.mark.parametrize("route", ["/api/ask", "/api/ask/stream"])
def test_last_week_in_a_question_is_relative_to_the_today_field(ro: httpx.Client, route: str) -> None:
    response = ro.post(route, json={"question": LAST_WEEK_QUESTION, "today": "2024-03-20"})
    assert response.status_code == 200, response.text
    answer = response.json() if route == "/api/ask" else parse_sse(response.text)[-1][1]
    assert any("2024-03-11 to 2024-03-17" in notice for notice in answer["notices"]), answer["notices"]


@pytest.mark.parametrize("today", ["2024-02-30", "20 March 2024", "2024-03-20T10:00:00", 1710892800])
def test_a_today_that_is_not_a_day_is_a_422_naming_the_field(ro: httpx.Client, today: object) -> None:
    response = ro.post("/api/ask", json={"question": LAST_WEEK_QUESTION, "today": today})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == "today"


def test_ingested_json_document_can_be_read_answered_and_deleted(rw: httpx.Client) -> None:
    result = ingest_bakery(rw, "bakery-1")
    assert (result["added"], result["failed"], result["doc_ids"]) == (1, [], ["bakery-1"])
    assert ingest_bakery(rw, "bakery-1")["unchanged"] == 1
    document = rw.get("/api/documents/bakery-1").json()
    assert document["text"] == BAKERY
    assert document["metadata"]["title"] == "Testville <b>bakeries</b>"
    answer = rw.post(
        "/api/ask", json={"question": "How many bakeries did the Testville board approve?"}
    ).json()
    assert any(c["doc_id"] == "bakery-1" for c in answer["citations"])
    assert rw.delete("/api/documents/bakery-1").json() == {"deleted": "bakery-1"}
    missing = rw.get("/api/documents/bakery-1")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no article with doc_id 'bakery-1' is stored"}


def test_uploaded_file_gets_a_sanitized_name_and_reupload_changes_nothing(
    rw: httpx.Client, secured: Served
) -> None:
    files = {"files": ("../../etc/Bakery news.txt", BAKERY.encode(), "text/plain")}
    first = rw.post("/api/ingest", files=files)
    assert first.status_code == 200, first.text
    assert (first.json()["added"], first.json()["failed"]) == (1, [])
    doc_id = first.json()["doc_ids"][0]
    metadata = rw.get(f"/api/documents/{doc_id}").json()["metadata"]
    assert metadata["origin"] == "Bakery_news.txt"
    assert metadata["title"] == "Bakery_news"
    again = rw.post("/api/ingest", files=files).json()
    assert (again["unchanged"], again["doc_ids"]) == (1, [doc_id])
    upload_root = secured.settings.upload_dir
    assert upload_root is not None and list(upload_root.iterdir()) == []  # temp folders removed
    rw.delete(f"/api/documents/{doc_id}")


def test_upload_failures_name_the_uploaded_file_not_a_temp_path(rw: httpx.Client) -> None:
    files = [("files", ("empty.md", b"   \n", "text/markdown"))]
    result = rw.post("/api/ingest", files=files).json()
    assert result["added"] == 0
    assert [f["source"] for f in result["failed"]] == ["empty.md"]


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        ([("files", ("tool.exe", b"MZ\x90\x00", "application/octet-stream"))], 415, "not accepted"),
        ([("files", ("big.txt", b"word " * (UPLOAD_MAX_FILE // 4), "text/plain"))], 413, "byte limit"),
        ([("files", (f"f{i}.txt", b"Some text here.", "text/plain")) for i in range(4)], 413, "more than 3"),
        ([("note", (None, b"no files here"))], 400, "no files"),
    ],
    ids=["wrong-type", "file-too-large", "too-many-files", "no-file"],
)
def test_upload_limits_are_enforced(
    rw: httpx.Client, files: list[tuple[str, Any]], status: int, message: str, secured: Served
) -> None:
    response = rw.post("/api/ingest", files=files)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    upload_root = secured.settings.upload_dir
    assert upload_root is not None and list(upload_root.iterdir()) == []


def test_ingest_refuses_non_http_urls_so_server_files_cannot_be_read(rw: httpx.Client) -> None:
    for url in ["/etc/passwd", "file:///etc/passwd", "../samples/damascus-talks.txt"]:
        response = rw.post("/api/ingest", json={"urls": [url]})
        assert response.status_code == 400, url
        assert "not an http(s) URL" in response.json()["error"]


def test_health_reports_the_store_and_the_model(ro: httpx.Client) -> None:
    response = ro.get("/api/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok" and health["store"] is True and health["model_loaded"] is True
    assert health["articles"] >= 1


def test_stats_count_the_sample_corpus(ro: httpx.Client, assistant: Assistant) -> None:
    stats = ro.get("/api/stats").json()
    expected = assistant.stats()
    assert (stats["articles"], stats["sentences"]) == (expected.articles, expected.sentences)
    assert stats["sentences"] > 10


def test_openapi_schema_documents_every_endpoint(ro: httpx.Client) -> None:
    schema = ro.get("/openapi.json").json()
    assert set(schema["paths"]) >= {
        "/api/ask",
        "/api/ask/stream",
        "/api/ingest",
        "/api/documents/{doc_id}",
        "/api/health",
        "/api/stats",
    }
    assert "multipart/form-data" in schema["paths"]["/api/ingest"]["post"]["requestBody"]["content"]
    assert ro.get("/docs").status_code == 200


def test_widget_script_is_public_and_never_uses_innerhtml(secured: Served) -> None:
    response = httpx.get(f"{secured.base}/embed/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "/api/ask/stream" in response.text
    assert "innerHTML" not in response.text and "insertAdjacentHTML" not in response.text


# --- authentication ------------------------------------------------------------------------------

ENDPOINTS = [
    ("POST", "/api/ask", {"question": SAMPLE_QUESTION}),
    ("POST", "/api/ask/stream", {"question": SAMPLE_QUESTION}),
    ("POST", "/api/ingest", {"documents": [{"text": BAKERY}]}),
    ("GET", "/api/documents/anything", None),
    ("DELETE", "/api/documents/anything", None),
    ("GET", "/api/health", None),
    ("GET", "/api/stats", None),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
@pytest.mark.parametrize("key", [None, "wrong-key-0123456789abcdef"], ids=["no-key", "wrong-key"])
def test_every_endpoint_refuses_a_missing_or_wrong_key_with_401_json(
    secured: Served,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    key: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = bearer(key) if key else {}
    with caplog.at_level(logging.DEBUG):
        response = httpx.request(method, f"{secured.base}{path}", json=body, headers=headers, timeout=60)
    assert response.status_code == 401
    assert response.json() == {"error": "missing or invalid API key"}
    assert response.headers["www-authenticate"] == "Bearer"
    assert any("401" in r.getMessage() and path in r.getMessage() for r in caplog.records)
    assert key is None or all(key not in r.getMessage() for r in caplog.records)


def test_a_non_bearer_authorization_header_is_refused(secured: Served) -> None:
    response = httpx.get(f"{secured.base}/api/stats", headers={"Authorization": f"Basic {RW_KEY}"})
    assert response.status_code == 401


def test_read_only_key_cannot_ingest_or_delete(ro: httpx.Client, rw: httpx.Client) -> None:
    ingest_bakery(rw, "bakery-ro")
    refused = ro.post("/api/ingest", json={"documents": [{"id": "other", "text": BAKERY}]})
    assert refused.status_code == 403
    assert refused.json() == {"error": "this API key is read-only"}
    upload = ro.post("/api/ingest", files={"files": ("a.txt", BAKERY.encode(), "text/plain")})
    assert upload.status_code == 403
    assert ro.delete("/api/documents/bakery-ro").status_code == 403
    assert ro.get("/api/documents/bakery-ro").status_code == 200  # still there
    assert ro.get("/api/documents/other").status_code == 404
    rw.delete("/api/documents/bakery-ro")


def test_ui_needs_a_login_with_a_read_write_key(secured: Served) -> None:
    with httpx.Client(base_url=secured.base, timeout=60) as browser:
        assert browser.get("/config").status_code == 401
        for password in ["wrong-key-0123456789abcdef", RO_KEY]:
            assert browser.post("/login", data={"username": "amy", "password": password}).status_code == 400
        assert browser.get("/config").status_code == 401
        assert browser.post("/login", data={"username": "amy", "password": RW_KEY}).status_code == 200
        config = browser.get("/config")
        assert config.status_code == 200
        assert config.json()["analytics_enabled"] is False


def test_ui_accepts_the_trusted_proxy_header_instead_of_a_login(limited: Served) -> None:
    assert httpx.get(f"{limited.base}/config").status_code == 401
    signed_in = httpx.get(f"{limited.base}/config", headers={"X-Forwarded-User": "amy@example.com"})
    assert signed_in.status_code == 200


def test_without_keys_the_api_is_open_for_local_development(open_app: Served) -> None:
    response = httpx.get(f"{open_app.base}/api/stats")
    assert response.status_code == 200
    assert httpx.get(f"{open_app.base}/config").status_code == 200


# --- CORS and framing ----------------------------------------------------------------------------


def preflight(base: str, origin: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    return httpx.options(f"{base}/api/ask/stream", headers=headers)


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def test_cors_headers_only_for_the_allowed_origin(secured: Served) -> None:
    allowed = preflight(secured.base, PORTAL)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = preflight(secured.base, EVIL)
    assert cors_headers(refused) == {}
    simple = httpx.get(f"{secured.base}/api/stats", headers={**bearer(RO_KEY), "Origin": PORTAL})
    assert simple.headers["access-control-allow-origin"] == PORTAL
    other = httpx.get(f"{secured.base}/api/stats", headers={**bearer(RO_KEY), "Origin": EVIL})
    assert other.status_code == 200 and cors_headers(other) == {}


def test_gradio_routes_get_no_cors_headers_for_other_local_origins(open_app: Served) -> None:
    for path in ["/", "/config", "/gradio_api/info"]:
        response = httpx.get(f"{open_app.base}{path}", headers={"Origin": "http://localhost:1234"})
        assert cors_headers(response) == {}, path
    assert cors_headers(preflight(open_app.base, "http://localhost:1234")) == {}


def test_401_answers_to_the_allowed_origin_carry_cors_headers_so_the_widget_can_read_them(
    secured: Served,
) -> None:
    response = httpx.post(f"{secured.base}/api/ask", json={"question": "x"}, headers={"Origin": PORTAL})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == PORTAL


def test_frame_ancestors_come_from_the_allowed_origins(secured: Served, open_app: Served) -> None:
    for path in ["/", "/embed/widget.js"]:
        assert httpx.get(f"{secured.base}{path}").headers["content-security-policy"] == (
            f"frame-ancestors 'self' {PORTAL}"
        )
    assert httpx.get(f"{open_app.base}/").headers["content-security-policy"] == "frame-ancestors 'self'"


# --- limits --------------------------------------------------------------------------------------


def test_oversized_body_is_refused_with_413(secured: Served) -> None:
    limit = secured.settings.max_body_bytes
    body = json.dumps({"question": "x" * (limit + 10)}).encode()
    response = raw_request(
        secured.port, "POST", "/api/ask", {**bearer(RO_KEY), "Content-Type": "application/json"}, body
    )
    assert response.status == 413
    assert "byte limit" in response.json()["error"]


def test_oversized_streamed_body_without_length_is_refused_with_413(secured: Served) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    headers = {**bearer(RO_KEY), "Content-Type": "application/json"}
    response = httpx.post(f"{secured.base}/api/ask", content=chunks(), headers=headers, timeout=60)
    assert response.status_code == 413
    assert "byte limit" in response.json()["error"]


def test_question_over_the_length_limit_is_a_400(ro: httpx.Client, secured: Served) -> None:
    too_long = "why " * (secured.settings.max_question_chars // 4 + 1)
    for path in ["/api/ask", "/api/ask/stream"]:
        response = ro.post(path, json={"question": too_long})
        assert response.status_code == 400
        assert "longer than" in response.json()["error"]


def test_rate_limit_answers_429_with_retry_after_per_key(limited: Served) -> None:
    url = f"{limited.base}/api/health"
    statuses = [httpx.get(url, headers=bearer(RW_KEY)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = httpx.get(url, headers=bearer(RW_KEY))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "too many requests" in refused.json()["error"]
    assert httpx.get(url, headers=bearer(OTHER_RW_KEY)).status_code == 200  # another key has its own budget


# --- errors --------------------------------------------------------------------------------------


def test_unexpected_error_is_a_bare_500_and_the_detail_is_only_logged(
    open_app: Served, assistant: Assistant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("secret detail /srv/newsdesk")

    monkeypatch.setattr(assistant, "stats", broken)  # fault injection into the real assistant
    with caplog.at_level(logging.ERROR, logger="assistant.frontends.http"):
        response = httpx.get(f"{open_app.base}/api/stats")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error"}
    assert "secret detail" in caplog.text
    assert httpx.get(f"{open_app.base}/api/health").status_code == 200  # the server keeps serving


def test_invalid_request_is_a_422_that_does_not_echo_the_input(open_app: Served) -> None:
    response = httpx.post(f"{open_app.base}/api/ask", json={"question": "q", "secret": "hunter2"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid request"
    assert "hunter2" not in response.text


# --- path traversal ------------------------------------------------------------------------------

FILE_ROUTES = [
    "/embed/",
    "/gradio_api/file=",
    "/file=",
    "/static/",
    "/assets/",
    "/svelte/",
    "/gradio_api/file/",
]
ATTACKS = [
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "....//....//....//....//etc/passwd",
]


@pytest.mark.parametrize("route", FILE_ROUTES)
@pytest.mark.parametrize("attack", ATTACKS)
def test_path_traversal_on_file_routes_never_serves_files(open_app: Served, route: str, attack: str) -> None:
    response = raw_request(open_app.port, "GET", route + attack)
    assert response.status in (400, 403, 404), (response.status, response.body[:200])
    assert b"root:" not in response.body


def test_gradio_file_route_refuses_the_data_folder(open_app: Served, data: Path) -> None:
    chroma_files = [p for p in (data / "store").rglob("*") if p.is_file()]
    assert chroma_files
    for path in [*chroma_files[:3], data / "feedback.jsonl"]:
        response = raw_request(open_app.port, "GET", f"/gradio_api/file={path}")
        assert response.status in (403, 404), path
        assert b"SQLite format" not in response.body


def test_path_traversal_with_a_signed_in_ui_session_never_serves_files(secured: Served) -> None:
    with httpx.Client(base_url=secured.base) as browser:
        assert browser.post("/login", data={"username": "amy", "password": RW_KEY}).status_code == 200
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    for attack in ATTACKS:
        response = raw_request(secured.port, "GET", "/gradio_api/file=" + attack, {"Cookie": cookie})
        assert response.status in (400, 403, 404), (attack, response.status)
        assert b"root:" not in response.body


# --- the production entry point ------------------------------------------------------------------


def test_newsdesk_serve_warms_up_and_serves_on_localhost_behind_a_root_path(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")},
        "HF_HUB_OFFLINE": "1",
        "NEWSDESK_API_KEYS": RW_KEY,
        "NEWSDESK_ROOT_PATH": "/newsdesk",
        "NEWSDESK_FEEDBACK_PATH": str(tmp_path / "feedback.jsonl"),
    }
    command = [
        sys.executable,
        "-m",
        "assistant",
        "serve",
        "--port",
        str(port),
        "--store",
        str(tmp_path / "store"),
    ]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as server:
        try:
            health = wait_for_health(server, f"http://127.0.0.1:{port}/api/health", bearer(RW_KEY))
            assert health["model_loaded"] is True  # warmed up before serving
            assert httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 401
            schema = httpx.get(f"http://127.0.0.1:{port}/openapi.json", headers=bearer(RW_KEY)).json()
            assert schema["servers"] == [{"url": "/newsdesk"}]
        finally:
            server.terminate()
            output, _ = server.communicate(timeout=60)
    assert f"Newsdesk on http://127.0.0.1:{port}/newsdesk/" in output
    assert RW_KEY not in output


def test_python_client_example_of_the_docs_works(
    secured: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = (Path(__file__).resolve().parents[4] / "docs" / "api.md").read_text(encoding="utf-8")
    example = page.split("### Python client", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("NEWSDESK_URL", secured.base)
    monkeypatch.setenv("NEWSDESK_API_KEY", RO_KEY)
    exec(compile(example, "docs/api.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "Evkurov" in printed and "[1] Russian delegation led by Evkurov" in printed
    assert "citations, grounded=True" in printed


def test_guessing_keys_is_rate_limited_per_client_address(limited: Served) -> None:
    url = f"{limited.base}/api/stats"
    guesses = [httpx.get(url, headers=bearer(f"guess-{i}-0123456789abcdef")).status_code for i in range(4)]
    assert guesses == [401, 401, 401, 429]
