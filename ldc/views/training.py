"""GUI training, the staff's side: sessions, seats, completions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import TemplateView

from ldc import training
from ldc.models import Course, TrainingRegistration, TrainingSession
from portal.access import write_trained
from portal.mixins import LdcMixin, show_refusal
from portal.tenancy import Stage


class TrainingView(LdcMixin, TemplateView):
    """Courses and upcoming sessions, my seats and completions; the admin sees who is missing
    the course required for write access."""

    capability = "training.register"
    template_name = "ldc/training.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        mine = list(training.registrations_of(self.request.user))
        context.update(
            ldc=self.ldc,
            courses=Course.objects.all(),
            sessions=training.sessions_with_seats(),
            mine=mine,
            my_session_ids={r.session_id for r in mine},
            trained=write_trained(self.request.user),
            needs_training=self.actor.needs_training,
            in_production=self.ldc.stage == Stage.PRODUCTION,
        )
        if self.actor.can("training.view_missing"):
            context["missing"] = training.staff_missing_required(self.ldc)
            context["summary"] = training.training_summary(self.ldc)
        return context


class TrainingRegisterView(LdcMixin, View):
    capability = "training.register"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        session = get_object_or_404(TrainingSession, pk=kwargs["session_id"])
        try:
            training.training_register(session=session, actor=self.actor)
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, f"You have a seat in {session}.")
        return redirect("ldc:training")


class TrainingUnregisterView(LdcMixin, View):
    capability = "training.register"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        registration = get_object_or_404(
            TrainingRegistration.objects.filter(user=request.user), pk=kwargs["registration_id"]
        )
        try:
            training.training_unregister(registration=registration, actor=self.actor)
        except ValidationError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, "Your seat is given back.")
        return redirect("ldc:training")
