"""The VEE settings page's form: one typed field per parameter (meters.vee.parameters), each with
its unit, range and default in words; a bad value is that field's error, never a JSON blob's."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from django import forms

from meters.vee.estimation import METHODS, EstimationSettings
from meters.vee.parameters import INTERVAL_MINUTES, PARAMETERS, Param, parameter_errors
from meters.vee.rules import RULE_IDS, RULE_TITLES, ValidationSettings

SET_CHOICES: dict[str, list[tuple[str, str]]] = {
    "rules": [(r, f"{r} {RULE_TITLES[r]}") for r in RULE_IDS],
    "methods": [(m, m) for m in METHODS],
    "minutes": [(str(m), f"{m} min") for m in INTERVAL_MINUTES],
    "channels": [("1", "1 delivered"), ("2", "2 received")],
}


def defaults() -> dict[str, Any]:
    """Every parameter's default as plain JSON (sets as sorted lists)."""
    out: dict[str, Any] = {}
    for settings in (ValidationSettings(), EstimationSettings()):
        for f in dataclasses.fields(settings):
            value = getattr(settings, f.name)
            out[f.name] = sorted(value) if isinstance(value, frozenset | tuple) else value
    return out


def in_words(param: Param, default: Any) -> str:
    """The help text: what it does, its range and unit, its default."""
    if isinstance(default, bool):
        shown = "on" if default else "off"
    elif isinstance(default, list):
        shown = ", ".join(map(str, default)) or "none"
    else:
        shown = f"{default:g} {param.unit}".rstrip()
    span = ""
    if param.low is not None and param.high is not None:
        span = f" From {param.low:g} to {param.high:g} {param.unit}.".replace("  ", " ")
    return f"{param.help}{span} Default: {shown}.".strip()


def _field(param: Param, default: Any) -> forms.Field:
    help_text = in_words(param, default)
    label = f"{param.label} ({param.unit})" if param.kind in ("int", "float") else param.label
    if param.kind == "bool":
        return forms.BooleanField(required=False, label=label, help_text=help_text)
    if param.kind in SET_CHOICES:
        return forms.MultipleChoiceField(
            required=False,
            label=label,
            help_text=help_text,
            choices=SET_CHOICES[param.kind],
            widget=forms.CheckboxSelectMultiple,
        )
    # Ranges are checked by meters.vee.parameters (one message for page, API and service); the
    # browser gets min/max/step as hints only (the form is novalidate).
    attrs = {"min": param.low, "max": param.high, "step": "1" if param.kind == "int" else "any"}
    kind = forms.IntegerField if param.kind == "int" else forms.FloatField
    return kind(label=label, help_text=help_text, widget=forms.NumberInput(attrs=attrs))


class VeeSettingsForm(forms.Form):
    """Every VEE parameter as a typed field, starting from the LDC's current values."""

    def __init__(self, *args: Any, current: Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.defaults = defaults()
        values = {**self.defaults, **(current or {})}
        for name, param in PARAMETERS.items():
            self.fields[name] = _field(param, self.defaults[name])
            initial = values[name]
            self.initial[name] = [str(v) for v in initial] if isinstance(initial, list) else initial
        self.groups = [(p.kind in SET_CHOICES, self[name]) for name, p in PARAMETERS.items()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        plain = {k: _plain(PARAMETERS[k], v) for k, v in data.items() if k in PARAMETERS}
        for name, message in parameter_errors(plain).items():
            if name in self.fields and name not in self.errors:
                self.add_error(name, message)
        return data

    def overrides(self) -> dict[str, Any]:
        """The values that differ from the defaults (what is stored for the LDC)."""
        out = {}
        for name, value in self.cleaned_data.items():
            plain = _plain(PARAMETERS[name], value)
            if plain != self.defaults[name]:
                out[name] = plain
        return out


def _plain(param: Param, value: Any) -> Any:
    """A cleaned value as JSON: sets sorted, minutes and channels as numbers."""
    if param.kind in ("minutes", "channels"):
        return sorted(int(v) for v in value or [])
    if param.kind in SET_CHOICES:
        return sorted(value or [])
    return value
