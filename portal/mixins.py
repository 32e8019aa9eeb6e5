"""View mixins that resolve the user's organisation and role once, for every page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse

from portal.access import Actor, actor_for_request


class ActorMixin(LoginRequiredMixin):
    """Sets ``self.actor``; subclasses say who may enter."""

    actor: Actor

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.actor = actor_for_request(request)
        self.check_actor(self.actor)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc,no-any-return]

    def check_actor(self, actor: Actor) -> None:
        raise NotImplementedError

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["actor"] = self.actor
        context["can_upload"] = self.actor.can("reads.upload")
        context["can_sync"] = self.actor.can("registry.write")
        return context  # type: ignore[no-any-return]


class LdcMixin(ActorMixin):
    """A page of one LDC's staff: ``self.ldc`` is the user's LDC; querysets go through for_ldc."""

    capability = "ldc.view"

    def check_actor(self, actor: Actor) -> None:
        if actor.is_ldc_staff and actor.blocked_by_training(self.capability):
            raise PermissionDenied(
                "Changing production data needs the GUI step-by-step course: "
                "register for a session under Training."
            )
        if not actor.is_ldc_staff or not actor.can(self.capability):
            raise PermissionDenied("Your role does not allow this page.")
        self.ldc = actor.ldc


class CoordinatorMixin(ActorMixin):
    """A page of the SME's program coordinators (aggregates only)."""

    capability = "sme.view"

    def check_actor(self, actor: Actor) -> None:
        if not actor.can(self.capability):
            raise PermissionDenied("For SME program coordinators.")


class CustomerMixin(ActorMixin):
    """A page of a customer (a user without a staff membership)."""

    def check_actor(self, actor: Actor) -> None:
        if not actor.is_customer:
            raise PermissionDenied("For customers.")


def show_refusal(request: HttpRequest, exc: ValidationError) -> None:
    """A service refused the action: its reasons, as one error message on the next page."""
    messages.error(request, " ".join(exc.messages))
