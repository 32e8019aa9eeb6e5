"""Rollout monitoring and the weekly data-quality dashboards (under /rollout/)."""

from django.urls import path  # noqa: F401

app_name = "rollout"
urlpatterns: list = []
