"""Article titles: the real title (not a file name standing in) and a title without its site tail."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePath

TITLE_TAIL_RE = re.compile(r"\s+(?:[-|–—]\s+[^-|–—]{2,40}|\.\.\.|…)\s*$")


def real_title(metadata: Mapping[str, object]) -> str:
    """The article's title, or "" when it is its file's name standing in for a missing title."""
    title = str(metadata.get("title", "")).strip()
    origin = str(metadata.get("origin", ""))
    return "" if origin and title == PurePath(origin).stem else title


def clean_title(title: str) -> str:
    """A title without its site tail (" - Outlet", " | Site", "...") and quotes."""
    title = " ".join(title.split())
    while TITLE_TAIL_RE.search(title):
        title = TITLE_TAIL_RE.sub("", title)
    return title.strip(" '\"“”")
