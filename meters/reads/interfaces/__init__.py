"""The six meter-read interfaces. Adding a seventh: one module with ``parse`` and one line here."""

from __future__ import annotations

import importlib

from meters.reads.interfaces.base import Parser

INTERFACES: dict[str, str] = {
    "cmep": "meters.reads.interfaces.cmep",
    "mv90_hhf": "meters.reads.interfaces.mv90_hhf",
    "green_button": "meters.reads.interfaces.green_button",
    "iec61968_9": "meters.reads.interfaces.iec61968_9",
    "multispeak": "meters.reads.interfaces.multispeak",
    "csv": "meters.reads.interfaces.csv",
}


def get_parser(name: str) -> Parser:
    """The ``parse`` entry point of interface ``name`` (KeyError for an unknown one)."""
    return importlib.import_module(INTERFACES[name]).parse  # type: ignore[no-any-return]


def keys_by_last_segment(name: str) -> bool:
    """Whether interface ``name`` names meters by resource keys whose last segment may be the
    serial (Green Button UsagePoint keys: meters.reads.resolve.MeterResolver)."""
    module = importlib.import_module(INTERFACES[name])
    return bool(getattr(module, "KEYS_BY_LAST_SEGMENT", False))
