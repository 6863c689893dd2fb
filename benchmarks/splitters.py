"""Compare sentence engines on the hand-annotated gold paragraphs and on the 710 dev articles.

Prints one JSON object: per engine, boundary precision/recall/F1 of the raw engine and of the
engine with the rules of ``ingest.sentences`` (what ``SentenceSplitter`` does), and the speed of
``SentenceSplitter(engine).split`` over every dev article, and the most accurate engine among those
that split them all within ``--max-seconds``. Engines that are not installed are
reported as such (only the chosen one is a project dependency: ``pip install pysbd syntok``).

    .venv/bin/python benchmarks/splitters.py [--gold PATH] [--articles PATH] [--engines a,b]

Boundaries are compared by the number of letters and digits before them, so a quote mark or an
ellipsis put on either side of a boundary does not count as an error.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from assistant.core.errors import ConfigError
from assistant.core.types import Span
from ingest.sentences import DEFAULT_ENGINE, ENGINES, SentenceSplitter, make_engine

REPO = Path(__file__).resolve().parents[1]
GOLD = REPO / "tests" / "fixtures" / "sentences_gold.json"
ARTICLES = REPO / ".." / "shared" / "data" / "realtimeqa-dev" / "articles.jsonl"
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")

Splitter = Callable[[str], list[Span]]


def boundary_keys(text: str, starts: Iterable[int]) -> set[int]:
    """Inner boundaries as letter/digit counts before them (text edges are no boundaries)."""
    total = len(_LETTER_OR_DIGIT.findall(text))
    keys = {len(_LETTER_OR_DIGIT.findall(text[:start])) for start in starts}
    return {key for key in keys if 0 < key < total}


def gold_starts(text: str, sentences: list[str]) -> list[int]:
    starts, cursor = [], 0
    for sentence in sentences:
        start = text.index(sentence, cursor)
        starts.append(start)
        cursor = start + len(sentence)
    return starts


def score(gold: list[dict[str, object]], split: Splitter) -> dict[str, float | int]:
    """Micro-averaged boundary precision, recall and F1 of ``split`` on the gold paragraphs."""
    found = expected = correct = 0
    for paragraph in gold:
        text = str(paragraph["text"])
        sentences = paragraph["sentences"]
        assert isinstance(sentences, list)
        truth = boundary_keys(text, gold_starts(text, sentences))
        guess = boundary_keys(text, [span.start for span in split(text)])
        found, expected, correct = found + len(guess), expected + len(truth), correct + len(guess & truth)
    precision = correct / found if found else 1.0
    recall = correct / expected if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "gold_boundaries": expected, "found": found, "correct": correct}  # fmt: skip


def score_by_set(gold: list[dict[str, object]], split: Splitter) -> dict[str, dict[str, float | int]]:
    """Scores on all gold paragraphs and on each of their sets ("tuning", "held-out")."""
    sets = sorted({str(paragraph["set"]) for paragraph in gold})
    scores = {"all": score(gold, split)}
    scores.update({name: score([p for p in gold if p["set"] == name], split) for name in sets})
    return scores


def raw_splitter(engine: str) -> Splitter:
    """The engine alone on one line of text: its proposed starts, no rules."""
    proposer = make_engine(engine)

    def split(text: str) -> list[Span]:
        starts = sorted({0, *proposer.starts(text)})
        return [Span(start, start) for start in starts]

    return split


def speed(engine: str, texts: list[str]) -> dict[str, float | int]:
    splitter = SentenceSplitter(engine)
    began = time.process_time()
    sentences = sum(len(splitter.split(text)) for text in texts)
    seconds = time.process_time() - began
    chars = sum(len(text) for text in texts)
    return {"articles": len(texts), "sentences": sentences, "seconds": round(seconds, 2),
            "sentences_per_s": round(sentences / seconds), "chars_per_s": round(chars / seconds)}  # fmt: skip


def measure(engine: str, gold: list[dict[str, object]], texts: list[str]) -> dict[str, object]:
    try:
        splitter = SentenceSplitter(engine)
    except ConfigError as exc:
        return {"error": str(exc)}
    return {
        "raw": score_by_set(gold, raw_splitter(engine)),
        "with_rules": score_by_set(gold, splitter.split),
        "speed": speed(engine, texts),
    }


def best_fast_enough(results: dict[str, dict[str, object]], max_seconds: float) -> str | None:
    """The engine with the best F1 (with rules) among those that split every article in time."""
    ranked = []
    for name, result in results.items():
        with_rules, timing = result.get("with_rules"), result.get("speed")
        if isinstance(with_rules, dict) and isinstance(timing, dict) and timing["seconds"] <= max_seconds:
            ranked.append((with_rules["all"]["f1"], name))
    return max(ranked)[1] if ranked else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--articles", type=Path, default=ARTICLES)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--max-seconds", type=float, default=5.0, help="fast enough for all articles")
    args = parser.parse_args()
    gold = json.loads(args.gold.read_text(encoding="utf-8"))["paragraphs"]
    with args.articles.open(encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines if line.strip()]
    results = {engine: measure(engine, gold, texts) for engine in args.engines.split(",")}
    n_sentences = sum(len(p["sentences"]) for p in gold)
    report = {"gold": {"paragraphs": len(gold), "sentences": n_sentences}, "engines": results}
    report["fast_enough_seconds"] = args.max_seconds
    report["best_fast_enough"] = best_fast_enough(results, args.max_seconds)
    report["default_engine"] = DEFAULT_ENGINE
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
