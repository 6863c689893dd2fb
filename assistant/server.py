"""The Newsdesk web app: the HTTP API with the Gradio chat mounted on it.

``python app.py`` (or ``newsdesk serve``) serves it with uvicorn on the configured host and port
(127.0.0.1:7860 unless configured). Everything is built in :func:`create_app`; nothing at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.core.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from assistant.service import Assistant


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """Build the assistant, the JSON API (with ``/api/feeds``) and the Gradio UI, mount the UI on the
    API, and (``feeds_sync``) sync the followed feeds on their schedule while the app serves."""
    from assistant.frontends.http.api import create_api
    from assistant.frontends.http.feeds import add_feed_routes, sync_feeds_while_serving
    from assistant.frontends.http.mount import mount_ui
    from assistant.frontends.ui.app import build_ui
    from assistant.service import create_assistant
    from ingest.feeds.schedule import FeedScheduler

    settings = settings or Settings()
    assistant = assistant or create_assistant(settings)
    feeds = FeedScheduler(settings.ingest, assistant.components.pipeline)
    api = create_api(assistant, settings)
    add_feed_routes(api, feeds)
    app = mount_ui(api, build_ui(assistant, settings, feeds), settings)
    if settings.feeds_sync:
        sync_feeds_while_serving(app, feeds)  # the serving process syncs the followed feeds
    return app


def serve(settings: Settings) -> None:
    """Build the app, warm the model and indexes up, then serve it with uvicorn until stopped.

    An embedded store is held for the server's lifetime (:mod:`ingest.storage.locks`): other processes
    cannot write to it meanwhile, as this server would not see what they write.
    """
    import uvicorn

    from assistant.service import create_assistant

    address = f"http://{settings.host}:{settings.port}{settings.root_path}"
    assistant = create_assistant(settings)
    with assistant.components.store.hold_for_serving(address):
        assistant.warm_up()
        app = create_app(settings, assistant)
        print(f"Newsdesk on {address}/ (API docs at /docs)")
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            root_path=settings.root_path,
            server_header=False,
            lifespan="on",  # a failing startup (the UI's queue, the feed scheduler) stops the server loudly
            **proxy_options(settings),
        )


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's forwarded-header options: believe ``X-Forwarded-For``/``-Proto`` only from the proxies
    of ``forwarded_allow_ips``; with none configured, from nobody (uvicorn alone trusts 127.0.0.1,
    so any local client could choose the address its rate limit is counted against)."""
    trusted = settings.forwarded_allow_ips.strip()
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}
