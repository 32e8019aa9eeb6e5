"""Registry and read-file pages and API: happy path, another LDC -> 404, a lower role -> 403."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ldc.services import api_token_create
from meters.models import MeterInstallation, ReadFile, ServiceDeliveryPoint
from portal.access import actor_for_user
from tests.meters.conftest import sample_file
from tests.meters.samples import SAMPLES

pytestmark = pytest.mark.django_db

REGISTRY_HEADER = (
    "sdp_id,meter_id,rate_class,commodity_rate_class,postal_code,service_multiplier,"
    "ami_headend,billing_agent,bidirectional,effective_from,effective_to\n"
)


def token(world: Any, role: str, ldc: str = "north") -> str:
    owner = world.user(ldc, "ldc_admin")
    _, key = api_token_create(
        ldc=getattr(world, ldc), name=f"{role} system", role=role, actor=actor_for_user(owner)
    )
    return f"Token {key}"


def test_registry_page_loads_good_rows_and_lists_bad_ones(client: Any, world: Any) -> None:
    body = REGISTRY_HEADER + (
        "N-1,NM-1,residential,tou,M5V 2T6,1,HE1,AG1,false,2025-01-01,2025-06-30\n"
        "N-1,NM-2,residential,tou,M5V 2T6,1,HE1,AG1,false,2025-07-01,\n"  # a meter exchange
        "N-2,NM-3,residential,tou,Z5V 2T6,1,HE1,AG1,false,2025-01-01,\n"  # bad postal code
        "N-3,NM-2,residential,tou,M5V 2T6,1,HE1,AG1,false,2025-08-01,\n"  # NM-2 already at N-1
        "N-4,NM-4,industrial,tou,M5V 2T6,1,HE1,AG1,false,2025-01-01,\n"
    )  # unknown rate class
    client.force_login(world.user("north", "back_office"))
    upload = SimpleUploadedFile("registry.csv", body.encode())
    response = client.post(reverse("meters:registry-upload"), {"file": upload})
    assert response.status_code == 200
    result = response.context["result"]
    assert result.loaded == 2 and [e["row"] for e in result.errors] == [4, 5, 6]
    assert {e["field"] for e in result.errors} == {"postal_code", "effective_from", "rate_class"}
    history = (
        MeterInstallation.objects.for_ldc(world.north)
        .filter(sdp__sdp_id="N-1")
        .order_by("effective_from")
    )
    assert [(i.meter.serial, str(i.effective_to)) for i in history] == [
        ("NM-1", "2025-06-30"),
        ("NM-2", "None"),
    ]
    assert "row" in response.content.decode().lower()


def test_billing_agent_cannot_sync_the_registry(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "billing_agent"))
    assert client.get(reverse("meters:registry-upload")).status_code == 403


def test_registry_sync_api_is_scoped_to_the_tokens_ldc(client: Any, world: Any) -> None:
    row = {
        "sdp_id": "API-1",
        "meter_id": "API-M1",
        "rate_class": "gs_lt_50",
        "commodity_rate_class": "ulo",
        "postal_code": "K1A0B1",
        "service_multiplier": "2",
        "ami_headend": "HE",
        "billing_agent": "AG",
        "bidirectional": "true",
        "effective_from": "2025-01-01",
        "effective_to": "",
    }
    auth = token(world, "back_office")
    response = client.post(
        reverse("api:registry-sync"),
        {"rows": [row, row | {"postal_code": "bad"}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    assert response.status_code == 200, response.content
    assert response.json()["loaded"] == 1 and response.json()["errors"][0]["row"] == 2
    sdp = ServiceDeliveryPoint.objects.get(sdp_id="API-1")
    assert sdp.ldc == world.north and sdp.postal_code == "K1A 0B1" and sdp.bidirectional
    assert (
        client.post(
            reverse("api:registry-sync"),
            {"rows": [row]},
            content_type="application/json",
            HTTP_AUTHORIZATION=token(world, "ami_operator"),
        ).status_code
        == 403
    )


def test_upload_page_loads_a_file_and_shows_its_report(
    client: Any, sample_ldc: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from portal.tenancy import Membership

    operator = world.user("north", "ami_operator")
    Membership.objects.filter(user=operator).update(ldc=sample_ldc)
    client.force_login(operator)
    path = sample_file("csv")
    with django_capture_on_commit_callbacks(execute=True):  # the eager ingestion task
        response = client.post(
            reverse("meters:readfile-upload"),
            {"interface": "csv", "files": SimpleUploadedFile(path.name, path.read_bytes())},
        )
    read_file = ReadFile.objects.get(ldc=sample_ldc)
    assert response.status_code == 302 and response.url.endswith(read_file.public_id + "/")
    page = client.get(response.url).content.decode()
    assert "Loaded." in page and "98.58" in page and "141" in page
    partial = client.get(response.url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'data-status="loaded"' in partial


def test_rejected_file_page_names_the_fault(
    client: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(world.user("north", "ami_operator"))
    bad = SAMPLES / "bad" / "csv" / "wrong_field_count.csv"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("meters:readfile-upload"),
            {"interface": "csv", "files": SimpleUploadedFile(bad.name, bad.read_bytes())},
        )
    read_file = ReadFile.objects.get(ldc=world.north)
    page = client.get(
        reverse("meters:readfile-detail", args=[read_file.public_id])
    ).content.decode()
    assert "nothing of this file was stored" in page and "line 6" in page


def test_the_upload_form_sent_with_no_file_says_so_and_receives_nothing(
    client: Any, world: Any
) -> None:
    client.force_login(world.user("north", "ami_operator"))
    response = client.post(reverse("meters:readfile-upload"), {"interface": "csv"})
    assert response.status_code == 200  # the form again, with its error; no "0 files received."
    page = response.content.decode()
    assert "Choose at least one read file to send." in page
    assert "files received" not in page
    assert not ReadFile.objects.filter(ldc=world.north).exists()


def test_billing_agent_cannot_send_read_files(client: Any, world: Any) -> None:
    client.force_login(world.user("north", "billing_agent"))
    assert client.get(reverse("meters:readfile-upload")).status_code == 403


def test_read_file_api_upload_duplicate_and_rejections(
    client: Any, sample_ldc: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _, key = api_token_create(ldc=sample_ldc, name="HES", role="ami_operator", actor=None)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    data = sample_file("csv").read_bytes() + b"MTR-7777,2026-03-07T01:00:00-05:00,0.100,A\n"
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(
            reverse("api:read-file-upload"),
            {"interface": "csv", "file": SimpleUploadedFile("r.csv", data)},
            **auth,
        )
    assert first.status_code == 201, first.content
    body = client.get(
        reverse("api:read-file-detail", args=[first.json()["public_id"]]), **auth
    ).json()
    assert body["status"] == "loaded" and body["report"]["rejected_by_reason"] == {
        "unknown_meter": 1
    }
    again = client.post(
        reverse("api:read-file-upload"),
        {"interface": "csv", "file": SimpleUploadedFile("r2.csv", data)},
        **auth,
    )
    assert again.status_code == 200 and again.json()["duplicate"] is True
    rejections = client.get(
        reverse("api:read-file-rejections", args=[body["public_id"]]), **auth
    ).json()
    assert rejections["results"][0]["meter_serial"] == "MTR-7777"
    other = token(world, "ldc_admin", "south")
    assert (
        client.get(
            reverse("api:read-file-rejections", args=[body["public_id"]]), HTTP_AUTHORIZATION=other
        ).status_code
        == 404
    )
    assert (
        client.get(
            reverse("api:read-file-detail", args=[body["public_id"]]), HTTP_AUTHORIZATION=other
        ).status_code
        == 404
    )


def test_read_file_list_has_constant_queries(
    client: Any, world: Any, django_assert_max_num_queries: Any
) -> None:
    for i in range(30):
        ReadFile.objects.create(
            ldc=world.north,
            interface="csv",
            sha256=f"{i:064d}",
            original_name=f"f{i}.csv",
            file="x",
        )
    client.force_login(world.user("north", "back_office"))
    client.get(reverse("meters:readfile-list"))
    with django_assert_max_num_queries(8):
        assert client.get(reverse("meters:readfile-list")).status_code == 200


def test_data_quality_panel_lists_the_issues(client: Any, world: Any) -> None:
    from tests.factories import MeterFactory, SdpFactory

    SdpFactory(ldc=world.north, sdp_id="NO-RATE", rate_class="")
    SdpFactory(ldc=world.north, sdp_id="BAD-POSTAL", postal_code="12345")
    MeterFactory(ldc=world.north, serial="ORPHAN-M")
    SdpFactory(ldc=world.south, sdp_id="SOUTH-BAD", postal_code="bad")
    client.force_login(world.user("north", "billing_agent"))
    page = client.get(reverse("meters:data-quality")).content.decode()
    assert "NO-RATE" in page and "BAD-POSTAL" in page and "ORPHAN-M" in page
    assert "SOUTH-BAD" not in page and "NORTH-SDP-1" not in page.split("without a meter")[0]


def test_ingest_reads_command_exit_status_and_stderr(sample_ldc: Any, capsys: Any) -> None:
    from django.core.management import call_command

    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "ingest_reads",
            "--ldc",
            "sample",
            "--interface",
            "csv",
            str(sample_file("csv")),
            str(SAMPLES / "bad" / "csv" / "non_numeric_kwh.csv"),
        )
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    assert "loaded: 141 intervals accepted" in out
    assert "non_numeric_kwh.csv: rejected: non_numeric_kwh.csv: line 8" in err
    call_command("ingest_reads", "--ldc", "sample", "--interface", "csv", str(sample_file("csv")))
    assert "duplicate" in capsys.readouterr().out
