"""The evidence an LLM answers from: numbered sentences with their article titles and dates."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.retrieval.retrieve import Candidate, Retrieval


@dataclass(frozen=True)
class Evidence:
    """One numbered evidence sentence as shown to the LLM."""

    n: int
    text: str
    source: str = ""
    published: str = ""


def evidence_block(evidence: Sequence[Evidence]) -> str:
    """One line per evidence sentence: ``[n] (outlet, date) "JSON-encoded sentence"``."""
    return "\n".join(
        f"[{e.n}] ({evidence_label(e)}) {json.dumps(e.text, ensure_ascii=False)}" for e in evidence
    )


def evidence_label(e: Evidence) -> str:
    return f"{e.source or 'unknown outlet'}, {e.published or 'undated'}"


def evidence_of(retrieval: Retrieval, n: int, cand: Candidate) -> Evidence:
    """The numbered evidence of a candidate sentence, with its article's outlet and date."""
    meta = retrieval.view.articles[cand.doc_id].metadata
    return Evidence(n, cand.text, str(meta.get("source", "")), str(meta.get("published", "")))
