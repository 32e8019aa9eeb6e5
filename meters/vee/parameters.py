"""VEE parameters: each one's type, range, unit and description, and the check of a per-LDC dict.

Owns what a VEE parameter may be. The settings page, the API and the VEE service all check an
LDC's overrides here, where they are saved and where they are read: a value out of its range is
refused with the field's message, never handed to the numpy rules (``{"v08_frozen_run": 30}``
once broke every ingestion with a broadcast error). Pure: no ORM.

The parameters follow the SME's VEE standard for the MDM/R (IESO_STD_0078, "Validation,
Estimation and Editing Standard", Appendix A "VEE Standards and Parameters"; the standard's text
is not public here, only its listing on the SME's Design and Standards page) and issue 4's
defaults; a range is our choice where the standard gives none, and says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meters.vee.estimation import METHODS
from meters.vee.rules import RULE_IDS

INTERVAL_MINUTES = (1, 5, 10, 15, 30, 60)


class VeeParameterError(ValueError):
    """Out-of-range or unknown VEE parameters: ``errors`` maps each field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class Param:
    """One parameter: its kind (int, float, bool, or a set of rules, methods, minutes or
    channels), range, unit and what it does."""

    kind: str
    label: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    help: str = ""

    def check(self, value: Any) -> str | None:
        """The message for a bad value, or None."""
        if self.kind in ("rules", "methods", "minutes", "channels"):
            return self._check_set(value)
        if self.kind == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number{' of ' + self.unit if self.unit else ''}"
        if self.kind == "int" and not float(value).is_integer():
            return "must be a whole number"
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            span = f"from {_n(self.low)} to {_n(self.high)} {self.unit}".rstrip()
            return f"{value} is out of range: {span}"
        return None

    def _check_set(self, value: Any) -> str | None:
        if not isinstance(value, list | tuple | set | frozenset):
            return "must be a list"
        allowed: tuple[Any, ...] = {
            "rules": RULE_IDS,
            "methods": METHODS,
            "minutes": INTERVAL_MINUTES,
            "channels": tuple(range(1, 8)),
        }[self.kind]
        bad = [v for v in value if v not in allowed or isinstance(v, bool)]
        if bad:
            return f"{', '.join(map(str, bad))} not allowed: one of {', '.join(map(str, allowed))}"
        if self.kind in ("minutes", "channels") and not value:
            return "give at least one"
        return None


def _n(value: float | None) -> str:
    return "-" if value is None else (f"{value:g}")


PARAMETERS: dict[str, Param] = {
    "enabled": Param("rules", "Rules that run", help="Validation rules run on every meter-day."),
    "fail_rules": Param(
        "rules", "Rules that fail intervals", help="Their intervals are marked failed (queue)."
    ),
    "estimate_rules": Param(
        "rules", "Rules estimated at once", help="Their intervals are handed to estimation."
    ),
    "v02_allowed_minutes": Param(
        "minutes", "V02 interval lengths", "minutes", help="Interval lengths a meter may send."
    ),
    "v02_max_kw": Param(
        "float",
        "V02 service capacity",
        "kW",
        0.1,
        10_000,
        "An interval above this demand is a unit or multiplier error.",
    ),
    "v02_multiplier_tolerance": Param(
        "float",
        "V02 multiplier tolerance",
        "share",
        0,
        0.5,
        "Relative difference allowed between the reads' multiplier and the registry's.",
    ),
    "v04_future_tolerance_s": Param(
        "int",
        "V04 clock tolerance",
        "seconds",
        0,
        3600,
        "Reads may end this far after now (head-end clock drift) before V04 fires.",
    ),
    "v05_tolerance_wh": Param(
        "int",
        "V05 register tolerance",
        "Wh",
        0,
        100_000,
        "Interval sum against register delta: at least this many Wh of difference allowed.",
    ),
    "v05_tolerance_fraction": Param(
        "float",
        "V05 register tolerance share",
        "share",
        0,
        0.5,
        "... or this share of the register delta, whichever is larger.",
    ),
    "v05_scale_to_register": Param(
        "bool", "V05 then E4", help="Scale a span failing V05 to its register delta (E4)."
    ),
    "v06_high_ratio": Param(
        "float", "V06 high limit", "× average", 1, 100, "A day above this multiple is high."
    ),
    "v06_low_ratio": Param(
        "float", "V06 low limit", "× average", 0, 1, "A day below this multiple is low."
    ),
    "v06_min_history_days": Param(
        "int", "V06 history needed", "days", 1, 21, "Clean days needed before V06 judges a day."
    ),
    "v07_spike_ratio": Param(
        "float",
        "V07 spike ratio",
        "× third-highest",
        1,
        100,
        "The day's peak above this multiple of its third-highest interval is a spike.",
    ),
    "v07_min_peak_wh_per_hour": Param(
        "int", "V07 smallest spike", "Wh per hour", 0, 1_000_000, "Smaller peaks are no spike."
    ),
    # At most a day of hourly reads: a longer run never fits in one meter-day row.
    "v08_frozen_run": Param(
        "int",
        "V08 frozen run",
        "intervals",
        2,
        24,
        "This many equal non-zero reads in a row are a frozen register.",
    ),
    "v08_zero_day_channels": Param(
        "channels", "V08 zero-day channels", "channel", help="Channels where a zero day is odd."
    ),
    "v11_require_enrollment": Param(
        "bool",
        "V11 requires an enrollment date",
        help="Reads of an SDP with no enrolled-on date fail V11 too.",
    ),
    "v12_weeks": Param(
        "int",
        "V12 weeks of history",
        "weeks",
        1,
        3,
        "Same weekdays of the SDP's own history the day is compared with.",
    ),
    "v12_high_ratio": Param(
        "float",
        "V12 high limit",
        "× same-weekday mean",
        1,
        100,
        "A day above this multiple of the same weekdays' mean fails.",
    ),
    "v12_low_ratio": Param(
        "float",
        "V12 low limit",
        "× same-weekday mean",
        0,
        1,
        "A day below this multiple of the same weekdays' mean fails.",
    ),
    "v12_min_day_wh": Param(
        "int", "V12 smallest mean", "Wh", 0, 1_000_000, "Means below this are not judged."
    ),
    "v14_max_estimated_days": Param(
        "int",
        "V14 estimated days allowed",
        "days",
        1,
        365,
        "Consecutive estimated days before V14 (prolonged estimation) fires.",
    ),
    "v14_day_fraction": Param(
        "float",
        "V14 estimated share of a day",
        "share",
        0,
        0.99,
        "A day counts as estimated above this share of its intervals.",
    ),
    "v16_success_target": Param(
        "float", "V16 read success target", "share", 0.5, 1, "The LDC's daily obligation."
    ),
    "methods": Param("methods", "Estimation methods", help="Methods tried, in order E2 to E6."),
    "e2_max_gap_minutes": Param(
        "int", "E2 longest gap", "minutes", 0, 1440, "Gaps up to this long are interpolated."
    ),
    "e3_like_days": Param("int", "E3 like days", "days", 1, 10, "Like days averaged."),
    "e3_window_days": Param(
        "int", "E3 window", "days", 1, 21, "Like days are looked for this far away."
    ),
    "e3_min_days": Param(
        "int", "E3 like days needed", "days", 1, 10, "Fewer like days: E3 does not estimate."
    ),
    "e3_past_only": Param("bool", "E3 past only", help="Use only like days before the gap."),
}


def parameter_errors(data: Mapping[str, Any]) -> dict[str, str]:
    """Each bad field of a per-LDC override dict with its message (empty when all are good)."""
    errors = {k: "not a VEE parameter" for k in data if k not in PARAMETERS}
    for name, value in data.items():
        if name in PARAMETERS and (message := PARAMETERS[name].check(value)):
            errors[name] = message
    like, needed = data.get("e3_like_days", 3), data.get("e3_min_days", 1)
    if "e3_min_days" not in errors and "e3_like_days" not in errors and needed > like:
        errors["e3_min_days"] = f"{needed} is more than the {like} like days averaged"
    return errors


def check_parameters(data: Mapping[str, Any]) -> None:
    """Raise VeeParameterError naming every bad field."""
    errors = parameter_errors(data)
    if errors:
        raise VeeParameterError(errors)
