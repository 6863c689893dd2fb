"""Hybrid retrieval: committed sentences only, exact offsets, filters on both sides, fresh after writes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from assistant.core.errors import FilterError
from assistant.core.settings import Settings
from assistant.core.types import Article, MetaValue
from assistant.pipeline.request import Request
from assistant.retrieval import dense, retrieve
from assistant.retrieval.corpus import ArticleLookup
from assistant.retrieval.dense import DenseHit
from assistant.retrieval.filters import FilterSpec
from assistant.retrieval.retrieve import SentenceRetriever
from assistant.service import Assistant, create_assistant
from assistant.text.question import read_question
from assistant.types import Filters
from ingest.embedding.embedder import Embedder
from tests.assistant.conftest import dev_questions


def test_candidates_are_committed_sentences_with_exact_offsets(dev_assistant: Assistant) -> None:
    question = read_question(dev_questions()[0]["question"])
    retrieval = dev_assistant.search.search(question)
    assert retrieval.candidates
    searched = {c.row for c in retrieval.candidates if c.dense_rank is not None or c.lexical_rank is not None}
    for cand in retrieval.candidates:
        article = dev_assistant.document(cand.doc_id)
        assert cand.text == article.text[cand.start : cand.end]
        # found by a search, or the sentence before or after one that was (a neighbour candidate)
        assert cand.row in searched or {cand.row - 1, cand.row + 1} & searched


def test_neighbour_candidates_are_the_sentences_around_the_best_fused_ones(dev_assistant: Assistant) -> None:
    question = read_question(dev_questions()[0]["question"])
    retrieval = dev_assistant.search.search(question)
    view = retrieval.view
    neighbours = [c for c in retrieval.candidates if c.dense_rank is None and c.lexical_rank is None]
    assert neighbours
    best = [c.row for c in retrieval.candidates[: dev_assistant.settings.neighbour_candidates]]
    for cand in neighbours:
        assert any(cand.row in view.neighbours(row) for row in best)


def test_dense_and_lexical_candidates_are_both_fused(dev_assistant: Assistant) -> None:
    retrieval = dev_assistant.search.search(read_question("Which automaker recalled 2.9 million vehicles?"))
    assert any(c.dense_rank is not None for c in retrieval.candidates)
    assert any(c.lexical_rank is not None for c in retrieval.candidates)
    fused = [c.fused for c in retrieval.candidates]
    assert fused == sorted(fused, reverse=True)


def test_date_filter_keeps_only_sentences_published_in_range(dev_assistant: Assistant) -> None:
    filters = Filters(published_from="2022-06-01", published_to="2022-06-30")
    spec = FilterSpec.from_filters(filters)
    retrieval = dev_assistant.search.search(read_question("What happened to gas prices?"), filters)
    assert retrieval.candidates
    for cand in retrieval.candidates:
        published = str(retrieval.view.articles[cand.doc_id].metadata.get("published", ""))
        assert "2022-06-01" <= published[:10] <= "2022-06-30"
        assert spec.ts_from is not None and spec.ts_to is not None
        assert spec.ts_from <= retrieval.view.s_ts[cand.row] <= spec.ts_to


def _passes(spec: FilterSpec, meta: Mapping[str, MetaValue]) -> bool:
    """The filters' meaning, written out: in the date range (a dated article) and from an outlet."""
    value = meta.get("published_ts")
    ts = value if isinstance(value, int) else -1
    after = spec.ts_from is None or ts >= spec.ts_from
    before = spec.ts_to is None or 0 <= ts <= spec.ts_to
    return after and before and (not spec.sources or meta.get("source") in spec.sources)


def _chroma_filtered_keys(assistant: Assistant, question: str, spec: FilterSpec) -> set[tuple[str, int]]:
    """(doc_id, index) of the k nearest sentences of a Chroma query carrying the filter as ``where``."""
    vector = assistant.search.embedder.embed_query(question)
    records = assistant.search.store.query_sentences(vector, assistant.settings.retrieve_k, spec.where())
    return {(r.doc_id, r.index) for r in records}


@pytest.mark.parametrize(
    ("one_day", "overfetch", "by_ids_max"),
    [(False, (16,), 2000), (True, (16, 64), 2000), (True, (1,), 2000), (True, (1,), 0)],
)
def test_filtered_dense_search_finds_what_a_chroma_filtered_query_finds(
    dev_assistant: Assistant,
    one_day: bool,
    overfetch: tuple[int, ...],
    by_ids_max: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retrieve, "DENSE_OVERFETCH", overfetch)  # 1: few pass, the Chroma fallback
    monkeypatch.setattr(retrieve, "FILTER_BY_IDS_MAX", by_ids_max)  # 0: the fallback filters by date
    question = "Which automaker recalled vehicles?"
    search = dev_assistant.search
    first = next(dev_assistant.components.store.iter_articles())
    day = str(first.metadata.get("published", ""))[:10] if one_day else ""
    filters = (
        Filters(published_from=day, published_to=day) if one_day else Filters(published_from="2000-01-01")
    )
    spec = FilterSpec.from_filters(filters)
    got = search._dense(search.embedder.embed_query(question), spec)
    expected = _chroma_filtered_keys(dev_assistant, question, spec)
    keys = {(h.doc_id, h.index) for h in got}
    articles = ArticleLookup(dev_assistant.components.store)
    articles.load(h.doc_id for h in got)
    assert all(_passes(spec, articles[h.doc_id].metadata) for h in got) and len(keys) == len(got)
    assert len(got) >= min(len(expected), dev_assistant.settings.retrieve_k / 2)
    assert len(keys - expected) <= 0.1 * len(got)  # the best of the filtered sentences


def test_the_lexical_index_keeps_what_the_filters_let_through_and_nothing_else(
    dev_assistant: Assistant,
) -> None:
    store = dev_assistant.components.store
    source = sorted(dev_assistant.stats().sources)[0]
    spec = FilterSpec.from_filters(
        Filters(published_from="2022-06-10", published_to="2022-06-30", sources=[source])
    )
    terms = read_question("What did the president say about prices?").terms
    unfiltered = store.lexical.search(terms, 200)
    filtered = store.lexical.search(terms, 200, spec.search_filters())
    assert 0 < len(filtered) < len(unfiltered)
    articles = ArticleLookup(store)
    articles.load(h.key.doc_id for h in [*unfiltered, *filtered])
    assert all(_passes(spec, articles[h.key.doc_id].metadata) for h in filtered)
    passing = {h.key for h in unfiltered if _passes(spec, articles[h.key.doc_id].metadata)}
    assert {h.key for h in filtered} >= passing


def test_source_filter_keeps_only_that_outlet(dev_assistant: Assistant) -> None:
    sources = sorted(dev_assistant.stats().sources)
    assert len(sources) >= 2
    retrieval = dev_assistant.search.search(
        read_question("What did the president say about prices?"), Filters(sources=[sources[0]])
    )
    assert retrieval.candidates
    assert {retrieval.view.s_source[c.row] for c in retrieval.candidates} == {sources[0]}


def test_filter_matching_nothing_gives_a_refusal(dev_assistant: Assistant) -> None:
    answer = dev_assistant.ask(
        Request.of("Which automaker recalled vehicles?", filters=Filters(sources=["no.such.outlet"]))
    )
    assert not answer.grounded and answer.citations == []


def test_bad_filter_date_is_a_filter_error() -> None:
    with pytest.raises(FilterError, match="2022-13-45"):
        FilterSpec.from_filters(Filters(published_from="2022-13-45"))


def test_a_date_range_that_ends_before_it_starts_is_answered_with_a_refusal_not_an_error(
    dev_assistant: Assistant,
) -> None:
    backwards = Filters(published_from="2022-07-01", published_to="2022-06-01")
    assert FilterSpec.from_filters(backwards).impossible
    answer = dev_assistant.ask(Request.of("Which automaker recalled vehicles?", filters=backwards))
    assert not answer.grounded and answer.citations == []
    assert any("published_from 2022-07-01 is after published_to 2022-06-01" in n for n in answer.notices)


def test_sentence_retriever_returns_documents_carrying_citation_offsets(dev_assistant: Assistant) -> None:
    retriever = SentenceRetriever(search=dev_assistant.search, k=5)
    docs = retriever.invoke("Which national park was flooded?")
    assert 0 < len(docs) <= 5
    for doc in docs:
        text = dev_assistant.document(doc.metadata["doc_id"]).text
        assert doc.page_content == text[doc.metadata["char_start"] : doc.metadata["char_end"]]


def test_an_article_written_by_another_assistant_is_found_by_the_next_question(
    tmp_path: Path, embedder: Embedder
) -> None:
    assistant = create_assistant(Settings(store_dir=tmp_path / "store"), embedder=embedder)
    first = Article(
        doc_id="a1", text="The mayor of Springfield opened a new bridge on Monday.", title="Bridge"
    )
    assistant.ingest_articles([first])
    assert assistant.ask("Who opened the bridge?").citations[0].doc_id == "a1"
    second = Article(
        doc_id="a2", text="Heavy snow closed every school in Shelbyville on Tuesday.", title="Snow"
    )
    other = create_assistant(Settings(store_dir=tmp_path / "store"), embedder=embedder)
    other.ingest_articles([second])
    answer = assistant.ask("What closed the schools in Shelbyville?")
    assert answer.grounded and answer.citations[0].doc_id == "a2"
    retrieval = assistant.search.search(read_question("Shelbyville schools snow"))
    assert any(c.doc_id == "a2" and c.lexical_rank is not None for c in retrieval.candidates)
    assert any(c.doc_id == "a2" and c.dense_rank is not None for c in retrieval.candidates)


def test_a_lost_lexical_index_is_rebuilt_when_the_assistant_prepares(
    tmp_path: Path, embedder: Embedder
) -> None:
    import shutil

    settings = Settings(store_dir=tmp_path / "store")
    writer = create_assistant(settings, embedder=embedder)
    writer.ingest_articles(
        [
            Article(
                doc_id="z1",
                text="A zeppelin landed in Lisbon on Friday. Crowds watched it.",
                title="Zeppelin",
            )
        ]
    )
    writer.components.store.close()
    shutil.rmtree(tmp_path / "store" / "lexical.tantivy")
    reader = create_assistant(settings, embedder=embedder)
    reader.prepare()
    found = reader.search.search(read_question("zeppelin Lisbon")).candidates
    assert any(c.doc_id == "z1" and c.lexical_rank is not None for c in found)


def test_a_filter_no_article_passes_answers_nothing_without_a_vector_query(
    dev_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = dense.nearest_sentences

    def counted(*args: Any, **kwargs: Any) -> list[DenseHit]:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(retrieve, "nearest_sentences", counted)
    filters = Filters(published_from="1990-01-01", published_to="1990-12-31")
    retrieval = dev_assistant.search.search(read_question("Which automaker recalled vehicles?"), filters)
    assert retrieval.candidates == [] and calls == []
    dev_assistant.search.search(
        read_question("Which automaker recalled vehicles?"), Filters(published_from="2022-01-01")
    )
    assert calls  # a filter some article passes still searches the vectors
