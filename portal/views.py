"""The home page: the right one for each kind of user (wiring: it may import every app)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from customers.selectors import links_for_user
from ldc.sme.rollout_views import rollout_home_context
from portal.access import actor_for_request


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The right home for the role: SME rollout, the LDC's figures, or the customer's accounts."""
    actor = actor_for_request(request)
    if actor.is_coordinator:
        return render(request, "portal/home_sme.html", rollout_home_context(actor))
    if actor.is_ldc_staff:
        from ldc.dashboard import home_context

        return render(request, "portal/home_ldc.html", home_context(actor.ldc, actor))
    return render(request, "portal/home_customer.html", {"links": links_for_user(request.user)})
