"""What the UI does on a click: ask and stream an answer, ingest uploads and URLs, delete."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import gradio as gr

from assistant.core.errors import (
    ArchiveForbiddenError,
    DocumentNotFoundError,
    FilterError,
    NamedArchiveError,
    NewsdeskError,
)
from assistant.core.sections import UISettings
from assistant.core.settings import Settings
from assistant.core.types import safe_url
from assistant.frontends.ui.access import UiAccess
from assistant.frontends.ui.feedback import FeedbackLog
from assistant.frontends.ui.html import esc
from assistant.frontends.ui.library_html import CorpusFacts, corpus_line, ingest_report_html, stats_html
from assistant.frontends.ui.render import answer_html, error_html, streaming_html
from assistant.pipeline.request import Request
from assistant.types import Answer, ChatTurn, Cited, Filters, StreamItem
from ingest.loading.uploads import SavedUpload, load_uploads, sanitize_filename
from ingest.storage.archives import DEFAULT_ARCHIVE

if TYPE_CHECKING:
    from assistant.service import Assistant
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

    def __init__(
        self,
        assistant: Assistant,
        settings: UISettings,
        feedback: FeedbackLog,
        access: UiAccess | None = None,
    ) -> None:
        self.assistant = assistant
        self.settings = settings
        self.feedback = feedback
        self.access = access or UiAccess(None)

    def submit(
        self,
        message: str,
        chat: list[Message],
        log: AnswerLog,
        date_from: str | None,
        date_to: str | None,
        sources: list[str] | None,
        mode: str | None,
        archives: list[str] | None = None,
        request: gr.Request | None = None,
    ) -> Iterator[tuple[list[Message], AnswerLog, str]]:
        """Stream the answer to ``message`` into the chat, then render it with its sources (asked
        of the ``archives`` picked, each one the person may read)."""
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
            asked = Request.of(
                question, history_of(log), None if filters.is_empty() else filters, self._mode(mode)
            )
            pieces = self._pieces(asked, archives, request)
            answer = yield from self._stream(pieces, chat, log, filters)
        except NewsdeskError as exc:
            chat[-1]["content"] = error_html(f"Sorry, that did not work: {exc}")
            yield chat, log, ""
            return
        index = len(chat) - 1
        chat[-1]["content"] = self.answer_html(answer, index, filters)
        yield chat, [*log, {"index": index, "answer": answer.model_dump()}], ""

    def _pieces(
        self, asked: Request, archives: list[str] | None, request: gr.Request | None
    ) -> Iterator[StreamItem]:
        """The answer's pieces: from the archives picked (each checked against the person's grants
        by :meth:`~assistant.archives.Archives.stream_across`), else from the default archive."""
        grants = self.access.grants(request)
        if self.access.archives is not None:
            return self.access.archives.stream_across(asked, archives or [DEFAULT_ARCHIVE], grants)
        if not grants.can_read(DEFAULT_ARCHIVE):
            raise ArchiveForbiddenError(DEFAULT_ARCHIVE)
        return self.assistant.stream(asked)

    def _stream(
        self, pieces: Iterator[StreamItem], chat: list[Message], log: AnswerLog, filters: Filters
    ) -> Generator[tuple[list[Message], AnswerLog, str], None, Answer]:
        text, answer = "", None
        for piece in pieces:
            if isinstance(piece, Answer):
                answer = piece
            elif isinstance(piece, Cited):  # the cited sentences, before their news fields
                chat[-1]["content"] = self.answer_html(piece.answer, len(chat) - 1, filters)
                yield chat, log, ""
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

    def answer_html(self, answer: Answer, index: int, filters: Filters) -> str:
        """The answer of chat message ``index`` with its sources, as HTML."""
        texts = self.texts_of(answer)
        return answer_html(answer, texts, f"m{index}", filters, self.settings.ui_passage_chars)

    def texts_of(self, answer: Answer) -> dict[str, str]:
        """The canonical texts of the cited articles, each from its archive (missing ones are left out)."""
        texts: dict[str, str] = {}
        archives = self.access.archives
        for archive, doc_id in {(c.archive, c.doc_id) for c in answer.citations}:
            try:
                found = archives.assistant(archive) if archives is not None and archive else self.assistant
                texts[doc_id] = found.document(doc_id).text
            except (DocumentNotFoundError, NamedArchiveError):
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
        archives: list[str] | None,
        selected: gr.SelectData,
        request: gr.Request,
    ) -> Iterator[tuple[list[Message], AnswerLog, str]]:
        """Ask an example question picked in the empty chat."""
        value = selected.value
        question = str(value.get("text", "")) if isinstance(value, dict) else str(value)
        yield from self.submit(question, chat, log, date_from, date_to, sources, mode, archives, request)

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

    def __init__(self, assistant: Assistant, settings: Settings, access: UiAccess | None = None) -> None:
        self.assistant = assistant
        self.settings = settings
        self.access = access or UiAccess(None)

    def corpus(self, request: gr.Request) -> tuple[str, str, Any, Any, Any]:
        """Corpus line, statistics, source-filter choices, example questions, empty-library banner
        (of the default archive; nothing of it for a person who may not read it)."""
        if not self.access.may_read_default(request):
            return "", "", gr.update(choices=[]), gr.update(examples=None), gr.update(visible=False)
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

    def load_samples(self, request: gr.Request) -> tuple[str, str, Any, Any, Any]:
        """Ingest the bundled sample articles (offered while the library is empty)."""
        self.access.require(request, write=True)
        outcome = IngestOutcome()
        outcome.add(*self._ingest_source(str(samples_dir())))
        if outcome.failures:
            gr.Warning("Some samples failed: " + "; ".join(f"{s}: {r}" for s, r in outcome.failures))
        gr.Info(f"Added {outcome.counts['added']} sample articles.")
        return self.corpus(request)

    def ingest(
        self,
        files: list[str] | None,
        urls: str | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, None, str, str, str, Any, Any, Any]:
        """Ingest uploaded files and pasted URLs one by one, with progress and per-source failures."""
        self.access.require(request, write=True)
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
        return (html, None, "", *self.corpus(request))

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
