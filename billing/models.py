"""Billing: TOU/ULO/tiered schedules, OEB prices, billing quantities (built with its issue)."""
