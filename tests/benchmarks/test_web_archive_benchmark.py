"""The web-archive benchmark runs end to end on a tiny archive, and the scale benchmark's copies of a
store are new articles (never a timing check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import chromadb
import pytest

from benchmarks import scale
from benchmarks.scale import copy_from_stores, renamed
from tests.benchmarks.test_benchmarks_smoke import is_positive, run_benchmark
from tests.conftest import SAMPLE


def story(town: str, topic: str) -> str:
    return "\n\n".join(
        [
            f"The {town} council voted on Monday to approve the {topic} plan after a long public debate "
            "that filled the town hall until late in the evening.",
            f"Supporters said the {topic} plan would bring new jobs to the harbour district and repair "
            "roads that have been neglected for more than a decade.",
            f"Opponents argued that the cost of the {topic} plan had doubled since the spring.",
        ]
    )


ROWS = [
    {
        "id": "talks",
        "url": "https://news.example/world/damascus-talks",
        "title": "Talks in Damascus",
        "text": SAMPLE.read_text(encoding="utf-8"),
        "published": "2022/06/14",
        "authors": ["A. Writer"],
    },
    {
        "id": "ferry",
        "url": "https://news.example/local/ferry",
        "title": "Ferry plan approved",
        "text": story("Quillport", "ferry"),
        "published": "2022/06/15",
        "authors": [],
    },
    {
        "id": "bridge",
        "url": "https://news.example/local/bridge?ref=home",
        "title": "Bridge plan approved",
        "text": story("Marrowby", "bridge"),
        "published": "2022/06/16",
        "authors": [],
    },
]


def write_rows(tmp_path: Path) -> tuple[Path, Path]:
    articles, questions = tmp_path / "articles.jsonl", tmp_path / "questions.jsonl"
    articles.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    asked = [
        {
            "id": "20220617_1",
            "question": "Who led the Russian delegation to Damascus?",
            "answer": "",
            "date": "2022-06-17",
        },
        {
            "id": "20220617_2",
            "question": "Which town approved a ferry plan?",
            "answer": "Quillport",
            "date": "2022-06-17",
        },
    ]
    questions.write_text("".join(json.dumps(q) + "\n" for q in asked), encoding="utf-8")
    return articles, questions


def test_web_archive_benchmark_reads_ingests_and_asks_the_same_articles_both_ways(tmp_path: Path) -> None:
    articles, questions = write_rows(tmp_path)
    work = tmp_path / "work"
    result = run_benchmark(
        "benchmarks.web_archive",
        *("--articles", str(articles), "--questions", str(questions), "--records", "11"),
        *("--ingest-limit", "2", "--repeat", "2", "--workdir", str(work)),
    )
    full, small = result["inputs"]["full"], result["inputs"]["ingest"]
    assert (full["articles"], full["index_pages"], full["warc_records"]) == (3, 2, 11)  # warcinfo + 5 x 2
    assert (small["articles"], small["warc_records"]) == (2, 5)
    reading = result["reading"]
    assert reading["jsonl"]["counts"] == {"articles": 3}
    fronts_skipped = {"articles": 3, "skipped: index page": 2}  # the fronts are no articles
    assert reading["warc"]["counts"] == fronts_skipped
    assert len(reading["warc"]["rss_by_tenth_mb"]) >= 1 and is_positive(
        reading["warc_vs_jsonl_articles_per_s"]
    )
    ingest = result["ingest"]
    assert len(ingest["rounds"]) == 2 and len(ingest["warc_vs_jsonl_articles_per_s_per_round"]) == 2
    for kind in ("jsonl", "warc"):
        run = ingest["rounds"][0][kind]
        assert (run["articles"], run["failed"]) == (2, 0)
        assert (
            is_positive(run["articles_per_s"]) and is_positive(run["peak_rss_mb"]) and run["sentences"] > 10
        )
    assert isinstance(ingest["meets_target"], bool) and ingest["target"] == 0.9
    answers = result["answers"]
    assert answers["questions"] == 2
    assert 0 <= answers["same_first_sentence"] <= answers["same_first_article"] <= 2
    assert answers["warc_first_sentence_hit"] == answers["jsonl_first_sentence_hit"] == 0.5  # Quillport
    assert (work / "full.warc.gz").is_file() and (work / "store-warc-0").is_dir()  # kept for reuse


def test_scale_copies_of_a_store_are_new_articles_dated_earlier_with_their_own_outlet(tmp_path: Path) -> None:
    articles, _ = write_rows(tmp_path)
    source = tmp_path / "source"
    ingested = run_benchmark("assistant", "--store", str(source), "ingest", str(articles), "--json")
    assert ingested["added"] == 3
    store, built = copy_from_stores(tmp_path / "root", 7, [source], shift_days=1000)
    assert (built["articles"], built["reused"]) == (7, False)  # 3 + 3 renamed + 1 of the third round
    client = chromadb.PersistentClient(path=str(store))
    stored = client.get_collection("news_articles").get(include=["metadatas"])
    metadatas = stored["metadatas"] or []
    by_id: dict[str, dict[str, Any]] = {i: dict(m) for i, m in zip(stored["ids"], metadatas, strict=True)}
    assert len(by_id) == 7
    original, copy = by_id["ferry"], by_id[renamed("ferry", 1)]
    assert copy["published_ts"] == original["published_ts"] - 1000 * 86400
    assert (copy["published"], copy["source"]) == ("2019-09-19", "copy1." + str(original["source"]))
    assert copy["url"] == "https://news.example/local/ferry?newsdesk_copy=1"
    assert by_id[renamed("bridge", 1)]["url"].endswith("?ref=home&newsdesk_copy=1")
    sentences = client.get_collection("news_sentences")
    copied = sentences.get(where={"doc_id": renamed("ferry", 1)}, include=["metadatas"])
    kept = sentences.get(where={"doc_id": "ferry"}, include=["metadatas"])
    assert len(copied["ids"]) == len(kept["ids"]) > 0
    assert all(i.startswith(renamed("ferry", 1) + "|") for i in copied["ids"])
    assert {m["published_ts"] for m in copied["metadatas"] or []} == {copy["published_ts"]}
    again, reused = copy_from_stores(tmp_path / "root", 7, [source])
    assert again == store and reused["reused"] is True


def stored(store: Path) -> tuple[dict[str, Any], set[str]]:
    client = chromadb.PersistentClient(path=str(store))
    articles = client.get_collection("news_articles").get(include=["metadatas"])
    sentences = client.get_collection("news_sentences").get(include=[])
    dated = {i: (m or {}).get("published_ts") for i, m in zip(articles["ids"], articles["metadatas"] or [])}
    return dated, set(sentences["ids"])


def test_an_interrupted_copy_goes_on_from_what_it_holds_and_a_larger_one_grows_from_a_smaller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles, _ = write_rows(tmp_path)
    source = tmp_path / "source"
    run_benchmark("assistant", "--store", str(source), "ingest", str(articles), "--json")
    root, seen = tmp_path / "root", []
    real = scale.copy_store

    def interrupted(*args: Any, **kwargs: Any) -> int:
        def stop(total: int) -> None:
            seen.append(total)
            raise KeyboardInterrupt

        return real(*args, **{**kwargs, "page": 2, "progress": stop})

    monkeypatch.setattr(scale, "copy_store", interrupted)
    with pytest.raises(KeyboardInterrupt):
        copy_from_stores(root, 7, [source])
    assert seen == [2] and (root / "archive-7.copying.json").is_file()
    assert not (root / "archive-7.json").exists()  # not complete: not reused as it is
    monkeypatch.undo()
    store, built = copy_from_stores(root, 7, [source])
    assert (built["articles"], built["resumed_at"], built["reused"]) == (7, 2, False)
    assert not (root / "archive-7.copying.json").exists()
    fresh, _ = copy_from_stores(tmp_path / "fresh", 7, [source])
    assert stored(store) == stored(fresh)
    grown, record = copy_from_stores(root, 11, [source])
    assert (record["articles"], record["seeded_from"], record["resumed_at"]) == (11, 7, None)
    whole, _ = copy_from_stores(tmp_path / "whole", 11, [source])
    assert stored(grown) == stored(whole) and len(stored(grown)[0]) == 11
