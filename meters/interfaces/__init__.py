"""The six meter-read interfaces. Adding a seventh: one module with ``parse`` and one line here."""

from __future__ import annotations

import importlib

from meters.interfaces.base import Parser

INTERFACES: dict[str, str] = {
    "cmep": "meters.interfaces.cmep",
    "mv90_hhf": "meters.interfaces.mv90_hhf",
    "green_button": "meters.interfaces.green_button",
    "iec61968_9": "meters.interfaces.iec61968_9",
    "multispeak": "meters.interfaces.multispeak",
    "csv": "meters.interfaces.csv",
}


def get_parser(name: str) -> Parser:
    """The ``parse`` entry point of interface ``name`` (KeyError for an unknown one)."""
    return importlib.import_module(INTERFACES[name]).parse  # type: ignore[no-any-return]
