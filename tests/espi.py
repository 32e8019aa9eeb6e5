"""Validate ESPI XML against NAESB's espi.xsd and the Green Button Alliance's atom.xsd."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parent / "data" / "espi"


@functools.cache
def _atom() -> Any:
    import xmlschema

    espi = xmlschema.XMLSchema(str(SCHEMAS / "espi.xsd"))  # imports atom.xsd beside it
    return espi.maps.namespaces["http://www.w3.org/2005/Atom"][0]


def espi_errors(xml: str | bytes) -> list[str]:
    """Every schema error of an Atom feed or entry (its ESPI content validated strictly)."""
    text = xml.decode() if isinstance(xml, bytes) else xml
    return [f"{e.path}: {e.reason}" for e in _atom().iter_errors(text)]


def assert_valid_espi(xml: str | bytes) -> None:
    errors = espi_errors(xml)
    assert not errors, "\n".join(errors[:10])
