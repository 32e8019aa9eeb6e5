"""The Celery app: eager (in-process) unless CELERY_BROKER_URL names a broker."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("openmdmr")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
