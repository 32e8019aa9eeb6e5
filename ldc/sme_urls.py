"""Coordinator pages of the MDM/R stages and GUI training (under /sme/)."""

from django.urls import path  # noqa: F401

app_name = "sme_onboarding"
urlpatterns: list = []
