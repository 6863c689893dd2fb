"""The ``newsdesk`` ingest, stats, show and delete subcommands, end to end on a real store."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.frontends.cli.main import main
from tests.conftest import REPO, SAMPLE


def ingest_sample(store: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["--store", str(store), "ingest", "--json", str(SAMPLE)]) == 0
    capsys.readouterr()
    assert main(["--store", str(store), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["articles"] == 1
    return _only_doc_id(store, capsys)


def _only_doc_id(store: Path, capsys: pytest.CaptureFixture[str]) -> str:
    from assistant.core.settings import Settings
    from ingest.storage.store import NewsStore

    return next(NewsStore(Settings(store_dir=store).store).iter_articles()).doc_id


def test_show_prints_the_canonical_text_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc_id = ingest_sample(tmp_path / "s", capsys)
    assert main(["--store", str(tmp_path / "s"), "show", "--json", doc_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["text"] == SAMPLE.read_text(encoding="utf-8")
    assert shown["metadata"]["title"]


def test_delete_then_show_reports_a_missing_article(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc_id = ingest_sample(tmp_path / "s", capsys)
    assert main(["--store", str(tmp_path / "s"), "delete", doc_id]) == 0
    assert main(["--store", str(tmp_path / "s"), "show", doc_id]) == 2
    assert f"no article with doc_id '{doc_id}'" in capsys.readouterr().err


def test_ingest_summary_counts_unchanged_on_second_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest_sample(tmp_path / "s", capsys)
    assert main(["--store", str(tmp_path / "s"), "ingest", "--json", str(SAMPLE)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["added"], summary["updated"], summary["unchanged"], summary["failed"]) == (0, 0, 1, [])


def test_missing_path_fails_with_exit_status_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--store", str(tmp_path / "s"), "ingest", "--json", str(tmp_path / "nope.txt")])
    assert status == 1
    failed = json.loads(capsys.readouterr().out)["failed"]
    assert failed[0]["source"].endswith("nope.txt")


def test_module_entry_point_runs_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "--help"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "ingest" in done.stdout and "stats" in done.stdout


def test_global_options_after_the_subcommand_choose_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "after"
    assert main(["ingest", "--json", str(SAMPLE), "--store", str(store), "--collection", "late_opts"]) == 0
    capsys.readouterr()
    assert main(["stats", "--json", "--collection", "late_opts", "--store", str(store)]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 1
    assert main(["--store", str(store), "stats", "--json"]) == 0  # another collection: empty
    assert json.loads(capsys.readouterr().out)["articles"] == 0


def test_an_option_after_the_subcommand_overrides_the_same_option_before_it(tmp_path: Path) -> None:
    from assistant.frontends.cli.main import build_parser

    args = build_parser().parse_args(["--store", "before", "stats", "--store", str(tmp_path)])
    assert args.store == tmp_path


@pytest.mark.parametrize("flag", ["--store", "--collection", "--settings"])
def test_every_subcommand_accepts_each_global_option_after_it(flag: str) -> None:
    from assistant.frontends.cli.main import build_parser

    parser = build_parser()
    for argv in command_lines(parser):
        args = parser.parse_args([*argv, flag, "value_x"])
        assert str(getattr(args, flag[2:])) == "value_x", argv


def command_lines(parser: argparse.ArgumentParser) -> list[list[str]]:
    """A minimal valid command line for every (nested) subcommand: its name and required arguments."""
    out: list[list[str]] = []
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subparsers:
        for name, sub in action.choices.items():
            nested = command_lines(sub)
            out += [[name, *line] for line in nested] if nested else [[name, *required_values(sub)]]
    return out


def required_values(parser: argparse.ArgumentParser) -> list[str]:
    argv: list[str] = []
    for action in parser._actions:
        if action.required or (not action.option_strings and action.nargs not in ("?", "*")):
            argv += [action.option_strings[0], "x"] if action.option_strings else ["x"]
    return argv
