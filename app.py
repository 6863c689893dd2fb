"""The Newsdesk web app: the HTTP API with the Gradio chat mounted on it.

``python app.py`` (or ``newsdesk serve``) serves it with uvicorn on the configured host and port
(127.0.0.1:7860 unless configured). Everything is built in :func:`create_app`; nothing at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ingest.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from assistant.service import Assistant


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """Build the assistant, the JSON API and the Gradio UI, and mount the UI on the API."""
    from assistant.api import create_api, mount_ui
    from assistant.service import create_assistant
    from assistant.ui import build_ui

    settings = settings or Settings()
    assistant = assistant or create_assistant(settings)
    api = create_api(assistant, settings)
    return mount_ui(api, build_ui(assistant, settings), settings)


def serve(settings: Settings) -> None:
    """Build the app, warm the model and indexes up, then serve it with uvicorn until stopped."""
    import uvicorn

    from assistant.service import create_assistant

    assistant = create_assistant(settings)
    assistant.warm_up()
    app = create_app(settings, assistant)
    print(f"Newsdesk on http://{settings.host}:{settings.port}{settings.root_path}/ (API docs at /docs)")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        root_path=settings.root_path,
        server_header=False,
        **proxy_options(settings),
    )


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's forwarded-header options: believe ``X-Forwarded-For``/``-Proto`` only from the proxies
    of ``forwarded_allow_ips``; with none configured, from nobody (uvicorn alone trusts 127.0.0.1,
    so any local client could choose the address its rate limit is counted against)."""
    trusted = settings.forwarded_allow_ips.strip()
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


def main() -> None:
    """``python app.py``: the same as ``newsdesk serve`` with settings from the environment."""
    serve(Settings())


if __name__ == "__main__":
    main()
