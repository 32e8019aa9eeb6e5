"""Green Button Connect My Data end to end, as the issue's "Shows it" asks: the LDC administrator
registers a third party in the portal, the customer authorises it in headless Chromium, the
third party (requests-oauthlib) exchanges the code, fetches the subscription's Batch, which our
own green_button interface reads back to the customer's stored intervals; another SDP is
refused; the customer revokes, and the same token is refused."""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.utils import timezone
from requests_oauthlib import OAuth2Session

from connect import scopes
from meters.reads.day_arrays import IntervalFlag
from meters.reads.interfaces import green_button
from meters.reads.interfaces.base import IntervalBatch, Quality
from tests.customers.conftest import store_hourly
from tests.e2e.conftest import log_in, screenshot
from tests.espi import assert_valid_espi
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
TZ = ZoneInfo("America/Toronto")


@pytest.fixture
def callback() -> Iterator[str]:
    """The third party's redirect URI: a real local server that answers 200."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/callback"
    server.shutdown()


def _register(page: Any, world: Any, redirect: str) -> tuple[str, str]:
    log_in(page, world.user("north", "ldc_admin").email, two_factor=True)
    page.goto("/connect/third-parties/")
    page.fill("input[name=name]", "Energy Insights Inc.")
    page.fill("input[name=contact_name]", "Ada Watt")
    page.fill("input[name=contact_email]", "ada@insights.example")
    page.fill("textarea[name=redirect_uris]", redirect)
    page.check("input[name=may_billing]")
    page.click("[data-testid=register]")
    page.wait_for_selector("[data-testid=new-client]")
    screenshot(page, "connect-third-parties")
    client_id = page.inner_text("[data-testid=client-id]").strip()
    secret = page.inner_text("[data-testid=client-secret]").strip()
    return client_id, secret


def test_register_authorise_fetch_compare_refuse_revoke(
    browser: Any, live_server: Any, world: Any, monkeypatch: pytest.MonkeyPatch, callback: str
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the live server is http://localhost
    first = timezone.now().date() - dt.timedelta(days=15)
    stored = store_hourly(world.objects["north_meter"], first, 15, estimated_hours=2)
    store_hourly(world.objects["south_meter"], first, 15, seed=5)

    staff = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    client_id, secret = _register(staff.new_page(), world, callback)
    staff.close()

    oauth = OAuth2Session(client_id, redirect_uri=callback, scope=[scopes.USAGE], pkce="S256")
    url, _state = oauth.authorization_url(f"{live_server.url}/oauth/authorize/")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(url)  # not signed in: the login page, then back to the consent page
        page.fill("input[name=login]", world.customer.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=party-name]")
        assert "Energy Insights Inc." in page.inner_text("h1")
        assert "hourly electricity use" in page.inner_text("[data-testid=asks-for]")
        screenshot(page, "connect-consent")
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 400
        screenshot(page, "connect-consent-phone")
        page.set_viewport_size({"width": 1366, "height": 900})
        with page.expect_navigation(url=f"{callback}*"):
            page.click("[data-testid=authorise]")
        token = oauth.fetch_token(
            f"{live_server.url}/oauth/token/",
            authorization_response=page.url,
            client_secret=secret,
            include_client_id=True,
        )
        assert token["access_token"]

        sub = _subscription(oauth, live_server)
        batch = oauth.get(
            f"{live_server.url}/espi/1_1/resource/Batch/Subscription/{sub}", timeout=60
        )
        assert batch.status_code == 200
        assert_valid_espi(batch.content)
        parsed = IntervalBatch.concat(
            [
                b.intervals
                for b in green_button.parse(io.BytesIO(batch.content), filename="b", tz=TZ)
            ]
        )
        present = parsed.quality != Quality.MISSING
        starts = (stored.key & ((1 << 20) - 1))[:, None] * 86_400 + np.arange(24) * 3600
        keep = (stored.flags & np.uint8(IntervalFlag.MISSING)) == 0
        assert dict(
            zip(parsed.start[present].tolist(), parsed.wh[present].tolist(), strict=True)
        ) == dict(zip(starts[keep].tolist(), stored.wh[keep].astype(int).tolist(), strict=True))

        other = oauth.get(
            f"{live_server.url}/espi/1_1/resource/Subscription/{sub}/UsagePoint/SOUTH-MTR-1",
            timeout=30,
        )
        assert other.status_code == 404 and "IntervalReading" not in other.text

        page.goto("/connect/consents/")
        page.wait_for_selector("[data-testid=consents]")
        screenshot(page, "connect-consents")
        page.click("[data-testid=revoke]")
        page.wait_for_selector("text=can no longer read your data")
        again = oauth.get(
            f"{live_server.url}/espi/1_1/resource/Batch/Subscription/{sub}", timeout=30
        )
        assert again.status_code == 401 and "IntervalReading" not in again.text
    finally:
        context.close()


def _subscription(oauth: Any, live_server: Any) -> str:
    """The Authorization resource names the Subscription (ESPI resourceURI)."""
    import re

    text = oauth.get(f"{live_server.url}/espi/1_1/resource/Authorization", timeout=30).text
    found = re.search(r"Batch/Subscription/([0-9a-f-]{36})</resourceURI>", text)
    assert found, text[:300]
    return found.group(1)
