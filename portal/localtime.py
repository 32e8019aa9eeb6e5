"""Local time for the person reading: each request runs in the time zone of the signed-in
staff member's LDC (``LDC.time_zone``; Ontario has LDCs on Central as well as Eastern time),
so that every template and form shows and reads times in it. Everyone else (coordinators,
customers, visitors) gets ``TIME_ZONE`` (America/Toronto); the customers' pages place days by
their LDC's zone themselves. The display filters (``portal/templatetags/display.py``) then
print the zone beside each time."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from portal.access import actor_for_user


class LocalTimeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = _zone_of(request)
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)


def _zone_of(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    ldc = actor_for_user(user).ldc
    if ldc is None:
        return None
    try:
        return zoneinfo.ZoneInfo(ldc.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
