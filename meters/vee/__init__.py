"""VEE (validation, estimation, editing) of interval data: pure numpy over day blocks, no ORM.

``rules`` validates (V01...V16), ``estimation`` fills (E2...E6, E8), ``editing`` applies manual
edits. Services load a DayBlock, call ``run_vee`` (or the parts), and store what comes back; the
stored pre-VEE values (``raw_wh``/``raw_quality``) are never touched here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meters.reads.day_arrays import DayBlock
from meters.vee.estimation import (
    EstimationContext,
    EstimationResult,
    EstimationSettings,
    Method,
    estimate,
    supersede,
)
from meters.vee.parameters import PARAMETERS, VeeParameterError, check_parameters
from meters.vee.rules import (
    RULE_IDS,
    RULE_TITLES,
    RegisterReads,
    ValidationContext,
    ValidationResult,
    ValidationSettings,
    rule_bit,
    validate,
)

__all__ = [
    "RULE_IDS",
    "RULE_TITLES",
    "EstimationContext",
    "EstimationResult",
    "EstimationSettings",
    "Method",
    "PARAMETERS",
    "RegisterReads",
    "ValidationContext",
    "ValidationResult",
    "ValidationSettings",
    "VeeParameterError",
    "VeeResult",
    "estimate",
    "rule_bit",
    "run_vee",
    "supersede",
    "validate",
    "vee_settings",
]


def vee_settings(data: Mapping[str, Any]) -> tuple[ValidationSettings, EstimationSettings]:
    """Both settings from one per-LDC dict; an unknown key or a value out of its range is a
    VeeParameterError naming the field, never a silent default (meters.vee.parameters)."""
    check_parameters(data)
    return ValidationSettings.from_dict(data), EstimationSettings.from_dict(data)


@dataclass
class VeeResult:
    """Validation of the block, then estimation of what it handed on."""

    validation: ValidationResult
    estimation: EstimationResult


def run_vee(
    block: DayBlock,
    validation: ValidationContext,
    estimation: EstimationContext | None = None,
    settings: tuple[ValidationSettings, EstimationSettings] | None = None,
) -> VeeResult:
    """Validate, then estimate the intervals validation marked, with the validated flags."""
    v_settings, e_settings = settings or (ValidationSettings(), EstimationSettings())
    checked = validate(block, validation, v_settings)
    validated = dataclasses.replace(block, flags=checked.flags)
    filled = estimate(validated, checked.estimate, estimation, e_settings)
    return VeeResult(checked, filled)
