"""Who may read or write which archive: :class:`Grants`, parsed from permission specs.

A spec names archives and a level each, comma-separated: ``"sports:read, politics:write"``;
``*`` stands for every archive (``"*:write"``). Write includes read. The same spec is the value of
an API key's entry in ``key_permissions`` and of a group's in ``oidc_group_permissions``; a person
in several groups gets the highest level each group gives (:meth:`Grants.union`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType

EVERY_ARCHIVE = "*"
_ENTRY = re.compile(r"(?P<archive>\*|[a-z0-9-]{1,40}):(?P<level>read|write)")


class Level(IntEnum):
    """What a principal may do with an archive; each level includes the ones below it."""

    NONE = 0
    READ = 1
    WRITE = 2


@dataclass(frozen=True)
class Grants:
    """The level of each archive (``*``: every archive not named); frozen."""

    levels: Mapping[str, Level] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def every(cls, level: Level) -> Grants:
        """``level`` on every archive."""
        return cls(MappingProxyType({EVERY_ARCHIVE: level}))

    @classmethod
    def parse(cls, spec: str) -> Grants:
        """The grants of ``"archive:read|write, ..."``; ValueError naming the entry that is not one."""
        levels: dict[str, Level] = {}
        for entry in (part.strip() for part in spec.split(",")):
            if not entry:
                continue
            match = _ENTRY.fullmatch(entry)
            if match is None:
                raise ValueError(f"{entry!r} is not ARCHIVE:read or ARCHIVE:write (ARCHIVE may be *)")
            level = Level[match["level"].upper()]
            levels[match["archive"]] = max(level, levels.get(match["archive"], Level.NONE))
        return cls(MappingProxyType(levels))

    @classmethod
    def union(cls, grants: Iterable[Grants]) -> Grants:
        """The highest level any of ``grants`` gives, archive by archive."""
        levels: dict[str, Level] = {}
        for each in grants:
            for archive, level in each.levels.items():
                levels[archive] = max(level, levels.get(archive, Level.NONE))
        return cls(MappingProxyType(levels))

    def level(self, archive: str) -> Level:
        return max(self.levels.get(archive, Level.NONE), self.levels.get(EVERY_ARCHIVE, Level.NONE))

    def can_read(self, archive: str) -> bool:
        return self.level(archive) >= Level.READ

    def can_write(self, archive: str) -> bool:
        return self.level(archive) >= Level.WRITE

    def readable(self, archives: Iterable[str]) -> list[str]:
        """The archives of ``archives`` these grants may read, in their order."""
        return [name for name in archives if self.can_read(name)]

    @property
    def writes_anywhere(self) -> bool:
        return any(level >= Level.WRITE for level in self.levels.values())

    def capped(self, most: Level) -> Grants:
        """These grants with no level above ``most`` (a ``:ro`` key: read at most)."""
        return Grants(MappingProxyType({name: min(level, most) for name, level in self.levels.items()}))


FULL_ACCESS = Grants.every(Level.WRITE)
READ_ACCESS = Grants.every(Level.READ)
NO_ACCESS = Grants()


def check_permission_map(specs: Mapping[str, str]) -> dict[str, str]:
    """``specs`` unchanged once each value parses (:meth:`Grants.parse`); ValueError naming the entry."""
    for name, spec in specs.items():
        try:
            Grants.parse(spec)
        except ValueError as exc:
            raise ValueError(f"entry {name!r}: {exc}") from exc
    return dict(specs)
