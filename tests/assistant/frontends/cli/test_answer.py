"""``newsdesk ask``, ``batch`` and ``eval`` on the session's sample and dev stores."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.core.settings import Settings
from assistant.frontends.cli.main import main
from assistant.service import Assistant
from ingest.storage.in_step import IN_STEP
from ingest.storage.lexical_sync import lexical_path
from tests.assistant.conftest import dev_questions
from tests.conftest import REPO


def store_args(assistant: Assistant) -> list[str]:
    return ["--store", str(assistant.settings.store_dir)]


def test_ask_json_prints_the_answer_object(
    sample_assistant: Assistant, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [*store_args(sample_assistant), "ask", "Who led the Russian delegation to Damascus?", "--json"]
    )
    answer = json.loads(capsys.readouterr().out)
    assert code == 0 and answer["grounded"]
    assert {"question", "answer", "citations", "grounded", "timings_ms"} <= set(answer)
    assert "Yunus-Bege Evkurov" in answer["citations"][0]["sentence"]


def test_ask_of_an_absent_topic_exits_1(
    sample_assistant: Assistant, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*store_args(sample_assistant), "ask", "What did the Pope say about bananas in Ecuador?"])
    assert code == 1 and "could not find" in capsys.readouterr().out


def test_batch_writes_one_answer_a_line_with_the_id_copied(
    dev_assistant: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [{"id": q["id"], "question": q["question"]} for q in dev_questions()[:3]]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "a.jsonl"
    assert main([*store_args(dev_assistant), "batch", "--questions", str(questions), "--out", str(out)]) == 0
    answers = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [a["id"] for a in answers] == [r["id"] for r in rows]
    assert all(a["question"] == r["question"] for a, r in zip(answers, rows))


def test_eval_prints_json_metrics(
    dev_assistant: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in dev_questions()), encoding="utf-8")
    assert main([*store_args(dev_assistant), "eval", "--questions", str(questions), "--limit", "4"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["questions"] == 4
    for key in ("first_sentence_hit", "first_300_hit", "refusal_rate", "candidate_recall"):
        assert 0.0 <= metrics[key] <= 1.0
        lo, hi = metrics["interval_95"][key]
        assert lo <= metrics[key] <= hi
    assert metrics["latency_ms"]["p50"] > 0


def test_eval_of_two_splits_prints_one_line_each_with_weeks_and_writes_the_misses(
    dev_assistant: Assistant, sample_assistant: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev, sample = tmp_path / "dev", tmp_path / "sample"
    dev.mkdir()
    sample.mkdir()
    (dev / "questions.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in dev_questions()[:3]), encoding="utf-8"
    )
    absent = {"id": "20221007_0", "question": "Who won the bananas prize?", "answer": "Nobody", "date": ""}
    (sample / "questions.jsonl").write_text(json.dumps(absent) + "\n", encoding="utf-8")
    misses = tmp_path / "misses.jsonl"
    stores = [str(dev_assistant.settings.store_dir), str(sample_assistant.settings.store_dir)]
    files = ["--questions", str(dev / "questions.jsonl"), "--questions", str(sample / "questions.jsonl")]
    code = main(
        ["eval", *files, "--split-store", stores[0], "--split-store", stores[1], "--misses", str(misses)]
    )
    out = capsys.readouterr()
    lines = [json.loads(line) for line in out.out.splitlines()]
    assert code == 0 and [m["split"] for m in lines] == ["dev", "sample"]
    assert lines[0]["questions"] == 3 and set(lines[1]["weeks"]) == {"20221007"}
    assert "first_sentence_hit" in out.err and "week 20221007" in out.err
    written = [json.loads(line) for line in misses.read_text(encoding="utf-8").splitlines()]
    assert {"split": "sample", "id": "20221007_0", "gold": "Nobody"}.items() <= written[-1].items()
    assert written[-1]["gold_in_candidates"] is False


def run_batch(assistant: Assistant, folder: Path, lines: str) -> tuple[int, Path]:
    """``newsdesk batch`` on a questions file holding ``lines``: (exit status, answers file)."""
    questions, out = folder / "q.jsonl", folder / "a.jsonl"
    questions.write_text(lines, encoding="utf-8")
    code = main([*store_args(assistant), "batch", "--questions", str(questions), "--out", str(out)])
    return code, out


def test_batch_with_a_malformed_line_is_an_error_naming_the_line(
    sample_assistant: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_batch(sample_assistant, tmp_path, '{"id": "1", "question": "ok?"}\nnot json\n')
    assert code == 2 and "q.jsonl:2" in capsys.readouterr().err


def test_batch_reads_last_week_relative_to_each_question_lines_date(
    sample_assistant: Assistant, tmp_path: Path
) -> None:
    rows = [
        {"id": "a", "question": "What happened in Damascus last week?", "date": "2024-03-20"},
        {"id": "b", "question": "What happened in Damascus last week?", "date": "2023-01-04"},
    ]
    code, out = run_batch(sample_assistant, tmp_path, "".join(json.dumps(r) + "\n" for r in rows))
    assert code == 0
    notices = [" ".join(json.loads(line)["notices"]) for line in out.read_text(encoding="utf-8").splitlines()]
    assert "2024-03-11 to 2024-03-17" in notices[0]
    assert "2022-12-26 to 2023-01-01" in notices[1]


def test_batch_with_a_date_that_is_not_a_day_is_an_error_naming_the_line(
    sample_assistant: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_batch(sample_assistant, tmp_path, '{"id": "1", "question": "ok?", "date": "yesterday"}\n')
    assert code == 2 and "q.jsonl:1: `date` 'yesterday' is not a date" in capsys.readouterr().err


def test_batch_with_a_question_that_is_not_valid_text_is_an_error_naming_the_line(
    sample_assistant: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_batch(sample_assistant, tmp_path, '{"id": "1", "question": "Who led it \\ud800?"}\n')
    assert code == 2 and "q.jsonl:1: `question` is not valid text" in capsys.readouterr().err


QUESTION = "Who led the Russian delegation to Damascus?"


def test_a_cold_ask_answers_without_importing_torch_and_leaves_the_index_marked_in_step(
    sample_assistant: Assistant, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    shutil.copytree(sample_assistant.settings.store_dir, store)
    marker = lexical_path(Settings(store_dir=store).store) / IN_STEP
    marker.unlink(missing_ok=True)
    code = (
        "import sys; from assistant.frontends.cli.main import main; "
        f"code = main(['--store', {str(store)!r}, 'ask', {QUESTION!r}, '--json']); "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'trafilatura') "
        "if m in sys.modules), file=sys.stderr); sys.exit(code)"
    )
    for _ in range(2):  # without the mark (checked against Chroma, then marked), then with it
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        assert "Yunus-Bege Evkurov" in json.loads(done.stdout)["citations"][0]["sentence"]
        assert done.stderr.strip().splitlines()[-1] == "[]"
        assert marker.is_file()
