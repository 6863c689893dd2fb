"""The Gradio UI mounted on the API, with the widget script and the upload guard."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import Response

from assistant.core.settings import Settings
from assistant.frontends.http.security import ui_auth

if TYPE_CHECKING:
    import gradio as gr


def widget_route() -> Callable[[], Response]:
    script = resources.files("assistant").joinpath("static/widget.js").read_bytes()

    def widget() -> Response:
        return Response(
            script, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "max-age=300"}
        )

    return widget


def mount_ui(api: FastAPI, blocks: gr.Blocks, settings: Settings) -> FastAPI:
    """Mount the Gradio UI at ``/`` with the production defaults (queue limits, no API page, no
    analytics, no stack traces, the data folders blocked) and the UI login when keys are set."""
    import gradio as gr

    blocks.analytics_enabled = False
    blocks.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency, api_open=False)
    data = [
        settings.store_dir,
        settings.upload_dir or settings.store_dir.parent / "uploads",
        settings.feedback_path,
    ]
    app: FastAPI = gr.mount_gradio_app(
        api,
        blocks,
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        footer_links=[],
        run_history=False,
        root_path=settings.root_path or None,
        allowed_paths=[],
        blocked_paths=[str(path.resolve()) for path in data],
        show_error=False,
        max_file_size=settings.max_file_bytes,
        ssr_mode=False,
        enable_monitoring=False,
        pwa=False,
        mcp_server=False,
        **ui_auth(settings, api.state.keyring),
    )
    accept_only_uploaded_files(blocks)
    return app


def accept_only_uploaded_files(blocks: gr.Blocks) -> None:
    """Make every file component of ``blocks`` accept only files that the server received as uploads.

    Before a UI event runs, Gradio checks each file path in the request (``processing_utils.
    _check_allowed``): only files in its upload folder pass, whatever path the request names. It
    skips the check until the app "has launched", which ``launch()`` marks and ``mount_gradio_app``
    never does; without this, a raw queue request naming ``/any/server/file.txt`` would be ingested.
    (:class:`~assistant.frontends.http.uploaded.UploadedFilesOnly` refuses such a request before
    it reaches the queue.)
    """
    blocks.has_launched = True
