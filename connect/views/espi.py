"""The ESPI resource server (NAESB REQ.21) under /espi/1_1/resource/: a third party's bearer
token reaches only its consent's Subscription, only that consent's SDPs still held by the
customer, only its dates. No token or a dead one: 401; a consent not live (expired, third party
suspended) or another consent's id: 403; a UsagePoint, reading or block outside the consent:
404, the same as one that does not exist. Every answered read is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.dateparse import parse_datetime
from django.views import View
from oauth2_provider.oauth2_backends import get_oauthlib_core

from connect import espi, selectors, services
from connect.models import Consent
from customers import greenbutton
from customers.greenbutton import Entry

ATOM = "application/atom+xml; charset=utf-8"
PREFIX = "/espi/1_1/resource"


def _q(part: str) -> str:
    return quote(part, safe="-_.~")


class Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def _answer(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="espi", error="invalid_token"'
    return response


class EspiView(View):
    """One ESPI resource; subclasses say which entries answer and whether as feed or entry."""

    http_method_names = ["get"]
    kind = ""
    feed = True
    needs_billing = False

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            consent = self._consent(request)
            self._check_ids(consent, kwargs)
            now = timezone.now()
            base = request.build_absolute_uri(PREFIX)
            body = self.render(request, consent, base, now, kwargs)
        except Refused as refused:
            return _answer(refused.status, refused.text)
        services.espi_use_record(
            consent=consent,
            resource=request.get_full_path()[:300],
            intervals=body.count("<IntervalReading>"),
        )
        response = HttpResponse(body, content_type=ATOM)
        patch_cache_control(response, private=True, no_store=True)
        return response

    def _consent(self, request: HttpRequest) -> Consent:
        valid, oauth = get_oauthlib_core().verify_request(request, scopes=[])
        if not valid or oauth.access_token is None:
            raise Refused(401, "A valid bearer access token is required.")
        consent = selectors.consent_of_token(oauth.access_token)
        if consent is None:
            raise Refused(401, "This token belongs to no consent.")
        if not consent.is_live():
            raise Refused(403, f"This authorisation is {consent.state_label().lower()}.")
        return consent

    def _check_ids(self, consent: Consent, kwargs: dict[str, Any]) -> None:
        for key in ("subscription", "authorization"):
            if key in kwargs and str(kwargs[key]) != str(consent.public_id):
                raise Refused(403, "This token does not reach that subscription.")
        if self.needs_billing and not consent.billing:
            raise Refused(403, "This authorisation does not include billing data.")

    def reach(self, consent: Consent) -> selectors.Reach:
        found = selectors.reach(consent)
        if found is None:
            raise Refused(403, "This authorisation is no longer live.")
        return found

    def window(self, request: HttpRequest, kwargs: dict[str, Any]) -> espi.Window:
        bounds: dict[str, dt.datetime | None] = {}
        for name in ("published-min", "published-max", "updated-min", "updated-max"):
            text = request.GET.get(name)
            value = parse_datetime(text) if text else None
            if text and value is None:
                raise Refused(400, f"{name}: {text!r} is not an ISO 8601 date-time.")
            if value is not None and timezone.is_naive(value):
                value = timezone.make_aware(value, dt.UTC)
            bounds[name.replace("-", "_")] = value
        serials = {kwargs["usage_point"]} if "usage_point" in kwargs else None
        return espi.Window(**bounds, serials=serials)

    def entries(
        self,
        request: HttpRequest,
        consent: Consent,
        base: str,
        now: dt.datetime,
        kwargs: dict[str, Any],
    ) -> list[Entry]:
        return espi.entries(
            self.reach(consent), base=base, window=self.window(request, kwargs), now=now
        )

    def wanted(self, base: str, consent: Consent, kwargs: dict[str, Any]) -> str:
        """The self link (entry) or the prefix (feed) of what this URL names."""
        path = f"{base}/Subscription/{consent.public_id}"
        if "usage_point" in kwargs:
            path += f"/UsagePoint/{_q(kwargs['usage_point'])}"
        if "meter_reading" in kwargs:
            path += f"/MeterReading/{_q(kwargs['meter_reading'])}"
        if "block" in kwargs:
            path += f"/IntervalBlock/{_q(kwargs['block'])}"
        return path

    def render(
        self,
        request: HttpRequest,
        consent: Consent,
        base: str,
        now: dt.datetime,
        kwargs: dict[str, Any],
    ) -> str:
        entries = self.entries(request, consent, base, now, kwargs)
        wanted = self.wanted(base, consent, kwargs)
        if self.feed:
            chosen = [e for e in entries if e.kind == self.kind and e.href.startswith(wanted)]
            if "usage_point" in kwargs and not any(e.href.startswith(wanted) for e in entries):
                raise Refused(404, "No such UsagePoint in this subscription.")
            return greenbutton.atom_feed(
                chosen,
                feed_id=f"{consent.public_id}:{request.path}",
                title=self.kind,
                self_href=request.build_absolute_uri(request.path),
                now=now,
            )
        for entry in entries:
            if entry.kind == self.kind and entry.href == wanted:
                return greenbutton.atom_entry(entry)
        raise Refused(404, f"No such {self.kind} in this subscription.")


class BatchSubscriptionView(EspiView):
    """Batch/Subscription/{id}: the whole consent as one feed."""

    def render(
        self,
        request: HttpRequest,
        consent: Consent,
        base: str,
        now: dt.datetime,
        kwargs: dict[str, Any],
    ) -> str:
        return greenbutton.atom_feed(
            self.entries(request, consent, base, now, kwargs),
            feed_id=str(consent.public_id),
            title="Green Button Subscription",
            self_href=f"{base}/Batch/Subscription/{consent.public_id}",
            now=now,
        )


class ReadingTypeView(EspiView):
    kind, feed = "ReadingType", False

    def wanted(self, base: str, consent: Consent, kwargs: dict[str, Any]) -> str:
        return f"{base}/ReadingType/{_q(kwargs['reading_type'])}"

    def window(self, request: HttpRequest, kwargs: dict[str, Any]) -> espi.Window:
        serial = str(kwargs["reading_type"]).rpartition("-")[0]
        return espi.Window(serials={serial}, blocks=False)


class LocalTimeParametersView(EspiView):
    kind, feed = "LocalTimeParameters", False

    def wanted(self, base: str, consent: Consent, kwargs: dict[str, Any]) -> str:
        return f"{base}/LocalTimeParameters/{_q(kwargs['ltp'])}"

    def entries(
        self,
        request: HttpRequest,
        consent: Consent,
        base: str,
        now: dt.datetime,
        kwargs: dict[str, Any],
    ) -> list[Entry]:
        return espi.entries(
            self.reach(consent), base=base, now=now, window=espi.Window(serials=set())
        )


class AuthorizationView(EspiView):
    """Authorization (feed of the token's own) and Authorization/{id}."""

    kind = "Authorization"

    def render(
        self,
        request: HttpRequest,
        consent: Consent,
        base: str,
        now: dt.datetime,
        kwargs: dict[str, Any],
    ) -> str:
        entry = espi.authorization_entry(consent, base=base, now=now)
        if "authorization" in kwargs:
            return greenbutton.atom_entry(entry)
        return greenbutton.atom_feed(
            [entry],
            feed_id=f"{consent.public_id}:Authorization",
            title="Authorization",
            self_href=f"{base}/Authorization",
            now=now,
        )


class ApplicationInformationView(EspiView):
    """ApplicationInformation/{client_id}: the token's own third party only."""

    kind, feed = "ApplicationInformation", False

    def render(
        self,
        request: HttpRequest,
        consent: Consent,
        base: str,
        now: dt.datetime,
        kwargs: dict[str, Any],
    ) -> str:
        party = consent.third_party
        if kwargs["client_id"] != party.application.client_id:
            raise Refused(403, "This token does not reach that application.")
        server = request.build_absolute_uri("/").rstrip("/")
        return greenbutton.atom_entry(
            espi.application_entry(party, base=base, server=server, now=now)
        )


class UsageSummaryView(EspiView):
    """UsagePoint/{id}/UsageSummary: monthly use and cost (needs the billing scope)."""

    kind, needs_billing = "UsageSummary", True

    def entries(
        self,
        request: HttpRequest,
        consent: Consent,
        base: str,
        now: dt.datetime,
        kwargs: dict[str, Any],
    ) -> list[Entry]:
        found = espi.usage_summaries(
            self.reach(consent), base=base, serial=kwargs["usage_point"], now=now
        )
        if not found:
            raise Refused(404, "No such UsagePoint in this subscription.")
        return found
