"""Ingesting web archives end to end, with the real model and a real embedded Chroma: captures of
one URL become versions of one article, a re-run changes nothing, a damaged file keeps what came
before the damage, and the page's dateModified orders versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.core.errors import ServerIngestError
from assistant.frontends.cli.main import main
from ingest.components import IngestComponents
from ingest.loading.articles import url_doc_id
from ingest.storage.versions import VersionArchive
from tests.ingest.pages import WarcFile, article_html, headlines, index_html, news_article_ld, story

SITE = "https://gazette.test"
FERRY = f"{SITE}/news/ferry-schedule"
MARKET = f"{SITE}/news/market-hall"
FIRST = story("ferry", "Quillport", "Tickets cost four euros.")
CORRECTED = story("ferry", "Quillport", "Tickets cost five euros, not four as first reported.")


def captures_of_one_page(path: Path, order: tuple[int, ...] = (0, 1, 2)) -> Path:
    """The ferry story captured three times (first text, corrected text, corrected again: the same),
    the market story once, and a section front; ``order`` is the order of the ferry captures."""
    ferry = [
        ("2024-05-01T08:00:00Z", FIRST),
        ("2024-05-02T08:00:00Z", CORRECTED),
        ("2024-05-03T08:00:00Z", CORRECTED),
    ]
    warc = WarcFile(path)
    warc.response(MARKET, article_html("Market hall reopens", story("market hall", "Marrowby")))
    for index in order:
        date, text = ferry[index]
        warc.response(FERRY, article_html("Ferry fares", text), date)
    warc.response(f"{SITE}/local/", index_html("Local news", headlines(30)))
    return warc.close()


def test_captures_of_one_url_become_versions_and_a_rerun_changes_nothing(
    components: IngestComponents, tmp_path: Path
) -> None:
    path = captures_of_one_page(tmp_path / "crawl.warc.gz")
    report = components.pipeline.run([str(path)], show_progress=False)
    assert (report.added, report.updated, report.unchanged, report.failed) == (2, 1, 1, [])
    assert report.skipped == {"index page": 1}
    stored = components.store.require_article(url_doc_id(FERRY))
    assert "five euros" in stored.text and stored.metadata["url"] == FERRY
    assert stored.metadata["x_captured"] == "2024-05-02T08:00:00+00:00"  # the capture that changed it
    history = VersionArchive(components.store).history(url_doc_id(FERRY))
    assert len(history) == 1 and "four euros" in history[0].text
    assert components.store.count()[0] == 2

    again = components.pipeline.run([str(path)], show_progress=False)
    assert (again.added, again.updated, again.sentences, again.failed) == (0, 0, 0, [])
    assert again.skipped == {"already stored": 2, "older than the stored version": 1, "index page": 1}
    assert len(VersionArchive(components.store).history(url_doc_id(FERRY))) == 1


def test_an_older_capture_read_after_a_newer_one_does_not_replace_it(
    components: IngestComponents, tmp_path: Path
) -> None:
    path = captures_of_one_page(tmp_path / "reversed.warc.gz", order=(2, 0))
    report = components.pipeline.run([str(path)], show_progress=False)
    assert (report.added, report.updated) == (2, 0)
    assert report.skipped["older than the stored version"] == 1
    assert "five euros" in components.store.require_article(url_doc_id(FERRY)).text
    assert VersionArchive(components.store).history(url_doc_id(FERRY)) == []


def test_a_truncated_warc_keeps_every_article_before_the_damage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warc = WarcFile(tmp_path / "whole.warc.gz")
    urls = [f"{SITE}/news/{n}" for n in range(3)]
    for n, (url, town) in enumerate(zip(urls, ("Testville", "Quillport", "Marrowby"))):
        warc.response(url, article_html(f"Story {n}", story(f"plan {n}", town)))
    warc.response(f"{SITE}/tag/plans", index_html("Plans", headlines(5)))
    data = warc.close().read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: warc.offsets[2] + 100])
    store = tmp_path / "store"
    assert main(["--store", str(store), "ingest", "--json", str(cut)]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["added"], summary["skipped"]) == (2, {})
    (failure,) = summary["failed"]
    assert failure["source"] == str(cut)
    assert f"at byte offset {warc.offsets[2]:,}" in failure["error"]
    assert main(["--store", str(store), "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 2


def test_a_later_date_modified_is_a_new_version_and_an_earlier_one_is_skipped(
    components: IngestComponents, tmp_path: Path
) -> None:
    def page(modified: str, text: list[str], captured: str) -> Path:
        node = news_article_ld("Ferry fares", datePublished="2024-05-01", dateModified=modified)
        path = tmp_path / f"ferry-{modified[:10]}.warc.gz"
        warc = WarcFile(path)
        warc.response(FERRY, article_html("Ferry fares", text, json_ld=node), captured)
        return warc.close()

    run = components.pipeline.run
    assert run([str(page("2024-05-02T09:00:00Z", FIRST, "2024-06-01T00:00:00Z"))], False).added == 1
    same_text_later = run([str(page("2024-05-05T09:00:00Z", FIRST, "2024-06-02T00:00:00Z"))], False)
    assert same_text_later.updated == 1  # the page says it changed: a new version
    stored = components.store.require_article(url_doc_id(FERRY))
    assert stored.metadata["x_modified"] == "2024-05-05T09:00:00+00:00"
    assert stored.metadata["published"] == "2024-05-01"
    # captured later, but the page says it is older than the stored version: dateModified decides
    older = run([str(page("2024-05-03T09:00:00Z", CORRECTED, "2024-06-03T00:00:00Z"))], False)
    assert (older.updated, older.skipped) == (0, {"older than the stored version": 1})
    assert "four euros" in components.store.require_article(url_doc_id(FERRY)).text
    assert len(VersionArchive(components.store).history(url_doc_id(FERRY))) == 1


def test_beside_a_running_server_a_web_archive_is_refused_not_uploaded(tmp_path: Path) -> None:
    from assistant.frontends.cli.forward import source_files

    captures_of_one_page(tmp_path / "crawl.warc.gz")
    with pytest.raises(ServerIngestError, match="a web archive is read only by the process that writes"):
        source_files([str(tmp_path)])  # a folder holding one: what `newsdesk ingest` would upload
