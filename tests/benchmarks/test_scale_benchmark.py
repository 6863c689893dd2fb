"""The scale and lexical benchmarks run end to end on a tiny slice and print the promised JSON
(never a timing check)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.scale import pooled_lines
from tests.benchmarks.test_benchmarks_smoke import ROWS, articles_file, is_positive, run_benchmark
from tests.benchmarks.test_query_benchmark import questions_file


def test_scale_benchmark_builds_each_size_once_then_reuses_it_and_reports_serving_figures(
    tmp_path: Path,
) -> None:
    root = tmp_path / "stores"
    args = ["--articles", str(articles_file(tmp_path)), "--questions", str(questions_file(tmp_path))]
    result = run_benchmark(
        "benchmarks.scale", *args, "--sizes", "2,3", "--store-root", str(root), "--new-articles", "2"
    )
    assert (result["benchmark"], result["questions"]) == ("scale", 2)
    small, large = result["sizes"]
    assert (small["size"], small["articles"], large["articles"]) == (2, 2, 3)
    assert (small["reused"], small["ingested"], large["ingested"]) == (False, 2, 1)  # grown from size 2
    for row in (small, large):
        for key in ("ingest_articles_per_s", "store_mb", "rss_mb", "peak_rss_mb", "write_s"):
            assert is_positive(row[key]), key
        assert row["ask_ms"]["n"] == 2 and is_positive(row["ask_ms"]["p95"])
        assert is_positive(row["write_to_cited_answer_s"]), "the new article was never cited"
        assert any((root / f"archive-{row['size']}" / "lexical.tantivy").glob("*/meta.json"))
        assert row["lexical_index_mb"] >= 0 and row["chroma_index_rss_mb"] >= 0
        assert row["rss_without_chroma_index_mb"] <= row["rss_mb"]
        assert is_positive(row["rss_anon_mb"]) and is_positive(row["rss_file_mb"])
        assert row["rss_anon_mb"] + row["rss_file_mb"] <= row["rss_mb"] + 1.0  # the rest is shared memory
        assert row["recipe"]["search_ms"]["n"] == 2 and is_positive(row["ask_p50_vs_recipe"])
        served = row["chroma_server"]  # the same store behind `chroma run`
        assert served["ask_ms"]["n"] == 2 and is_positive(served["write_to_cited_answer_s"])
        kept = row["maintenance"]  # backup, restore, reindex and new articles, on copies
        assert kept["new_articles"] == 2 and is_positive(kept["new_ingest_articles_per_s"])
        for key in ("backup_s", "backup_mb", "restore_s", "reindex_s", "ready_s"):
            assert is_positive({**kept, **row}[key]), key
    assert not list(root.glob("_backup-*")) and not list(root.glob("_restored-*"))
    assert set(result["meets_targets"]) == set(result["targets"])
    assert is_positive(result["rss_largest_vs_smallest"])
    assert is_positive(result["rss_without_chroma_index_largest_vs_smallest"])
    assert is_positive(result["anonymous_rss_without_chroma_index_largest_vs_smallest"])
    assert is_positive(result["chroma_server_rss_largest_vs_smallest"])

    again = run_benchmark(
        "benchmarks.scale",
        *args,
        "--sizes",
        "3",
        "--store-root",
        str(root),
        "--no-server-mode",
        "--no-maintenance",
    )
    assert again["sizes"][0]["reused"] is True and again["sizes"][0]["articles"] == 3


def test_the_archive_splits_are_pooled_line_by_line_each_id_once(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    rows = [{"id": "talks", "text": "again"}, {"id": "x", "text": "y"}]
    second.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")  # no final newline
    pooled = [json.loads(line)["id"] for line in pooled_lines([first, second])]
    assert pooled == ["dam", "talks", "x", "shares"]


def test_lexical_benchmark_compares_the_fts5_index_with_the_in_memory_bm25(tmp_path: Path) -> None:
    args = ["--articles", str(articles_file(tmp_path)), "--questions", str(questions_file(tmp_path))]
    result = run_benchmark("benchmarks.lexical", *args, "--k", "5")
    assert (result["benchmark"], result["articles"], result["questions"]) == ("lexical", 3, 2)
    assert 0.0 <= result["overlap_at_k_mean"] <= 1.0 and is_positive(result["fts_file_mb"])
    assert result["fts_ms"]["n"] == result["memory_ms"]["n"] == 2
