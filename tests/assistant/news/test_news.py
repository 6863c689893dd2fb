"""News-native answers on real dev articles: syndication, corroboration, dates, links, corrections.

One small store of real articles is built once for the module: the Tom Brady retirement as
reported by CNN and by USA TODAY (independently written, quoting the same statement), and the
Medal of Freedom ceremony as reported by USA TODAY and by CNN, whose story the dev set holds twice
(the same text at two URLs: a syndicated copy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from assistant.answering.newest import NewestFirst, prefer_newest
from assistant.core.settings import Settings
from assistant.evaluate import read_questions
from assistant.frontends.cli.answer import news_line
from assistant.frontends.ui.render import answer_html
from assistant.news.enrich import NewsEnricher
from assistant.pipeline.request import Request
from assistant.pipeline.retrieve import date_phrase_notice, prefer_dated
from assistant.pipeline.scope import question_filters
from assistant.retrieval.syndicated import collapse_syndicated
from assistant.service import Assistant, create_assistant
from assistant.text.question import read_question
from assistant.types import Answer, Citation, Corroboration, Filters
from ingest.embedding.embedder import Embedder
from ingest.storage.records import StoredArticle
from ingest.storage.versions import VersionArchive
from tests.conftest import dev_rows

BRADY_CNN, BRADY_USAT = "651d337663a37063", "187a20435053bdbf"
MEDAL_CNN, MEDAL_CNN_COPY, MEDAL_USAT = "f05e0b8abec75b8e", "c450885802e6cc01", "0c97e8fc54414ec5"
SLICE = (BRADY_CNN, BRADY_USAT, MEDAL_CNN, MEDAL_CNN_COPY, MEDAL_USAT)
# Two versions of one story (UK inflation, CNN Business, January and April 2022) and the Fed's
# rate hikes of March, May and June 2022 (CNN, USA TODAY, USA TODAY).
UK_JAN, UK_APR = "04bb93b019c05faa", "40a4c3a3d832984c"
FED_MAR, FED_MAY, FED_JUN = "d3f4d8a50b80e693", "2c00e915b7928e18", "00217bb7dbd3a60f"
DATED = (UK_JAN, UK_APR, FED_MAR, FED_MAY, FED_JUN)


def write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def assistant_on(folder: Path, embedder: Embedder, doc_ids: tuple[str, ...]) -> Assistant:
    """An assistant on a new store in ``folder`` holding these dev articles."""
    settings = Settings(store_dir=folder / "store", feedback_path=folder / "feedback.jsonl")
    assistant = create_assistant(settings, embedder=embedder)
    report = assistant.ingest_sources([str(write_jsonl(folder / "slice.jsonl", dev_rows(doc_ids)))])
    assert report.ok and report.added == len(doc_ids)
    return assistant


@pytest.fixture(scope="module")
def news_assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Assistant:
    return assistant_on(tmp_path_factory.mktemp("news-store"), embedder, SLICE)


@pytest.fixture(scope="module")
def dated_assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Assistant:
    return assistant_on(tmp_path_factory.mktemp("dated-store"), embedder, DATED)


@pytest.fixture(scope="module")
def enricher(news_assistant: Assistant) -> NewsEnricher:
    c = news_assistant.components
    return NewsEnricher(c.settings.news, c.store, c.embedder, news_assistant.workers)


def cite(assistant: Assistant, doc_id: str, sentence: str, n: int = 1) -> Citation:
    """A citation of a sentence of a stored article, as the answerer makes it."""
    article = assistant.document(doc_id)
    start = article.text.index(sentence)
    meta = article.metadata
    return Citation(
        n=n,
        sentence=article.text[start : start + len(sentence)],
        doc_id=doc_id,
        title=str(meta["title"]),
        url=str(meta["url"]),
        published=str(meta["published"]),
        source=str(meta["source"]),
        char_start=start,
        char_end=start + len(sentence),
    )


def enrich_one(enricher: NewsEnricher, citation: Citation, question: str = "q") -> Answer:
    return enricher.enrich(
        Answer(question=question, answer=citation.sentence, citations=[citation], grounded=True)
    )


def test_syndicated_copy_is_listed_as_also_published_by(
    news_assistant: Assistant, enricher: NewsEnricher
) -> None:
    medal = cite(news_assistant, MEDAL_CNN_COPY, "The 17 individuals are the first people Biden has awarded")
    assert enrich_one(enricher, medal).citations[0].also_published_by == ["cnn.com"]
    brady = cite(
        news_assistant, BRADY_USAT, "Brady made the announcement via social media on Tuesday morning."
    )
    assert enrich_one(enricher, brady).citations[0].also_published_by == []


def test_widely_reported_fact_is_corroborated_by_another_outlet(
    news_assistant: Assistant, enricher: NewsEnricher
) -> None:
    sentence = (
        "The President awarded the medal posthumously to Apple co-founder Steve Jobs, former Republican "
        "Sen. John McCain of Arizona and former AFL-CIO President Richard Trumka."
    )
    found = enrich_one(enricher, cite(news_assistant, MEDAL_CNN, sentence)).citations[0].corroboration
    assert found is not None
    assert found.count == 2  # CNN and USA TODAY; CNN's own copy of the story does not count
    (support,) = found.supporting
    assert (support.doc_id, support.source) == (MEDAL_USAT, "usatoday.com")
    article = news_assistant.document(MEDAL_USAT)
    assert article.text[support.char_start : support.char_end] == support.sentence
    assert "posthumously" in support.sentence and "Steve Jobs" in support.sentence


def test_quoted_statement_is_corroborated_across_outlets(
    news_assistant: Assistant, enricher: NewsEnricher
) -> None:
    quote = cite(news_assistant, BRADY_USAT, "And I have tried my very best these past 22 years.")
    found = enrich_one(enricher, quote).citations[0].corroboration
    assert found is not None and found.count == 2
    assert [s.doc_id for s in found.supporting] == [BRADY_CNN]


def test_single_sourced_fact_counts_one(news_assistant: Assistant, enricher: NewsEnricher) -> None:
    sentence = "Vice President Kamala Harris and second gentleman Doug Emhoff attended the ceremony"
    found = enrich_one(enricher, cite(news_assistant, MEDAL_CNN, sentence)).citations[0].corroboration
    assert found is not None
    assert (found.count, found.supporting) == (1, [])


def test_citation_gets_anchored_dates_and_a_deep_link(
    news_assistant: Assistant, enricher: NewsEnricher
) -> None:
    citation = cite(
        news_assistant, BRADY_USAT, "Brady made the announcement via social media on Tuesday morning."
    )
    enriched = enrich_one(enricher, citation).citations[0]
    assert enriched.dates == {"on Tuesday": "2022-02-01"}  # published Tuesday 2022-02-01
    assert enriched.deep_link == (
        f"{citation.url}#:~:text=Brady%20made%20the%20announcement%20via%20social%20media%20on%20Tuesday"
        "%20morning."
    )


def test_question_about_the_latest_state_is_answered_as_of_the_newest_evidence(
    news_assistant: Assistant, enricher: NewsEnricher
) -> None:
    first = cite(
        news_assistant, BRADY_USAT, "Brady made the announcement via social media on Tuesday morning."
    )
    second = cite(news_assistant, MEDAL_CNN, "The 17 individuals are the first people Biden has awarded", n=2)
    answer = Answer(
        question="What is the latest news?", answer="x [1] y [2]", citations=[first, second], grounded=True
    )
    enriched = enricher.enrich(answer)
    assert enriched.as_of == "2022-07-07"
    assert enriched.answer == "x [1] y [2]\n\nAs of 2022-07-07."
    plain = enricher.enrich(answer.model_copy(update={"question": "Who got the medal?"}))
    assert (plain.as_of, plain.answer) == ("", "x [1] y [2]")


def test_answer_cites_one_copy_of_a_syndicated_story_and_lists_the_others(news_assistant: Assistant) -> None:
    answer = news_assistant.ask("How many Americans did Biden award the presidential Medal of Freedom to?")
    assert answer.grounded
    cited = {c.doc_id for c in answer.citations}
    assert not {MEDAL_CNN, MEDAL_CNN_COPY} <= cited
    copy = next(c for c in answer.citations if c.doc_id in (MEDAL_CNN, MEDAL_CNN_COPY))
    assert copy.also_published_by == ["cnn.com"]
    assert all(c.corroboration is not None and c.deep_link for c in answer.citations)
    assert "news" in answer.timings_ms


# --- corrections -----------------------------------------------------------------------------
def test_corrected_article_is_no_longer_cited_for_its_old_sentence_and_the_answer_says_so(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(store_dir=tmp_path / "store", feedback_path=tmp_path / "feedback.jsonl")
    assistant = create_assistant(settings, embedder=embedder)
    (right,) = dev_rows((MEDAL_CNN,))
    wrong = {**right, "text": str(right["text"]).replace("Steve Jobs", "Steve Wozniak")}
    path = tmp_path / "medal.jsonl"
    question = "Which Apple co-founder was awarded the Medal of Freedom posthumously?"
    assistant.ingest_sources([str(write_jsonl(path, [wrong]))])
    before = assistant.ask(question)
    assert "Steve Wozniak" in before.citations[0].sentence
    assert not any("Corrected" in n for n in before.notices)
    assistant.ingest_sources([str(write_jsonl(path, [right]))])
    after = assistant.ask(question)
    assert not any("Wozniak" in c.sentence for c in after.citations)
    assert "Steve Jobs" in after.citations[0].sentence
    (notice,) = [n for n in after.notices if n.startswith("Corrected since")]
    assert "Steve Wozniak" in notice
    history = VersionArchive(assistant.components.store).history(MEDAL_CNN)
    assert [v.text for v in history] == [wrong["text"]]


# --- helpers for the retrieval side ----------------------------------------------------------
@dataclass
class Ranked:
    doc_id: str
    score: float = 0.0


def test_collapse_keeps_only_the_best_ranked_copy_of_each_story() -> None:
    stories = {"a": "s1", "a-copy": "s1", "b": "s2"}
    ranked = [Ranked("a-copy"), Ranked("b"), Ranked("a"), Ranked("a-copy"), Ranked("b")]
    kept = collapse_syndicated(ranked, stories.__getitem__)
    assert [r.doc_id for r in kept] == ["a-copy", "b", "a-copy", "b"]


def test_prefer_newest_leads_with_the_newest_near_best_candidate_that_answers_as_well() -> None:
    published = {"old": 1, "new": 3, "mid": 2, "newest-but-weak": 4, "newest-but-off-topic": 5}
    policy: NewestFirst[Ranked] = NewestFirst(
        published_ts=lambda r: published[r.doc_id],
        eligible=lambda c, best: c.doc_id != "newest-but-off-topic",
        repeats=lambda a, b: a.doc_id == b.doc_id,
        margin=0.1,
        limit=2,
    )
    chosen = [Ranked("old", 1.0), Ranked("mid", 0.92)]
    ranked = [*chosen, Ranked("new", 0.95), Ranked("newest-but-weak", 0.5), Ranked("newest-but-off-topic", 1)]
    assert [r.doc_id for r in prefer_newest(chosen, ranked, policy)] == ["new", "old"]


def test_prefer_newest_keeps_the_answer_when_nothing_newer_answers_as_well() -> None:
    published = {"old": 1, "new": 3}
    policy: NewestFirst[Ranked] = NewestFirst(
        published_ts=lambda r: published[r.doc_id],
        eligible=lambda c, best: False,
        repeats=lambda a, b: False,
        margin=1.0,
        limit=3,
    )
    chosen = [Ranked("old", 1.0)]
    assert prefer_newest(chosen, [*chosen, Ranked("new", 0.99)], policy) == chosen
    assert prefer_newest([], [Ranked("new", 0.99)], policy) == []


def test_date_restricted_search_is_kept_only_when_it_answers_about_as_well() -> None:
    assert prefer_dated(plain_best=2.0, dated_best=1.8, margin=0.3)
    assert not prefer_dated(plain_best=2.0, dated_best=1.6, margin=0.3)
    assert not prefer_dated(plain_best=2.0, dated_best=None, margin=0.3)  # dated search would refuse
    assert prefer_dated(plain_best=None, dated_best=1.0, margin=0.3)
    month = Filters(published_from="2022-05-01", published_to="2022-05-31")
    assert date_phrase_notice(month, kept=True) == (
        "Searched articles published 2022-05-01 to 2022-05-31, the dates named in the question."
    )
    assert "searched all dates" in date_phrase_notice(month, kept=False)


def test_date_phrase_of_the_question_becomes_a_filter_unless_dates_are_given() -> None:
    today = date(2023, 3, 15)
    got = question_filters("What happened in June 2022?", Filters(sources=["cnn.com"]), today)
    assert got == Filters(published_from="2022-06-01", published_to="2022-06-30", sources=["cnn.com"])
    explicit = Filters(published_from="2021-01-01")
    assert question_filters("What happened in June 2022?", explicit, today) is explicit
    assert question_filters("Who won?", None, today) is None
    assert question_filters("What happened between May 2022 and March 2022?", None, today) is None


def test_story_of_an_article_stored_before_grouping_is_itself() -> None:
    from assistant.retrieval.syndicated import story_of

    assert story_of(StoredArticle("old", "text", {"source": "cnn.com"})) == "old"


# --- latest questions and date phrases, end to end on real articles ----------------------------
def with_settings(assistant: Assistant, **changed: object) -> Assistant:
    """Another assistant over the same store and model, with some settings changed."""
    return Assistant(assistant.settings.model_copy(update=changed), assistant.components)


def test_latest_question_over_two_versions_of_a_story_cites_the_newer_and_says_as_of_its_date(
    dated_assistant: Assistant,
) -> None:
    question = "What is the latest UK inflation rate?"
    answer = dated_assistant.ask(question)
    assert answer.grounded and answer.citations[0].doc_id == UK_APR
    assert "inflation" in answer.citations[0].sentence
    assert answer.as_of == "2022-04-13" and answer.answer.endswith("As of 2022-04-13.")
    assert UK_JAN in {c.doc_id for c in answer.citations}  # the older version still follows
    older_first = with_settings(dated_assistant, latest_prefers_newest=False).ask(question)
    assert older_first.citations[0].doc_id == UK_JAN  # what the switch changes
    assert older_first.grounded == answer.grounded


def test_month_named_in_the_question_restricts_citations_to_that_month(dated_assistant: Assistant) -> None:
    answer = dated_assistant.ask("By how much did the Fed raise its key interest rate in May 2022?")
    assert answer.grounded and answer.citations
    assert {c.doc_id for c in answer.citations} == {FED_MAY}
    assert any("half percentage point" in c.sentence for c in answer.citations)
    assert answer.filters_applied == Filters(published_from="2022-05-01", published_to="2022-05-31")
    assert "Searched articles published 2022-05-01 to 2022-05-31" in answer.notices[0]
    unrestricted = dated_assistant.ask("By how much did the Fed raise its key interest rate?")
    assert unrestricted.citations[0].doc_id == FED_JUN and unrestricted.filters_applied is None


def test_last_week_in_the_question_is_relative_to_the_given_today(dated_assistant: Assistant) -> None:
    answer = dated_assistant.ask(
        Request.of("By how much did the Fed raise interest rates last week?", today=date(2022, 6, 20))
    )
    assert answer.filters_applied == Filters(published_from="2022-06-13", published_to="2022-06-19")
    assert {c.doc_id for c in answer.citations} == {FED_JUN}


def test_date_that_only_names_the_event_falls_back_to_all_dates(dated_assistant: Assistant) -> None:
    # The December 2021 figure was published in January 2022: nothing published in December answers.
    answer = dated_assistant.ask("How high was UK inflation in December 2021?")
    assert answer.grounded and answer.filters_applied is None
    assert any(c.doc_id == UK_JAN and "5.4%" in c.sentence for c in answer.citations)
    assert "searched all dates" in answer.notices[0]


def test_switching_date_phrases_off_searches_all_dates(dated_assistant: Assistant) -> None:
    question = "By how much did the Fed raise its key interest rate in May 2022?"
    answer = with_settings(dated_assistant, question_date_filters=False).ask(question)
    assert answer.filters_applied is None and not answer.notices


def test_date_range_read_from_the_question_is_shown_in_the_sources_panel() -> None:
    citation = Citation(n=1, sentence="It rose.", doc_id="d", char_start=0, char_end=8)
    month = Filters(published_from="2022-05-01", published_to="2022-05-31")
    answer = Answer(
        question="q", answer="It rose. [1]", citations=[citation], grounded=True, filters_applied=month
    )
    assert "Searched articles published 2022-05-01 to 2022-05-31" in answer_html(answer, {}, "m1")
    plain = answer.model_copy(update={"filters_applied": None})
    assert "Searched" not in answer_html(plain, {}, "m1")


def test_cli_text_shows_corroboration_copies_and_dates_of_a_citation() -> None:
    citation = Citation(
        n=1,
        sentence="Brady made the announcement on Tuesday.",
        doc_id="d",
        char_start=0,
        char_end=39,
        dates={"on Tuesday": "2022-02-01"},
        also_published_by=["cnn.com"],
        corroboration=Corroboration(count=2),
    )
    assert news_line(citation) == (
        'reported by 2 independent outlets; also published by: cnn.com; dates: "on Tuesday" = 2022-02-01'
    )
    single = citation.model_copy(
        update={"corroboration": Corroboration(), "also_published_by": [], "dates": {}}
    )
    assert news_line(single) == "single source so far"


def test_eval_questions_keep_the_day_they_were_asked(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "1", "question": "Who won this week?", "answer": "x", "date": "2022/06/16"}\n'
        '{"id": "2", "question": "Who won?"}\n',
        encoding="utf-8",
    )
    assert [q.date for q in read_questions(path)] == ["2022/06/16", ""]


def test_as_of_date_is_shown_once_in_the_ui_answer() -> None:
    citation = Citation(n=1, sentence="It rose to 7%.", doc_id="d", char_start=0, char_end=14)
    answer = Answer(
        question="What is the latest rate?",
        answer="It rose to 7%. [1]\n\nAs of 2022-04-13.",
        citations=[citation],
        grounded=True,
        as_of="2022-04-13",
    )
    assert answer_html(answer, {}, "m1").count("As of 2022-04-13") == 1
    bare = answer.model_copy(update={"answer": "It rose to 7%. [1]"})  # e.g. an LLM answer rewritten
    assert answer_html(bare, {}, "m1").count("As of 2022-04-13") == 1


def test_whole_articles_and_the_best_recent_one_join_the_candidates(dated_assistant: Assistant) -> None:
    question = read_question("What is the UK inflation rate?")
    whole = with_settings(dated_assistant, article_candidates=1, recent_article_candidates=1).search
    best = dated_assistant.components.store.lexical.article_index.search(question.terms, 1)[0].doc_id
    assert best in (UK_JAN, UK_APR)

    def has_every_sentence(doc_id: str, today: date | None = None) -> bool:
        found = whole.search(question, today=today)
        rows, article = {c.row for c in found.candidates}, found.view.article_rows(doc_id)
        return len(article) > 0 and all(r in rows or found.view.is_boilerplate(r) for r in article)

    assert has_every_sentence(best)
    assert has_every_sentence(FED_MAY, today=date(2022, 5, 6))  # the one article of the 7 days before
