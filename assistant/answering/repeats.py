"""Follow-ups: sentences already given in the last answer are marked, so they are not the new answer."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.retrieval.retrieve import Candidate


def mark_repeats(candidates: Sequence[Candidate], previous_answer: str) -> None:
    """In a follow-up, sentences already given in the last answer should not be the new answer."""
    if not previous_answer:
        return
    flat = " ".join(previous_answer.split())
    for cand in candidates:
        cand.repeat = " ".join(cand.text.split()) in flat
