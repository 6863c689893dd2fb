"""``newsdesk ingest`` next to a running embedded server: the sources go through the server's API.

While ``newsdesk serve`` holds an embedded store folder, only it may write there (its Chroma
client would not see another process's records: :mod:`ingest.storage.locks`). Rather than refuse,
the CLI sends the files as an upload and the URLs as a JSON request to ``POST /api/ingest`` of
that server, so the article is written by the process that answers questions and is found by its
next question. The key, when the server requires one, is the first read-write key of the same
``NEWSDESK_API_KEYS`` the server reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ingest.errors import ServerIngestError, SourceError
from ingest.loading.files import walk_folder
from ingest.settings import Settings

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 900.0  # one upload of up to upload_max_files articles, embedded by the server
IngestSummary = dict[str, Any]


def source_files(sources: Sequence[str]) -> tuple[list[Path], list[str]]:
    """The files (supported ones in folders, as ``newsdesk ingest`` would read them) and the http(s)
    URLs among ``sources``."""
    urls = [s for s in sources if s.lower().startswith(("http://", "https://"))]
    files: list[Path] = []
    for source in (s for s in sources if s not in urls):
        path = Path(source).expanduser()
        if path.is_dir():
            files += walk_folder(path)[0]
        elif path.is_file():
            files.append(path)
        else:
            raise SourceError(source, "no such file or folder")
    return files, urls


def write_key(settings: Settings) -> str | None:
    """The first read-write key of ``NEWSDESK_API_KEYS`` (None when the server needs none)."""
    raw = settings.api_keys.get_secret_value() if settings.api_keys else ""
    keys = [k.strip() for k in raw.split(",") if k.strip() and not k.strip().endswith(":ro")]
    return keys[0] if keys else None


def forward_ingest(address: str, sources: Sequence[str], settings: Settings) -> Iterator[IngestSummary]:
    """POST the sources to the server at ``address``: files in uploads of at most
    ``upload_max_files``, then the URLs; one summary (the server's JSON) per request."""
    import httpx

    files, urls = source_files(sources)
    key = write_key(settings)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    with httpx.Client(base_url=address.rstrip("/"), headers=headers, timeout=timeout) as client:
        step = max(1, settings.upload_max_files)
        for begin in range(0, len(files), step):
            yield _post(client, address, files=files[begin : begin + step])
        if urls:
            yield _post(client, address, urls=urls)


def _post(client: Any, address: str, files: Sequence[Path] = (), urls: Sequence[str] = ()) -> IngestSummary:
    import httpx

    try:
        with ExitStack() as stack:
            parts = [("files", (p.name, stack.enter_context(p.open("rb")))) for p in files]
            body: dict[str, Any] = {"files": parts} if parts else {"json": {"urls": list(urls)}}
            response = client.post("/api/ingest", **body)
    except httpx.HTTPError as exc:
        raise ServerIngestError(f"could not send the articles to the server at {address}: {exc}") from exc
    if response.status_code >= 400:
        detail = _error_text(response)
        status = response.status_code
        raise ServerIngestError(f"the server at {address} refused the ingest ({status}): {detail}")
    summary: IngestSummary = response.json()
    return summary


def _error_text(response: Any) -> str:
    try:
        return str(response.json().get("error", response.text))[:500]
    except ValueError:
        return str(response.text)[:500]


def merge(summaries: Sequence[IngestSummary]) -> IngestSummary:
    """The summaries of several requests as one."""
    out: IngestSummary = {"added": 0, "updated": 0, "unchanged": 0, "sentences": 0}
    out.update(failed=[], doc_ids=[])
    for summary in summaries:
        for key in ("added", "updated", "unchanged", "sentences"):
            out[key] += int(summary.get(key, 0))
        out["failed"] += list(summary.get("failed", []))
        out["doc_ids"] += list(summary.get("doc_ids", []))
    return out
