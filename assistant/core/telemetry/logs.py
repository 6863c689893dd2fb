"""The server's log lines: text, or JSON (``log_format = "json"``) with the trace and span ids of
the request they were written in, so a log line leads to its trace and back.

What is logged is decided where it is logged: at INFO and above no line carries a question, an
answer, an API key or a token (the keys are named by number, ``key#2``; the HTTP access lines name
the method and path, and every question travels in a request body).
"""

from __future__ import annotations

import json
import logging
import logging.config
import time
from typing import Any

from assistant.core.sections.operations import ObservabilitySettings
from assistant.core.telemetry.tracing import current_ids

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, trace_id and span_id (when the line
    was written inside a span), the exception's traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id, span_id = current_ids()
        if trace_id:
            entry["trace_id"], entry["span_id"] = trace_id, span_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def log_config(settings: ObservabilitySettings) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server: every line (Newsdesk's, uvicorn's, the
    libraries') to stderr in the chosen format, at ``log_level`` and above."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "newsdesk", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"newsdesk": formatter},
        "handlers": {"newsdesk": handler},
        "root": {"handlers": ["newsdesk"], "level": settings.log_level},
        "loggers": {name: {"handlers": [], "propagate": True} for name in SERVER_LOGGERS},
    }


def configure_logging(settings: ObservabilitySettings) -> None:
    logging.config.dictConfig(log_config(settings))
