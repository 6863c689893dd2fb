"""``newsdesk ingest``, ``feeds`` and ``ask`` next to a running embedded server: through its API.

While ``newsdesk serve`` holds an embedded store folder, only it may write there (its Chroma
client would not see another process's records: :mod:`ingest.storage.locks`). Rather than refuse,
the CLI sends the files as an upload and the URLs as a JSON request to ``POST /api/ingest`` of
that server, so the article is written by the process that answers questions and is found by its
next question; ``feeds add|remove|sync|list`` call the server's ``/api/feeds`` routes (a named
archive's ``/api/archives/NAME/feeds``: :class:`ServerFeeds`) and never open the store. The key,
when the server requires one, is the first read-write key of the same ``NEWSDESK_API_KEYS`` the
server reads (for ``feeds list``, a read-only one will do). A server the CLI cannot reach, or that
refuses the request, is one error line naming it: nothing is written behind its back.

``newsdesk ask`` beside such a server asks it (``POST /api/ask``, with a key that may read) rather
than loading the model and opening the store in a process of its own: the server has both loaded,
so the answer comes in the time of one ask, not of a start-up (:func:`ask_through`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

from assistant.core.errors import ServerAskError, ServerIngestError, SourceError
from assistant.core.settings import Settings
from assistant.pipeline.request import Request
from assistant.types import Answer

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 900.0  # one upload of up to upload_max_files articles, embedded by the server
ASK_TIMEOUT_S = 120.0  # one answer, the LLM's included (its own deadline is shorter)
IngestSummary = dict[str, Any]


def source_files(sources: Sequence[str]) -> tuple[list[Path], list[str]]:
    """The files (supported ones in folders, as ``newsdesk ingest`` would read them) and the http(s)
    URLs among ``sources``."""
    from ingest.loading.files import ARCHIVE_SUFFIXES, walk_folder  # the loaders: ingest only

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
    archives = [path for path in files if path.name.lower().endswith(ARCHIVE_SUFFIXES)]
    if archives:
        raise ServerIngestError(
            f"{archives[0]}: a web archive is read only by the process that writes the store, and "
            "`newsdesk serve` holds it: stop the server (or use a Chroma server) to ingest it"
        )
    return files, urls


def served_address(settings: Settings) -> str | None:
    """The address of the live ``newsdesk serve`` holding the embedded store of ``settings``; None
    when none does (or the store is a Chroma server, which every process may write to)."""
    from ingest.storage.locks import serving_address

    return None if settings.store.uses_server else serving_address(Path(settings.store_dir))


def api_keys(settings: Settings) -> list[tuple[str, bool]]:
    """``(secret, read_only)`` of each key of ``NEWSDESK_API_KEYS``, as the server parses them
    (``key``, ``key:rw`` or ``key:ro``)."""
    raw = settings.api_keys.get_secret_value() if settings.api_keys else ""
    keys = []
    for part in (p.strip() for p in raw.split(",")):
        secret, _, suffix = part.rpartition(":") if part.endswith((":ro", ":rw")) else (part, "", "")
        if secret:
            keys.append((secret, suffix == "ro"))
    return keys


def write_key(settings: Settings) -> str | None:
    """The first read-write key of ``NEWSDESK_API_KEYS`` (None when the server needs none)."""
    return next((secret for secret, read_only in api_keys(settings) if not read_only), None)


def read_key(settings: Settings) -> str | None:
    """A key that may read: the first read-write one, else the first read-only one."""
    return write_key(settings) or next((secret for secret, _ in api_keys(settings)), None)


def forward_ingest(
    address: str, sources: Sequence[str], settings: Settings, path: str = "/api/ingest"
) -> Iterator[IngestSummary]:
    """POST the sources to ``path`` of the server at ``address``: files in uploads of at most
    ``upload_max_files``, then the URLs; one summary (the server's JSON) per request."""
    import httpx

    files, urls = source_files(sources)
    key = write_key(settings)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    with httpx.Client(base_url=address.rstrip("/"), headers=headers, timeout=timeout) as client:
        step = max(1, settings.upload_max_files)
        for begin in range(0, len(files), step):
            yield _post(client, address, path, files=files[begin : begin + step])
        if urls:
            yield _post(client, address, path, urls=urls)


def _post(
    client: Any, address: str, path: str, files: Sequence[Path] = (), urls: Sequence[str] = ()
) -> IngestSummary:
    import httpx

    try:
        with ExitStack() as stack:
            parts = [("files", (p.name, stack.enter_context(p.open("rb")))) for p in files]
            body: dict[str, Any] = {"files": parts} if parts else {"json": {"urls": list(urls)}}
            response = client.post(path, **body)
    except httpx.HTTPError as exc:
        raise ServerIngestError(f"could not send the articles to the server at {address}: {exc}") from exc
    if response.status_code >= 400:
        detail = _error_text(response)
        status = response.status_code
        raise ServerIngestError(f"the server at {address} refused the ingest ({status}): {detail}")
    summary: IngestSummary = response.json()
    return summary


def ask_through(address: str, request: Request, settings: Settings, path: str = "/api/ask") -> Answer:
    """The answer of the server at ``address`` to ``request`` (``POST path``, its read key when it
    needs one); ServerAskError names the server and why when it cannot be reached or refuses."""
    import httpx

    key = read_key(settings)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body: dict[str, Any] = {"question": request.question}
    if request.filters is not None and not request.filters.is_empty():
        body["filters"] = request.filters.model_dump(mode="json", exclude_none=True)
    if request.mode is not None:
        body["mode"] = request.mode
    if request.today is not None:
        body["today"] = request.today.isoformat()
    timeout = httpx.Timeout(ASK_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    try:
        with httpx.Client(base_url=address.rstrip("/"), headers=headers, timeout=timeout) as client:
            response = client.post(path, json=body)
    except httpx.HTTPError as exc:
        raise ServerAskError(f"could not ask the server at {address}: {exc}") from exc
    if response.status_code >= 400:
        detail, status = _error_text(response), response.status_code
        raise ServerAskError(f"the server at {address} refused the question ({status}): {detail}")
    return Answer.model_validate(response.json())


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


class ServerFeeds:
    """``newsdesk feeds`` through the feed routes at ``path`` of the server at ``address``
    (``/api/feeds``, the default archive's; ``/api/archives/NAME/feeds``, a named archive's).

    The answers are the server's JSON (FeedOut, FeedSyncOut); a transport error or a refusal
    (no or a read-only key: 401/403, unknown feed: 404, bad interval: 400) is a
    :class:`ServerIngestError` naming the server, the status and its message."""

    def __init__(self, address: str, settings: Settings, path: str = "/api/feeds") -> None:
        self.address = address.rstrip("/")
        self.settings = settings
        self.path = path

    def add(self, url: str, every: str | None, source: str | None, sitemap: bool = False) -> dict[str, Any]:
        body = {"url": url, "every": every, "source": source, "sitemap": sitemap}
        got: dict[str, Any] = self._call("POST", self.path, "add the feed", json=body)
        return got

    def remove(self, url_or_id: str) -> dict[str, Any]:
        from ingest.feeds.registry import feed_id

        wanted = url_or_id.strip()
        ident = feed_id(wanted) if "://" in wanted else wanted  # the route takes the id
        got: dict[str, Any] = self._call("DELETE", f"{self.path}/{quote(ident, safe='')}", "remove the feed")
        return got

    def listed(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = self._call("GET", self.path, "list the feeds")
        return got

    def sync(self, url: str | None) -> list[dict[str, Any]]:
        body = {"url": url}
        got: list[dict[str, Any]] = self._call("POST", f"{self.path}/sync", "sync the feeds", json=body)
        return got

    def _call(self, method: str, path: str, what: str, **body: Any) -> Any:
        import httpx

        key = read_key(self.settings)  # the read-write key, else a read-only one (the server says 403)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)  # a sync fetches and embeds
        try:
            response = httpx.request(method, self.address + path, headers=headers, timeout=timeout, **body)
        except httpx.HTTPError as exc:
            raise ServerIngestError(
                f"the store is held by `newsdesk serve` at {self.address}, but the CLI could not reach it "
                f"to {what}: {exc}; nothing was written (stop the server, or try again)"
            ) from exc
        if response.status_code >= 400:
            raise ServerIngestError(self._refusal(response, what))
        return response.json()

    def _refusal(self, response: Any, what: str) -> str:
        status = response.status_code
        hint = ""
        if status in (401, 403):
            hint = (
                "; the server requires an API key (a read-write one to change feeds): set "
                "NEWSDESK_API_KEYS (or api_keys in the settings file) to the keys the server has"
            )
        return f"the server at {self.address} refused to {what} ({status}): {_error_text(response)}{hint}"
