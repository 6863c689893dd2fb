"""Small HTML pieces of the UI: escaping, external links, display dates."""

from __future__ import annotations

import html
import re

from assistant.core.types import safe_url

BLANK_LINE = re.compile(r"\n[ \t\r]*\n")


NEWLINE = re.compile(r"\n")


def esc(text: str) -> str:
    """Escape text for HTML; line breaks become ``<br>`` so the output stays on one line."""
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def external_link(url: str, label: str, css_class: str = "nd-link") -> str:
    """An anchor opening in a new tab, or "" when the URL is not http(s)."""
    target = safe_url(url)
    if target is None:
        return ""
    return (
        f'<a class="{css_class}" href="{html.escape(target, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer">{esc(label)}</a>'
    )


def display_date(published: str) -> str:
    """The date part of an ISO date or date-time (``2024-11-18T10:00:00Z`` -> ``2024-11-18``)."""
    published = published.strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}", published):
        return published[:10]
    return published
