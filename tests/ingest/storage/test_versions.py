"""Corrections: re-ingesting a changed article keeps the earlier version, and its dropped sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.frontends.cli.main import main
from ingest.components import IngestComponents
from ingest.storage.versions import VersionArchive, sentence_diff
from tests.conftest import dev_row

DOC_ID = "f05e0b8abec75b8e"  # CNN, Medal of Freedom, 2022-07-07
CORRECT = "Apple co-founder Steve Jobs"
WRONG = "Apple co-founder Steve Wozniak"


def write_version(path: Path, row: dict[str, object]) -> Path:
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def corrected(components: IngestComponents, tmp_path: Path) -> tuple[dict[str, object], dict[str, object]]:
    """The real article first published with a wrong name, then corrected (the real text)."""
    right = dev_row(DOC_ID)
    wrong = {**right, "text": str(right["text"]).replace(CORRECT, WRONG)}
    path = tmp_path / "article.jsonl"
    components.pipeline.run([str(write_version(path, wrong))], show_progress=False)
    report = components.pipeline.run([str(write_version(path, right))], show_progress=False)
    assert report.updated == 1
    return wrong, right


def test_reingest_of_changed_article_keeps_the_earlier_version_as_history(
    components: IngestComponents, corrected: tuple[dict[str, object], dict[str, object]]
) -> None:
    wrong, right = corrected
    history = VersionArchive(components.store).history(DOC_ID)
    assert [(v.seq, v.text) for v in history] == [(1, wrong["text"])]
    current = components.store.require_article(DOC_ID)
    assert current.text == right["text"]
    assert history[0].metadata["superseded_by"] == current.version != history[0].version


def test_only_the_dropped_sentence_is_kept_for_answers_and_retrieval_sees_the_newest(
    components: IngestComponents, corrected: tuple[dict[str, object], dict[str, object]]
) -> None:
    archive = VersionArchive(components.store)
    question = components.embedder.embed_query("Which Apple co-founder was given the medal posthumously?")
    hits = archive.nearest_retracted(question, 5, components.embedder.model_name)
    old = archive.history(DOC_ID)[0]
    assert [old.text[h.start : h.end] for h in hits] == [
        "The President awarded the medal posthumously to Apple co-founder Steve Wozniak, former "
        "Republican Sen. John McCain of Arizona and former AFL-CIO President Richard Trumka."
    ]
    current = components.store.require_article(DOC_ID)
    live = components.store.query_sentences(question, 50)
    assert {r.version for r in live} == {current.version}
    assert not any(WRONG in current.text[r.start : r.end] for r in live)


def test_unchanged_reingest_keeps_no_history(components: IngestComponents, tmp_path: Path) -> None:
    path = write_version(tmp_path / "a.jsonl", dev_row(DOC_ID))
    components.pipeline.run([str(path)], show_progress=False)
    components.pipeline.run([str(path)], show_progress=False)
    archive = VersionArchive(components.store)
    assert archive.history(DOC_ID) == []
    assert not archive.has_retracted()


def test_each_correction_adds_a_numbered_version(components: IngestComponents, tmp_path: Path) -> None:
    row = dev_row(DOC_ID)
    path = tmp_path / "a.jsonl"
    titles = [
        "Medal of Freedom: Biden to honor 17 people",
        "Medal of Freedom: Biden honors 17 people",
        "Final",
    ]
    for title in titles:  # the real headline change of this story, then one more
        components.pipeline.run([str(write_version(path, {**row, "title": title}))], show_progress=False)
    history = VersionArchive(components.store).history(DOC_ID)
    assert [(v.seq, v.metadata["title"]) for v in history] == [(1, titles[0]), (2, titles[1])]
    assert not VersionArchive(components.store).has_retracted()  # the text never changed


def test_show_versions_prints_the_history(
    components: IngestComponents,
    corrected: tuple[dict[str, object], dict[str, object]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    store_dir = str(components.settings.store_dir)
    assert main(["--store", store_dir, "show", DOC_ID, "--versions"]) == 0
    out = capsys.readouterr().out
    assert "earlier versions: 1" in out
    assert f"- The President awarded the medal posthumously to {WRONG}," in out
    assert f"+ The President awarded the medal posthumously to {CORRECT}," in out
    assert main(["--store", store_dir, "show", DOC_ID, "--versions", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [v["text"] for v in report["versions"]] == [corrected[0]["text"]]


def test_sentence_diff_names_removed_and_added_sentences() -> None:
    old = "The vote passed on Monday. The bill had 52 votes. Markets rose."
    new = "The vote passed on Monday. The bill had 51 votes. Markets rose."
    assert sentence_diff(old, new) == ["- The bill had 52 votes.", "+ The bill had 51 votes."]


def test_deleting_an_article_also_removes_its_version_history(
    components: IngestComponents, tmp_path: Path
) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "c1", "text": "The first claim stands."}\n', encoding="utf-8")
    components.pipeline.run([str(path)], show_progress=False)
    path.write_text('{"id": "c1", "text": "The corrected claim stands."}\n', encoding="utf-8")
    components.pipeline.run([str(path)], show_progress=False)
    archive = VersionArchive(components.store)
    assert archive.history("c1")
    components.pipeline.delete("c1")
    assert archive.history("c1") == []
    assert components.store.get_article("c1") is None
