"""Errors a person meets show the portal's own pages, never Django's debug page (which lists
every URL pattern), and every page has an icon (no favicon 404 in the log)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

pytestmark = pytest.mark.django_db


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


urlpatterns = [path("broken/", broken), path("", include("portal.urls"))]


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_shows_a_page_for_people_and_leaks_nothing() -> None:
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    body = response.content.decode()
    assert 'data-testid="server-error"' in body
    assert "Something went wrong on our side" in body
    for leak in ("Traceback", "RuntimeError", "URLconf", "urlpatterns", "broken/"):
        assert leak not in body


@override_settings(DEBUG=False)
def test_an_unknown_address_shows_the_not_found_page_without_url_patterns() -> None:
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Not found" in body
    assert "URLconf" not in body and "admin/" not in body


def test_every_page_names_an_icon_and_favicon_ico_leads_to_it() -> None:
    page = Client().get("/accounts/login/").content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    icon = Client().get(response["Location"])
    assert icon.status_code == 200
    assert b"<svg" in b"".join(icon.streaming_content)


def test_make_run_serves_the_demo_with_debug_off() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "runserver" in recipe
    assert "DEBUG=1" not in recipe
