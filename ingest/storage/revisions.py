"""Which of two versions of one article is the later: what a page says of itself, else its capture.

A changed text (or metadata) of a stored doc_id is a new version (ingest/storage/versions.py) —
unless the incoming version says it is the older one: its page's ``dateModified`` (extra
``modified``, stored as ``x_modified``) is earlier than the stored version's, or, when the two do
not state different ``dateModified`` dates, it was captured (extra ``captured`` of a web archive:
ingest/loading/warc.py) earlier than the stored version. Then it is skipped, and the stored
version stays: captures of one URL become versions in capture order whatever the order of the
files read, and reading a web archive again changes nothing. A later ``dateModified`` makes a
new version even when the text is the same.
"""

from __future__ import annotations

from collections.abc import Mapping

from assistant.core.types import MetaValue
from ingest.loading.dates import timestamp
from ingest.loading.page_kind import OLDER_VERSION

__all__ = ["OLDER_VERSION", "is_older"]
_ORDERED_BY = ("modified", "captured")


def is_older(extra: Mapping[str, MetaValue], stored: Mapping[str, MetaValue]) -> bool:
    """True when a version with these ``extra`` fields is older than the stored version (its
    metadata ``stored``), by the first of ``modified`` and ``captured`` on which they differ."""
    for name in _ORDERED_BY:
        incoming = timestamp(str(extra.get(name, "")))
        kept = timestamp(str(stored.get(f"x_{name}", "")))
        if incoming is not None and kept is not None and incoming != kept:
            return incoming < kept
    return False
