"""What the lexical index tests share: the analyzer, three small articles, a child process."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from ingest.storage.lexical_records import IndexedArticle
from tests.conftest import REPO

ANALYZER = "test-words/v1"
DAY = 86400


def analyze(text: str) -> list[str]:
    """The tests' analyzer: lowercase words (the index only needs the same one on both sides)."""
    return re.findall(r"[^\W_]+", text.lower())


def article(doc_id: str, sentences: list[str], version: str = "v1", **meta: object) -> IndexedArticle:
    """An article whose text is its sentences joined by spaces, with their spans."""
    spans, start = [], 0
    for sentence in sentences:
        spans.append((start, start + len(sentence)))
        start += len(sentence) + 1
    return IndexedArticle(doc_id, version, " ".join(sentences), spans, **meta)  # type: ignore[arg-type]


DAM = article(
    "dam",
    ["The dam opened on Tuesday.", "It took eleven years to build.", "Sign up for our newsletter."],
    title="Dam opens",
    source="Wire",
    published_ts=10 * DAY,
)
TALKS = article(
    "talks",
    ["Talks resumed in Damascus.", "The dam was not discussed.", "Sign up for our newsletter."],
    title="Talks resume",
    source="Wire",
    published_ts=20 * DAY,
)
UNDATED = article("undated", ["A dam story without a date."], source="Blog")


def child(script: str) -> subprocess.Popen[str]:
    """A Python process running ``script`` from the repository (it can import this module)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
