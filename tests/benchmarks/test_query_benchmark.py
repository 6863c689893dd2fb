"""The query benchmark runs end to end on a tiny slice and prints the promised JSON (never a timing check)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.query import median_interval
from tests.benchmarks.test_benchmarks_smoke import articles_file, is_positive, run_benchmark


def questions_file(tmp_path: Path) -> Path:
    path = tmp_path / "questions.jsonl"
    rows = [
        {"id": "1", "question": "Who led the Russian delegation to Damascus?"},
        {"id": "2", "question": "When did the dam open?"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_query_benchmark_reports_warm_and_cold_latency_and_the_recipe_beside_it(tmp_path: Path) -> None:
    args = ["--articles", str(articles_file(tmp_path)), "--questions", str(questions_file(tmp_path))]
    result = run_benchmark("benchmarks.query", *args, "--cold-runs", "1", "--out", str(tmp_path / "q.json"))
    assert (result["benchmark"], result["articles"]) == ("query", 3)
    ours, recipe = result["ours"], result["recipe"]
    assert ours["articles"] == 3 and ours["sentences"] > 10 and recipe["chunks"] >= 3
    assert ours["warm_ms"]["n"] == recipe["warm_ms"]["n"] == ours["citations_ms"]["n"] == 2
    assert 0 < ours["citations_ms"]["p95"] <= ours["warm_ms"]["p95"]  # the citations come first
    assert ours["repeated_ms"]["n"] == 2  # the worker checks each was a kept answer
    assert is_positive(ours["cold"]["start_to_answer_ms"]["p50"]) and is_positive(ours["rss_mb"])
    assert ours["cold"]["start_to_answer_ms"]["p50"] > ours["cold"]["first_ask_ms"]["p50"]
    assert {"embed", "dense", "answer", "total"} <= set(ours["stage_p50_ms"])
    assert is_positive(result["ratios"]["ours_vs_recipe_p50"])


def test_the_median_interval_brackets_the_median_and_narrows_as_values_are_added() -> None:
    hundred = median_interval([float(v) for v in range(100)])
    ten_thousand = median_interval([v / 100 for v in range(10_000)])
    assert hundred[0] < 49.5 < hundred[1] and ten_thousand[0] < 49.995 < ten_thousand[1]
    assert ten_thousand[1] - ten_thousand[0] < hundred[1] - hundred[0]
    assert median_interval([1.0] * 9) == []
