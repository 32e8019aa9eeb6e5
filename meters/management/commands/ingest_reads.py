"""Ingest meter-read files now (parse, check, merge) and say what happened to each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

from meters.models import ReadFile
from meters.reads.ingest import read_file_ingest, read_file_receive
from meters.reads.interfaces import INTERFACES
from portal.audit import audit_context
from portal.commands import ldc_by_slug
from portal.tenancy import LDC


def summary(read_file: ReadFile) -> str:
    report = read_file.report or {}
    reasons = ", ".join(f"{k} {v}" for k, v in report.get("rejected_by_reason", {}).items())
    text = (
        f"loaded: {read_file.intervals_accepted} intervals accepted, "
        f"{read_file.intervals_rejected} rejected{f' ({reasons})' if reasons else ''}, "
        f"{read_file.registers_accepted} register reads"
    )
    if "read_success_pct" in report:
        text += (
            f", read success {report['read_success_pct']}% (obligation {report['obligation_pct']}%)"
        )
    return text


class Command(BaseCommand):
    help = "Ingest meter-read files for an LDC; exits non-zero if any file is rejected."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ldc", required=True, help="LDC slug")
        parser.add_argument("--interface", required=True, choices=sorted(INTERFACES))
        parser.add_argument("files", nargs="+", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        ldc = ldc_by_slug(options["ldc"])
        failed = 0
        with audit_context(via="command"):
            for path in options["files"]:
                failed += not self._one(ldc, options["interface"], path)
        if failed:
            raise SystemExit(1)

    def _one(self, ldc: LDC, interface: str, path: Path) -> bool:
        try:
            with path.open("rb") as stream:
                read_file, created = read_file_receive(
                    ldc=ldc,
                    interface=interface,
                    upload=stream,
                    name=path.name,
                    actor=None,
                    via="command",
                    queue=False,
                )
        except (OSError, ValidationError) as exc:
            self.stderr.write(f"{path}: rejected: {exc}")
            return False
        if not created:
            self.stdout.write(
                f"{path}: duplicate of {read_file.original_name} "
                f"({read_file.get_status_display().lower()}), nothing changed"
            )
            return read_file.status != ReadFile.Status.REJECTED
        read_file = read_file_ingest(read_file=read_file)
        if read_file.status == ReadFile.Status.REJECTED:
            self.stderr.write(f"{path}: rejected: {read_file.error}")
            return False
        self.stdout.write(f"{path}: {summary(read_file)}")
        return True
