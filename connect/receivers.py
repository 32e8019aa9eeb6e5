"""What Connect My Data does when meters announce new reads: queue notifications (see notify)."""
