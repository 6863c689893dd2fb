"""The UI's own stylesheet and script, injected into the page head by the header component.

The script only opens and scrolls to a source when a ``[n]`` marker is clicked; it never touches
article text. Both are constants (no user data), so the page stays the same whatever is ingested.
"""

from __future__ import annotations

CSS = """
.nd-header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; padding: .2rem 0 .1rem; }
.nd-header h1 { margin: 0; font-size: 1.6rem; font-weight: 700; letter-spacing: -.01em; }
.nd-header .nd-tagline { color: var(--body-text-color-subdued); }
.nd-corpus { color: var(--body-text-color-subdued); font-size: .85rem; }
.nd-corpus.nd-empty { color: #b45309; }
.nd-answer { line-height: 1.55; }
.nd-answer-text { font-size: 1rem; }
.nd-short-answer { font-size: 1.05rem; margin-bottom: .3rem; }
.nd-short-answer strong { font-weight: 700; background: var(--color-accent-soft); padding: 0 .2em; }
.nd-streaming .nd-answer-text { color: var(--body-text-color-subdued); }
a.nd-cite { font-weight: 600; text-decoration: none; color: var(--color-accent); padding: 0 .15em;
  border-radius: 4px; background: var(--color-accent-soft); cursor: pointer; }
a.nd-cite:hover { text-decoration: underline; }
.nd-notes { margin-top: .35rem; }
.nd-note { font-size: .78rem; color: var(--body-text-color-subdued); }
.nd-sources { margin-top: .7rem; border-top: 1px solid var(--border-color-primary); padding-top: .5rem; }
.nd-sources-head { font-weight: 600; font-size: .78rem; text-transform: uppercase; letter-spacing: .05em;
  color: var(--body-text-color-subdued); margin-bottom: .2rem; }
.nd-sources-head .nd-hint { text-transform: none; letter-spacing: 0; font-weight: 400; margin-left: .4rem; }
details.nd-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .45rem .6rem;
  margin: .4rem 0; background: var(--background-fill-secondary); }
details.nd-source > summary { cursor: pointer; display: flex; gap: .6rem; align-items: flex-start;
  list-style: none; }
details.nd-source > summary::-webkit-details-marker { display: none; }
details.nd-source[open] { border-color: var(--color-accent); }
.nd-n { flex: none; width: 1.45rem; height: 1.45rem; border-radius: 50%; background: var(--color-accent);
  color: #fff; font-size: .75rem; font-weight: 700; display: flex; align-items: center;
  justify-content: center; margin-top: .1rem; }
.nd-summary { display: flex; flex-direction: column; gap: .15rem; min-width: 0; }
.nd-quote { font-style: italic; }
.nd-byline { font-size: .8rem; color: var(--body-text-color-subdued); }
.nd-title { font-weight: 600; color: var(--body-text-color); }
.nd-link { color: var(--color-accent); text-decoration: none; white-space: nowrap; }
.nd-link:hover { text-decoration: underline; }
.nd-source-body { margin: .4rem 0 .1rem 2.05rem; }
blockquote.nd-passage { margin: 0 0 .3rem; padding: .5rem .75rem; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-primary); border-radius: 0 6px 6px 0; font-size: .92rem; }
mark.nd-hl { background: #fde68a; color: #1f2937; padding: 0 .1em; border-radius: 3px; }
.nd-extra { font-size: .8rem; color: var(--body-text-color-subdued); margin-top: .25rem; }
.nd-badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; background: #dcfce7;
  color: #166534; font-size: .75rem; font-weight: 600; }
.nd-support { margin: .2rem 0 0 1rem; padding: 0; }
.nd-flash { animation: nd-flash 1.4s ease-out; }
@keyframes nd-flash { from { box-shadow: 0 0 0 3px var(--color-accent); }
  to { box-shadow: 0 0 0 0 transparent; } }
.nd-refused .nd-answer-text { font-weight: 600; }
.nd-searched { margin-top: .35rem; font-size: .9rem; }
.nd-hint-box { margin-top: .35rem; font-size: .85rem; padding: .4rem .6rem; border-radius: 6px;
  background: var(--background-fill-secondary); color: var(--body-text-color-subdued); }
.nd-error .nd-answer-text { color: #b91c1c; }
.nd-followups { margin-top: .5rem; font-size: .85rem; color: var(--body-text-color-subdued); }
.nd-followups ul { margin: .15rem 0 0 1.1rem; padding: 0; }
.nd-tiles { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: .6rem;
  margin-bottom: .8rem; }
.nd-tile { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6rem;
  text-align: center; background: var(--background-fill-secondary); }
.nd-tile-wide { grid-column: span 2; }
.nd-tile-wide .nd-tile-value { font-size: 1.05rem; line-height: 1.9rem; }
.nd-nowrap { white-space: nowrap; }
.nd-tile-value { font-size: 1.25rem; font-weight: 700; }
.nd-tile-label { font-size: .75rem; text-transform: uppercase; letter-spacing: .05em;
  color: var(--body-text-color-subdued); }
table.nd-table { width: 100%; border-collapse: collapse; font-size: .88rem; border: none !important;
  margin: 0; }
table.nd-table th, table.nd-table td { text-align: left; padding: .3rem .5rem; border: none !important;
  border-bottom: 1px solid var(--border-color-primary) !important; overflow-wrap: anywhere;
  background: transparent; }
table.nd-table tr { border: none !important; }
table.nd-table th { font-weight: 600; color: var(--body-text-color-subdued); font-size: .78rem;
  text-transform: uppercase; letter-spacing: .04em; }
.nd-report { padding: .6rem .75rem; border-radius: 8px; border: 1px solid var(--border-color-primary); }
.nd-report.nd-ok { border-color: #86efac; background: #f0fdf4; color: #14532d; }
.nd-report.nd-warn { border-color: #fcd34d; background: #fffbeb; color: #78350f; }
.nd-report .nd-table { margin-top: .5rem; }
.nd-banner { border: 1px dashed var(--color-accent); border-radius: 10px; padding: .6rem .9rem; }
"""

SCRIPT = """
(function () {
  if (window.__newsdeskCites) { return; }
  window.__newsdeskCites = true;
  document.addEventListener("click", function (event) {
    var marker = event.target && event.target.closest ? event.target.closest("a.nd-cite") : null;
    if (!marker) { return; }
    var id = (marker.getAttribute("href") || "").replace(/^#/, "");
    var source = id ? document.getElementById(id) : null;
    if (!source) { return; }
    event.preventDefault();
    event.stopPropagation();
    source.open = true;
    source.scrollIntoView({ block: "nearest" });
    source.classList.remove("nd-flash");
    void source.offsetWidth;
    source.classList.add("nd-flash");
  }, true);
})();
"""


def head_html() -> str:
    """The ``<style>`` and ``<script>`` elements added to the page head."""
    return f"<style>{CSS}</style><script>{SCRIPT}</script>"
