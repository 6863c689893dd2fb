"""The Newsdesk web app: the HTTP API with the Gradio chat mounted on it.

``python app.py`` (or ``newsdesk serve``) serves it with uvicorn on the configured host and port
(127.0.0.1:7860 unless configured). Everything is built in :func:`create_app`; nothing at import.
``newsdesk serve --workers N`` runs N worker processes on a Chroma server (:func:`serve_workers`),
their metrics counted together in one folder (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.core.errors import ConfigError
from assistant.core.sections import ObservabilitySettings
from assistant.core.settings import Settings
from assistant.core.telemetry.logs import configure_logging, log_config
from assistant.core.telemetry.metrics import MULTIPROC_ENV, enable_metrics
from assistant.core.telemetry.tracing import configure_tracing

if TYPE_CHECKING:
    from fastapi import FastAPI

    from assistant.service import Assistant


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """Build the assistant, the JSON API (with ``/api/feeds``, ``/api/archives`` and ``/metrics``)
    and the Gradio UI, mount the UI on the API, and (``feeds_sync``) sync every archive's followed
    feeds on their schedule while the app serves. Metrics and traces are turned on as the settings
    say (:func:`observe`)."""
    from assistant.archives import Archives
    from assistant.frontends.http.api import create_api
    from assistant.frontends.http.archives import add_archive_routes
    from assistant.frontends.http.feeds import add_feed_routes, sync_feeds_while_serving
    from assistant.frontends.http.metrics import ArchiveCollector, RequestMetrics, add_metrics_route
    from assistant.frontends.http.mount import mount_ui
    from assistant.frontends.ui.app import build_ui
    from assistant.service import create_assistant
    from ingest.storage.archives import DEFAULT_ARCHIVE

    settings = settings or Settings()
    observe(settings.observability)
    assistant = assistant or create_assistant(settings)
    archives = Archives(settings, assistant)  # owns each archive's feed scheduler
    feeds = archives.feeds(DEFAULT_ARCHIVE)
    api = create_api(assistant, settings)
    add_feed_routes(api, archives)
    add_archive_routes(api, archives)
    if settings.metrics_enabled and not settings.metrics_port:
        collector = ArchiveCollector(assistant.components.store, feeds.registry, archives.feed_registries)
        add_metrics_route(api, [collector])
    api.add_middleware(RequestMetrics, router=api.router)  # outermost: the guards' refusals are counted too
    app = mount_ui(api, build_ui(assistant, settings, feeds, archives), settings)
    if settings.feeds_sync:
        sync_feeds_while_serving(app, archives)  # the serving process syncs every archive's feeds
    return app


def observe(settings: ObservabilitySettings) -> None:
    """Count (``metrics_enabled``) and trace (``otel_endpoint``) from now on, in this process."""
    if settings.metrics_enabled:
        enable_metrics()
    configure_tracing(settings)


def worker_app() -> FastAPI:
    """The app of one worker of ``newsdesk serve --workers N`` (settings from the environment,
    which the parent completed with its command line), warmed up before it takes requests."""
    from assistant.service import create_assistant

    settings = Settings()
    assistant = create_assistant(settings)
    assistant.warm_up()
    return create_app(settings, assistant)


def serve(settings: Settings, workers: int = 1, worker_env: Mapping[str, str] | None = None) -> None:
    """Build the app, warm the model and indexes up, then serve it with uvicorn until stopped.

    An embedded store is held for the server's lifetime (:mod:`ingest.storage.locks`): other processes
    cannot write to it meanwhile, as this server would not see what they write. With ``workers`` > 1,
    :func:`serve_workers`.
    """
    import uvicorn

    from assistant.service import create_assistant

    configure_logging(settings.observability)
    if workers > 1:
        serve_workers(settings, workers, worker_env or {})
        return
    address = f"http://{settings.host}:{settings.port}{settings.root_path}"
    assistant = create_assistant(settings)
    with assistant.components.store.hold_for_serving(address):
        assistant.warm_up()
        app = create_app(settings, assistant)
        metrics_port(settings, assistant)
        print(f"Newsdesk on {address}/ (API docs at /docs)")
        uvicorn.run(app, **uvicorn_options(settings))


def serve_workers(settings: Settings, workers: int, worker_env: Mapping[str, str]) -> None:
    """uvicorn's ``workers`` processes, each building its app (:func:`worker_app`) from the
    environment (``worker_env`` added: the command line's settings). They need a store every
    process sees: a Chroma server. Their counts live in one folder (``metrics_multiproc_dir``, else
    a temporary one), emptied first, which any worker's ``/metrics`` (or the separate metrics port,
    served by this process) reads whole."""
    import uvicorn

    if not settings.uses_server:
        raise ConfigError(
            "--workers needs a Chroma server (NEWSDESK_CHROMA_HOST): an embedded store is served by "
            "one process, which holds it"
        )
    folder, temporary = multiproc_folder(settings.metrics_multiproc_dir)
    os.environ.update({**worker_env, MULTIPROC_ENV: str(folder)})
    try:
        if settings.metrics_enabled and settings.metrics_port:
            metrics_port(settings, None)
        print(f"Newsdesk on http://{settings.host}:{settings.port}{settings.root_path}/ ({workers} workers)")
        options = {**uvicorn_options(settings), "factory": True, "workers": workers}
        uvicorn.run("assistant.server:worker_app", **options)
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


def multiproc_folder(configured: str) -> tuple[Path, bool]:
    """The folder of the workers' counts, emptied of an earlier run's files; and whether it is a
    temporary one (removed at exit)."""
    if not configured:
        return Path(tempfile.mkdtemp(prefix="newsdesk-metrics-")), True
    folder = Path(configured)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    return folder, False


def metrics_port(settings: Settings, assistant: Assistant | None) -> None:
    """``/metrics`` on ``metrics_port`` when one is set (with its own view of the store when this
    process serves no app: the parent of the workers)."""
    if not (settings.metrics_enabled and settings.metrics_port):
        return
    from assistant.frontends.http.metrics import ArchiveCollector, serve_metrics_port
    from ingest.feeds.registry import FeedRegistry
    from ingest.storage.store import NewsStore

    store = assistant.components.store if assistant is not None else NewsStore(settings.store)
    collector = ArchiveCollector(store, FeedRegistry(store, settings.ingest))
    serve_metrics_port(settings.metrics_host, settings.metrics_port, [collector])


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "root_path": settings.root_path,
        "server_header": False,
        "lifespan": "on",  # a failing startup (the UI's queue, the feed scheduler) stops the server loudly
        "log_config": log_config(settings.observability),
        **proxy_options(settings),
    }


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's forwarded-header options: believe ``X-Forwarded-For``/``-Proto`` only from the proxies
    of ``forwarded_allow_ips``; with none configured, from nobody (uvicorn alone trusts 127.0.0.1,
    so any local client could choose the address its rate limit is counted against)."""
    trusted = settings.forwarded_allow_ips.strip()
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}
