"""The OpenAPI schema is true: schemathesis sends what it allows (and what it forbids) to the real app.

The real app (real model, real Chroma, the sample corpus) is served by uvicorn on 127.0.0.1 without
a rate limit, once without keys and once with a key that schemathesis sends. Schemathesis reads
``/openapi.json`` from it and, for each operation, sends a bounded number of generated requests,
checking every answer against the schema: no 5xx, only documented statuses, bodies matching the
declared schemas, valid data accepted, invalid data refused, a missing or wrong key refused.

Two kinds of request are not generated, since no request may leave 127.0.0.1 in a test and OpenAPI
cannot state an uploaded file's name: ``/api/ingest`` bodies naming http(s) URLs (the server would
fetch them) and multipart uploads; their checks are in ``test_api.py`` and ``test_uploads.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ingest.embedding.embedder import Embedder
from tests.assistant.conftest_api import (
    RW_KEY,
    Served,
    api_settings,
    bearer,
    free_port,
    sample_assistant,
    serve_app,
)

if TYPE_CHECKING:
    from schemathesis import Case
    from schemathesis.schemas import BaseSchema

    from assistant.service import Assistant

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Assistant:
    return sample_assistant(tmp_path_factory.mktemp("schema"), embedder)


@pytest.fixture(scope="module", params=["without keys", "with keys"])
def served(request: pytest.FixtureRequest, assistant: Assistant) -> Iterator[Served]:
    """The app as developers run it (no keys) and as it is deployed (a read-write key required)."""
    keys = RW_KEY if request.param == "with keys" else ""
    settings = api_settings(
        assistant.settings.store_dir.parent, port=free_port(), rate_limit_per_minute=0, api_keys=keys
    )
    with serve_app(assistant, settings) as app:
        yield app


def leaves_127(body: Any) -> bool:
    """An ingest body naming a URL the server would fetch (or an upload part)."""
    if not isinstance(body, dict):
        return False
    urls = body.get("urls")
    fetched = isinstance(urls, list) and any(
        isinstance(url, str) and url.lower().startswith(("http://", "https://")) for url in urls
    )
    uploads = any(isinstance(value, bytes | list) and key == "files" for key, value in body.items())
    return fetched or uploads


OPERATIONS = [
    ("POST", "/api/ask"),
    ("POST", "/api/ask/stream"),
    ("POST", "/api/ingest"),
    ("GET", "/api/documents/{doc_id}"),
    ("DELETE", "/api/documents/{doc_id}"),
    ("GET", "/api/health"),
    ("GET", "/api/stats"),
]
# The archive routes (issue 28): the archives themselves and, per archive, the routes above; of those,
# examples are generated for ask, stats and documents (their handlers are the ones above).
ARCHIVE_OPERATIONS = [
    ("GET", "/api/archives"),
    ("POST", "/api/archives"),
    ("DELETE", "/api/archives/{name}"),
    ("POST", "/api/archives/{name}/ask"),
    ("GET", "/api/archives/{name}/stats"),
    ("GET", "/api/archives/{name}/documents/{doc_id}"),
]
ARCHIVE_ROUTES = [
    ("POST", "/api/archives/{name}/ask/stream"),
    ("POST", "/api/archives/{name}/ingest"),
    ("DELETE", "/api/archives/{name}/documents/{doc_id}"),
]
# The feed routes are in the schema too, but no example is generated for them: a generated feed URL
# would be fetched by the sync, and the tests send traffic to 127.0.0.1 only (tests/assistant/
# test_feeds_api.py covers them against a local feed server).
FEED_OPERATIONS = [
    ("GET", "/api/feeds"),
    ("POST", "/api/feeds"),
    ("POST", "/api/feeds/sync"),
    ("DELETE", "/api/feeds/{feed_id}"),
    ("GET", "/api/archives/{name}/feeds"),
    ("POST", "/api/archives/{name}/feeds"),
    ("POST", "/api/archives/{name}/feeds/sync"),
    ("DELETE", "/api/archives/{name}/feeds/{feed_id}"),
]


@pytest.fixture(scope="module")
def api_schema(served: Served) -> BaseSchema:
    keyed = bool(served.settings.api_keys.get_secret_value())
    headers = bearer(RW_KEY) if keyed else {}
    schema: BaseSchema = schemathesis.openapi.from_url(f"{served.base}/openapi.json", headers=headers)
    schema.config.update(base_url=served.base, headers=headers or None)
    return schema


def test_the_schema_lists_every_api_operation(api_schema: BaseSchema) -> None:
    from schemathesis.core.result import Ok

    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    listed = {(op.method.upper(), op.path) for op in operations}
    assert listed == set(OPERATIONS) | set(FEED_OPERATIONS) | set(ARCHIVE_OPERATIONS) | set(ARCHIVE_ROUTES)


GENERATED = [
    *[(method, path, "positive") for method, path in OPERATIONS + ARCHIVE_OPERATIONS],
    *[(method, path, "negative") for method, path in OPERATIONS + ARCHIVE_OPERATIONS if method == "POST"],
]  # the others take no input that a schema-violating request could get wrong (a doc_id is any string)


@pytest.mark.parametrize(("method", "path", "mode"), GENERATED)
def test_every_operation_answers_as_its_openapi_schema_says(
    api_schema: BaseSchema, method: str, path: str, mode: str
) -> None:
    from hypothesis import HealthCheck, assume, given, settings

    operation = api_schema[path][method]
    media = "application/json" if path == "/api/ingest" else None
    strategy = operation.as_strategy(schemathesis.GenerationMode(mode), media_type=media)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case[Any]) -> None:
        assume(not leaves_127(case.body))
        case.call_and_validate(timeout=120)

    check()


def test_the_schema_states_the_ingest_body_and_the_question_limits(api_schema: BaseSchema) -> None:
    components = api_schema.raw_schema["components"]["schemas"]
    assert {"IngestRequest", "IngestDocument"} <= set(components)
    question = components["AskRequest"]["properties"]["question"]
    assert (question["minLength"], question["maxLength"], question["pattern"]) == (1, 2000, r"\S")
    assert "HTTPValidationError" not in components  # 422 bodies are ValidationErrorOut
    keyed = "HTTPBearer" in api_schema.raw_schema["components"].get("securitySchemes", {})
    assert ("security" in api_schema.raw_schema["paths"]["/api/ask"]["post"]) == keyed
