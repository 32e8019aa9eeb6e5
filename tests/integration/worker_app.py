"""The Celery app of the test workers: portal's, sweeping abandoned tasks back every second.

A task whose worker died is handed out again once it has been unacknowledged for the visibility
timeout, but only when a worker sweeps: at its start and then every ~100 s by default (fine
against production's one-hour timeout). Tests use a 2-3 s timeout, so they sweep every second.
"""

from portal.celery import app

app.conf.broker_transport_options = {
    **app.conf.broker_transport_options,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    # The sweep holds a lock in Redis while it runs; a worker killed inside it (every second,
    # here) would leave the lock for its default 300 s and nothing would be handed out again.
    "unacked_mutex_expire": 5,
}
