"""The UI's own stylesheet and script (``assistant/static/ui.css``, ``ui.js``, package data), injected
into the page head by the header component.

The script only opens and scrolls to a source when a ``[n]`` marker is clicked; it never touches
article text. Both are constants (no user data), so the page stays the same whatever is ingested.
"""

from __future__ import annotations

from importlib.resources import files


def static_text(name: str) -> str:
    """A file of ``assistant/static/``, read when asked for (nothing is read at import)."""
    return files("assistant").joinpath("static", name).read_text(encoding="utf-8")


def head_html() -> str:
    """The ``<style>`` and ``<script>`` elements added to the page head."""
    return f"<style>\n{static_text('ui.css')}</style><script>\n{static_text('ui.js')}</script>"
