"""The ingest and startup benchmarks run end to end on a tiny slice and print the promised JSON.

Only the shape of the output is checked, never a timing: these tests keep the benchmarks from
rotting; the figures come from full runs by hand (docs/performance.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import percentile
from tests.conftest import REPO, SAMPLE

ROWS = [
    {"id": "dam", "title": "Dam opens", "text": "The dam opened on Tuesday.\nIt took eleven years to build."},
    {"id": "talks", "title": "Talks resume", "text": SAMPLE.read_text(encoding="utf-8")},
    {"id": "shares", "text": "Shares of the carmaker fell 4% in early trading. Analysts were surprised."},
]


def articles_file(tmp_path: Path) -> Path:
    path = tmp_path / "articles.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    return path


def run_benchmark(module: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    result: dict[str, Any] = json.loads(lines[0])
    return result


def is_positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0


def test_ingest_benchmark_reports_ours_the_recipe_and_the_raw_model_with_ratios(tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    result = run_benchmark(
        "benchmarks.ingest",
        "--articles",
        str(articles_file(tmp_path)),
        "--out",
        str(out),
        "--context-words",
        "4",
    )
    assert json.loads(out.read_text(encoding="utf-8")) == result
    assert (result["benchmark"], result["articles"], result["repeat"]) == ("ingest", 3, 1)
    ours, recipe, raw = result["ours"], result["recipe"], result["raw"]
    assert ours["articles"] == recipe["articles"] == 3
    assert ours["texts"] == ours["sentences"] + 3  # a title vector per article
    assert raw["texts"] == ours["unique_texts"]  # the model alone embeds what ours embeds: each text once
    assert ours["embedding"].endswith("/ctx1/w4")  # the variant asked for reached the workers
    for key in ("articles_per_s", "sentences_per_s", "tokens_per_s", "peak_rss_mb", "seconds", "cpu_seconds"):
        assert is_positive(ours[key]), key
    for key in ("articles_per_s", "chunks_per_s", "tokens_per_s", "peak_rss_mb"):
        assert is_positive(recipe[key]), key
    for key in ("texts_per_s", "tokens_per_s", "peak_rss_mb"):
        assert is_positive(raw[key]), key
    assert set(result["ratios"]) >= {"ours_vs_recipe_articles_per_s", "ours_vs_raw_throughput"}
    assert all(is_positive(value) for value in result["ratios"].values())
    assert set(result["meets_targets"]) == set(result["targets"])


def test_ingest_benchmark_passes_the_pairs_mode_to_ours_and_the_raw_model(tmp_path: Path) -> None:
    result = run_benchmark(
        "benchmarks.ingest",
        *("--articles", str(articles_file(tmp_path)), "--contenders", "ours,raw", "--context-mode", "pairs"),
    )
    ours, raw = result["ours"], result["raw"]
    assert ours["embedding"].endswith("/pairs")
    assert raw["texts"] == ours["unique_texts"] < ours["texts"]  # two sentences, one text
    assert set(result["ratios"]) == {"ours_vs_raw_throughput", "ours_vs_raw_throughput_cpu"}


def test_startup_benchmark_reports_the_first_answer_memory_and_a_light_help(tmp_path: Path) -> None:
    result = run_benchmark(
        "benchmarks.startup",
        *("--articles", str(articles_file(tmp_path)), "--limit", "3", "--repeat", "1"),
        *("--serve", "--serve-questions", "2", "--question", "When did the dam open?"),
    )
    assert result["benchmark"] == "startup" and result["prepared"]["added"] == 3
    ask, serve = result["ask"], result["serve"]
    assert is_positive(ask["first_answer_s"]) and is_positive(ask["peak_rss_mb"])
    assert ask["grounded"] is True and "total" in ask["answer_timings_ms"]
    assert is_positive(serve["first_answer_s"]) and is_positive(serve["rss_after_questions_mb"])
    assert serve["questions"] == 2
    assert result["help"]["imports"] == dict.fromkeys(result["help"]["imports"], False)
    assert result["meets_targets"]["help_imports_nothing_heavy"] is True


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) == 0.0
