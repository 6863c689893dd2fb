"""LangChain's own standard tests of a retriever (``langchain-tests``) run on :class:`SentenceRetriever`."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from assistant.retrieval.retrieve import HybridSearch, SentenceRetriever
from assistant.service import Assistant


class TestSentenceRetriever(RetrieversIntegrationTests):
    search: HybridSearch | None = None

    @pytest.fixture(autouse=True)
    def _dev_search(self, dev_assistant: Assistant) -> None:
        type(self).search = dev_assistant.search  # the retriever is built from the class's params

    @property
    def retriever_constructor(self) -> type[SentenceRetriever]:
        return SentenceRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"search": self.search}

    @property
    def retriever_query_example(self) -> str:
        return "Which national park was flooded?"
