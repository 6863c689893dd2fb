"""What the operator sees of a real ``newsdesk serve``: its ``/metrics`` scraped by a real Prometheus
(Debian's binary, 1 s scrapes, on 127.0.0.1) during a short load run, its traces sent over OTLP to a
receiver of the test, and its JSON log lines.

The load run: the sample article and two more ingested through the API (and the two again:
unchanged), questions answered extractively, by the extractive fallback of an LLM that cannot be
reached, and refused; one streamed; a local feed (served by the test) followed and synced twice
(ok, then not modified); and requests with a wrong key until the rate limit refuses one. Then each
metric family must show exactly those counts, each panel of docs/grafana-newsdesk.json must return
data through Prometheus' HTTP API, the access log lines must name the traces the receiver got, and
no log line may carry a question or a key.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.assistant.conftest_api import SAMPLE_QUESTION, free_port, wait_for_health
from tests.assistant.test_serve_hold import child_env
from tests.conftest import REPO, SAMPLE
from tests.feed_server import FeedItem, FeedServer, run_feed_server
from tests.prometheus_server import OtlpReceiver, PrometheusServer, otlp_receiver

pytestmark = pytest.mark.server
KEY = secrets.token_urlsafe(24)
RATE_LIMIT = 40
DASHBOARD = REPO / "docs" / "grafana-newsdesk.json"
STORY = FeedItem(
    "tram",
    "Council votes for a tram",
    "The Testville council voted on Tuesday to build a tram line along the river. "
    "Construction starts in spring and should take two years.",
)
DOCUMENTS = [
    {"id": "damascus", "title": "Russian delegation in Damascus", "text": SAMPLE.read_text(encoding="utf-8")},
    {
        "id": "ferry-1",
        "title": "Harbour ferry gets a new captain",
        "text": "Marta Quist became captain of the Saltholm harbour ferry on Monday. "
        "She has sailed the route for twelve years.",
    },
    {
        "id": "bakery-1",
        "title": "Bakery wins a prize",
        "text": "The Ostend Street bakery won the regional bread prize on Friday. "
        "Its rye loaf impressed the jury.",
    },
]
BACKWARDS = {"published_from": "2024-03-01", "published_to": "2024-02-01"}  # no answer: a refusal


@dataclass
class Run:
    base: str
    prometheus: PrometheusServer
    traces: OtlpReceiver
    log: Path
    feed: FeedServer
    keyless_metrics: int = 0  # the status of GET /metrics without a key

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEY}"}

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(self.base + path, json=body, headers=self.headers, timeout=120)
        assert response.status_code == 200, response.text
        return response.json()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = httpx.get(f"{self.base}/metrics", headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def load(run: Run, pause_s: float = 2.0) -> None:
    """The load run of the module doc, its parts ``pause_s`` apart (a few scrapes each)."""
    ingested = run.post("/api/ingest", {"documents": DOCUMENTS})
    assert isinstance(ingested, dict) and ingested["added"] == 3
    assert isinstance(again := run.post("/api/ingest", {"documents": DOCUMENTS[1:]}), dict)
    assert again["unchanged"] == 2
    time.sleep(pause_s)
    for question in (SAMPLE_QUESTION, "Who became captain of the Saltholm harbour ferry?", SAMPLE_QUESTION):
        answer = run.post("/api/ask", {"question": question})
        assert isinstance(answer, dict) and answer["grounded"] and answer["mode"] == "extractive"
    fallback = run.post("/api/ask", {"question": SAMPLE_QUESTION, "mode": "llm"})
    assert isinstance(fallback, dict) and fallback["grounded"] and fallback["mode"] == "extractive"
    refusal = run.post("/api/ask", {"question": "Who met in Damascus?", "filters": BACKWARDS})
    assert isinstance(refusal, dict) and not refusal["grounded"]
    with httpx.stream(
        "POST",
        f"{run.base}/api/ask/stream",
        json={"question": SAMPLE_QUESTION},
        headers=run.headers,
        timeout=120,
    ) as streamed:
        assert streamed.status_code == 200 and "event: answer" in streamed.read().decode()
    assert httpx.get(f"{run.base}/api/documents/ferry-1", headers=run.headers, timeout=30).status_code == 200
    time.sleep(pause_s)
    run.feed.items = [STORY]
    run.post("/api/feeds", {"url": run.feed.feed_url()})
    first, second = (run.post("/api/feeds/sync", {})[0] for _ in range(2))
    assert isinstance(first, dict) and isinstance(second, dict)
    assert not first["error"] and first["feed"]["added"] == 1 and second["not_modified"], (first, second)
    time.sleep(pause_s)
    run.keyless_metrics = httpx.get(f"{run.base}/metrics", timeout=30).status_code
    statuses = [
        httpx.get(
            f"{run.base}/api/stats", headers={"Authorization": "Bearer wrong-key-0123456789"}
        ).status_code
        for _ in range(RATE_LIMIT + 1)
    ]
    assert statuses[0] == 401 and statuses[-1] == 429, statuses


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("observed")
    feeds = run_feed_server()
    feed = next(feeds)
    port = free_port()
    with otlp_receiver() as traces:
        env = child_env(
            NEWSDESK_STORE_DIR=str(folder / "store"),
            NEWSDESK_FEEDBACK_PATH=str(folder / "feedback.jsonl"),
            NEWSDESK_API_KEYS=KEY,
            NEWSDESK_RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT),
            NEWSDESK_FEEDS_SYNC="false",  # the test syncs, so that the counts are known
            NEWSDESK_FETCH_ALLOWED_HOSTS=json.dumps([feed.base_url.removeprefix("http://")]),
            NEWSDESK_LLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1",  # nothing listens: fallback
            NEWSDESK_LLM_TIMEOUT_S="5",
            NEWSDESK_LOG_FORMAT="json",
            NEWSDESK_OTEL_ENDPOINT=traces.url,
            NEWSDESK_TORCH_THREADS="1",
        )
        log = folder / "serve.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        prometheus = PrometheusServer(folder, free_port())
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_health(server, f"{base}/api/health", {"Authorization": f"Bearer {KEY}"})
            prometheus.start(f"127.0.0.1:{port}", bearer=KEY)
            wait_for_first_scrape(prometheus)
            observed = Run(base, prometheus, traces, log, feed)
            load(observed)
            wait_for_scrape(prometheus)
            yield observed
            if os.environ.get("NEWSDESK_DASHBOARD_PNG"):  # docs/observability-run.png is made so
                from benchmarks.dashboard_plot import plot

                plot(prometheus.url, DASHBOARD, Path(os.environ["NEWSDESK_DASHBOARD_PNG"]), 1.0, "10s")
        finally:
            prometheus.stop()
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            next(feeds, None)


def wait_for_first_scrape(prometheus: PrometheusServer, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not prometheus.query("newsdesk_store_up == 1"):
        assert time.monotonic() < deadline, f"Prometheus did not scrape ({prometheus.target_health()})"
        time.sleep(0.5)
    time.sleep(2)


def wait_for_scrape(prometheus: PrometheusServer, timeout_s: float = 60.0) -> None:
    """Until Prometheus has scraped the end of the load run (the last feed sync and refusal)."""
    deadline = time.monotonic() + timeout_s
    done = (
        'newsdesk_feed_syncs_total{result="not_modified"} == 1'
        ' and on() newsdesk_rate_limit_refusals_total{reason="limit"} > 0'
    )
    while not prometheus.query(done):
        assert time.monotonic() < deadline, (
            f"Prometheus did not scrape the run ({prometheus.target_health()})"
        )
        time.sleep(0.5)
    time.sleep(3)  # a few more samples, for the rates


def test_metrics_show_each_family_with_the_counts_of_the_run(run: Run) -> None:
    m = run.metrics()
    assert value(m, "newsdesk_answers_total", mode="extractive") == 4  # three asks and the stream
    assert value(m, "newsdesk_answers_total", mode="fallback") == 1
    assert value(m, "newsdesk_answers_total", mode="refusal") == 1
    assert value(m, "newsdesk_answers_total", mode="llm") == 0
    assert value(m, "newsdesk_ask_stage_seconds_count", stage="total") == 6
    assert value(m, "newsdesk_ask_stage_seconds_count", stage="llm") == 1
    assert value(m, "newsdesk_ask_stage_seconds_count", stage="cache") == 2  # the sample question again
    for stage in ("embed", "dense", "lexical", "read", "answer", "news"):
        assert value(m, "newsdesk_ask_stage_seconds_count", stage=stage) >= 4, stage
    ask = {"route": "/api/ask", "method": "POST"}
    assert value(m, "newsdesk_http_requests_total", status="200", **ask) == 5
    assert value(m, "newsdesk_http_request_duration_seconds_count", **ask) == 5
    assert value(m, "newsdesk_http_requests_total", route="/api/ask/stream", method="POST", status="200") == 1
    doc = {"route": "/api/documents/{doc_id:path}", "method": "GET", "status": "200"}
    assert value(m, "newsdesk_http_requests_total", **doc) == 1  # the template, not /api/documents/ferry-1
    assert value(m, "newsdesk_http_requests_total", route="/api/stats", method="GET", status="401") >= 1
    assert value(m, "newsdesk_http_requests_total", route="/api/stats", method="GET", status="429") >= 1
    assert not any("ferry-1" in str(labels) for _, labels in m)
    assert value(m, "newsdesk_ingest_articles_total", result="added") == 4  # three documents, one feed story
    assert value(m, "newsdesk_ingest_articles_total", result="unchanged") == 2
    assert value(m, "newsdesk_ingest_articles_total", result="failed") == 0
    assert value(m, "newsdesk_ingest_sentences_total") > 4
    assert value(m, "newsdesk_ingest_group_duration_seconds_count") >= 3
    assert value(m, "newsdesk_feed_syncs_total", result="ok") == 1
    assert value(m, "newsdesk_feed_syncs_total", result="not_modified") == 1
    assert value(m, "newsdesk_feed_syncs_total", result="failed") == 0
    ages = [v for (name, _), v in m.items() if name == "newsdesk_feed_last_success_age_seconds"]
    assert len(ages) == 1 and 0 <= ages[0] < 600
    assert value(m, "newsdesk_archive_articles") == 4
    assert value(m, "newsdesk_archive_sentences") == value(m, "newsdesk_ingest_sentences_total")
    assert value(m, "newsdesk_store_up") == 1
    assert value(m, "newsdesk_store_calls_total", operation="query") >= 6
    assert value(m, "newsdesk_store_calls_total", operation="write") >= 3
    assert value(m, "newsdesk_store_call_errors_total", operation="query", kind="timeout") == 0
    assert value(m, "newsdesk_rate_limit_refusals_total", reason="limit") >= 1
    assert value(m, "newsdesk_rate_limit_refusals_total", reason="storage_unavailable") == 0


def test_metrics_need_a_key_when_keys_are_set(run: Run) -> None:
    assert run.keyless_metrics == 401
    assert run.prometheus.target_health() == "up"


def test_each_dashboard_panel_returns_data_from_prometheus(run: Run) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    empty = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "1m")
            if not run.prometheus.query(expr):
                empty.append((panel["title"], expr))
    assert empty == []
    modes = {
        r["metric"]["mode"]: float(r["value"][1]) for r in run.prometheus.query("newsdesk_answers_total")
    }
    assert modes == {"extractive": 4, "fallback": 1, "refusal": 1, "llm": 0}


def test_json_log_lines_name_the_traces_of_their_requests_and_no_secret(run: Run) -> None:
    lines = run.log.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert entries and all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    asks = [e for e in entries if e["logger"] == "uvicorn.access" and "POST /api/ask " in e["message"]]
    assert len(asks) == 5 and all(e.get("trace_id") and e.get("span_id") for e in asks)
    deadline = time.monotonic() + 30
    while not {e["trace_id"] for e in asks} <= {t for t, *_ in run.traces.spans}:
        assert time.monotonic() < deadline, "the traces of the logged requests were not exported"
        time.sleep(0.5)
    traced = {t: n for t, _, n, _ in run.traces.spans if n == "newsdesk.ask"}
    assert {e["trace_id"] for e in asks} <= set(traced)  # each ask request's trace holds its answer
    text = run.log.read_text(encoding="utf-8")
    assert KEY not in text and SAMPLE_QUESTION not in text and "Saltholm harbour ferry?" not in text
    stages = {n for *_, n, _ in run.traces.spans}
    assert {f"newsdesk.{s}" for s in ("condense", "scope", "retrieve", "read", "answer", "enrich")} <= stages
    assert {"newsdesk.ingest.group", "newsdesk.feed.sync", "POST /api/ask"} <= stages
    questions = [a for *_, n, a in run.traces.spans if n == "newsdesk.ask"]
    assert all("newsdesk.question" not in a and a["newsdesk.question.length"] > 0 for a in questions)
