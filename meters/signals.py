"""What the meters app announces: reads stored, changed by a person, validated. Receivers (read
success, billing) listen without the senders importing them."""

from django.dispatch import Signal

# Sent after a person changes reads (ldc, meter_id, starts): billing marks quantities stale.
reads_changed = Signal()
# Sent when an ingestion batch has committed (ldc, meter_ids, first_day, last_day: UTC day
# numbers of its accepted reads): figures counted from the stored reads (read success) are stale.
reads_stored = Signal()
# Sent after VEE of ingested reads (ldc, meter_ids, first_day, last_day): billing refreshes
# pending quantities and replaces released ones that late reads changed.
vee_ran = Signal()
# Sent by a registry sync that set SDPs' TOU billing start from the registry column
# ``tou_billing_from`` (ldc, sdp_ids_by_date: {date: [SDP pk]}, actor): the SDPs were TOU-billed
# before the LDC came to OpenMDMR; the LDC app keeps them as an enrollment group of their own.
tou_billing_declared = Signal()
