"""The in-step mark: a file in the lexical index folder saying the index holds what Chroma holds.

Before its first write a writer compares the versions the index holds with Chroma's
(:meth:`~ingest.storage.lexical_sync.LexicalSync.prepare`): 0.5 s at 710 articles, more with every
article, paid by every cold ``newsdesk ask`` and every server start. With an embedded store one
process writes at a time, so the last writer can say when it left the index in step: every write
to Chroma removes the mark first (durably: the folder is synced before Chroma changes), and the mark
is written again, holding the count of Chroma's article records and of the index's sentences, only
once the index write succeeded and no other write of the process is under way. A kill in between
leaves no mark, and a mark whose counts differ from the store's (an older Newsdesk wrote since) is
not trusted: the versions are compared, as without a mark. A Chroma server has other writers, on
other machines: there is no mark, the versions are always compared.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from assistant.core.errors import LexicalIndexError

IN_STEP = "newsdesk-in-step.json"

Fingerprint = dict[str, int]


class InStepMark:
    """The mark of the index in ``folder`` (``enabled`` False: none, as with a Chroma server)."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.path, self.enabled = folder / IN_STEP, enabled

    def holds(self, fingerprint: Fingerprint) -> bool:
        """Whether the mark is there and was left with these counts."""
        if not self.enabled:
            return False
        try:
            return bool(json.loads(self.path.read_text(encoding="utf-8")) == fingerprint)
        except (OSError, ValueError):
            return False

    def write(self, fingerprint: Fingerprint) -> None:
        """Leave the mark (atomically); when it cannot be written the next writer compares versions."""
        if not self.enabled:
            return
        partial = self.path.with_suffix(".tmp")
        try:
            partial.write_text(json.dumps(fingerprint), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError:
            partial.unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove the mark, durably, before Chroma changes."""
        if not self.enabled or not self.path.exists():
            return
        try:
            self.path.unlink()
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except FileNotFoundError:
            return
        except OSError as exc:
            message = f"lexical index {self.path.parent}: cannot clear its in-step mark: {exc}"
            raise LexicalIndexError(message) from exc
