"""The embedder with the real bundled model: order, duplicates, precision, query cache, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.core.errors import ConfigError, ModelError
from assistant.core.settings import DEFAULT_MODEL, Settings
from ingest.embedding.embedder import (
    SMALL_CALL,
    Embedder,
    QueryCache,
    cpu_flags,
    cpu_has_bf16,
    resolve_precision,
    runnable_now,
)
from tests.conftest import REPO, SAMPLE

TEXTS = [
    "The dam opened on Tuesday after eleven years of construction.",
    "Rain.",
    "Officials in the capital said the talks would resume next week, after a pause of several months "
    "in which both delegations consulted their governments about the terms on the table.",
    "Shares of the carmaker fell 4% in early trading.",
]


def sample_lines() -> list[str]:
    return [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_vectors_are_unit_length_and_follow_the_input_order(embedder: Embedder) -> None:
    together = embedder.embed(TEXTS)
    one_by_one = np.stack([embedder.embed([text])[0] for text in TEXTS])
    assert together.shape == (len(TEXTS), embedder.dimension) == (4, 384)
    assert together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-3)
    assert np.all(np.sum(together * one_by_one, axis=1) > 0.999)


def test_identical_texts_are_embedded_once_and_get_the_same_vector(embedder: Embedder) -> None:
    done: list[int] = []
    vectors = embedder.embed([TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]], progress=done.append)
    assert sum(done) == 2
    assert np.array_equal(vectors[0], vectors[2]) and np.array_equal(vectors[0], vectors[3])
    assert float(vectors[0] @ vectors[1]) < 0.9


def test_batches_smaller_than_the_input_give_the_same_vectors(embedder: Embedder) -> None:
    small = Embedder(DEFAULT_MODEL, batch_size=2, precision="fp32")
    large = Embedder(DEFAULT_MODEL, batch_size=64, precision="fp32")
    done: list[int] = []
    vectors = small.embed(sample_lines(), progress=done.append)
    assert max(done) == 2 and sum(done) == len(set(sample_lines()))  # long lines: batches of one
    assert np.all(np.sum(vectors * large.embed(sample_lines()), axis=1) > 0.9999)


def test_bf16_vectors_are_close_to_fp32_vectors() -> None:
    fp32 = Embedder(DEFAULT_MODEL, precision="fp32").embed(sample_lines() + TEXTS)
    bf16_embedder = Embedder(DEFAULT_MODEL, precision="bf16")
    bf16 = bf16_embedder.embed(sample_lines() + TEXTS)
    assert bf16_embedder.precision == "bf16" and bf16.dtype == np.float32
    assert float(np.min(np.sum(fp32 * bf16, axis=1))) > 0.995


def test_auto_precision_is_bf16_only_on_cpus_with_native_bf16() -> None:
    assert resolve_precision("auto", has_bf16=True) == "bf16"
    assert resolve_precision("auto", has_bf16=False) == "fp32"
    assert resolve_precision("fp32", has_bf16=True) == "fp32"
    assert resolve_precision("bf16", has_bf16=False) == "bf16"


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n\nflags : other\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2", "avx512f", "avx512_bf16"}
    assert cpu_has_bf16(cpu_flags(cpuinfo))
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    assert not cpu_has_bf16(cpu_flags(cpuinfo))
    assert cpu_flags(tmp_path / "missing") == frozenset()
    assert cpu_has_bf16(frozenset({"fp", "asimd", "bf16"}))  # Arm "Features"


def test_unknown_precision_is_a_config_error_naming_the_value() -> None:
    with pytest.raises(ConfigError, match="'fp16'"):
        Embedder(DEFAULT_MODEL, precision="fp16")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="embed_precision"):
        Settings.load(embed_precision="fp16")


@pytest.mark.parametrize(
    ("batch_size", "threads", "named"), [(0, 0, "embed_batch_size"), (8, -1, "torch_threads")]
)
def test_bad_batch_size_or_threads_is_a_config_error(batch_size: int, threads: int, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Embedder(DEFAULT_MODEL, batch_size=batch_size, threads=threads)


def test_query_vectors_are_cached_read_only_and_equal_to_document_vectors(embedder: Embedder) -> None:
    first = embedder.embed_query("When did the dam open?")
    again = embedder.embed_query("When did the dam open?")
    assert again is first and first.shape == (384,)
    assert not first.flags.writeable
    assert float(first @ embedder.embed(["When did the dam open?"])[0]) > 0.9999
    assert first is not embedder.embed_query("When did the dam close?")


def test_query_cache_forgets_the_least_recently_used_query() -> None:
    cache = QueryCache(size=2)
    vectors = {name: np.full(3, i, dtype=np.float32) for i, name in enumerate("abc")}
    cache.put("a", vectors["a"])
    cache.put("b", vectors["b"])
    assert cache.get("a") is vectors["a"]  # "b" is now the least recently used
    cache.put("c", vectors["c"])
    assert cache.get("b") is None
    assert cache.get("a") is vectors["a"] and cache.get("c") is vectors["c"]
    assert len(cache) == 2


def test_no_texts_give_no_rows(embedder: Embedder) -> None:
    assert embedder.embed([]).shape == (0, 384)


def test_model_is_loaded_on_first_use_only() -> None:
    lazy = Embedder(DEFAULT_MODEL)
    assert not lazy.loaded
    lazy.embed_query("Loaded now.")
    assert lazy.loaded


def test_a_missing_model_folder_is_a_model_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no-such-model"):
        _ = Embedder(str(tmp_path / "no-such-model")).model


def test_the_command_line_starts_without_importing_torch() -> None:
    code = (
        "import sys; from assistant.frontends.cli.main import build_parser; build_parser(); "
        "import ingest.embedding.embedder; "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_batches_cover_every_text_once_shortest_first_and_long_texts_in_smaller_batches() -> None:
    embedder = Embedder(DEFAULT_MODEL, batch_size=8)
    texts = ["short text"] * 20 + ["a long sentence " * 40] * 20  # ~12 and ~160 tokens
    batches = list(embedder.batches(texts))
    assert sorted(i for batch in batches for i in batch) == list(range(40))
    assert all(len(texts[i]) == 10 for batch in batches[:3] for i in batch)
    assert [len(b) for b in batches[:3]] == [8, 8, 4]  # short texts: batch_size per batch
    assert max(len(b) for b in batches[3:]) == 3  # long texts: at most 8 * 64 tokens per batch
    assert not embedder.loaded


def test_query_threads_below_one_are_refused_naming_the_value() -> None:
    with pytest.raises(ConfigError, match="query_threads must be at least 1, got 0"):
        Embedder(DEFAULT_MODEL, query_threads=0)


def test_a_requests_few_texts_run_on_numpy_until_torch_is_loaded_each_with_the_query_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch
    from threadpoolctl import threadpool_info

    fresh = Embedder(DEFAULT_MODEL, precision="fp32", query_threads=1)
    small = fresh.small_model
    assert small is not None and not fresh._model
    seen: list[tuple[str, int]] = []
    encode, encode_small = fresh._encode, small.encode

    def spy(texts: list[str]) -> np.ndarray:
        seen.append(("torch", torch.get_num_threads()))
        return encode(texts)

    def spy_small(texts: list[str], batch_size: int = 32) -> np.ndarray:
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        seen.append(("numpy", min(blas)))
        return encode_small(texts, batch_size)

    monkeypatch.setattr(fresh, "_encode", spy)
    monkeypatch.setattr(small, "encode", spy_small)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fresh.embed_query("a question nobody asked before in this session")
        fresh.embed(["one sentence.", "another sentence."], threads=1)
        fresh.embed([f"sentence number {i}." for i in range(SMALL_CALL + 1)], threads=1)  # loads torch
        fresh.embed_query("another question, now that torch is loaded")
        fresh.embed(["a third sentence."])  # ingest's call: all threads
        assert seen == [("numpy", 1), ("numpy", 1), ("torch", 1), ("torch", 1), ("torch", 2)]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_numpy_encoder_gives_the_torch_encoders_vectors(embedder: Embedder) -> None:
    texts = sample_lines()[:40]
    texts += ["", "Ünïcödé — “quotes”, 東京 and an emoji 😀.", "word " * 400]
    small = embedder.small_model
    assert small is not None
    ours, torch_vectors = small.encode(texts, batch_size=8), embedder.embed(texts)
    assert float(np.min(np.sum(ours * torch_vectors, axis=1))) > 0.99999
    assert float(np.max(np.abs(ours - torch_vectors))) < 1e-5


def loadavg_file(tmp_path: Path, runnable: int) -> Path:
    path = tmp_path / "loadavg"
    path.write_text(f"0.52 0.61 0.70 {runnable}/123 4567\n", encoding="ascii")
    return path


def test_runnable_threads_are_read_from_loadavg_and_unknown_without_it(tmp_path: Path) -> None:
    assert runnable_now(loadavg_file(tmp_path, 3)) == 3
    assert runnable_now(tmp_path / "missing") is None


@pytest.mark.parametrize(("runnable", "threads"), [(1, 4), (2, 3), (4, 1), (9, 1)])
def test_a_request_batch_takes_the_callers_core_and_the_idle_ones_only(
    tmp_path: Path, runnable: int, threads: int
) -> None:
    embedder = Embedder(DEFAULT_MODEL, threads=4, query_threads=1)
    assert embedder.batch_threads(loadavg_file(tmp_path, runnable)) == threads


def test_a_request_batch_stays_on_query_threads_where_the_load_is_unknown(tmp_path: Path) -> None:
    embedder = Embedder(DEFAULT_MODEL, threads=4, query_threads=2)
    assert embedder.batch_threads(tmp_path / "missing") == 2
