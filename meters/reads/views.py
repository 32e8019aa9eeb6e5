"""Read-file pages of an LDC's staff: the list, the upload, one file's progress and report."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import DetailView, FormView, ListView

from meters.models import (
    ReadFile,
    ReadRejection,
)
from meters.reads.forms import ReadFileUploadForm
from meters.reads.ingest import read_file_receive
from meters.reads.resolve import Reason
from portal.mixins import LdcMixin
from portal.templatetags.display import count, moment


class ReadFileListView(LdcMixin, ListView):  # type: ignore[type-arg]
    """Delivered read files, newest first, with their status."""

    capability = "reads.view"
    template_name = "meters/readfile_list.html"
    paginate_by = 50

    def get_queryset(self) -> QuerySet[ReadFile]:
        return ReadFile.objects.for_ldc(self.ldc).defer("report")


class ReadFileUploadView(LdcMixin, FormView):  # type: ignore[type-arg]
    """Send read files: each is checked whole, then loaded; its page shows progress and report."""

    capability = "reads.upload"
    template_name = "meters/readfile_upload.html"
    form_class = ReadFileUploadForm

    def form_valid(self, form: ReadFileUploadForm) -> HttpResponse:
        received = []
        for upload in form.cleaned_data["files"]:
            try:
                read_file, created = read_file_receive(
                    ldc=self.ldc,
                    interface=form.cleaned_data["interface"],
                    upload=upload,
                    name=upload.name,
                    actor=self.actor,
                    via="upload page",
                )
            except ValidationError as exc:
                form.add_error("files", exc)
                return self.form_invalid(form)
            if not created:
                messages.info(
                    self.request,
                    f"{upload.name} was already received "
                    f"({moment(read_file.received_at)}): nothing changed.",
                )
            received.append(read_file)
        if len(received) == 1:
            return redirect("meters:readfile-detail", public_id=received[0].public_id)
        messages.success(self.request, f"{count(len(received), 'file')} received.")
        return redirect("meters:readfile-list")


class ReadFileDetailView(LdcMixin, DetailView):  # type: ignore[type-arg]
    """One read file: progress while it loads, then its data-collection report."""

    capability = "reads.view"
    context_object_name = "read_file"

    def get_template_names(self) -> list[str]:
        if self.request.htmx:
            return ["meters/partials/readfile_status.html"]
        return ["meters/readfile_detail.html"]

    def get_object(self, queryset: Any = None) -> ReadFile:
        return get_object_or_404(
            ReadFile.objects.for_ldc(self.ldc), public_id=self.kwargs["public_id"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["rejections"] = ReadRejection.objects.for_ldc(self.ldc).filter(
            read_file=self.object
        )[:200]
        context["reason_text"] = Reason.TEXT
        return context
