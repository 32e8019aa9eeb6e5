from __future__ import annotations

import pytest
from django.core.management import call_command

from portal.models import AuditEvent
from portal.tenancy import LDC

pytestmark = pytest.mark.django_db


def test_create_ldc_is_idempotent_and_audited(capsys: pytest.CaptureFixture[str]) -> None:
    call_command(
        "create_ldc",
        "--slug",
        "erie",
        "--name",
        "Erie Shores Hydro",
        "--residential-customers",
        "5000",
    )
    call_command("create_ldc", "--slug", "erie", "--name", "Another Name")
    ldc = LDC.objects.get(slug="erie")
    assert ldc.name == "Erie Shores Hydro" and ldc.residential_customers == 5000
    assert "exists (unchanged)" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action="ldc.created", ldc=ldc, via="command").count() == 1
