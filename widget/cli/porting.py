"""`widget export …` and `widget import …`: leaving with everything, arriving with everything."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from widget.config import Settings
from widget.errors import ClientError

if TYPE_CHECKING:
    from widget.porting.importer import ImportReport
    from widget.storage import Storage

__all__ = ["add_porting_commands", "report_lines"]

Run = Callable[[Settings, Callable[["Storage"], Awaitable[Any]]], Any]


def cmd_export(settings: Settings, args: argparse.Namespace, run: Run) -> int:
    from widget.cli.output import written_whole
    from widget.porting.exporter import export_chunks, writer_for
    from widget.sites import get_site
    from widget.urls import page_id_of

    async def work(storage: Storage, sink: BinaryIO) -> None:
        site_ids = [args.site] if args.site else [s.id for s in await storage.list_sites()]
        if not site_ids:
            raise ClientError("There are no sites to export yet (widget site add …).")
        for site_id in site_ids:
            await get_site(storage, site_id)  # an unknown site says how to add it
        page_id = page_id_of(args.thread) if args.thread else None
        if page_id is not None and await storage.get_thread_head(args.site, page_id) is None:
            # As the admin's export API answers (404): a mistyped URL is not an empty thread.
            raise ClientError(f"The site {args.site} has no thread for {page_id}.")
        chunks = export_chunks(storage, writer_for(args.format), site_ids, page_id)
        async with contextlib.aclosing(chunks):  # done with before the storage closes
            async for chunk in chunks:
                sink.write(chunk)

    if args.thread and not args.site:
        raise ClientError("Name the thread's site too: --site SITE --thread URL.")
    if not args.output:
        try:
            run(settings, lambda storage: work(storage, sys.stdout.buffer))
            sys.stdout.flush()
        except BrokenPipeError:
            # What read the export stopped (`| head`, or a `| gzip > FILE` that failed).
            # Python would print another error flushing stdout on its way out: no more of it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise ClientError(
                "The program reading the export stopped before its end (broken pipe): what"
                " it got is not the whole export."
            ) from None
        return 0
    with written_whole(Path(args.output)) as sink:
        run(settings, lambda storage: work(storage, sink))
    print(f"Exported to {args.output}.", file=sys.stderr)
    return 0


class ProgressBar:
    """Items read, then a bar while they are written: one line on stderr, redrawn on a
    terminal; elsewhere a plain line now and then."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown = 0.0
        # Redrawn often on a terminal; into a log file (cron's mail), a line every few seconds
        # is plenty, and no carriage returns or escape codes, which would land there as is.
        self.redrawn = out.isatty()
        self.every_s = 0.1 if self.redrawn else 5.0
        self.line = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown < self.every_s and done != total:
            return
        self.shown = now
        if total:
            filled = int(30 * done / total)
            line = f"writing [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,}"
        else:
            line = f"reading: {done:,} comments"
        if line == self.line:
            return
        self.line = line
        self.out.write(f"\r{line}\x1b[K" if self.redrawn else f"{line}\n")
        self.out.flush()

    def end(self) -> None:
        if self.redrawn:
            self.out.write("\r\x1b[K")
            self.out.flush()


def _counted(n: int, thing: str) -> str:
    """ "1 comment", "2 comments" (the report is English, as the command line is)."""
    return f"{n:,} {thing}" if n == 1 else f"{n:,} {thing}s"


def report_lines(report: ImportReport, site_id: str) -> list[str]:
    verb = "Would import" if report.dry_run else "Imported"
    lines = [
        f"{verb} {_counted(report.imported, 'comment')} and {_counted(report.likes, 'like')}"
        f" into {site_id} ({report.format});"
        f" {_counted(report.threads_created, 'thread')} created."
    ]
    if report.orphans:
        lines.append(f"Attached at top level, their parent missing: {len(report.orphans):,}")
        lines += [f"  {key}" for key in report.orphans]
    if report.skipped:
        reasons = ", ".join(f"{n:,} {r}" for r, n in report.skipped_by_reason().items())
        lines.append(f"Skipped {len(report.skipped):,}: {reasons}")
        lines += [
            f"  {skip.key}: {skip.reason}" + (f" ({skip.detail})" if skip.detail else "")
            for skip in report.skipped
        ]
    if report.addresses_dropped:
        lines.append(
            f"Email addresses left out, not being one plain address: {report.addresses_dropped:,}"
            " (their comments were imported without one)"
        )
    if report.dry_run:
        lines.append("Dry run: nothing was written.")
    return lines


def cmd_import(settings: Settings, args: argparse.Namespace, run: Run) -> int:
    from widget.porting.importer import import_file
    from widget.porting.items import BadFile
    from widget.sites import get_site

    bar = ProgressBar(sys.stderr)

    async def work(storage: Storage) -> ImportReport:
        await get_site(storage, args.site)
        try:
            return await import_file(storage, Path(args.file), args.site, args.format,
                                     dry_run=args.dry_run, progress=bar,
                                     render_cpu_limit_s=settings.render_cpu_limit_s)  # fmt: skip
        finally:
            bar.end()

    try:
        report: ImportReport = run(settings, work)
    except BadFile as exc:
        raise ClientError(f"{exc} Nothing was imported.") from exc
    print("\n".join(report_lines(report, args.site)))
    return 0


def add_porting_commands(commands: Any, run: Run, detailed: Callable[[str], bool]) -> None:
    """Register `export` and `import` on the top-level subparsers, with their arguments when
    `detailed(name)` (listing the formats imports every format's module)."""
    export = commands.add_parser(
        "export", help="export comments: JSON Lines, WordPress WXR, Disqus XML or CSV",
        description="Write the comments of a site (or of one of its threads, or of every"
        " site) to a file or to stdout, streamed. jsonl is widget's own lossless format"
        " (docs/export-format.md); wxr and disqus import into WordPress and Disqus; csv opens"
        " in spreadsheets.",
    )  # fmt: skip
    export.set_defaults(run=lambda settings, args: cmd_export(settings, args, run))
    if detailed("export"):
        from widget.porting.exporter import EXPORT_FORMATS

        _add_export_arguments(export, sorted(EXPORT_FORMATS))

    importing = commands.add_parser(
        "import", help="import comments from Disqus, WordPress, Isso, Remark42, Commento",
        description="Import a file into a site, in one transaction: all of it or, when the"
        " file is broken, none of it. The format is found from the content unless given."
        " Importing the same file again adds nothing.",
    )  # fmt: skip
    importing.set_defaults(run=lambda settings, args: cmd_import(settings, args, run))
    if detailed("import"):
        from widget.porting.detect import FORMAT_NAMES

        _add_import_arguments(importing, FORMAT_NAMES)


def _add_export_arguments(export: argparse.ArgumentParser, formats: list[str]) -> None:
    export.add_argument("--site", help="the site (default: every site)")
    export.add_argument("--format", choices=formats, default="jsonl")
    export.add_argument("--thread", metavar="URL", help="only this page's thread (URL or id)")
    export.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")


def _add_import_arguments(importing: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    importing.add_argument("file", help="the export file (.xml, .xml.gz, .db, .json, .jsonl…)")
    importing.add_argument("--site", required=True, help="the site the comments belong to")
    importing.add_argument("--format", choices=formats, help="default: found from the file")
    importing.add_argument("--dry-run", action="store_true", help="read and report, write nothing")
