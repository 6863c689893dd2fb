"""The view of one question's articles: read by id, with the archive-wide signals from the index."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.core.types import Article
from assistant.retrieval.corpus import ArticleLookup, ArticleReads, build_view, fetch_articles
from ingest.components import IngestComponents
from ingest.storage.spans import committed_sentences
from tests.conftest import SAMPLE


def test_offsets_from_article_records_match_the_sentence_records_of_older_stores(
    components: IngestComponents,
) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    store = components.store
    articles = list(store.iter_articles())
    legacy = [dataclasses.replace(a, span_array=None) for a in articles]
    from_articles = committed_sentences(store.sentences, store.where, articles)
    from_sentences = committed_sentences(store.sentences, store.where, legacy)
    assert from_articles == from_sentences
    assert len(next(iter(from_articles.values()))) > 10


def test_the_view_cuts_every_sentence_from_its_article_text(components: IngestComponents) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    [doc_id] = [a.doc_id for a in components.store.iter_articles()]
    view = build_view(components.store, components.store.lexical, [doc_id])
    [article] = view.articles.values()
    assert article.spans is not None
    assert [view.text(row) for row in range(view.size)] == [article.text[a:b] for a, b in article.spans]
    assert any("Evkurov" in view.text(row) for row in range(view.size))


def test_the_records_the_lexical_index_holds_are_chromas_after_a_write_and_after_a_rebuild(
    components: IngestComponents,
) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    store = components.store
    [doc_id] = [a.doc_id for a in store.iter_articles()]
    chroma, titles = fetch_articles(store, [doc_id], vectors=True, versions={doc_id: "not indexed"})
    for _ in ("written", "rebuilt"):
        indexed, index_titles = fetch_articles(store, [doc_id], vectors=True)
        assert indexed == chroma  # doc_id, text and metadata
        assert indexed[doc_id].spans == chroma[doc_id].spans
        assert (index_titles[doc_id] == titles[doc_id]).all()
        store.lexical_sync.rebuild(show_progress=False)


def test_articles_are_read_from_the_lexical_index_and_from_chroma_when_it_holds_another_version(
    components: IngestComponents,
) -> None:
    components.pipeline.ingest_articles(_outlet_articles())
    store = components.store
    store.articles.delete(ids=["d1"])  # behind the store's back: only the index still has its record
    version = store.lexical.articles(["d1"])["d1"].article.version
    assert set(fetch_articles(store, ["d0", "d1"])[0]) == {"d0", "d1"}
    assert set(fetch_articles(store, ["d0", "d1"], versions={"d1": version})[0]) == {"d0", "d1"}
    assert set(fetch_articles(store, ["d0", "d1"], versions={"d1": "newer"})[0]) == {"d0"}
    view = build_view(store, store.lexical, ["d0", "d1"], versions={"d1": "newer"})
    assert view.doc_ids == ["d0"]


def _outlet_articles() -> list[Article]:
    line = "Sign up for our morning newsletter to get the day's news."
    texts = [
        f"The council approved the budget on Monday. {line}",
        f"A storm closed the harbour on Tuesday. {line}",
        f"The museum reopened after repairs on Wednesday. {line}",
        "The library extended its opening hours on Thursday. Readers welcomed the change.",
    ]
    return [Article(doc_id=f"d{i}", text=t, source="Daily Post") for i, t in enumerate(texts)]


def test_a_view_holds_only_the_articles_it_was_asked_for(components: IngestComponents) -> None:
    components.pipeline.ingest_articles(_outlet_articles())
    view = build_view(components.store, components.store.lexical, ["d3", "d0", "missing"])
    assert set(view.articles) == {"d0", "d3"}
    assert view.doc_ids == ["d0", "d3"]
    assert [view.doc_id(r) for r in view.article_rows("d3")] == ["d3", "d3"]


def test_a_view_takes_the_articles_already_read_from_them_and_reads_only_the_others(
    components: IngestComponents,
) -> None:
    components.pipeline.ingest_articles(_outlet_articles())
    store = components.store
    first = build_view(store, store.lexical, ["d0", "d1"])
    store.delete_article("d0")  # gone from the store: only the known view can still give it
    second = build_view(store, store.lexical, ["d0", "d2"], ArticleReads.of_view(first))
    assert second.doc_ids == ["d0", "d2"]
    assert second.articles["d0"] is first.articles["d0"]
    assert (second.title_vectors[second.doc_pos["d0"]] == first.title_vectors[first.doc_pos["d0"]]).all()
    assert second.articles["d2"].text.startswith("The museum reopened")


def test_a_line_repeated_by_three_articles_of_one_outlet_is_boilerplate_though_the_view_holds_one(
    components: IngestComponents,
) -> None:
    components.pipeline.ingest_articles(_outlet_articles())
    view = build_view(components.store, components.store.lexical, ["d0"])
    assert [view.is_boilerplate(r) for r in range(view.size)] == [False, True]
    assert view.idf("newslett") < view.idf("council")  # archive-wide: in three articles, not one


def test_the_article_lookup_reads_an_article_only_when_asked_for(components: IngestComponents) -> None:
    components.pipeline.ingest_articles(_outlet_articles())
    lookup = ArticleLookup(components.store)
    assert len(lookup) == 0
    assert lookup["d1"].text.startswith("A storm")
    assert "d2" in lookup and "nowhere" not in lookup
    assert sorted(lookup) == ["d1", "d2"]
    with pytest.raises(KeyError):
        lookup["nowhere"]
