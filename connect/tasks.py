"""Celery tasks of Connect My Data (thin: load by id inside the tenant, call the service)."""
