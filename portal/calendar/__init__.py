"""The calendar every app shares: local time of a zone (vectorised), Ontario's statutory holidays
as the RPP prices them, and business days."""
