"""The Gradio front end: a chat whose answers can be checked in one click, and a Library tab.

A thin layer over :class:`assistant.service.Assistant`: no retrieval or prompt logic here. Answers
stream in, then are rendered by :mod:`assistant.frontends.ui.render` (all article and LLM text escaped): each
``[n]`` marker links to its entry in the answer's sources panel, which opens to show the cited
sentence highlighted inside its paragraph. Thumbs up/down go to :class:`FeedbackLog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.core.settings import Settings
from assistant.frontends.ui.access import UiAccess
from assistant.frontends.ui.assets import head_html
from assistant.frontends.ui.feedback import FeedbackLog
from assistant.frontends.ui.handlers import UPLOAD_TYPES, ChatHandlers, LibraryHandlers

if TYPE_CHECKING:
    from assistant.archives import Archives
    from assistant.service import Assistant
    from ingest.feeds.schedule import FeedScheduler


HEADER = (
    '<div class="nd-header"><h1>Newsdesk</h1>'
    '<span class="nd-tagline">Answers about the news: every sentence cited, every citation one click '
    "from its article.</span></div>"
)
PLACEHOLDER = (
    "**Ask about the articles in the library.**\n\nAnswers quote the articles. Click a [n] marker "
    "to see the cited sentence highlighted in its article."
)


def build_ui(
    assistant: Assistant,
    settings: Settings,
    feeds: FeedScheduler | None = None,
    archives: Archives | None = None,
) -> gr.Blocks:
    """The whole UI: an Ask tab (chat, filters, and with ``archives`` the archives to ask) and a
    Library tab (ingest, statistics, and the followed ``feeds`` when given). What a person sees and
    asks is what their grants allow (:class:`UiAccess`)."""
    access = UiAccess(archives, settings.auth.oidc_enabled)
    chat = ChatHandlers(assistant, settings.ui, FeedbackLog(settings.feedback_path), access)
    library = LibraryHandlers(assistant, settings, access)
    with gr.Blocks(title="Newsdesk", analytics_enabled=False) as demo:
        gr.HTML(HEADER, head=head_html(), js_on_load=None, elem_id="nd-header")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask", elem_id="nd-tab-ask"):
                ask = _ask_tab(chat, assistant, settings)
            with gr.Tab("Library", id="library", elem_id="nd-tab-library"):
                lib = _library_tab()
                if feeds is not None:
                    from assistant.frontends.ui.feeds import FeedHandlers, feeds_section

                    feeds_section(FeedHandlers(feeds, access), demo)
        _wire(demo, chat, library, ask, lib)
        demo.load(access.picker, None, [ask["archives"]])
    blocks: gr.Blocks = demo
    return blocks


def _ask_tab(chat: ChatHandlers, assistant: Assistant, settings: Settings) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=270):
            parts["corpus"] = gr.HTML(elem_id="nd-corpus-line", js_on_load=None)
            parts["archives"] = gr.Dropdown(
                label="Archives", multiselect=True, choices=[], visible=False, elem_id="nd-archives"
            )
            parts["date_from"] = gr.DateTime(
                label="From", include_time=False, type="string", elem_id="nd-date-from"
            )
            parts["date_to"] = gr.DateTime(
                label="To", include_time=False, type="string", elem_id="nd-date-to"
            )
            parts["sources"] = gr.Dropdown(
                label="Sources", multiselect=True, choices=[], elem_id="nd-sources-filter"
            )
            llm = assistant.llm_available
            parts["mode"] = gr.Radio(
                [("Extractive (quotes)", "extractive"), ("LLM (written)", "llm")],
                value=settings.answer_mode if llm else "extractive",
                label="Answer mode",
                visible=llm,
            )
            parts["clear"] = gr.Button("New chat", variant="secondary", elem_id="nd-clear")
        with gr.Column(scale=4):
            with gr.Group(visible=False, elem_classes=["nd-banner"]) as parts["banner"]:
                gr.Markdown(
                    "**The library is empty.** Add articles in the Library tab, or start with the samples."
                )
                parts["samples"] = gr.Button(
                    "Load the sample articles", variant="primary", elem_id="nd-load-samples"
                )
            parts["chatbot"] = gr.Chatbot(
                label="Newsdesk",
                show_label=False,
                elem_id="nd-chat",
                height="62vh",
                layout="panel",
                placeholder=PLACEHOLDER,
                render_markdown=False,
                sanitize_html=True,
                allow_tags=False,
                latex_delimiters=[],
                buttons=["copy"],
                feedback_options=("Like", "Dislike"),
            )
            with gr.Row():
                parts["box"] = gr.Textbox(
                    placeholder="Ask about the news…",
                    show_label=False,
                    scale=6,
                    elem_id="nd-question",
                    lines=1,
                )
                parts["ask"] = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="nd-ask")
    parts["log"] = gr.State([])
    return parts


def _library_tab() -> dict[str, Any]:
    parts: dict[str, Any] = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            gr.Markdown(
                "### Add articles\n"
                "Upload files (text, HTML, PDF, JSONL, RSS/Atom) or paste URLs of pages or feeds."
            )
            parts["files"] = gr.File(
                label="Files",
                file_count="multiple",
                file_types=UPLOAD_TYPES,
                type="filepath",
                elem_id="nd-files",
            )
            parts["urls"] = gr.Textbox(
                label="URLs or feeds, one per line", lines=4, placeholder="https://…", elem_id="nd-urls"
            )
            parts["ingest"] = gr.Button("Add to library", variant="primary", elem_id="nd-ingest")
            parts["report"] = gr.HTML(elem_id="nd-report", js_on_load=None)
        with gr.Column(scale=1):
            with gr.Row(equal_height=True):
                gr.Markdown("### Library")
                parts["refresh"] = gr.Button("Refresh", size="sm", variant="secondary", scale=0, min_width=90)
            parts["stats"] = gr.HTML(elem_id="nd-stats", js_on_load=None)
    return parts


def _wire(
    demo: gr.Blocks, chat: ChatHandlers, library: LibraryHandlers, ask: dict[str, Any], lib: dict[str, Any]
) -> None:
    """Connect the events: asking, examples, feedback, clearing, ingesting and corpus refreshes."""
    corpus_views = [ask["corpus"], lib["stats"], ask["sources"], ask["chatbot"], ask["banner"]]
    filters = [ask["date_from"], ask["date_to"], ask["sources"], ask["mode"], ask["archives"]]
    outputs = [ask["chatbot"], ask["log"], ask["box"]]
    inputs = [ask["box"], ask["chatbot"], ask["log"], *filters]
    ask["box"].submit(chat.submit, inputs, outputs, concurrency_id="ask")
    ask["ask"].click(chat.submit, inputs, outputs, concurrency_id="ask")
    ask["chatbot"].example_select(chat.example, inputs[1:], outputs, concurrency_id="ask")
    ask["chatbot"].like(chat.like, [ask["log"]], None)
    ask["clear"].click(chat.clear, None, [ask["chatbot"], ask["log"]])
    ask["chatbot"].clear(chat.clear, None, [ask["chatbot"], ask["log"]])
    ask["samples"].click(library.load_samples, None, corpus_views)
    lib["ingest"].click(
        library.ingest, [lib["files"], lib["urls"]], [lib["report"], lib["files"], lib["urls"], *corpus_views]
    )
    lib["refresh"].click(library.corpus, None, corpus_views)
    demo.load(library.corpus, None, corpus_views)
