"""Feedback records: appended to a JSONL file, readable back, safe with several writers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.core.errors import ConfigError
from assistant.frontends.ui.feedback import FeedbackLog
from assistant.types import Answer, Citation

REPO = Path(__file__).resolve().parents[4]


def an_answer(question: str = "Who led the delegation?") -> Answer:
    citation = Citation(n=1, sentence="Evkurov led it.", doc_id="d1", char_start=0, char_end=15, title="T")
    return Answer(question=question, answer="Evkurov led it [1].", citations=[citation], grounded=True)


def test_rating_is_stored_with_question_answer_and_citations(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "sub" / "feedback.jsonl")
    log.record("up", an_answer(), session="s1", message_index=1)
    log.record("down", an_answer("Second?"), session="s1", message_index=3)
    first, second = log.read()
    assert (first.rating, first.question, first.answer) == (
        "up",
        "Who led the delegation?",
        "Evkurov led it [1].",
    )
    assert first.citations[0].sentence == "Evkurov led it." and first.citations[0].doc_id == "d1"
    assert (second.rating, second.message_index, second.session) == ("down", 3, "s1")


def test_reading_before_any_feedback_gives_nothing(tmp_path: Path) -> None:
    assert FeedbackLog(tmp_path / "feedback.jsonl").read() == []


def test_a_torn_line_is_skipped_and_later_records_still_read(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    log = FeedbackLog(path)
    log.record("up", an_answer())
    with path.open("a", encoding="utf-8") as out:
        out.write('{"rating": "up", "quest\n')
    log.record("down", an_answer())
    assert [r.rating for r in log.read()] == ["up", "down"]


def test_a_folder_as_feedback_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        FeedbackLog(tmp_path)


def test_several_processes_appending_at_once_lose_no_record(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from assistant.frontends.ui.feedback import FeedbackLog
        from assistant.types import Answer
        log = FeedbackLog(Path({str(path)!r}))
        for i in range(40):
            answer = Answer(question=f"q{{sys.argv[1]}}-{{i}}", answer="x" * 5000, grounded=True)
            log.record("up", answer, session=sys.argv[1], message_index=i)
        """
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, str(n)], cwd=REPO) for n in range(4)]
    assert all(w.wait(timeout=120) == 0 for w in writers)
    records = FeedbackLog(path).read()
    assert len(records) == 160
    assert {(r.session, r.message_index) for r in records} == {
        (str(n), i) for n in range(4) for i in range(40)
    }
