"""The portal's one display policy for Canadian English, over Django's en_CA formats.

Django's en_CA groups thousands with a no-break space ("1 440") while the rest of the portal
(f-strings, CSV summaries) writes "636,460": one number style, the comma. Dates are all-numeric
year-month-day (CAN/CSA-Z234.4, ISO 8601), times 24-hour with the zone beside them; the
template filters in ``portal/templatetags/display.py`` apply the same formats by name.
"""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "Y-m"
MONTH_DAY_FORMAT = "M j"
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
FIRST_DAY_OF_WEEK = 0  # Sunday
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
