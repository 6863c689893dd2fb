"""Memory a long ingest frees, given back to the operating system.

Embedding a group allocates activations, token arrays and vectors of every size, and freeing them
leaves holes in glibc's heap that it keeps rather than returns: most of an ingest's growing resident
memory was such free memory, not live data (docs/performance.md, "Ingest memory"). So after each
group the pipeline asks glibc to return its free pages (little time against a group's embedding).
Elsewhere (macOS, musl) this is a no-op.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the system; whether it could be asked (glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)  # glibc only
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim  # type: ignore[no-any-return]
