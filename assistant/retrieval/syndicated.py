"""Syndicated copies: the story group of an article, and one copy of each story among ranked
candidates (docs/news.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from ingest.storage.records import StoredArticle


class HasDocId(Protocol):
    @property
    def doc_id(self) -> str: ...


T = TypeVar("T", bound=HasDocId)


def collapse_syndicated(candidates: Sequence[T], story_of_doc: Callable[[str], str]) -> list[T]:
    """Ranked candidates with syndicated copies removed: for each story group, only the candidates
    of its best-ranked article are kept (several sentences of that one article may stay)."""
    chosen: dict[str, str] = {}
    out = []
    for cand in candidates:
        story = story_of_doc(cand.doc_id)
        if chosen.setdefault(story, cand.doc_id) == cand.doc_id:
            out.append(cand)
    return out


def story_of(article: StoredArticle) -> str:
    """The story group of an article (its own doc_id when it was stored before story grouping)."""
    return str(article.metadata.get("story_id", "")) or article.doc_id
