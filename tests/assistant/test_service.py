"""The Assistant service contract used by the UI and the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import assistant
from assistant.core.errors import DocumentNotFoundError, InvalidQuestionError
from assistant.core.settings import Settings
from assistant.core.types import Article
from assistant.pipeline.request import Request
from assistant.service import Assistant, create_assistant
from assistant.types import Answer, Cited
from ingest.embedding.embedder import Embedder
from ingest.storage.lexical_tantivy import SCHEMA_VERSION, SETTINGS_FILE
from ingest.terms import ANALYZER_NAME
from tests.conftest import SAMPLE

QUESTION = "Who led the Russian delegation to Damascus?"


def test_stream_yields_text_pieces_the_citations_then_the_same_answer_as_ask(
    sample_assistant: Assistant,
) -> None:
    items = list(sample_assistant.stream(QUESTION))
    cited, final = items[-2:]
    assert isinstance(cited, Cited) and isinstance(final, Answer)
    assert all(isinstance(p, str) for p in items[:-2]) and len(items) >= 3
    assert "".join(p for p in items[:-2] if isinstance(p, str)) == final.answer == cited.answer.answer
    spans = [(c.doc_id, c.char_start, c.char_end) for c in final.citations]
    assert [(c.doc_id, c.char_start, c.char_end) for c in cited.answer.citations] == spans  # final at once
    assert final.citations[0].corroboration is not None  # then the news fields
    assert cited.answer.citations[0].corroboration is None
    asked = sample_assistant.ask(QUESTION)
    assert (asked.answer, asked.citations) == (final.answer, final.citations)


def test_answer_reports_timings_and_mode(sample_assistant: Assistant) -> None:
    answer = sample_assistant.ask(QUESTION)
    assert answer.mode == "extractive"
    assert {"total", "embed", "dense", "lexical", "answer"} <= set(answer.timings_ms)
    assert answer.timings_ms["total"] > 0


def test_llm_mode_without_an_endpoint_answers_extractively_with_a_notice(sample_assistant: Assistant) -> None:
    assert not sample_assistant.llm_available
    answer = sample_assistant.ask(Request.of(QUESTION, mode="llm"))
    assert answer.mode == "extractive" and answer.grounded
    assert any("not configured" in n for n in answer.notices)


def test_empty_question_is_an_invalid_question_error(sample_assistant: Assistant) -> None:
    with pytest.raises(InvalidQuestionError):
        sample_assistant.ask("   ")


def test_example_questions_come_from_the_corpus_titles(dev_assistant: Assistant) -> None:
    titles = {str(a.metadata.get("title", "")) for a in dev_assistant.components.store.iter_articles()}
    examples = dev_assistant.example_questions(3)
    assert len(examples) == 3 and len(set(examples)) == 3
    for example in examples:
        quoted = example.split("“", 1)[1].rsplit("”", 1)[0]
        assert any(quoted in title for title in titles)


def test_health_and_stats_describe_the_store(sample_assistant: Assistant) -> None:
    sample_assistant.warm_up()
    assert sample_assistant.health() == {"store": True, "model_loaded": True, "articles": 1}
    assert sample_assistant.stats().articles == 1


def test_ingest_document_and_delete_round_trip(tmp_path: Path, embedder: Embedder) -> None:
    assistant = create_assistant(Settings(store_dir=tmp_path / "store"), embedder=embedder)
    article = Article(doc_id="zoo-1", text="The city zoo welcomed a baby giraffe named Tumbo on Friday.")
    assert assistant.ingest_articles([article]).added == 1
    assert assistant.document("zoo-1").text == article.text
    assert assistant.ask("What was the baby giraffe named?").citations[0].doc_id == "zoo-1"
    assistant.delete("zoo-1")
    with pytest.raises(DocumentNotFoundError):
        assistant.document("zoo-1")
    assert not assistant.ask("What was the baby giraffe named?").grounded


def test_an_index_an_older_newsdesk_left_is_rebuilt_when_the_assistant_prepares(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(store_dir=tmp_path / "store")
    writer = create_assistant(settings, embedder=embedder)
    article = Article(doc_id="zoo-1", text="The city zoo welcomed a baby giraffe named Tumbo on Friday.")
    assert writer.ingest_articles([article]).added == 1
    index_settings = writer.components.store.lexical.path / SETTINGS_FILE
    writer.components.store.close()
    index_settings.write_text(json.dumps({"schema": "2", "analyzer": ANALYZER_NAME}))
    upgraded = create_assistant(settings, embedder=embedder)  # opens no index yet
    upgraded.prepare()  # what serve, ask and eval do first: it may write, so it rebuilds
    assert json.loads(index_settings.read_text())["schema"] == SCHEMA_VERSION
    assert upgraded.ask("What was the baby giraffe named?").citations[0].doc_id == "zoo-1"


def test_example_questions_of_an_empty_store_are_empty(tmp_path: Path, embedder: Embedder) -> None:
    assistant = create_assistant(Settings(store_dir=tmp_path / "store"), embedder=embedder)
    assert assistant.example_questions() == []
    assert not assistant.ask(QUESTION).grounded


def test_example_questions_use_real_titles_never_a_file_name_standing_in(
    tmp_path: Path, embedder: Embedder
) -> None:
    from tests.conftest import SAMPLE

    untitled = tmp_path / "harbour-notes.txt"
    untitled.write_text(
        "The Quillport harbour office opened a new ferry terminal on Monday.\n", encoding="utf-8"
    )
    assistant = create_assistant(Settings(store_dir=tmp_path / "store"), embedder=embedder)
    assert assistant.ingest_sources([str(SAMPLE), str(untitled)]).added == 2
    examples = assistant.example_questions(4)
    assert examples == [
        "What do the articles say about “Russian delegation led by Evkurov holds military talks in Damascus”?"
    ]
    assert not any("harbour-notes" in q or "damascus-talks" in q for q in examples)


def test_the_front_door_example_of_the_docs_answers_with_checkable_citations(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = assistant.Settings(store_dir=tmp_path / "store", feedback_path=tmp_path / "feedback.jsonl")
    desk = assistant.create_assistant(settings, embedder=embedder)
    report = desk.ingest_sources([str(SAMPLE)])
    assert isinstance(report, assistant.IngestReport) and report.added == 1 and not report.failed
    answer = desk.ask("Who led the Russian delegation to Damascus?")
    assert isinstance(answer, assistant.Answer) and answer.grounded and answer.citations
    for citation in answer.citations:
        assert (
            desk.document(citation.doc_id).text[citation.char_start : citation.char_end] == citation.sentence
        )
    with pytest.raises(assistant.NewsdeskError):
        desk.document("no-such-article")
