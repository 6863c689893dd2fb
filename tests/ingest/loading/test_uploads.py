"""Upload handling: file names, streamed multipart bodies and their limits, JSON documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from assistant.core.errors import UploadError, UploadTooLargeError, UploadTypeError
from assistant.core.settings import Settings
from ingest.loading.articles import stable_id
from ingest.loading.uploads import IngestDocument, MultipartSaver, UploadArea, load_uploads, sanitize_filename

BOUNDARY = "nd-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.md", "win.ini.md"),
        ("/abs/path/news.HTML", "news.html"),
        ("my report (final).pdf", "my_report_final.pdf"),
        (".hidden.txt", "hidden.txt"),
        ("Ünïcode näme.txt", "Unicode_name.txt"),
        ("x" * 300 + ".jsonl", "x" * 94 + ".jsonl"),
    ],
)
def test_uploaded_file_names_lose_folders_and_unsafe_characters(raw: str, safe: str) -> None:
    assert sanitize_filename(raw) == safe


@pytest.mark.parametrize("raw", ["evil.exe", "noextension", "archive.txt.zip", "../../.bashrc"])
def test_uploaded_files_of_other_types_are_refused(raw: str) -> None:
    with pytest.raises(UploadTypeError, match="not accepted"):
        sanitize_filename(raw)


def test_a_name_with_nothing_usable_is_refused() -> None:
    with pytest.raises(UploadError, match="no usable characters"):
        sanitize_filename("../***.txt")


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    chunks = []
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename else "")
        chunks.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()


async def in_chunks(body: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def save(folder: Path, body: bytes, max_files: int = 5, max_bytes: int = 1000) -> list[tuple[str, bytes]]:
    saver = MultipartSaver(folder, CONTENT_TYPE, max_files, max_bytes)
    saved = anyio.run(saver.save, in_chunks(body))
    return [(item.name, item.path.read_bytes()) for item in saved]


def test_multipart_files_are_streamed_to_disk_under_safe_unique_names(tmp_path: Path) -> None:
    body = multipart(
        ("files", "../a.txt", b"first file"),
        ("comment", None, b"ignored field"),
        ("files", "sub/a.txt", b"second file"),
    )
    assert save(tmp_path, body) == [("a.txt", b"first file"), ("2-a.txt", b"second file")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2-a.txt", "a.txt"]


def test_a_file_over_the_size_limit_stops_the_upload(tmp_path: Path) -> None:
    with pytest.raises(UploadTooLargeError, match=r"'big\.txt' is larger than the 1000 byte limit"):
        save(tmp_path, multipart(("files", "big.txt", b"x" * 1001)))


def test_more_files_than_allowed_stop_the_upload(tmp_path: Path) -> None:
    parts = [("files", f"{i}.txt", b"text") for i in range(3)]
    with pytest.raises(UploadTooLargeError, match="more than 2 files"):
        save(tmp_path, multipart(*parts), max_files=2)


def test_a_body_that_is_not_multipart_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="multipart/form-data"):
        MultipartSaver(tmp_path, "application/json", 5, 1000)


def test_upload_area_is_private_to_a_request_and_removed_after(tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store", upload_dir=None)
    with UploadArea(settings) as area:
        assert area.folder.parent == tmp_path / "uploads"
        (area.folder / "a.txt").write_text("x")
    assert list((tmp_path / "uploads").iterdir()) == []


def test_uploaded_files_are_named_after_the_upload_and_keep_their_doc_id(tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store", upload_dir=tmp_path / "uploads")
    ids = []
    for _ in range(2):  # two requests, two different temp folders
        with UploadArea(settings) as area:
            body = multipart(("files", "Talks.txt", b"Officials met in Damascus on Monday. They talked."))
            saver = MultipartSaver(area.folder, CONTENT_TYPE, 5, 1000)
            loaded = load_uploads(anyio.run(saver.save, in_chunks(body)), settings)
            assert loaded.failures == []
            (article,) = loaded.articles
            assert (article.origin, article.title) == ("Talks.txt", "Talks")
            ids.append(article.doc_id)
    assert ids == [stable_id("upload:Talks.txt")] * 2


def test_json_documents_without_id_or_url_get_the_hash_of_their_text(tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store", upload_dir=tmp_path / "uploads")
    docs = [
        IngestDocument(text="A sentence about ferries. Another one."),
        IngestDocument(id="given", text="Text with an id."),
        IngestDocument(url="https://example.com/a", text="Text with a url.", published="2024-11-16"),
    ]
    with UploadArea(settings) as area:
        loaded = load_uploads([area.write_documents(docs)], settings)
    ids = [a.doc_id for a in loaded.articles]
    assert ids[0] == stable_id("text:A sentence about ferries. Another one.")
    assert ids[1] == "given"
    assert loaded.articles[2].source == "example.com"
    assert loaded.articles[2].published.startswith("2024-11-16")
    assert loaded.articles[0].origin == "documents.jsonl:1"
