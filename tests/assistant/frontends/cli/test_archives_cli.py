"""``newsdesk archives create|list|remove`` and ``newsdesk --archive NAME <command>`` (issue 28)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.frontends.cli.main import main
from tests.conftest import SAMPLE


def run(store: Path, *argv: str) -> int:
    return main(["--store", str(store), *argv])


def test_create_list_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    assert run(store, "archives", "create", "sports") == 0
    assert f"created archive sports at {store / 'archives' / 'sports'}" in capsys.readouterr().out
    assert run(store, "archives", "create", "sports") == 2
    assert "archive 'sports' exists already" in capsys.readouterr().err
    assert run(store, "archives", "create", "Bad_Name") == 2
    assert "archive name 'Bad_Name' must be 1-40 lowercase letters" in capsys.readouterr().err
    assert run(store, "archives", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(a["name"], a["default"]) for a in listed] == [("default", True), ("sports", False)]
    assert listed[0]["location"] == str(store)
    assert run(store, "archives", "list") == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("sports\t")

    assert run(store, "archives", "remove", "default", "--yes") == 2
    assert "default archive's: it cannot be removed" in capsys.readouterr().err
    assert run(store, "archives", "remove", "sports") == 2  # without --yes nothing is deleted
    assert "confirm with --yes" in capsys.readouterr().err
    assert run(store, "archives", "remove", "golf", "--yes") == 2
    assert "no archive 'golf'" in capsys.readouterr().err
    assert run(store, "archives", "remove", "sports", "--yes") == 0
    assert "removed archive sports" in capsys.readouterr().out
    assert run(store, "archives", "list", "--json") == 0
    assert [a["name"] for a in json.loads(capsys.readouterr().out)] == ["default"]


def test_commands_on_a_named_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    assert run(store, "archives", "create", "world") == 0
    assert run(store, "--archive", "world", "ingest", "--json", "--quiet", str(SAMPLE)) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["added"] == 1
    assert run(store, "stats", "--json", "--archive", "world") == 0  # after the subcommand too
    assert json.loads(capsys.readouterr().out)["articles"] == 1
    assert run(store, "stats", "--json") == 0  # the default archive is untouched
    assert json.loads(capsys.readouterr().out)["articles"] == 0
    assert run(store, "--archive", "default", "stats", "--json") == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 0
    assert run(store, "--archive", "world", "feeds", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert (store / "archives" / "world").is_dir()

    assert run(store, "--archive", "nowhere", "stats") == 2
    assert "no archive 'nowhere'" in capsys.readouterr().err
    assert run(store, "--archive", "No!", "stats") == 2
    assert "archive name 'No!'" in capsys.readouterr().err
    assert run(store, "--archive", "world", "archives", "list") == 2
    assert "--archive does not go with `newsdesk archives`" in capsys.readouterr().err


def test_ask_on_a_named_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    assert run(store, "archives", "create", "world") == 0
    assert run(store, "--archive", "world", "ingest", "--json", "--quiet", str(SAMPLE)) == 0
    capsys.readouterr()
    question = "Who led the Russian delegation to Damascus?"
    assert run(store, "--archive", "world", "ask", "--json", question) == 0
    answered = json.loads(capsys.readouterr().out)
    assert answered["grounded"] and answered["citations"]
    assert run(store, "ask", "--json", question) == 1  # a refusal: the default archive holds nothing
    assert not json.loads(capsys.readouterr().out)["citations"]


def test_next_to_a_server_an_archive_ingest_goes_through_its_archive_route(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``newsdesk serve`` (a child process of this worktree's code) holds the embedded store: an
    ingest into a named archive is sent to ``/api/archives/NAME/ingest``; writes it cannot forward
    are refused."""
    import httpx

    from tests.assistant.conftest_api import free_port, wait_for_health
    from tests.assistant.test_serve_hold import start_serve

    store = tmp_path / "store"
    assert run(store, "archives", "create", "world") == 0
    port = free_port()
    server = start_serve(store, port, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(server, f"{base}/api/health", {})
        capsys.readouterr()
        assert run(store, "--archive", "world", "ingest", "--json", str(SAMPLE)) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["added"] == 1 and summary["via"] == base
        assert httpx.get(f"{base}/api/archives/world/stats").json()["articles"] == 1
        assert httpx.get(f"{base}/api/stats").json()["articles"] == 0
        assert run(store, "--archive", "world", "delete", "x") == 2
        assert "cannot write next to it" in capsys.readouterr().err
        assert run(store, "archives", "remove", "world", "--yes") == 2
        assert "DELETE /api/archives/world" in capsys.readouterr().err
        assert httpx.delete(f"{base}/api/archives/world").json() == {"removed": "world"}
        assert not (store / "archives" / "world").exists()
    finally:
        server.terminate()
        try:
            server.communicate(timeout=30)
        except Exception:
            server.kill()
            server.communicate()
