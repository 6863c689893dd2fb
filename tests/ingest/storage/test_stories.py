"""Syndicated copies of one story share a story_id, in a persistent MinHash index in Chroma."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.core.errors import ConfigError
from assistant.core.settings import Settings
from ingest.components import IngestComponents
from ingest.storage.store import NewsStore
from ingest.storage.stories import StoryIndex, shingles, signature
from tests.conftest import dev_articles_path

# Real dev-set copies (found by running MinHash over the whole set): the same CNN story at two URLs.
MEDAL_COPIES = ("f05e0b8abec75b8e", "c450885802e6cc01")  # Medal of Freedom, 2022-07-07
GAS_TAX_COPIES = ("5bf9ddfda81b0dea", "fcabc24131fa262e")  # gas tax holiday, 2022-06-22
YELLOWSTONE_COPIES = ("30bb78c7c15b7e06", "e5641eabbd34e352")  # an updated copy, 2022-06-14
# The same news from other outlets, written independently: not copies.
INDEPENDENT = ("fdd96044d2a2d660", "0c97e8fc54414ec5", "187a20435053bdbf", "651d337663a37063")


def dev_texts(*doc_ids: str) -> dict[str, str]:
    wanted = set(doc_ids)
    found: dict[str, str] = {}
    with dev_articles_path().open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["id"] in wanted:
                found[row["id"]] = row["text"]
    missing = wanted - set(found)
    if missing:
        pytest.skip(f"dev articles {sorted(missing)} not found")
    return {d: found[d] for d in doc_ids}


def wire_copy(text: str) -> str:
    """How another outlet republishes a wire story: its own dateline, a sentence cut, a tail added."""
    lines = [line for line in text.split("\n") if line.strip()]
    lines[0] = re.sub(r"^\(CNN\)\s*", "NEW YORK (AP) — ", lines[0])
    del lines[len(lines) // 2]
    return "\n\n".join([*lines, "Copyright 2022 The Associated Press. All rights reserved."])


@pytest.fixture
def index(settings: Settings) -> StoryIndex:
    return StoryIndex(settings.news, NewsStore(settings.store))


def test_copies_of_one_story_form_one_group(index: StoryIndex) -> None:
    texts = dev_texts(*MEDAL_COPIES, *GAS_TAX_COPIES, *YELLOWSTONE_COPIES, *INDEPENDENT)
    stories = index.assign_many(list(texts.items()))
    for first, second in (MEDAL_COPIES, GAS_TAX_COPIES, YELLOWSTONE_COPIES):
        assert stories[first] == stories[second] == first
    for doc_id in INDEPENDENT:
        assert stories[doc_id] == doc_id


def test_story_index_is_shared_by_every_process(settings: Settings) -> None:
    first, second = MEDAL_COPIES
    texts = dev_texts(first, second)
    StoryIndex(settings.news, NewsStore(settings.store)).assign(first, texts[first])
    later = StoryIndex(settings.news, NewsStore(settings.store))  # as another process would open it
    assert later.assign(second, texts[second]) == first
    assert later.stories_of([first, second, "absent"]) == {first: first, second: first}


def test_wire_copy_from_another_outlet_joins_the_story(index: StoryIndex) -> None:
    original = dev_texts(GAS_TAX_COPIES[0])[GAS_TAX_COPIES[0]]
    index.assign("cnn", original)
    assert index.assign("ap-copy", wire_copy(original)) == "cnn"


def test_reassigning_an_article_does_not_match_itself(index: StoryIndex) -> None:
    text = dev_texts(MEDAL_COPIES[0])[MEDAL_COPIES[0]]
    assert index.assign("a", text) == "a"
    assert index.assign("a", text) == "a"


def test_text_without_words_is_its_own_story(index: StoryIndex) -> None:
    assert index.assign("empty", " \n--- ") == "empty"
    assert signature("", 5) is None
    assert shingles("one two", 5) == {b"one two"}


def test_threshold_out_of_range_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"syndication_threshold\n.*input_value=1\.5"):
        Settings.load(syndication_threshold=1.5)


def test_ingest_stores_the_story_id_on_articles_and_sentences(
    components: IngestComponents, tmp_path: Path
) -> None:
    texts = dev_texts(*MEDAL_COPIES)
    path = tmp_path / "copies.jsonl"
    rows = [{"id": d, "text": t, "url": f"https://www.cnn.com/{d}"} for d, t in texts.items()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    components.pipeline.run([str(path)], show_progress=False)
    store = components.store
    assert {a.doc_id: a.metadata["story_id"] for a in store.iter_articles()} == dict.fromkeys(
        MEDAL_COPIES, MEDAL_COPIES[0]
    )
    got = store.sentences.get(where={"doc_id": MEDAL_COPIES[1]}, include=["metadatas"])
    assert {m["story_id"] for m in got["metadatas"] or []} == {MEDAL_COPIES[0]}
