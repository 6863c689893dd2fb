"""The Gradio front end: a chat whose answers can be checked in one click, and a Library tab.

A thin layer over :class:`assistant.service.Assistant`: no retrieval or prompt logic here. Answers
stream in, then are rendered by :mod:`assistant.render` (all article and LLM text escaped): each
``[n]`` marker links to its entry in the answer's sources panel, which opens to show the cited
sentence highlighted inside its paragraph. Thumbs up/down go to :class:`FeedbackLog`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import gradio as gr

from assistant.feedback import FeedbackLog
from assistant.render import (
    CorpusFacts,
    answer_html,
    corpus_line,
    error_html,
    esc,
    ingest_report_html,
    stats_html,
    streaming_html,
)
from assistant.retrieve import FilterError
from assistant.types import Answer, ChatTurn, Filters
from assistant.ui_assets import head_html
from assistant.uploads import SavedUpload, load_uploads, sanitize_filename
from ingest.errors import ConfigError, DocumentNotFoundError, NewsdeskError
from ingest.settings import Settings
from ingest.types import safe_url

if TYPE_CHECKING:
    from assistant.service import Assistant
    from ingest.feedsync import FeedScheduler
    from ingest.pipeline import IngestReport

UPLOAD_TYPES = [".txt", ".md", ".html", ".htm", ".pdf", ".json", ".jsonl", ".xml", ".rss", ".atom"]
Message = dict[str, Any]
AnswerLog = list[dict[str, Any]]  # [{"index": chat message index, "answer": Answer.model_dump()}]
Failure = tuple[str, str]


def samples_dir() -> Path:
    """The folder of the bundled sample articles (the ``samples`` data package, wherever installed)."""
    return Path(str(resources.files("samples")))


def parse_day(value: str | None, name: str) -> str | None:
    """An ISO date (YYYY-MM-DD) from a date box, None when empty; FilterError when malformed."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()[:10]
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise FilterError(f"{name} {value!r} is not a date like 2024-11-18") from exc


def make_filters(date_from: str | None, date_to: str | None, sources: Sequence[str] | None) -> Filters:
    """The filters of the sidebar controls, checked."""
    first, last = parse_day(date_from, "'From' date"), parse_day(date_to, "'To' date")
    if first and last and first > last:
        raise FilterError(f"the 'From' date {first} is after the 'To' date {last}")
    return Filters(published_from=first, published_to=last, sources=list(sources or []))


def history_of(log: AnswerLog) -> list[ChatTurn]:
    """The earlier turns of the conversation, as the assistant expects them."""
    turns: list[ChatTurn] = []
    for entry in log:
        answer = Answer.model_validate(entry["answer"])
        turns += [
            ChatTurn(role="user", content=answer.question),
            ChatTurn(role="assistant", content=answer.answer),
        ]
    return turns


def pasted_urls(text: str) -> tuple[list[str], list[Failure]]:
    """The http(s) URLs pasted one per line; other lines are refused (no local paths from the web)."""
    urls: list[str] = []
    refused: list[Failure] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if safe_url(line):
            urls.append(line)
        else:
            refused.append((line, "only http(s) URLs can be pasted here; upload files instead"))
    return urls, refused


def display_source(source: str) -> str:
    """A URL as is; an uploaded file by its own name (not the server's temporary path)."""
    return source if safe_url(source) else Path(source).name


def corpus_facts(assistant: Assistant) -> CorpusFacts:
    stats = assistant.stats()
    return CorpusFacts(
        stats.articles, stats.sentences, dict(stats.sources), stats.first_published, stats.last_published
    )


class ChatHandlers:
    """Event handlers of the Ask tab."""

    def __init__(self, assistant: Assistant, settings: Settings, feedback: FeedbackLog) -> None:
        if settings.ui_passage_chars < 80:
            raise ConfigError(f"ui_passage_chars must be at least 80, got {settings.ui_passage_chars}")
        self.assistant = assistant
        self.settings = settings
        self.feedback = feedback

    def submit(
        self,
        message: str,
        chat: list[Message],
        log: AnswerLog,
        date_from: str | None,
        date_to: str | None,
        sources: list[str] | None,
        mode: str | None,
    ) -> Iterator[tuple[list[Message], AnswerLog, str]]:
        """Stream the answer to ``message`` into the chat, then render it with its sources."""
        question = (message or "").strip()
        if not question:
            yield chat, log, ""
            return
        chat = [
            *chat,
            {"role": "user", "content": esc(question)},
            {"role": "assistant", "content": streaming_html("")},
        ]
        yield chat, log, ""
        try:
            filters = make_filters(date_from, date_to, sources)
            answer = yield from self._stream(question, history_of(log), filters, mode, chat, log)
        except NewsdeskError as exc:
            chat[-1]["content"] = error_html(f"Sorry, that did not work: {exc}")
            yield chat, log, ""
            return
        index = len(chat) - 1
        chat[-1]["content"] = answer_html(
            answer, self.texts_of(answer), f"m{index}", filters, self.settings.ui_passage_chars
        )
        yield chat, [*log, {"index": index, "answer": answer.model_dump()}], ""

    def _stream(
        self,
        question: str,
        history: list[ChatTurn],
        filters: Filters,
        mode: str | None,
        chat: list[Message],
        log: AnswerLog,
    ) -> Generator[tuple[list[Message], AnswerLog, str], None, Answer]:
        text, answer = "", None
        pieces = self.assistant.stream(
            question, history, None if filters.is_empty() else filters, self._mode(mode)
        )
        for piece in pieces:
            if isinstance(piece, Answer):
                answer = piece
            else:
                text += piece
                chat[-1]["content"] = streaming_html(text)
                yield chat, log, ""
        if answer is None:
            raise NewsdeskError("the assistant returned no answer")
        return answer

    def _mode(self, mode: str | None) -> Literal["extractive", "llm"] | None:
        """The chosen answer mode, or None (the configured default) when no LLM is available."""
        if not self.assistant.llm_available:
            return None
        return "llm" if mode == "llm" else "extractive" if mode == "extractive" else None

    def texts_of(self, answer: Answer) -> dict[str, str]:
        """The canonical texts of the cited articles (missing ones are left out)."""
        texts: dict[str, str] = {}
        for doc_id in {c.doc_id for c in answer.citations}:
            try:
                texts[doc_id] = self.assistant.document(doc_id).text
            except DocumentNotFoundError:
                continue
        return texts

    def example(
        self,
        chat: list[Message],
        log: AnswerLog,
        date_from: str | None,
        date_to: str | None,
        sources: list[str] | None,
        mode: str | None,
        selected: gr.SelectData,
    ) -> Iterator[tuple[list[Message], AnswerLog, str]]:
        """Ask an example question picked in the empty chat."""
        value = selected.value
        question = str(value.get("text", "")) if isinstance(value, dict) else str(value)
        yield from self.submit(question, chat, log, date_from, date_to, sources, mode)

    def like(self, log: AnswerLog, data: gr.LikeData, request: gr.Request) -> None:
        """Store a thumbs up/down with the question, the answer and its citations."""
        index = data.index if isinstance(data.index, int) else data.index[0]
        entry = next((e for e in log if e["index"] == index), None)
        if entry is None or not isinstance(data.liked, bool):
            return
        answer = Answer.model_validate(entry["answer"])
        self.feedback.record(
            "up" if data.liked else "down", answer, session=request.session_hash or "", message_index=index
        )
        gr.Info("Thanks: your feedback was saved.")

    @staticmethod
    def clear() -> tuple[list[Message], AnswerLog]:
        return [], []


@dataclass
class IngestOutcome:
    """Counts and failures summed over the sources of one ingest click."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"added": 0, "updated": 0, "unchanged": 0, "sentences": 0}
    )
    failures: list[Failure] = field(default_factory=list)

    def add(self, report: IngestReport | None, failures: list[Failure]) -> None:
        self.failures += failures
        if report is not None:
            for key in self.counts:
                self.counts[key] += int(getattr(report, key))


class LibraryHandlers:
    """Event handlers of the Library tab and of the corpus views shared with the Ask tab."""

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        if settings.ui_example_questions < 0:
            raise ConfigError(f"ui_example_questions must be 0 or more, got {settings.ui_example_questions}")
        self.assistant = assistant
        self.settings = settings

    def corpus(self) -> tuple[str, str, Any, Any, Any]:
        """Corpus line, statistics, source-filter choices, example questions, empty-library banner."""
        facts = corpus_facts(self.assistant)
        questions = (
            self.assistant.example_questions(self.settings.ui_example_questions) if facts.articles else []
        )
        return (
            corpus_line(facts),
            stats_html(facts),
            gr.update(choices=sorted(facts.sources)),
            gr.update(examples=[{"text": q} for q in questions] or None),
            gr.update(visible=facts.articles == 0),
        )

    def load_samples(self) -> tuple[str, str, Any, Any, Any]:
        """Ingest the bundled sample articles (offered while the library is empty)."""
        outcome = IngestOutcome()
        outcome.add(*self._ingest_source(str(samples_dir())))
        if outcome.failures:
            gr.Warning("Some samples failed: " + "; ".join(f"{s}: {r}" for s, r in outcome.failures))
        gr.Info(f"Added {outcome.counts['added']} sample articles.")
        return self.corpus()

    def ingest(
        self,
        files: list[str] | None,
        urls: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, None, str, str, str, Any, Any, Any]:
        """Ingest uploaded files and pasted URLs one by one, with progress and per-source failures."""
        accepted, refused = pasted_urls(urls or "")
        paths = [str(f) for f in files or []]
        if not (paths or accepted or refused):
            raise gr.Error("Choose files to upload or paste URLs first.")
        outcome = IngestOutcome(failures=refused)
        items = [*paths, *accepted]
        for i, item in enumerate(items):
            progress((i, len(items)), desc=f"Adding {display_source(item)}", unit="sources")
            outcome.add(*(self._ingest_file(item) if i < len(paths) else self._ingest_source(item)))
        html = ingest_report_html(**outcome.counts, failures=outcome.failures)
        return (html, None, "", *self.corpus())

    def _ingest_file(self, path: str) -> tuple[IngestReport | None, list[Failure]]:
        """An uploaded file, loaded like an API upload (doc_id and messages use its own name)."""
        name = Path(path).name
        try:
            loaded = load_uploads([SavedUpload(sanitize_filename(name), Path(path))], self.settings)
            report = self.assistant.ingest_articles(loaded.articles)
        except NewsdeskError as exc:
            return None, [(name, str(exc))]
        return report, [(f.source, f.error) for f in [*loaded.failures, *report.failed]]

    def _ingest_source(self, source: str) -> tuple[IngestReport | None, list[Failure]]:
        try:
            report = self.assistant.ingest_sources([source])
        except NewsdeskError as exc:
            return None, [(display_source(source), str(exc))]
        return report, [(display_source(f.source), f.error) for f in report.failed]


HEADER = (
    '<div class="nd-header"><h1>Newsdesk</h1>'
    '<span class="nd-tagline">Answers about the news: every sentence cited, every citation one click '
    "from its article.</span></div>"
)
PLACEHOLDER = (
    "**Ask about the articles in the library.**\n\nAnswers quote the articles. Click a [n] marker "
    "to see the cited sentence highlighted in its article."
)


def build_ui(assistant: Assistant, settings: Settings, feeds: FeedScheduler | None = None) -> gr.Blocks:
    """The whole UI: an Ask tab (chat, filters) and a Library tab (ingest, statistics, and the
    followed ``feeds`` when given)."""
    chat = ChatHandlers(assistant, settings, FeedbackLog(settings.feedback_path))
    library = LibraryHandlers(assistant, settings)
    with gr.Blocks(title="Newsdesk", analytics_enabled=False) as demo:
        gr.HTML(HEADER, head=head_html(), js_on_load=None, elem_id="nd-header")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask", elem_id="nd-tab-ask"):
                ask = _ask_tab(chat, assistant, settings)
            with gr.Tab("Library", id="library", elem_id="nd-tab-library"):
                lib = _library_tab()
                if feeds is not None:
                    from assistant.ui_feeds import FeedHandlers, feeds_section

                    feeds_section(FeedHandlers(feeds), demo)
        _wire(demo, chat, library, ask, lib)
    blocks: gr.Blocks = demo
    return blocks


def _ask_tab(chat: ChatHandlers, assistant: Assistant, settings: Settings) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=270):
            parts["corpus"] = gr.HTML(elem_id="nd-corpus-line", js_on_load=None)
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
    filters = [ask["date_from"], ask["date_to"], ask["sources"], ask["mode"]]
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
