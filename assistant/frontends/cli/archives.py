"""``newsdesk archives create|list|remove NAME`` and the global ``--archive NAME`` (issue 28).

``--archive NAME`` runs ingest, ask, stats, show, delete, reindex, feeds, backup and restore on
that archive instead of the default one. Next to a ``newsdesk serve`` that holds the embedded
store, ``ingest --archive NAME`` goes through the server's ``/api/archives/NAME/ingest`` and
``feeds --archive NAME`` through its ``/api/archives/NAME/feeds``; the other commands that write
are refused (the server may have the archive open).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from assistant.core.errors import ConfigError, StoreServedError
from assistant.core.settings import Settings
from assistant.frontends.cli.commands import Handler

NOT_ON_AN_ARCHIVE = frozenset({"archives", "serve"})
WRITING = frozenset({"delete", "reindex", "restore", "backup"})  # refused next to a server


def add_commands(sub: Any) -> None:
    """Register ``archives`` and its subcommands on the ``newsdesk`` parser."""
    archives = sub.add_parser("archives", help="named archives: several stores on one server")
    actions = archives.add_subparsers(dest="archives_command", required=True)
    p = actions.add_parser("create", help="make a new, empty archive")
    p.add_argument("name", help="1-40 lowercase letters, digits or hyphens")
    p = actions.add_parser("list", help="the archives, the default first")
    p.add_argument("--json", action="store_true")
    p = actions.add_parser("remove", help="remove an archive and delete its articles")
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="yes, delete the archive's articles")


def on_archive(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings of the command's archive (``--archive``; the same settings without it). Sets
    ``args.archive_server``: the address of the server holding the embedded store, if one does."""
    name = getattr(args, "archive", None)
    args.archive_server = None
    if name is None:
        return settings
    from assistant.archives import archive_settings
    from assistant.frontends.cli.forward import served_address
    from ingest.storage.archives import DEFAULT_ARCHIVE, ArchiveRegistry

    if args.command in NOT_ON_AN_ARCHIVE:
        raise ConfigError(f"--archive does not go with `newsdesk {args.command}`")
    if ArchiveRegistry(settings.store).require(name) == DEFAULT_ARCHIVE:
        args.archive = None
        return settings
    served = served_address(settings)
    if served is not None and args.command in WRITING:
        raise StoreServedError(
            f"the store is held by `newsdesk serve` at {served}: `newsdesk {args.command} --archive {name}` "
            "cannot write next to it (stop the server, or use its API: /api/archives/...)"
        )
    args.archive_server = served
    return archive_settings(settings, name)


def archive_path(args: argparse.Namespace, route: str) -> str:
    """The server's ``route`` (``ingest``, ``feeds``, ``ask``) for the command's archive."""
    name = getattr(args, "archive", None)
    return f"/api/archives/{name}/{route}" if name else f"/api/{route}"


def ingest_path(args: argparse.Namespace) -> str:
    """The server's ingest route for the command's archive."""
    return archive_path(args, "ingest")


def _archives(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.frontends.cli.forward import served_address
    from ingest.storage.archives import ArchiveRegistry

    registry = ArchiveRegistry(settings.store)
    action = args.archives_command
    if action == "list":
        listed = registry.listed()
        if args.json:
            print(json.dumps([info.as_dict() for info in listed]))
        for info in [] if args.json else listed:
            print(f"{info.name}\t{info.created_at or '-'}\t{info.location}")
        return 0
    if action == "create":
        info = registry.create(args.name)
        print(f"created archive {info.name} at {info.location}")
        return 0
    served = served_address(settings)
    if served is not None and args.yes:
        raise StoreServedError(
            f"the store is held by `newsdesk serve` at {served}: remove the archive through it "
            f"(DELETE /api/archives/{args.name}), or stop the server"
        )
    info = registry.remove(args.name, delete_data=args.yes)
    print(f"removed archive {info.name} and deleted {info.location}")
    return 0


COMMANDS: dict[str, Handler] = {"archives": _archives}
