"""Who makes a request (:class:`Principal`) and the API keys that name one (:class:`KeyRing`).

A principal carries its :class:`~assistant.core.access.Grants`: which archives it may read and
write. An API key's come from ``key_permissions`` (by key number; a key not named there reads and
writes every archive, a ``:ro`` one reads every archive, as before archives had permissions); a
signed-in person's from the groups the identity provider gives them (``oidc_group_permissions``,
:mod:`assistant.frontends.http.oidc`). Only key numbers (``key#2``) ever reach logs, never keys.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from starlette.datastructures import Headers

from assistant.core.access import FULL_ACCESS, READ_ACCESS, Grants, Level
from assistant.core.errors import ConfigError
from assistant.core.settings import Settings

MIN_KEY_CHARS = 16
KEY_SUFFIXES = {"ro": True, "rw": False}


@dataclass(frozen=True)
class ApiKey:
    """A configured key: its number (for logs and rate limits), its SHA-256, and its grants."""

    key_id: str
    digest: bytes
    read_only: bool
    grants: Grants = field(default=FULL_ACCESS)


@dataclass(frozen=True)
class Principal:
    """Who made a request: ``key_id`` names it in logs and rate limits (``"anonymous"`` when no
    keys are configured, ``key#2``, ``user:SUBJECT``); ``grants`` what it may read and write."""

    key_id: str
    grants: Grants = field(default=FULL_ACCESS)
    kind: Literal["anonymous", "key", "user"] = "key"

    @property
    def read_only(self) -> bool:
        return not self.grants.writes_anywhere

    @property
    def is_user(self) -> bool:
        return self.kind == "user"


ANONYMOUS = Principal("anonymous", FULL_ACCESS, "anonymous")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


class KeyRing:
    """The API keys of ``NEWSDESK_API_KEYS``: comma-separated, each optionally ``:ro`` (read-only);
    ``permissions``: the ``key_permissions`` setting."""

    def __init__(self, spec: str, permissions: Mapping[str, str] | None = None) -> None:
        self.keys: list[ApiKey] = [self._parse(i, part) for i, part in enumerate(_split(spec), start=1)]
        if len({key.digest for key in self.keys}) != len(self.keys):
            raise ConfigError("NEWSDESK_API_KEYS lists the same key twice")
        self.keys = _with_permissions(self.keys, permissions or {})

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        return cls(settings.api_keys.get_secret_value(), settings.key_permissions)

    @staticmethod
    def _parse(number: int, part: str) -> ApiKey:
        secret, _, suffix = part.rpartition(":") if ":" in part else (part, "", "")
        if suffix and suffix not in KEY_SUFFIXES:
            raise ConfigError(f"NEWSDESK_API_KEYS: key #{number} has suffix {suffix!r}; use ':ro' or ':rw'")
        if len(secret) < MIN_KEY_CHARS or any(c.isspace() for c in secret):
            raise ConfigError(
                f"NEWSDESK_API_KEYS: key #{number} must be at least {MIN_KEY_CHARS} characters "
                "without spaces (make one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        read_only = KEY_SUFFIXES.get(suffix, False)
        return ApiKey(f"key#{number}", _digest(secret), read_only, READ_ACCESS if read_only else FULL_ACCESS)

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def lookup(self, presented: str) -> ApiKey | None:
        """The key matching ``presented``, compared in constant time against every key."""
        digest = _digest(presented)
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found

    def principal(self, presented: str) -> Principal | None:
        """The principal of the key ``presented``, None when it is no key."""
        key = self.lookup(presented)
        return None if key is None else Principal(key.key_id, key.grants, "key")


def _with_permissions(keys: list[ApiKey], permissions: Mapping[str, str]) -> list[ApiKey]:
    """The keys with the grants ``key_permissions`` lists for them (a ``:ro`` key capped at read)."""
    known = {key.key_id for key in keys}
    unknown = sorted(set(permissions) - known)
    if unknown:
        raise ConfigError(
            f"key_permissions names {unknown[0]!r}, but NEWSDESK_API_KEYS has "
            f"{len(keys)} key(s) (key#1 is the first)"
        )
    changed = []
    for key in keys:
        spec = permissions.get(key.key_id)
        grants = key.grants if spec is None else Grants.parse(spec)
        changed.append(
            ApiKey(
                key.key_id, key.digest, key.read_only, grants.capped(Level.READ) if key.read_only else grants
            )
        )
    return changed


def _split(spec: str) -> list[str]:
    return [part.strip() for part in spec.split(",") if part.strip()]


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, else None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
