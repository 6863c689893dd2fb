"""Shared fixtures: every data folder in tmp_path; the real model loaded once per session."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from assistant.core.settings import DEFAULT_MODEL, Settings
from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEV_DIR = SHARED / "data" / "realtimeqa-dev"
SAMPLE = REPO / "samples" / "damascus-talks.txt"


@pytest.fixture(autouse=True)
def _data_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes outside its tmp_path, whatever the environment says."""
    for name in list(os.environ):
        if name.startswith("NEWSDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSDESK_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("NEWSDESK_FEEDBACK_PATH", str(tmp_path / "feedback.jsonl"))


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 model from the bundled package, loaded once."""
    model = Embedder(DEFAULT_MODEL, batch_size=64)
    _ = model.model
    return model


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store_dir=tmp_path / "store", feedback_path=tmp_path / "feedback.jsonl")


@pytest.fixture
def components(settings: Settings, embedder: Embedder) -> Iterator[IngestComponents]:
    yield IngestComponents.build(settings, embedder=embedder)


def dev_articles_path() -> Path:
    path = DEV_DIR / "articles.jsonl"
    if not path.is_file():
        pytest.skip(f"shared dev set not found at {path}")
    return path


def dev_rows(doc_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The shared dev articles with these ids, in the given order (skips the test if any is missing)."""
    found: dict[str, dict[str, Any]] = {}
    with dev_articles_path().open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["id"] in doc_ids:
                found[row["id"]] = row
    missing = [d for d in doc_ids if d not in found]
    if missing:
        pytest.skip(f"dev articles {missing} not found")
    return [found[d] for d in doc_ids]


def dev_row(doc_id: str) -> dict[str, Any]:
    """One shared dev article by id (skips the test if it is missing)."""
    return dev_rows([doc_id])[0]


# --- the browser: Debian's chromium driven by Playwright (never Playwright's own build) ---
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium_path() -> str:
    pytest.importorskip("playwright.sync_api")
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def app_page(browser: Browser, url: str, height: int = 1000) -> Iterator[Page]:
    """A fresh page on the app, the chat shown; any JavaScript dialog is recorded (and must never
    happen: checked when the page closes)."""
    context = browser.new_context(viewport={"width": 1280, "height": height})
    opened = context.new_page()
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    opened.on("dialog", record)
    opened.goto(url)
    opened.wait_for_selector("#nd-chat")
    yield opened
    context.close()
    assert dialogs == [], f"a JavaScript dialog fired: {dialogs}"
