"""Safe VEE parameters and a VEE that fails without stopping ingestion (issue 20)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from meters.models import IntervalDay, ReadFile, VeeFailure, VeeSettings
from meters.vee import EstimationSettings, ValidationSettings, VeeParameterError, vee_settings
from meters.vee.parameters import PARAMETERS, parameter_errors
from meters.vee.service import vee_failures_retry
from tests.meters.conftest import sample_file


def test_every_setting_has_a_typed_ranged_parameter_and_back() -> None:
    fields = {
        f.name for cls in (ValidationSettings, EstimationSettings) for f in dataclasses.fields(cls)
    }
    assert fields == set(PARAMETERS)
    for param in PARAMETERS.values():
        assert param.label and (param.kind not in ("int", "float") or param.unit)


def test_out_of_range_values_are_refused_with_the_field_and_why() -> None:
    errors = parameter_errors(
        {"v08_frozen_run": 30, "v06_high_ratio": "3", "enabled": ["V99"], "colour": 1}
    )
    assert errors["v08_frozen_run"] == "30 is out of range: from 2 to 24 intervals"
    assert "number" in errors["v06_high_ratio"]
    assert "V99 not allowed" in errors["enabled"]
    assert errors["colour"] == "not a VEE parameter"
    with pytest.raises(VeeParameterError, match="v08_frozen_run"):
        vee_settings({"v08_frozen_run": 30})
    assert vee_settings({"v08_frozen_run": 24})[0].v08_frozen_run == 24
    assert parameter_errors({"e3_like_days": 2, "e3_min_days": 3}) == {
        "e3_min_days": "3 is more than the 2 like days averaged"
    }


def _upload(client: Any, world: Any, ldc: Any, capture: Any) -> Any:
    from portal.tenancy import Membership

    operator = world.user("north", "ami_operator")
    Membership.objects.filter(user=operator).update(ldc=ldc)
    client.force_login(operator)
    path = sample_file("csv")
    with capture(execute=True):  # the eager ingestion task, and its VEE
        return client.post(
            reverse("meters:readfile-upload"),
            {"interface": "csv", "files": SimpleUploadedFile(path.name, path.read_bytes())},
        )


@pytest.mark.django_db
def test_bad_stored_settings_leave_the_file_loaded_vee_failed_and_a_retry_fixes_it(
    client: Any, sample_ldc: Any, world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # Saved before the checks existed (or by hand): the read side checks again.
    VeeSettings.objects.create(ldc=sample_ldc, params={"v08_frozen_run": 30})
    response = _upload(client, world, sample_ldc, django_capture_on_commit_callbacks)
    read_file = ReadFile.objects.get(ldc=sample_ldc)
    assert response.status_code == 302  # never a 500
    assert read_file.status == ReadFile.Status.VEE_FAILED and read_file.is_finished
    assert "v08_frozen_run: 30 is out of range" in read_file.error
    stored = IntervalDay.objects.filter(ldc=sample_ldc)
    assert stored.count() > 0  # the reads are kept
    assert not any(bytes(d.flags)[0] & 32 for d in stored)  # ... and not yet validated
    page = client.get(response.url).content.decode()
    assert "Loaded, VEE failed" in page and "v08_frozen_run" in page
    assert 'data-status="vee_failed"' in page and "hx-trigger" not in page  # no endless poll
    failure = VeeFailure.objects.get(ldc=sample_ldc)

    assert vee_failures_retry(ldc=sample_ldc) == (0, 1)  # still bad: kept, counted
    failure.refresh_from_db()
    assert failure.attempts == 2 and failure.resolved_at is None

    VeeSettings.objects.filter(ldc=sample_ldc).update(params={"v08_frozen_run": 4})
    assert vee_failures_retry(ldc=sample_ldc) == (1, 0)
    read_file.refresh_from_db()
    assert read_file.status == ReadFile.Status.LOADED and read_file.error == ""
    assert any(bytes(d.flags)[0] & 32 for d in IntervalDay.objects.filter(ldc=sample_ldc))


@pytest.mark.django_db
def test_a_vee_bug_never_makes_the_upload_a_500(
    client: Any,
    sample_ldc: Any,
    world: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr("meters.vee.service.run_vee", broken)
    response = _upload(client, world, sample_ldc, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    read_file = ReadFile.objects.get(ldc=sample_ldc)
    assert read_file.status == "vee_failed"
    assert "ValueError: operands could not be broadcast" in read_file.error
    assert read_file.intervals_accepted > 0
