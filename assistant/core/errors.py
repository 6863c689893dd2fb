"""User-facing errors: the whole error tree of Newsdesk (ingest, store, feeds, questions, uploads).

Every error a user can cause derives from :class:`NewsdeskError`. Code raises the specific
subclass (re-raised ``from exc`` when it wraps a library error); only the edges (CLI, UI, HTTP
API) turn it into a friendly message.
"""

from __future__ import annotations


class NewsdeskError(Exception):
    """Base class of every error that is shown to a user as a message, not a traceback."""


class ConfigError(NewsdeskError):
    """A setting has a value that cannot work; the message names the setting and the value."""


class SourceError(NewsdeskError):
    """An input (file, line, URL, feed) could not be turned into an article."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class FetchError(SourceError):
    """A URL could not be fetched (refused address, timeout, too large, HTTP error: ``status``)."""

    def __init__(self, source: str, reason: str, status: int | None = None) -> None:
        super().__init__(source, reason)
        self.status = status


class UnwantedTypeError(FetchError):
    """The URL answered with a media type the caller did not ask for (its body is not read)."""


class ArchiveError(SourceError):
    """A WARC or ARC file cannot be read on from ``offset`` (a truncated record, a corrupt gzip
    member); the message names the file and the byte offset. What was read before it stands."""

    def __init__(self, source: str, offset: int, problem: str) -> None:
        super().__init__(source, f"{problem} at byte offset {offset:,}; the records before it were read")
        self.offset = offset


class StoreError(NewsdeskError):
    """The Chroma store could not be opened, read or written."""


class LexicalIndexError(StoreError):
    """The lexical index could not be opened, read or written; the message names its file or folder."""


class StoreLockedError(StoreError):
    """Another process is writing to the same embedded store folder."""


class StoreServedError(StoreLockedError):
    """A ``newsdesk serve`` process holds the embedded store folder: only it may write there."""


class ServerIngestError(StoreServedError):
    """The ``newsdesk serve`` process that holds the embedded store could not take an ingest."""


class ServerAskError(StoreServedError):
    """The ``newsdesk serve`` process that holds the embedded store could not answer a question."""


class DocumentNotFoundError(NewsdeskError):
    """No article with the given doc_id is stored."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"no article with doc_id {doc_id!r} is stored")
        self.doc_id = doc_id


class FeedError(NewsdeskError):
    """A followed feed cannot be added, found or synced; the message names the feed and the field."""


class FeedNotFoundError(FeedError):
    """No followed feed has the given URL or id."""

    def __init__(self, feed: str) -> None:
        super().__init__(f"no followed feed {feed!r} (see `newsdesk feeds list`)")
        self.feed = feed


class ModelError(NewsdeskError):
    """The embedding model could not be loaded."""


class InvalidQuestionError(NewsdeskError):
    """An empty or over-long question, or one that is not valid Unicode text."""


class FeedbackError(NewsdeskError):
    """Feedback could not be written or read."""


class FilterError(NewsdeskError):
    """A filter value (date or source) that cannot be used."""


class UploadError(NewsdeskError):
    """An upload that is refused as a whole (a malformed body, a file name with nothing usable)."""


class UploadTooLargeError(UploadError):
    """An upload over the size limit (a file, or the number of files)."""


class UploadTypeError(UploadError):
    """An upload of a file kind that is not ingested."""


class BackupError(StoreError):
    """A backup cannot be written, or a backup folder cannot be restored."""


class NamedArchiveError(NewsdeskError):
    """A named archive (one server, several archives) cannot be created, found or removed."""


class ArchiveNameError(NamedArchiveError):
    """An archive name that is not 1-40 lowercase letters, digits and hyphens (or is reserved)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"archive name {name[:80]!r} {reason}")
        self.name = name


class ArchiveNotFoundError(NamedArchiveError):
    """No archive has the given name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no archive {name[:80]!r} (see `newsdesk archives list`)")
        self.name = name


class ArchiveExistsError(NamedArchiveError):
    """An archive of that name exists already."""

    def __init__(self, name: str) -> None:
        super().__init__(f"archive {name!r} exists already")
        self.name = name


class ArchiveForbiddenError(NamedArchiveError):
    """The principal asking may not read (or write) the archive: nothing of it is read or named."""

    def __init__(self, name: str, action: str = "read") -> None:
        super().__init__(f"you may not {action} archive {name[:80]!r}")
        self.name = name


class SignInError(NewsdeskError):
    """A sign-in with the OpenID Connect provider, or one of its tokens, cannot be used."""


class TokenRejectedError(SignInError):
    """A bearer token or a sign-in's token that is expired, from another issuer, for another
    audience, or not signed by the provider's published keys; the message says which."""


class IdentityProviderError(SignInError):
    """The OpenID Connect provider does not answer (in time) or answers with something unusable."""
