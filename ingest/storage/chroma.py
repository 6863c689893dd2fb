"""The Chroma client and the one wrapper of Chroma calls: bounds their time and maps
their errors to :class:`StoreError`, with the server version check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

from assistant.core.errors import StoreError
from assistant.core.sections import StoreSettings
from assistant.core.telemetry.metrics import record_store_call, store_operation
from assistant.core.telemetry.tracing import span

if TYPE_CHECKING:
    from chromadb.api import ClientAPI


T = TypeVar("T")


def make_client(settings: StoreSettings) -> ClientAPI:
    """An embedded PersistentClient, or an HttpClient (version-checked) when a Chroma host is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return _http_client(settings, chroma_settings)
    try:
        settings.store_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.store_dir), settings=chroma_settings)
    except Exception as exc:  # chromadb raises bare Exception/ValueError/ConnectionError
        raise StoreError(f"cannot open the Chroma store at {store_where(settings)}: {exc}") from exc


def _http_client(settings: StoreSettings, chroma_settings: Any) -> ClientAPI:
    """An HttpClient whose every request waits at most ``chroma_timeout_s``: chromadb gives its
    HTTP session no timeout, so a hung server (SIGSTOP, a stuck host) would hang every caller."""
    import chromadb

    where = store_where(settings)

    def connect() -> ClientAPI:
        return chromadb.HttpClient(
            host=str(settings.chroma_host),
            port=settings.chroma_port,
            ssl=settings.chroma_ssl,
            headers=_auth_headers(settings),
            settings=chroma_settings,
        )

    try:  # the constructor already sends requests, before its session can be given a timeout
        client = within_deadline(connect, settings.chroma_timeout_s, f"connecting to {where}")
        bound_requests(client, settings.chroma_timeout_s)
        server_version = client.get_version()
    except Exception as exc:
        if _is_unreachable(exc):
            hint = "" if _timed_out(exc) else " (is `chroma run` started?)"
            raise StoreError(f"cannot reach the Chroma server at {where}: {describe(exc)}{hint}") from exc
        raise StoreError(f"cannot open the Chroma server at {where}: {exc}") from exc
    check_server_version(server_version, chromadb.__version__, where)
    return client


class ChromaTimeoutError(TimeoutError):
    """A Chroma call that did not return within its deadline."""


def within_deadline(fn: Callable[[], T], seconds: float, what: str) -> T:
    """``fn()`` run in a daemon thread; ChromaTimeoutError if it has not returned after ``seconds``
    (the thread is left to finish on its own: it cannot block the process from exiting)."""
    outcome: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, fn()))
        except BaseException as exc:
            outcome.append((False, exc))
        done.set()

    threading.Thread(target=run, name="newsdesk-chroma-deadline", daemon=True).start()
    if not done.wait(seconds):
        raise ChromaTimeoutError(f"no answer within {seconds:g} s while {what}")
    ok, value = outcome[0]
    if not ok:
        raise value
    return cast(T, value)


def bound_requests(client: ClientAPI, seconds: float) -> None:
    """Give the HTTP session of a chromadb HttpClient a timeout (connect, read, write, pool)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        raise StoreError(
            "this chromadb version's HttpClient has no httpx session to bound; "
            "install a chromadb release this Newsdesk supports (pyproject.toml)"
        )
    session.timeout = httpx.Timeout(seconds)


def _is_unreachable(exc: BaseException) -> bool:
    """True for connection failures (refused, DNS, timeout), as opposed to errors the server sent."""
    import httpx

    return any(
        isinstance(seen, httpx.TransportError | ChromaTimeoutError)
        or "could not connect" in str(seen).lower()
        for seen in _chain(exc)
    )


def _timed_out(exc: BaseException) -> bool:
    import httpx

    return any(isinstance(seen, httpx.TimeoutException | ChromaTimeoutError) for seen in _chain(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def describe(exc: BaseException) -> str:
    """A library error as a short phrase (a timeout says so: httpx's own message is often empty)."""
    if _timed_out(exc):
        return "the Chroma server did not answer in time (chroma_timeout_s; is it hung or overloaded?)"
    return str(exc) or type(exc).__name__


def chroma_call(where: str, what: str, fn: Callable[[], T]) -> T:
    """Run one Chroma call; any library error becomes a StoreError naming ``what`` and ``where``.

    Every Chroma call of Newsdesk goes through here (or :meth:`NewsStore._call`, which uses it);
    on a server each one is bounded by ``chroma_timeout_s`` (:func:`bound_requests`). Each is
    counted and timed by operation (``newsdesk_store_call*``, its errors by kind: timeout,
    unreachable, error) and is a span (``newsdesk.store.<operation>``).
    """
    operation = store_operation(what)
    started = time.perf_counter()
    error = ""
    try:
        with span(f"newsdesk.store.{operation}", {"db.system": "chromadb", "newsdesk.store.call": what}):
            return fn()
    except StoreError:  # a call inside, counted where it failed
        raise
    except Exception as exc:  # chromadb surfaces transport and server errors untyped
        timed_out = _timed_out(exc)
        down = _is_unreachable(exc) and not timed_out
        error = "timeout" if timed_out else "unreachable" if down else "error"
        hint = " (is the Chroma server running?)" if down and where.startswith("http") else ""
        raise StoreError(f"Chroma {what} failed at {where}: {describe(exc)}{hint}") from exc
    finally:
        record_store_call(operation, time.perf_counter() - started, error)


def parse_major_minor(version: str) -> tuple[int, int]:
    parts = version.strip().strip('"').split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError) as exc:
        raise StoreError(f"unrecognised Chroma version {version!r}") from exc


def check_server_version(server: str, client: str, where: str) -> None:
    """Refuse a server whose API the installed chromadb client cannot speak.

    A chromadb 1.x ``chroma run`` reports the version of its HTTP API (``1.0.0``), not the package
    release (the 1.5.9 package's own server says 1.0.0), so the check is: same major version, and
    a server not newer than the client (a newer server may use requests this client cannot make).
    """
    server_v, client_v = parse_major_minor(server), parse_major_minor(client)
    if server_v[0] != client_v[0] or server_v > client_v:
        raise StoreError(
            f"the Chroma server at {where} runs version {server}, which chromadb {client} (this client) "
            f"cannot use: install chromadb {server_v[0]}.{server_v[1]}.x here, or run a "
            f"{client_v[0]}.x server (`chroma run` from this environment)"
        )


def _auth_headers(settings: StoreSettings) -> dict[str, str]:
    if settings.chroma_auth_token is None:
        return {}
    token = settings.chroma_auth_token.get_secret_value()
    if settings.chroma_auth_header.lower() == "authorization":
        return {"Authorization": f"Bearer {token}"}
    return {settings.chroma_auth_header: token}


def store_where(settings: StoreSettings) -> str:
    if settings.chroma_host:
        scheme = "https" if settings.chroma_ssl else "http"
        return f"{scheme}://{settings.chroma_host}:{settings.chroma_port}"
    return str(settings.store_dir)
