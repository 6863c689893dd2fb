"""The ``newsdesk`` command line: a thin edge over the ingest components and the assistant.

Errors deriving from :class:`NewsdeskError` become one friendly line on stderr (exit 2); only
unexpected errors show a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.core.errors import NewsdeskError, ServerIngestError
from assistant.core.settings import Settings
from assistant.frontends.cli import answer, archives, feeds
from assistant.frontends.cli.commands import Handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsdesk", description="Answers about news, with citations.")
    add_global_options(parser, default=None)
    # every subcommand (and ``feeds add``: nested ones are of the same class) takes them too
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    _add_ingest_commands(sub)
    _add_serve_command(sub)
    _add_backup_commands(sub)
    answer.add_commands(sub)
    feeds.add_commands(sub)
    archives.add_commands(sub)
    return parser


def add_global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """The options every subcommand takes, before or after its name. On a subcommand their
    default is ``SUPPRESS``: a value given before the subcommand is kept unless given again."""
    parser.add_argument(
        "--settings", type=Path, default=default, help="TOML settings file (else NEWSDESK_SETTINGS_FILE)"
    )
    parser.add_argument(
        "--store", type=Path, default=default, help="embedded Chroma folder (NEWSDESK_STORE_DIR)"
    )
    parser.add_argument("--collection", default=default, help="collection name (NEWSDESK_COLLECTION)")
    parser.add_argument(
        "--archive", default=default, metavar="NAME", help="a named archive (`newsdesk archives list`)"
    )


def _global_options_below() -> argparse.ArgumentParser:
    """The parent parser of every subcommand: the global options, ``SUPPRESS`` as their default."""
    parent = argparse.ArgumentParser(add_help=False)
    add_global_options(parent, default=argparse.SUPPRESS)
    return parent


GLOBAL_OPTIONS_BELOW = _global_options_below()


class CommandParser(argparse.ArgumentParser):
    """The parser of a subcommand: the global options are its parent's, so that
    ``newsdesk ingest FILE --store DIR`` works as ``newsdesk --store DIR ingest FILE`` does."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["parents"] = [*kwargs.get("parents", ()), GLOBAL_OPTIONS_BELOW]
        super().__init__(**kwargs)


def _add_ingest_commands(sub: Any) -> None:
    p = sub.add_parser("ingest", help="add files, folders, JSONL, web archives, feeds, URLs or sitemaps")
    p.add_argument("sources", nargs="*", help="paths (.warc, .warc.gz, .arc, .arc.gz too) or http(s) URLs")
    p.add_argument(
        "--sitemap",
        action="append",
        default=[],
        metavar="URL",
        help="a sitemap or sitemap index: ingest the pages it lists (robots.txt and crawl_delay_s honoured)",
    )
    p.add_argument("--since", type=_date, metavar="DATE", help="with --sitemap: pages dated DATE or later")
    p.add_argument("--limit", type=_count, metavar="N", help="with --sitemap: at most N pages, the newest")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = sub.add_parser("stats", help="counts of articles, sentences and sources")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("show", help="print an article's canonical text and metadata")
    p.add_argument("doc_id")
    p.add_argument("--versions", action="store_true", help="print the earlier versions kept as history")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("delete", help="remove articles and all their sentences")
    p.add_argument("doc_ids", nargs="+")
    p = sub.add_parser("reindex", help="rebuild the lexical index from the store (progress on stderr)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _date(value: str) -> str:
    from ingest.loading.dates import safe_iso

    found = safe_iso(value)
    if not found:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2024-11-01")
    return found


def _count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of 1 or more")
    return int(value)


def _add_serve_command(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the chat UI and the HTTP API (uvicorn)")
    p.add_argument("--host", help="address to bind (NEWSDESK_HOST; default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (NEWSDESK_PORT; default 7860)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (uvicorn's); more than 1 needs a Chroma server (NEWSDESK_CHROMA_HOST)",
    )


def _add_backup_commands(sub: Any) -> None:
    p = sub.add_parser("backup", help="copy the embedded store, consistently, to a new folder")
    p.add_argument("folder", type=Path, help="new or empty folder for the backup")
    p = sub.add_parser("restore", help="replace the embedded store with a backup folder")
    p.add_argument("folder", type=Path, help="a folder written by `newsdesk backup`")
    p.add_argument("--force", action="store_true", help="replace a store that holds records")


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.storage.backup import backup_store

    started = time.perf_counter()
    manifest = backup_store(settings.store, args.folder)
    size_mb = sum(f.size for f in manifest.files.values()) / 1e6
    seconds = time.perf_counter() - started
    print(
        f"backed up {manifest.total_records} records ({_counts_text(manifest.counts)}), "
        f"{len(manifest.files)} files, {size_mb:.1f} MB to {args.folder} in {seconds:.1f} s"
    )
    return 0


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.storage.backup import restore_store

    manifest = restore_store(settings.store, args.folder, force=args.force)
    print(
        f"restored {manifest.total_records} records ({_counts_text(manifest.counts)}) "
        f"from {args.folder} (made {manifest.created_at}) into {settings.store_dir}"
    )
    return 0


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))


def load_settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.store is not None:
        overrides["store_dir"] = args.store
    if args.collection is not None:
        overrides["collection"] = args.collection
    return archives.on_archive(args, Settings.load(args.settings, **overrides))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args)
        return COMMANDS[args.command](args, settings)
    except NewsdeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: what was stored is complete; run the same command again to finish", file=sys.stderr
        )
        return 130


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.frontends.cli.forward import served_address
    from ingest.components import IngestComponents
    from ingest.loading.crawl import SitemapRequest

    if not (args.sources or args.sitemap) or ((args.since or args.limit) and not args.sitemap):
        print(
            "error: give files, folders or URLs, or --sitemap URL (--since and --limit go with it)",
            file=sys.stderr,
        )
        return 2
    served = served_address(settings) or getattr(args, "archive_server", None)
    if served is not None:
        return _ingest_through(served, args, settings)
    started = time.perf_counter()
    components = IngestComponents.build(settings)
    sitemaps = [SitemapRequest(url, args.since or "", args.limit) for url in args.sitemap]
    report = components.pipeline.run(args.sources, not (args.quiet or args.json), sitemaps)
    seconds = time.perf_counter() - started
    for failure in report.failed:
        print(f"failed: {failure.source}: {failure.error}", file=sys.stderr)
    if args.json:
        print(json.dumps({**report.as_dict(), "seconds": round(seconds, 2)}))
    else:
        skipped = ", ".join(f"{reason} {n}" for reason, n in report.skipped.most_common())
        print(
            f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
            f"skipped {report.skipped.total()}{f' ({skipped})' if skipped else ''}, "
            f"failed {len(report.failed)} ({report.sentences} sentences embedded) in {seconds:.1f} s"
        )
    return 0 if report.ok else 1


def _ingest_through(address: str, args: argparse.Namespace, settings: Settings) -> int:
    """Send the sources to the server that holds the embedded store (see cli/forward.py)."""
    from assistant.frontends.cli.forward import forward_ingest, merge

    if args.sitemap:
        raise ServerIngestError(
            f"the store is held by `newsdesk serve` at {address}, and a sitemap is read only by the process "
            "that writes the store: stop the server (or use a Chroma server) to ingest a sitemap, or follow "
            "it there with `newsdesk feeds add --sitemap URL`"
        )
    if not args.json:
        print(f"the store is served by {address}: sending the articles through its API", file=sys.stderr)
    started = time.perf_counter()
    summary = merge(list(forward_ingest(address, args.sources, settings, archives.ingest_path(args))))
    seconds = time.perf_counter() - started
    for failure in summary["failed"]:
        print(f"failed: {failure.get('source', '')}: {failure.get('error', '')}", file=sys.stderr)
    if args.json:
        print(json.dumps({**summary, "via": address, "seconds": round(seconds, 2)}))
    else:
        print(
            f"added {summary['added']}, updated {summary['updated']}, unchanged {summary['unchanged']}, "
            f"failed {len(summary['failed'])} through {address} in {seconds:.1f} s"
        )
    return 0 if not summary["failed"] else 1


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.storage.store import NewsStore

    stats = NewsStore(settings.store).stats()
    if args.json:
        print(json.dumps(stats.__dict__))
        return 0
    print(f"articles: {stats.articles}\nsentences: {stats.sentences}")
    print(f"published: {stats.first_published or '-'} .. {stats.last_published or '-'}")
    for source, n in sorted(stats.sources.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {source}")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.storage.store import NewsStore

    store = NewsStore(settings.store)
    article = store.require_article(args.doc_id)
    if args.versions:
        from ingest.storage.versions import VersionArchive, format_history, history_report

        report = history_report(article, VersionArchive(store).history(args.doc_id))
        print(json.dumps(report) if args.json else format_history(report))
        return 0
    if args.json:
        print(json.dumps({"doc_id": article.doc_id, "metadata": article.metadata, "text": article.text}))
        return 0
    for key, value in sorted(article.metadata.items()):
        print(f"{key}: {value}")
    print()
    sys.stdout.write(article.text)
    if not article.text.endswith("\n"):
        sys.stdout.write("\n")
    return 0


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.components import IngestComponents

    pipeline = IngestComponents.build(settings).pipeline
    for doc_id in args.doc_ids:
        pipeline.delete(doc_id)
        print(f"deleted {doc_id}")
    return 0


def _reindex(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.storage.store import NewsStore

    store = NewsStore(settings.store)
    with store.write_lock():
        done = store.lexical_sync.rebuild(show_progress=not args.quiet)
    if args.json:
        print(json.dumps(done.as_dict()))
    else:
        print(
            f"reindexed {done.articles} articles ({done.sentences} sentences) "
            f"into {store.lexical_sync.path} in {done.seconds:.1f} s"
        )
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.server import serve

    given = {"host": args.host, "port": args.port, "store_dir": args.store, "collection": args.collection}
    chosen = {k: v for k, v in given.items() if v is not None}
    worker_env = {f"NEWSDESK_{name.upper()}": str(value) for name, value in chosen.items()}
    if args.settings is not None:  # the workers read the same file
        worker_env["NEWSDESK_SETTINGS_FILE"] = str(Path(args.settings).resolve())
    serve(settings.model_copy(update=chosen), max(1, args.workers), worker_env)
    return 0


COMMANDS: dict[str, Handler] = {
    "backup": _backup,
    "restore": _restore,
    "ingest": _ingest,
    "stats": _stats,
    "show": _show,
    "delete": _delete,
    "reindex": _reindex,
    "serve": _serve,
    **answer.COMMANDS,
    **feeds.COMMANDS,
    **archives.COMMANDS,
}


def serve_main() -> None:
    """``python app.py``: the same as ``newsdesk serve`` with settings from the environment."""
    raise SystemExit(main(["serve"]))
