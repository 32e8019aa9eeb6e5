"""Rows written fast: ``insert_rows`` sends a chunk of new rows in one COPY on PostgreSQL.

A batch of 10,000 SDPs stores 10,000 requests and 10,000 quantities (bench/billing.py). The COPY
text is built a column at a time: numbers by one ``map``, each distinct date, status or label
converted once, JSON without the encoder for the shapes quantities hold, and the whole chunk
joined into one string. (psycopg's ``write_row`` adapted every value of every row, ~0.35 s of
Python per 10,000 quantities with their requests. A numpy-built binary COPY, as meters/store.py
sends interval days, would not spare the per-row JSON and public ids, and the server took the
same CPU for the same rows in text and in binary: ~0.28 s for 10,000 requests and 10,000
quantities.)
"""

from __future__ import annotations

import datetime as dt
import json
import math
import operator
import os
from decimal import Decimal
from typing import Any

from django.db import connection, models

from meters.models import new_public_id


def insert_rows(model: type[models.Model], rows: list[Any], *, pks: bool = True) -> list[int]:
    """Insert rows (dicts of field attname -> value, or unsaved instances) and return their pks.

    On PostgreSQL the pks are drawn from the table's sequence in one query and the rows sent
    with one COPY: no per-row statement building (bulk_create spent ~1.5 s building the INSERTs
    of 10,000 quantities); elsewhere bulk_create. A field left out of a dict takes its default,
    and each dict gets its pk and defaults (public ids are drawn per row). Instances get their
    pk and count as saved. ``pks=False`` (dicts only): the database numbers the rows and
    nothing is returned (one query less).
    """
    if not rows:
        return []
    instances = isinstance(rows[0], models.Model)
    if connection.vendor != "postgresql":
        objs = rows if instances else [model(**row) for row in rows]
        model._default_manager.bulk_create(objs, batch_size=2000)
        if not instances:  # as on PostgreSQL: the dicts get the pk and defaults
            for row, obj in zip(rows, objs, strict=True):
                row.update(
                    (f.attname, obj.__dict__[f.attname]) for f in model._meta.concrete_fields
                )
        return [obj.pk for obj in objs]
    table, pk = model._meta.db_table, model._meta.pk
    with connection.cursor() as cursor:
        ids: list[int] = []
        if pks or instances:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk.column, len(rows)],
            )
            ids = [pk for (pk,) in cursor.fetchall()]
        try:
            with connection.wrap_database_errors:
                _copy(cursor.cursor, model, ids, [r.__dict__ for r in rows] if instances else rows)
        except Exception:
            if instances:  # not saved after all
                for obj in rows:
                    obj.pk = None
            raise
    if instances:
        for obj in rows:
            obj._state.adding = False
            obj._state.db = connection.alias
    return ids


def _copy(cursor: Any, model: type[models.Model], ids: list[int], rows: list[dict]) -> None:
    """COPY rows (attname -> value). The pks (unless ``ids`` is empty: the database numbers
    the rows) and the defaults of left-out fields are written into the dicts.

    The text format is built a column at a time (each distinct date, status or label converted
    once, numbers by one map) and sent as one string: psycopg's write_row adapted every value
    of every row (~0.35 s of Python per 10,000 quantities with their requests).
    """
    pk = model._meta.pk
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    if ids:
        for values, id_ in zip(rows, ids, strict=True):
            values[pk.attname] = id_
    first = rows[0].keys()
    if all(values.keys() == first for values in rows):  # the same fields left out of each
        for f in fields:
            if f.attname not in first:
                _fill_default(f, rows)
    else:
        for f in fields:
            _fill_default(f, [values for values in rows if f.attname not in values])
    if ids:
        fields.insert(0, pk)
    take = operator.itemgetter(*[f.attname for f in fields])  # a tuple per row (2+ fields)
    by_column = zip(*map(take, rows), strict=True) if len(fields) > 1 else [list(map(take, rows))]
    columns = [_copy_column(f, list(values)) for f, values in zip(fields, by_column, strict=True)]
    qn = connection.ops.quote_name
    sql = f"COPY {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) FROM STDIN"
    with cursor.copy(sql) as copy:
        copy.write("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n")


def _fill_default(f: models.Field, rows: list[dict]) -> None:
    """Give rows that left a field out its default (a new public id each)."""
    if f.default is new_public_id:  # one draw from the OS for all of them
        drawn = os.urandom(8 * len(rows)).hex()
        for at, values in enumerate(rows):
            values[f.attname] = drawn[16 * at : 16 * at + 16]
    else:
        for values in rows:
            values[f.attname] = f.get_default()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
_NOT_FINITE = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}
# Types converted once per distinct value (no two of them compare equal across types).
_MEMO_TYPES = frozenset({str, type(None), dt.date, dt.datetime, Decimal})


def _copy_text(text: str) -> str:
    """A string as COPY's text format writes it (backslash, tab and line ends escaped)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _copy_value(value: Any) -> str:
    """One value in COPY's text format, as psycopg writes it (the types billing's models hold:
    another raises TypeError)."""
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return _copy_text(str.__str__(value))  # a TextChoices member: its value
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else _NOT_FINITE[repr(value)]
    if isinstance(value, dt.date | Decimal):  # datetimes are aware: ISO 8601 with the offset
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    raise TypeError(f"no COPY text for {type(value).__name__}")


def _copy_column(field: models.Field, values: list[Any]) -> list[str]:
    """A column's values in COPY's text format."""
    if isinstance(field, models.JSONField):
        return [_NULL if v is None else _copy_text(_json(v)) for v in values]
    kinds = set(map(type, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    if kinds == {float} and math.isfinite(sum(values)):  # no inf or nan among them
        return list(map(float.__repr__, values))
    if all(kind in _MEMO_TYPES or issubclass(kind, str) for kind in kinds):
        distinct = set(values)
        if 2 * len(distinct) <= len(values):  # dates, statuses, labels: each converted once
            memo = {value: _copy_value(value) for value in distinct}
            return [memo[value] for value in values]
    return [_copy_value(value) for value in values]


_dumps = json.JSONEncoder().encode  # what JSONField stores (json.dumps with no encoder)


def _json(value: Any) -> str:
    """json.dumps(value): the same text, built without the encoder for what quantities hold
    (numbers, null, plain ASCII strings and names, lists and dicts of them); anything else
    goes to the encoder."""
    text = _json_plain(value)
    return _dumps(value) if text is None else text


def _json_plain(value: Any) -> str | None:
    kind = type(value)
    if kind is dict:
        keys = tuple(value)
        prefixes = _JSON_KEYS.get(keys, ())
        if prefixes == ():
            prefixes = _json_prefixes(keys)
            if len(_JSON_KEYS) < 1000:
                _JSON_KEYS[keys] = prefixes
        if prefixes is None:
            return None
        parts = []
        for prefix, item in zip(prefixes, value.values(), strict=True):
            kind = type(item)
            if kind is float and item - item == 0:  # finite (json writes float.__repr__)
                parts.append(prefix + float.__repr__(item))
            elif item is None:
                parts.append(prefix + "null")
            else:
                text = _json_plain(item)
                if text is None:
                    return None
                parts.append(prefix + text)
        return "{" + ", ".join(parts) + "}"
    if kind is float:
        return float.__repr__(value) if value - value == 0 else None
    if kind is int:
        return int.__repr__(value)
    if kind is str:
        return f'"{value}"' if _plain_text(value) else None
    if value is None:
        return "null"
    if kind is list:
        parts = []
        for item in value:
            text = _json_plain(item)
            if text is None:
                return None
            parts.append(text)
        return "[" + ", ".join(parts) + "]"
    return None  # True/False, tuples, other types: the encoder


def _plain_text(text: str) -> bool:
    """Does json write this string as it is (nothing to escape, ensure_ascii)?"""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


# The keys of the dicts _json has seen -> each key's '"key": ' (None: not all plain strings).
_JSON_KEYS: dict[tuple[Any, ...], tuple[str, ...] | None] = {}


def _json_prefixes(keys: tuple[Any, ...]) -> tuple[str, ...] | None:
    if all(type(k) is str and _plain_text(k) for k in keys):
        return tuple(f'"{k}": ' for k in keys)
    return None
