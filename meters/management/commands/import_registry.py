"""Sync an LDC's registry file (the columns of tests/data/samples/registry.csv)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from meters.registry.sync import RowError, read_registry_csv, registry_sync
from portal.audit import audit_context
from portal.commands import ldc_by_slug


class Command(BaseCommand):
    help = "Load a registry CSV for an LDC; bad rows are listed with their row number."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ldc", required=True, help="LDC slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        ldc = ldc_by_slug(options["ldc"])
        path: Path = options["file"]
        try:
            with path.open("rb") as stream, audit_context(via="command"):
                result = registry_sync(
                    ldc=ldc, rows=read_registry_csv(stream, path.name), actor=None, source=path.name
                )
        except (OSError, RowError) as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        else:
            self.stdout.write(
                f"{path.name}: {result.rows} rows, {result.loaded} loaded, "
                f"{len(result.errors)} refused; "
                f"SDPs +{result.sdps_created} ~{result.sdps_updated}, "
                f"meters +{result.meters_created}, installations "
                f"+{result.installations_created} closed {result.installations_closed}"
            )
            for err in result.errors:
                self.stderr.write(
                    f"{path.name}: row {err['row']}: {err['field']}: {err['message']}"
                )
        if result.errors:
            raise SystemExit(1)
