"""Fuzzing the six read-file parsers: every input is parsed or rejected with a ReadFileError.

Random bytes and mutated sample files (byte flips, truncation, duplicated or deleted lines,
changed fields) go through each parser; anything but a clean parse or a ReadFileError naming the
file is a bug. A few mutated files also go through the ingest service: a rejected file stores
nothing.
"""

from __future__ import annotations

import io
import os
import re
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meters.models import IntervalDay, RegisterRead
from meters.reads import ingest
from meters.reads.interfaces import get_parser
from meters.reads.interfaces.base import Quality, ReadFileError
from tests.meters.conftest import INTERFACE_NAMES, sample_file
from tests.meters.samples import GENERATED, SampleSet

TORONTO = ZoneInfo("America/Toronto")
FILENAME = "fuzzed.dat"
SAMPLES = {name: sample_file(name).read_bytes() for name in INTERFACE_NAMES}
# The first reading of the generated set (MTR-1001, 2026-03-07T05:00Z), as each file writes it.
FIRST_KWH = GENERATED.expected_intervals()[0][3]
FIRST_WH = str(int(FIRST_KWH.replace(".", "")))
# OPENMDMR_FUZZ_EXAMPLES=5000 for a deeper, randomised run; the default is fixed and fast.
DEEP = int(os.environ.get("OPENMDMR_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=DEEP or 200, deadline=None, derandomize=not DEEP, database=None)

# Values a field is changed to: the edges parsers get wrong (empty, signs, huge, exotic digits,
# NaN, exponents, impossible dates, markup).
FIELD_VALUES = [
    "",
    "0",
    "-1",
    "+5",
    ".",
    "-",
    "1e3",
    "NaN",
    "inf",
    "9" * 30,
    "99999999999999999999.5",
    "0.0000001",
    "abc",
    "R",
    "N0",
    "E1",
    "7",
    "Z",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: isdigit() but not ASCII
    "202602300100",
    "202603080230",
    "999912312359",
    "000101010000",
    "2026-02-30T01:00:00-05:00",
    "2026-03-07T01:00:00",
    "2026-03-07T01:00:00+25:00",
    "9999-12-31T23:59:59-23:59",
    "1772859600",
    "-1772859600",
    "86400000000000",
    "00000000",
    "00000015",
    "00010000",
    '"',
    "<",
    "&amp;",
    "&lt;x&gt;",
    " ",
    "KWHREG",
    "WH",
]
# Field boundaries: CSV-like commas, XML text between tags, attribute values.
_FIELD = re.compile(rb"(?<=[,>\"])[^,<>\"\n]{1,40}(?=[,<\"\n])")


def parse_all(interface: str, data: bytes, batch_reads: int = 64) -> list[Any]:
    parse = get_parser(interface)
    return list(parse(io.BytesIO(data), filename=FILENAME, tz=TORONTO, batch_reads=batch_reads))


def check_parses_or_rejects(interface: str, data: bytes) -> None:
    """Parsed whole (with sane arrays) or a ReadFileError naming the file; nothing else."""
    try:
        batches = parse_all(interface, data)
    except ReadFileError as exc:
        assert exc.file == FILENAME
        assert str(exc).startswith(FILENAME) and exc.reason.strip()
        return
    for batch in batches:
        iv, rg = batch.intervals, batch.registers
        count = len(iv)
        for name in ("meter", "minutes", "wh", "quality", "channel", "line"):
            assert getattr(iv, name).shape == (count,), name
        assert (iv.minutes > 0).all()
        assert np.isin(iv.quality, [q.value for q in Quality]).all()
        assert (iv.wh[iv.quality == Quality.MISSING] == 0).all()
        assert all(isinstance(m, str) and m for m in iv.meter.tolist())
        for name in ("meter", "wh", "channel", "line"):
            assert getattr(rg, name).shape == (len(rg),), name


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


@st.composite
def mutated(draw: st.DrawFn, interface: str) -> bytes:
    """The interface's sample with one to three mutations."""
    data = SAMPLES[interface]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["flip", "truncate", "dup_line", "del_line", "field", "insert"])
        )
        data = draw(_MUTATIONS[kind](data))
    return data


def _flip(data: bytes) -> st.SearchStrategy[bytes]:
    return st.tuples(st.integers(0, max(len(data) - 1, 0)), st.integers(0, 255)).map(
        lambda a: data[: a[0]] + bytes([a[1]]) + data[a[0] + 1 :] if data else data
    )


def _truncate(data: bytes) -> st.SearchStrategy[bytes]:
    return st.integers(0, len(data)).map(lambda n: data[:n])


def _dup_line(data: bytes) -> st.SearchStrategy[bytes]:
    lines = _lines(data)
    return st.integers(0, max(len(lines) - 1, 0)).map(
        lambda i: b"".join(lines[: i + 1] + lines[i:]) if lines else data
    )


def _del_line(data: bytes) -> st.SearchStrategy[bytes]:
    lines = _lines(data)
    return st.integers(0, max(len(lines) - 1, 0)).map(
        lambda i: b"".join(lines[:i] + lines[i + 1 :]) if lines else data
    )


def _field(data: bytes) -> st.SearchStrategy[bytes]:
    spans = [m.span() for m in _FIELD.finditer(data)]
    if not spans:
        return st.just(data)
    value = st.one_of(st.sampled_from(FIELD_VALUES), st.text(max_size=12))
    return st.tuples(st.sampled_from(spans), value).map(
        lambda a: data[: a[0][0]] + a[1].encode("utf-8") + data[a[0][1] :]
    )


def _insert(data: bytes) -> st.SearchStrategy[bytes]:
    return st.tuples(st.integers(0, len(data)), st.binary(min_size=1, max_size=16)).map(
        lambda a: data[: a[0]] + a[1] + data[a[0] :]
    )


_MUTATIONS = {
    "flip": _flip,
    "truncate": _truncate,
    "dup_line": _dup_line,
    "del_line": _del_line,
    "field": _field,
    "insert": _insert,
}


@pytest.mark.parametrize("interface", INTERFACE_NAMES)
def test_samples_still_parse(interface: str, sample_set: SampleSet) -> None:
    data = sample_set.file(interface).read_bytes()
    assert sum(len(b.intervals) for b in parse_all(interface, data)) == 141


@pytest.mark.parametrize("interface", INTERFACE_NAMES)
@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes_are_parsed_or_rejected(interface: str, data: bytes) -> None:
    check_parses_or_rejects(interface, data)


@pytest.mark.parametrize("interface", INTERFACE_NAMES)
@FUZZ
@given(data=st.data())
def test_mutated_samples_are_parsed_or_rejected(interface: str, data: st.DataObject) -> None:
    check_parses_or_rejects(interface, data.draw(mutated(interface)))


@pytest.mark.django_db
@pytest.mark.parametrize("interface", INTERFACE_NAMES)
@settings(
    max_examples=max(8, DEEP // 20),
    deadline=None,
    derandomize=not DEEP,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_ingest_of_a_mutated_file_loads_it_or_stores_nothing(
    sample_ldc: Any, interface: str, data: st.DataObject
) -> None:
    content = data.draw(mutated(interface))
    try:
        parse_all(interface, content)
        parses = True
    except ReadFileError:
        parses = False
    before = IntervalDay.objects.count(), RegisterRead.objects.count()
    read_file, created = ingest.read_file_receive(
        ldc=sample_ldc,
        interface=interface,
        upload=io.BytesIO(content),
        name=FILENAME,
        actor=None,
        via="test",
        queue=False,
    )
    assume(created)  # the same bytes twice: answered as a duplicate, nothing to check
    read_file = ingest.read_file_ingest(read_file=read_file)
    assert read_file.status == ("loaded" if parses else "rejected"), read_file.error
    if not parses:
        assert read_file.error.startswith(FILENAME)
        assert (IntervalDay.objects.count(), RegisterRead.objects.count()) == before


# Regressions: inputs the fuzzer found that escaped as another exception or as garbage values.


def _rejected(interface: str, data: bytes) -> ReadFileError:
    with pytest.raises(ReadFileError) as caught:
        parse_all(interface, data)
    assert str(caught.value).startswith(FILENAME)
    return caught.value


def _replace_once(interface: str, old: bytes, new: bytes) -> bytes:
    assert old in SAMPLES[interface]
    return SAMPLES[interface].replace(old, new, 1)


def test_green_button_block_of_centuries_is_refused_not_allocated() -> None:
    # Every step of a block without a reading is a MISSING interval: this was a MemoryError.
    data = _replace_once(
        "green_button", b"<duration>86400</duration>", b"<duration>86400000000000</duration>"
    )
    error = _rejected("green_button", data)
    assert error.element is not None and error.element.endswith("interval/duration")


def test_green_button_block_start_out_of_range_is_refused() -> None:
    data = _replace_once(
        "green_button", b"<start>1772859600</start>", b"<start>" + b"9" * 30 + b"</start>"
    )
    error = _rejected("green_button", data)  # was an OverflowError
    assert error.element is not None and error.element.endswith("interval/start")


def test_green_button_power_of_ten_beyond_metric_prefixes_is_refused() -> None:
    data = _replace_once(
        "green_button",
        b"<powerOfTenMultiplier>0</powerOfTenMultiplier>",
        b"<powerOfTenMultiplier>-400</powerOfTenMultiplier>",
    )
    assert "powerOfTenMultiplier" in str(_rejected("green_button", data))  # was OverflowError


def test_iec_multiplier_beyond_metric_prefixes_is_refused() -> None:
    data = _replace_once(
        "iec61968_9",
        b"0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0",
        b"0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.400.72.0",
    )
    assert "multiplier" in str(_rejected("iec61968_9", data))


@pytest.mark.parametrize(
    ("interface", "old", "new"),
    [
        ("cmep", f"R0,{FIRST_KWH},".encode(), b"R0,9999999999.9,"),
        ("csv", f",{FIRST_KWH},A".encode(), b",99999999999999,A"),
        (
            "iec61968_9",
            f"<value>{FIRST_KWH}</value>".encode(),
            b"<value>1" + b"0" * 40 + b"</value>",
        ),
        ("multispeak", f"<ch>{FIRST_KWH},".encode(), b"<ch>99999999999,"),
        ("mv90_hhf", b"C,R0451001,1,KWH,0.001,1,", b"C,R0451001,1,KWH,0.001,9999999999999,"),
        ("green_button", f"<value>{FIRST_WH}</value>".encode(), b"<value>99999999999999</value>"),
    ],
)
def test_energy_beyond_storage_is_refused_not_wrapped(
    interface: str, old: bytes, new: bytes
) -> None:
    # IntervalDay stores int32 Wh: these were cast to int64 garbage (or wrapped in storage).
    error = _rejected(interface, _replace_once(interface, old, new))
    assert "out of range" in error.reason
    assert error.line is not None or error.element is not None


def test_green_button_reading_far_outside_its_block_is_refused_not_allocated() -> None:
    old = b"<timePeriod><duration>3600</duration><start>1772892000</start></timePeriod>"
    new = b"<timePeriod><duration>3600</duration><start>86400000000000</start></timePeriod>"
    error = _rejected("green_button", _replace_once("green_button", old, new))  # was MemoryError
    assert "outside its IntervalBlock" in error.reason
