"""Stores for the answering tests, each built ONCE per test session (real model, real Chroma).

* ``sample_assistant``: the sample corpus (samples/damascus-talks.txt) only.
* ``dev_assistant``: a slice of the shared dev set: for the first ``DEV_QUESTIONS`` questions, the
  (short) articles that contain the gold answer and share most words with the question, plus a few
  unrelated articles as distractors. Tests only read from these stores; tests that write make
  their own in ``tmp_path``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.core.settings import Settings
from assistant.service import Assistant, create_assistant
from assistant.text.lexical import contains_answer, content_terms
from ingest.embedding.embedder import Embedder
from tests.conftest import DEV_DIR, SAMPLE

DEV_QUESTIONS = 12
ARTICLES_PER_QUESTION = 2
DISTRACTORS = 6
MAX_ARTICLE_CHARS = 12_000


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def dev_questions() -> list[dict[str, Any]]:
    path = DEV_DIR / "questions.jsonl"
    if not path.is_file():
        pytest.skip(f"shared dev set not found at {path}")
    return read_jsonl(path)[:DEV_QUESTIONS]


def dev_slice(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Short dev articles holding each question's gold answer, plus a few distractors."""
    path = DEV_DIR / "articles.jsonl"
    if not path.is_file():
        pytest.skip(f"shared dev set not found at {path}")
    articles = [a for a in read_jsonl(path) if len(a["text"]) <= MAX_ARTICLE_CHARS]
    terms = [set(content_terms(f"{a['title']} {a['text']}")) for a in articles]
    chosen: list[int] = []
    for q in questions:
        wanted = set(content_terms(q["question"]))
        hits = sorted(
            (
                (len(wanted & terms[i]), i)
                for i, a in enumerate(articles)
                if contains_answer(a["text"], q["answer"])
            ),
            reverse=True,
        )
        chosen += [i for _, i in hits[:ARTICLES_PER_QUESTION] if i not in chosen]
    chosen += [i for i in range(len(articles)) if i not in chosen][:DISTRACTORS]
    return [articles[i] for i in chosen]


def _assistant(folder: Path, embedder: Embedder) -> Assistant:
    # many tests ask these shared stores the same questions to look at how the pipeline answers:
    # each ask walks it (the answer cache is tested on its own, tests/assistant/test_answer_cache.py)
    settings = Settings(
        store_dir=folder / "store", feedback_path=folder / "feedback.jsonl", answer_cache_size=0
    )
    return create_assistant(settings, embedder=embedder)


@pytest.fixture(scope="session")
def sample_assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Assistant]:
    assistant = _assistant(tmp_path_factory.mktemp("sample-store"), embedder)
    report = assistant.ingest_sources([str(SAMPLE)])
    assert report.ok and report.added == 1
    yield assistant


@pytest.fixture(scope="session")
def dev_assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Assistant]:
    folder = tmp_path_factory.mktemp("dev-store")
    path = folder / "articles.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in dev_slice(dev_questions())), encoding="utf-8")
    assistant = _assistant(folder, embedder)
    report = assistant.ingest_sources([str(path)])
    assert report.ok and report.added > DEV_QUESTIONS
    yield assistant
