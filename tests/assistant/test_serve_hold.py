"""``newsdesk serve`` on an embedded store and the other processes that would write to it.

An open embedded Chroma client never reloads its vector index, so a write by another process used
to break every answer of a running server (503 "Error finding id") while /api/health said ok. Now
the server holds the store folder: other processes cannot write to it (``newsdesk ingest`` sends its
articles through the server's API instead, other writes are told how); and /api/health runs a real
read, so a store it cannot read is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assistant.frontends.cli.main import main
from assistant.service import create_assistant
from ingest.embedding.embedder import Embedder
from ingest.storage.locks import SERVE_INFO_FILE, folder_write_lock
from tests.assistant.conftest_api import (
    SAMPLE_QUESTION,
    api_settings,
    free_port,
    serve_app,
    wait_for_health,
)
from tests.conftest import REPO, SAMPLE

FERRY = {
    "id": "ferry-1",
    "title": "Harbour ferry gets a new captain",
    "text": "Marta Quist became captain of the Saltholm harbour ferry on Monday. "
    "She has sailed the route for twelve years.",
}
FERRY_QUESTION = "Who became captain of the Saltholm harbour ferry?"


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    return {**env, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **extra}


def start_serve(store: Path, port: int, tmp_path: Path) -> subprocess.Popen[str]:
    """``python -m assistant serve`` on an embedded store, in its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--store", str(store)],
        cwd=REPO,
        env=child_env(NEWSDESK_FEEDBACK_PATH=str(tmp_path / "feedback.jsonl")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def exit_output(proc: subprocess.Popen[str], timeout_s: float = 120) -> tuple[int | None, str]:
    """Exit status and output of a process that should stop on its own (None if it did not)."""
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None, proc.communicate()[0]
    return proc.returncode, output


@dataclass(frozen=True)
class ServedStore:
    store: Path
    base: str
    server: subprocess.Popen[str]


@pytest.fixture
def served_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[ServedStore]:
    """A real ``newsdesk serve`` on an embedded store holding the sample."""
    store = tmp_path / "store"
    assert main(["ingest", "--quiet", str(SAMPLE), "--store", str(store)]) == 0
    capsys.readouterr()
    port = free_port()
    server = start_serve(store, port, tmp_path)
    try:
        wait_for_health(server, f"http://127.0.0.1:{port}/api/health")
        yield ServedStore(store, f"http://127.0.0.1:{port}", server)
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()


def write_ferry(folder: Path, **changes: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ferry.jsonl"
    path.write_text(json.dumps({**FERRY, **changes}) + "\n", encoding="utf-8")
    return path


def test_an_ingest_from_another_process_goes_through_the_server_that_holds_the_store(
    served_store: ServedStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, base = served_store.store, served_store.base
    assert main(["ingest", "--json", str(write_ferry(tmp_path)), "--store", str(store)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["via"] == base and summary["added"] == 1 and summary["doc_ids"] == ["ferry-1"]
    answer = httpx.post(f"{base}/api/ask", json={"question": FERRY_QUESTION}, timeout=60).json()
    assert answer["grounded"] and answer["citations"][0]["doc_id"] == "ferry-1"  # its next question
    assert main(["ingest", "--quiet", str(tmp_path / "missing.txt"), "--store", str(store)]) == 2
    assert "missing.txt: no such file or folder" in capsys.readouterr().err


def test_an_ask_beside_the_server_that_holds_the_store_is_answered_by_it_without_loading_anything(
    served_store: ServedStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = served_store.store
    assert main(["ingest", "--quiet", str(write_ferry(tmp_path)), "--store", str(store)]) == 0
    capsys.readouterr()

    def no_local_assistant(*args: object, **kwargs: object) -> None:
        raise AssertionError("the CLI built an assistant of its own")

    monkeypatch.setattr("assistant.service.create_assistant", no_local_assistant)
    argv = ["ask", "--json", FERRY_QUESTION, "--today", "2024-05-01", "--store", str(store)]
    assert main(argv) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["grounded"] and answer["citations"][0]["doc_id"] == "ferry-1"
    assert main(["ask", FERRY_QUESTION, "--from", "2030-01-01", "--store", str(store)]) == 1  # filters sent
    assert "Marta Quist" not in capsys.readouterr().out


def test_other_writes_to_a_store_a_server_holds_are_refused_with_the_way_through_it(
    served_store: ServedStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store, base, pid = served_store.store, served_store.base, served_store.server.pid
    assert main(["delete", "any-doc-id", "--store", str(store)]) == 2  # any write, before any lookup
    refusal = capsys.readouterr().err
    assert f"pid {pid}" in refusal and base in refusal and f"{base}/api/ingest" in refusal
    assert "Chroma server" in refusal and len(refusal.strip().splitlines()) == 1
    assert main(["reindex", "--quiet", "--store", str(store)]) == 2  # the lexical index is written too
    assert "held by `newsdesk serve`" in capsys.readouterr().err
    asked = httpx.post(f"{base}/api/ask", json={"question": SAMPLE_QUESTION}, timeout=60)
    assert asked.status_code == 200 and asked.json()["grounded"]  # the server is unharmed


def test_a_served_store_can_be_backed_up_but_not_restored_under_the_server(
    served_store: ServedStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, backup = served_store.store, tmp_path / "backup"
    assert main(["backup", str(backup), "--store", str(store)]) == 0  # a reader: allowed
    assert main(["restore", "--force", str(backup), "--store", str(store)]) == 2
    assert "held by `newsdesk serve`" in capsys.readouterr().err
    assert not any(p.name.endswith(".restoring") for p in store.parent.iterdir())  # nothing staged


def test_a_second_server_cannot_hold_a_store_a_server_holds(
    served_store: ServedStore, tmp_path: Path
) -> None:
    status, output = exit_output(start_serve(served_store.store, free_port(), tmp_path))
    assert status == 2, output
    assert f"pid {served_store.server.pid}" in output and served_store.base in output


def test_a_killed_server_leaves_a_stale_marker_that_no_writer_heeds(
    served_store: ServedStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served_store.server.kill()  # SIGKILL: no clean-up of its own
    served_store.server.wait()
    marker = json.loads((served_store.store / SERVE_INFO_FILE).read_text(encoding="utf-8"))
    assert marker["pid"] == served_store.server.pid  # left behind
    ferry = write_ferry(tmp_path)
    assert main(["ingest", "--quiet", str(ferry), "--store", str(served_store.store)]) == 0, (
        capsys.readouterr().err
    )


def test_a_server_does_not_start_on_a_store_another_process_is_writing_to(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with folder_write_lock(store):  # as `newsdesk ingest` holds it for its whole run
        status, output = exit_output(start_serve(store, free_port(), tmp_path))
    assert status == 2, output
    assert "is writing to the store" in output and "Traceback" not in output


def test_health_reports_a_store_whose_vector_index_another_process_changed(
    tmp_path: Path, embedder: Embedder
) -> None:
    """The failure the hold prevents, made by a writer that bypasses it (an in-process app does
    not hold its store). Counts still work there; a paged read of the sentence records fails with
    "Error finding id", as the asks of the server in the report did."""
    settings = api_settings(tmp_path, port=free_port())
    store = settings.store_dir
    assistant = create_assistant(settings, embedder=embedder)
    assert assistant.ingest_sources([str(write_ferry(tmp_path))]).added == 1
    changed = write_ferry(tmp_path / "later", text=FERRY["text"].replace("Monday", "Tuesday"))
    with serve_app(assistant, settings) as served:
        assert httpx.get(f"{served.base}/api/health").json()["status"] == "ok"
        writer = subprocess.run(
            [sys.executable, "-m", "assistant", "ingest", "--quiet", str(changed), "--store", str(store)],
            cwd=REPO,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert writer.returncode == 0, writer.stderr  # an update: new sentence records, old ones deleted
        health = httpx.get(f"{served.base}/api/health", timeout=60)
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert health.json()["store"] is False
