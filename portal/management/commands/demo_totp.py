"""Print the current two-factor code of the demo staff accounts (demo data only)."""

from typing import Any

from django.core.management.base import BaseCommand

from portal.demo import demo_totp_code


class Command(BaseCommand):
    help = "Print the current TOTP code for the demo staff accounts."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(demo_totp_code())
