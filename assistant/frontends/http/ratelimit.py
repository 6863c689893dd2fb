"""One request budget per identity for every way in: the JSON API, the Gradio chat and uploads.

The counting is the ``limits`` library's moving window (the library slowapi uses): at most
``rate_limit_per_minute`` requests in any 60 seconds per identity (an API key's number, else the
client's address). The counts live in ``rate_limit_storage``: ``memory://`` for one process, or a
storage every worker shares when several serve (``redis://host:6379``, with the ``redis`` extra).
A storage that does not answer within ``rate_limit_timeout_s`` refuses the request (503) rather
than letting it through uncounted.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from assistant.core.errors import ConfigError, NewsdeskError

logger = logging.getLogger(__name__)

NAMESPACE = "newsdesk"
_REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


class RateLimitUnavailableError(NewsdeskError):
    """The shared rate-limit storage did not answer in time (or failed)."""


def _storage(uri: str, timeout_s: float) -> Any:
    """The async storage of ``uri`` (``memory://``, ``redis://...``); ConfigError naming the setting."""
    scheme = uri.partition("://")[0].lower()
    options: dict[str, Any] = {}
    if scheme in _REDIS_SCHEMES:  # redis-py's own socket timeouts, under the overall deadline below
        options = {
            "implementation": "redispy",
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
        }
    try:
        return storage_from_string(f"async+{uri}", **options)
    except (ConfigurationError, ValueError, TypeError) as exc:
        raise ConfigError(f"rate_limit_storage {uri!r} cannot be used: {exc}") from exc


class RateLimits:
    """``acquire(identity)``: 0.0 when the request may go ahead, else the seconds until it may."""

    def __init__(self, per_minute: int, storage_uri: str = "memory://", timeout_s: float = 2.0) -> None:
        if per_minute < 0:
            raise ConfigError(f"rate_limit_per_minute must be 0 or more, got {per_minute}")
        self.per_minute = per_minute
        self.timeout_s = timeout_s
        self._item = RateLimitItemPerMinute(per_minute) if per_minute else None
        self._limiter = MovingWindowRateLimiter(_storage(storage_uri, timeout_s)) if per_minute else None

    async def acquire(self, identity: str) -> float:
        if self._item is None or self._limiter is None:
            return 0.0
        try:
            with anyio.fail_after(self.timeout_s):
                if await self._limiter.hit(self._item, NAMESPACE, identity):
                    return 0.0
                stats = await self._limiter.get_window_stats(self._item, NAMESPACE, identity)
        except TimeoutError as exc:
            raise RateLimitUnavailableError(
                f"the rate-limit storage did not answer within {self.timeout_s:g} s"
            ) from exc
        except Exception as exc:  # the storage's own errors (connection refused, ...)
            raise RateLimitUnavailableError(f"the rate-limit storage failed ({type(exc).__name__})") from exc
        return max(1.0, stats.reset_time - time.time())
