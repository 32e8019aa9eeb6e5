"""The Celery app: eager (in-process) unless CELERY_BROKER_URL names a broker."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("openmdmr")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # each app's tasks.py
app.autodiscover_tasks(["meters.reads", "meters.vee", "ldc.sme"])  # subpackages' tasks.py

# Beat entries of the portal itself, added to settings.CELERY_BEAT_SCHEDULE's.
PORTAL_BEAT_SCHEDULE = {
    # The SME's weekly rollout snapshot: Monday 06:00 UTC, after the weekend's deliveries.
    "rollout-snapshot-weekly": {
        "task": "portal.tasks.rollout_snapshot_weekly",
        "schedule": crontab(minute=0, hour=6, day_of_week=1),
    },
    # Smart Metering Charge statements of the month just ended: the 1st, 07:00 UTC.
    "smc-statements-monthly": {
        "task": "portal.tasks.smc_statements_monthly",
        "schedule": crontab(minute=0, hour=7, day_of_month=1),
    },
}


@app.on_after_configure.connect
def _add_portal_beat(sender: Celery, **kwargs: object) -> None:
    sender.conf.beat_schedule = {**(sender.conf.beat_schedule or {}), **PORTAL_BEAT_SCHEDULE}
