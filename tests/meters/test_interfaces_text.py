"""The text interfaces (CMEP, MV-90 HHF, CSV) against the samples README and its harder cases."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meters.reads.interfaces import _localtime, _textfile, get_parser
from meters.reads.interfaces import cmep as cmep_interface
from meters.reads.interfaces import csv as csv_interface
from meters.reads.interfaces._textfile import Batcher
from meters.reads.interfaces.base import IntervalBatch, ParsedBatch, Quality, ReadFileError
from portal.calendar.localtime import local_to_utc
from tests.meters.samples import (
    GENERATED,
    TORONTO,
    SampleSet,
    interval_rows,
    iso,
    parse_path,
    register_rows,
)

TEXT_INTERFACES = ("cmep", "mv90_hhf", "csv")
SAMPLE_RECORDS = {"cmep": 6, "mv90_hhf": 149, "csv": 141}


def sample_file(interface: str, samples: SampleSet = GENERATED) -> Path:
    return samples.file(interface)


def parse_bytes(interface: str, data: bytes, **kwargs: object) -> list[ParsedBatch]:
    stream = io.BytesIO(data)
    return list(get_parser(interface)(stream, filename="gen.txt", tz=TORONTO, **kwargs))


def intervals(batches: list[ParsedBatch]) -> IntervalBatch:
    return IntervalBatch.concat([b.intervals for b in batches])


def reject(interface: str, data: bytes) -> ReadFileError:
    with pytest.raises(ReadFileError) as caught:
        parse_bytes(interface, data)
    assert caught.value.file == "gen.txt"
    return caught.value


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


# The samples and the malformed files of the README (each sample set: see tests/meters/samples.py)


@pytest.mark.parametrize("interface", TEXT_INTERFACES)
def test_sample_parses_to_expected_intervals(interface: str, sample_set: SampleSet) -> None:
    batches = parse_path(interface, sample_set.file(interface))
    assert interval_rows(batches) == sample_set.expected_intervals()
    iv = intervals(batches)
    assert set(iv.channel.tolist()) == {1}
    assert sum(b.records for b in batches) == SAMPLE_RECORDS[interface]


@pytest.mark.parametrize("interface", ("cmep", "mv90_hhf"))
def test_sample_parses_to_expected_registers(interface: str, sample_set: SampleSet) -> None:
    batches = parse_path(interface, sample_set.file(interface))
    assert register_rows(batches) == sample_set.expected_registers(interface)


def test_csv_sample_has_no_registers(sample_set: SampleSet) -> None:
    assert register_rows(parse_path("csv", sample_set.file("csv"))) == []
    assert sample_set.expected_registers("csv") == []


@pytest.mark.parametrize("interface", TEXT_INTERFACES)
def test_small_batches_give_the_same_result(interface: str, sample_set: SampleSet) -> None:
    whole = parse_path(interface, sample_set.file(interface))
    small = parse_path(interface, sample_set.file(interface), batch_reads=10)
    assert all(len(b.intervals) <= 10 for b in small)
    assert len(small) > 10
    assert interval_rows(small) == interval_rows(whole)
    assert register_rows(small) == register_rows(whole)
    assert sum(b.records for b in small) == SAMPLE_RECORDS[interface]
    for name in ("meter", "start", "minutes", "wh", "quality", "channel", "line"):
        joined = getattr(intervals(small), name)
        assert np.array_equal(joined, getattr(intervals(whole), name)), name


@pytest.mark.parametrize("interface", TEXT_INTERFACES)
def test_sample_lines_point_at_the_source(interface: str, sample_set: SampleSet) -> None:
    iv = intervals(parse_path(interface, sample_set.file(interface)))
    lines = sample_set.file(interface).read_text().splitlines()
    for meter, line in zip(iv.meter.tolist(), iv.line.tolist(), strict=True):
        source = lines[line - 1]
        assert source.startswith("D,R045") if interface == "mv90_hhf" else meter in source


# file: (line at fault, words of the reason, field of that line the reason must quote or None)
BAD_FILES: dict[str, dict[str, tuple[int, list[str], int | None]]] = {
    "cmep": {
        "truncated.txt": (3, ["47 triplets", "155 fields", "60"], None),
        "count_mismatch.txt": (1, ["48 triplets", "fields"], None),
        "out_of_order.txt": (1, ["202603071000", "does not advance"], None),
    },
    "mv90_hhf": {
        "truncated_no_trailer.txt": (60, ["truncated", "trailer"], None),
        "non_numeric_pulses.txt": (21, ["pulse"], 4),  # a pulse count ending in the letter O
        "wrong_field_count.txt": (3, ["field count", "5 fields"], None),
    },
    "csv": {
        "wrong_field_count.csv": (6, ["5 fields", "header has 4"], None),
        "non_numeric_kwh.csv": (8, ["kwh"], 2),  # a kWh value ending in the letter O
        "out_of_order.csv": (12, ["not after the previous", "MTR-1001"], None),
    },
}


@pytest.mark.parametrize("interface", TEXT_INTERFACES)
def test_every_bad_file_is_covered(interface: str, sample_set: SampleSet) -> None:
    assert sample_set.bad_names(interface) == set(BAD_FILES[interface])


@pytest.mark.parametrize(
    ("interface", "name"),
    [(interface, name) for interface, files in BAD_FILES.items() for name in files],
)
def test_bad_file_is_rejected_naming_file_and_line(
    interface: str, name: str, sample_set: SampleSet
) -> None:
    line, words, field = BAD_FILES[interface][name]
    path = sample_set.bad(interface, name)
    with pytest.raises(ReadFileError) as caught:
        parse_path(interface, path)
    error = caught.value
    assert error.file == name and error.line == line
    assert str(error).startswith(f"{name}: line {line}: ")
    if field is not None:
        token = path.read_text().splitlines()[line - 1].split(",")[field]
        assert token.endswith("O") and token[:-1].replace(".", "").isdigit(), token
        words = [*words, f"'{token}'"]
    for word in words:
        assert word in error.reason


@pytest.mark.parametrize("interface", TEXT_INTERFACES)
def test_mangled_samples_fail_only_with_read_file_error(interface: str) -> None:
    data = sample_file(interface).read_bytes()
    rng = random.Random(20260307)
    junk = b"\x00\xff\xe9,;:.\r\n\"'-+ 0123456789AENRSZT"
    for _ in range(150):
        mangled = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(mangled))
            if rng.random() < 0.3:
                del mangled[position : position + rng.randint(1, 40)]
            else:
                mangled[position] = rng.choice(junk)
        try:
            parse_bytes(interface, bytes(mangled))
        except ReadFileError as error:
            assert error.file == "gen.txt" and error.reason


@pytest.mark.parametrize("interface", TEXT_INTERFACES)
def test_empty_file_is_rejected(interface: str) -> None:
    reject(interface, b"")


class CountingStream(io.BytesIO):
    """Records how far the parser had read when it handed out its first batch."""

    def read(self, size: int | None = -1) -> bytes:
        self.high_water = self.tell()
        return super().read(size)


@pytest.mark.parametrize("interface", TEXT_INTERFACES)
def test_batches_come_while_the_file_is_read(interface: str) -> None:
    data = {"cmep": cmep_year_file, "mv90_hhf": mv90_big_file, "csv": csv_big_file}[interface]()
    stream = CountingStream(data)
    batches = get_parser(interface)(stream, filename="big", tz=TORONTO, batch_reads=5000)
    first = next(batches)
    assert len(first.intervals) <= 5000
    assert stream.high_water < len(data) // 2
    assert sum(len(b.intervals) for b in batches) > 0


# CMEP


def cmep_line(
    meter: str,
    triplets: list[tuple[str, str, str]],
    *,
    units: str = "KWH",
    constant: str = "1",
    interval: str = "00000100",
    record: str = "MEPMD01",
) -> str:
    header = [record, "20080501", "HESA", "", "OPENMDMR", "", "202611030615", meter, "OK", "E"]
    header += [units, constant, interval, str(len(triplets))]
    return ",".join(header + [field for triplet in triplets for field in triplet])


def local_labels(first_end: str, count: int, minutes: int = 60) -> list[str]:
    """Interval-ending local labels a Toronto sender writes, computed one by one with zoneinfo."""
    start = datetime.fromisoformat(first_end)
    return [
        (start + timedelta(minutes=minutes * i)).astimezone(TORONTO).strftime("%Y%m%d%H%M")
        for i in range(count)
    ]


def readings(labels: list[str], quality: str = "R0") -> list[tuple[str, str, str]]:
    return [(label, quality, f"{(i % 997) / 1000:.3f}") for i, label in enumerate(labels)]


def test_cmep_fall_back_day_has_25_distinct_hours() -> None:
    labels = local_labels("2026-11-01T05:00:00+00:00", 25)  # 01:00 EDT ... 00:00 EST next day
    assert labels[:3] == ["202611010100", "202611010100", "202611010200"]
    assert labels[-1] == "202611020000"
    iv = intervals(parse_bytes("cmep", cmep_line("M1", readings(labels)).encode()))
    first = utc("2026-11-01T04:00:00Z")
    assert iv.start.tolist() == [first + 3600 * i for i in range(25)]
    assert iv.minutes.tolist() == [60] * 25


def test_cmep_record_opening_on_a_repeated_label_takes_daylight_time() -> None:
    line = cmep_line("M1", [("202611010100", "R0", "1.000"), ("202611010100", "R0", "2.000")])
    iv = intervals(parse_bytes("cmep", line.encode()))
    assert [iso(s) for s in iv.start] == ["2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z"]


def test_cmep_label_repeated_three_times_does_not_advance() -> None:
    triplets = [
        ("202611010100", "R0", "1"),
        ("202611010100", "R0", "1"),
        ("202611010100", "R0", "1"),
    ]
    error = reject("cmep", cmep_line("M1", triplets).encode())
    assert error.line == 1 and "does not advance" in error.reason and "triplet 3" in error.reason


@pytest.mark.parametrize("minutes", [15, 60])
def test_cmep_a_whole_year_of_local_labels(minutes: int) -> None:
    count = 365 * 24 * 60 // minutes
    labels = local_labels("2026-01-01T05:00:00+00:00", count, minutes)
    per_record = 30 * 24 * 60 // minutes
    interval = f"0000{minutes // 60:02d}{minutes % 60:02d}"  # MMDDHHMM
    lines = [
        cmep_line("M1", readings(labels[i : i + per_record]), interval=interval)
        for i in range(0, count, per_record)
    ]
    iv = intervals(parse_bytes("cmep", "\n".join(lines).encode()))
    first = utc("2026-01-01T05:00:00Z") - minutes * 60
    assert np.array_equal(iv.start, first + minutes * 60 * np.arange(count))
    assert set(iv.minutes.tolist()) == {minutes}


def test_cmep_fifteen_minute_interval_field() -> None:
    labels = local_labels("2026-03-08T06:15:00+00:00", 8, 15)  # across the spring-forward jump
    assert labels[2:5] == ["202603080145", "202603080300", "202603080315"]
    line = cmep_line("M1", readings(labels), interval="00000015")
    iv = intervals(parse_bytes("cmep", line.encode()))
    assert iv.start.tolist() == [utc("2026-03-08T06:00:00Z") + 900 * i for i in range(8)]
    assert iv.minutes.tolist() == [15] * 8


def test_cmep_label_in_the_spring_gap_is_rejected() -> None:
    triplets = [("202603080100", "R0", "1.0"), ("202603080200", "R0", "1.0")]
    error = reject("cmep", cmep_line("M1", triplets).encode())
    assert error.line == 1 and "202603080200" in error.reason and "does not exist" in error.reason


def test_cmep_blank_stamps_are_previous_plus_interval() -> None:
    labels = local_labels("2026-03-08T05:00:00+00:00", 6)  # 00:00 EST then across 02:00
    stamped = intervals(parse_bytes("cmep", cmep_line("M1", readings(labels)).encode()))
    blank = readings(labels)
    blank = (
        [blank[0]]
        + [("", q, v) for _, q, v in blank[1:3]]
        + blank[3:4]
        + [("", q, v) for _, q, v in blank[4:]]
    )
    blanked = intervals(parse_bytes("cmep", cmep_line("M1", blank).encode()))
    assert blanked.start.tolist() == stamped.start.tolist()
    assert blanked.wh.tolist() == stamped.wh.tolist()


def test_cmep_blank_first_stamp_is_rejected() -> None:
    error = reject("cmep", cmep_line("M1", [("", "R0", "1.0")]).encode())
    assert "triplet 1" in error.reason


def test_cmep_units_and_calculation_constant() -> None:
    triplets = [("202603070100", "R0", "371"), ("202603070200", "R0", "264.4")]
    wh = intervals(parse_bytes("cmep", cmep_line("M1", triplets, units="WH").encode()))
    assert wh.wh.tolist() == [371, 264]
    scaled = cmep_line("M1", triplets, units="WH", constant="2.5")
    assert intervals(parse_bytes("cmep", scaled.encode())).wh.tolist() == [928, 661]
    kwh_scaled = cmep_line("M1", [("202603070100", "R0", "0.371")], constant="40")
    assert intervals(parse_bytes("cmep", kwh_scaled.encode())).wh.tolist() == [14840]


def test_cmep_register_records() -> None:
    kwh = cmep_line(
        "M1", [("202603070000", "R0", "18234.117")], units="KWHREG", interval="00000000"
    )
    wh = cmep_line("M2", [("202611010100", "R0", "5000")], units="WHREG", interval="00000000")
    batches = parse_bytes("cmep", f"{kwh}\r\n{wh}\r\n".encode())
    assert len(intervals(batches)) == 0
    assert register_rows(batches) == [
        ("M1", "2026-03-07T05:00:00Z", "18234.117"),
        ("M2", "2026-11-01T05:00:00Z", "5.000"),
    ]


def test_cmep_records_split_over_lines_in_any_order(sample_set: SampleSet) -> None:
    original = sample_set.file("cmep").read_text().splitlines()
    pieces = []
    for line in original:
        fields = line.split(",")
        triplets = [tuple(fields[i : i + 3]) for i in range(14, len(fields), 3)]
        for start in range(0, len(triplets), 10):
            part = triplets[start : start + 10]
            units = fields[10]
            interval = fields[12]
            pieces.append(cmep_line(fields[7], part, units=units, interval=interval))  # type: ignore[arg-type]
    random.Random(7).shuffle(pieces)
    batches = parse_bytes("cmep", "\r\n".join(pieces).encode())
    assert interval_rows(batches) == sample_set.expected_intervals()
    assert register_rows(batches) == sample_set.expected_registers("cmep")
    assert sum(b.records for b in batches) == len(pieces)


@pytest.mark.parametrize(
    ("code", "quality"),
    [
        ("R0", Quality.ACTUAL),
        ("A0", Quality.ACTUAL),
        ("R 00 00", Quality.ACTUAL),
        ("R", Quality.ACTUAL),
        ("E0", Quality.ESTIMATED),
        ("E12", Quality.ESTIMATED),
        ("S0", Quality.SUSPECT),
    ],
)
def test_cmep_quality_letters(code: str, quality: Quality) -> None:
    line = cmep_line("M1", [("202603070100", code, "1.5"), ("202603070200", "N0", "")])
    iv = intervals(parse_bytes("cmep", line.encode()))
    assert iv.quality.tolist() == [quality, Quality.MISSING]
    assert iv.wh.tolist() == [1500, 0]


@pytest.mark.parametrize("code", ["X0", "r0", "", "RX", "Q"])
def test_cmep_unknown_quality_is_rejected(code: str) -> None:
    error = reject("cmep", cmep_line("M1", [("202603070100", code, "1.5")]).encode())
    assert "quality" in error.reason and error.line == 1


def test_cmep_missing_with_a_value_is_rejected() -> None:
    error = reject("cmep", cmep_line("M1", [("202603070100", "N0", "0.000")]).encode())
    assert "N (missing)" in error.reason


def test_cmep_empty_value_needs_quality_n() -> None:
    error = reject("cmep", cmep_line("M1", [("202603070100", "R0", "")]).encode())
    assert "empty" in error.reason


@pytest.mark.parametrize("value", ["0.4x1", "1e3", "nan", " 1", "1_0", "-"])
def test_cmep_non_numeric_value_is_rejected(value: str) -> None:
    triplets = [("202603070100", "R0", "1"), ("202603070200", "R0", value)]
    error = reject("cmep", ("\n" + cmep_line("M1", triplets)).encode())
    assert error.line == 2 and "triplet 2" in error.reason


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"record": "MEPMD02"}, "MEPMD02"),
        ({"units": "KVARH"}, "units"),
        ({"interval": "01000000"}, "interval"),
        ({"interval": "00000000"}, "interval"),
        ({"constant": "0"}, "constant"),
        ({"constant": "x"}, "constant"),
    ],
)
def test_cmep_bad_header_is_rejected(change: dict[str, str], word: str) -> None:
    line = cmep_line("M1", [("202603070100", "R0", "1")], **change)
    good = cmep_line("M1", [("202603070100", "R0", "1")])
    error = reject("cmep", f"{good}\n{line}\n".encode())
    assert error.line == 2 and word in error.reason


def test_cmep_stamps_closer_than_an_interval_are_rejected() -> None:
    triplets = [("202603070100", "R0", "1"), ("202603070130", "R0", "1")]
    error = reject("cmep", cmep_line("M1", triplets).encode())
    assert "less than one interval" in error.reason


def test_cmep_bad_stamp_is_rejected() -> None:
    triplets = [("202603070100", "R0", "1"), ("20260307020", "R0", "1")]
    error = reject("cmep", cmep_line("M1", triplets).encode())
    assert "triplet 2" in error.reason and "20260307020" in error.reason


def test_cmep_crlf_and_bom_are_accepted(sample_set: SampleSet) -> None:
    data = sample_set.file("cmep").read_bytes().replace(b"\n", b"\r\n")
    rows = interval_rows(parse_bytes("cmep", b"\xef\xbb\xbf" + data))
    assert rows == sample_set.expected_intervals()


def test_cmep_invalid_utf8_names_the_line() -> None:
    error = reject("cmep", b"\n\n" + cmep_line("M\xff", []).encode("latin-1"))
    assert error.line == 3 and "UTF-8" in error.reason


# CMEP: the block reader (all lines of a block at once) must read as the per-line reader does


def cmep_mixed_lines() -> list[str]:
    """Lines of every shape: ones the block reader reads, ones it hands to the per-line reader."""
    january = readings(local_labels("2026-01-05T05:00:00+00:00", 24))
    fall_back = readings(local_labels("2026-11-01T04:00:00+00:00", 25))
    quarter = readings(local_labels("2026-11-01T05:15:00+00:00", 12, 15))
    days = [cmep_line(f"BM{m:03d}", january) for m in range(40)]
    codes = ["R0", "A0", "R 00 00", "R", "E12", "S0", "N0"]
    odd = ["+.5", "1.", "007", "-0.000", "1234567.8", "0.000000001", "-12.5"]
    registers = [("202601050000", "R0", "18234.117"), ("202601060000", "N0", "")]
    return [
        *days[:20],
        cmep_line("FB1", fall_back),
        cmep_line("FB2", blank_stamps(fall_back, 3)),  # blanks after a repeated label
        cmep_line("SP1", readings(local_labels("2026-03-08T05:00:00+00:00", 23))),
        cmep_line("Q15", quarter, interval="00000015"),
        cmep_line("BL1", blank_stamps(january, 5)),
        cmep_line("RG1", registers, units="KWHREG", interval="00000000"),
        cmep_line(
            "RG2", [("202601050000", "R0", "123456789.5")], units="WHREG", interval="00000000"
        ),
        cmep_line(
            "WH1",
            [
                (s, c, "" if c == "N0" else v)
                for (s, _, v), c in zip(january, codes * 4, strict=False)
            ],
            units="WH",
            constant="2.5",
        ),
        cmep_line("V1", [(s, q, v) for (s, q, _), v in zip(january, odd, strict=False)]),
        '"MEPMD01",20080501,HESA,,OPENMDMR,,202611030615,"Q,1",OK,E,KWH,1,00000100,1,'
        "202601050100,R0,1",
        cmep_line("CT1", [("202601050100", "R0", "1")]).replace(",00000100,1,", ",00000100,01,"),
        "",
        " ",
        *days[20:],
    ]


def blank_stamps(triplets: list[tuple[str, str, str]], every: int) -> list[tuple[str, str, str]]:
    """The triplets with the date/time left blank but on every ``every``-th one."""
    return [t if i % every == 0 else ("", t[1], t[2]) for i, t in enumerate(triplets)]


def cmep_line_by_line(data: bytes) -> list[ParsedBatch]:
    """What the per-line reader alone makes of ``data`` (LF line ends)."""
    batcher = Batcher(10**9)
    for number, text in enumerate(data.decode().split("\n"), 1):
        if text.strip():
            cmep_interface._read_line(text, number, "gen.txt", TORONTO, batcher)
    return list(batcher.drain())


def columns(batches: list[ParsedBatch]) -> dict[str, list[object]]:
    """Every column of the intervals and register reads, and the record count."""
    iv = intervals(batches)
    found = {f"interval {name}": v for name, v in vars(iv).items() if v is not None}
    registers = [b.registers for b in batches]
    for name in ("meter", "read_at", "wh", "channel", "line"):
        found[f"register {name}"] = np.concatenate([getattr(r, name) for r in registers])
    found["records"] = np.array([sum(b.records for b in batches)])
    return {name: [array.dtype.str, array.tolist()] for name, array in found.items()}


@pytest.fixture(params=["compiled", "numpy"])
def cmep_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The block reader's triplets read by the C extension, then by numpy alone (its stand-in
    where the extension was not built): each must read as the per-line reader does."""
    if request.param == "compiled" and cmep_interface._compiled is None:
        pytest.skip("the C extension meters.reads.interfaces._cmepscan is not built")
    if request.param == "numpy":
        monkeypatch.setattr(cmep_interface, "_compiled", None)
    return request.param


@pytest.mark.parametrize("part_bytes", [1 << 19, 700, 50])
def test_cmep_block_reader_reads_as_the_line_reader(
    part_bytes: int, monkeypatch: pytest.MonkeyPatch, cmep_reader: str
) -> None:
    monkeypatch.setattr(cmep_interface, "_PART_BYTES", part_bytes)  # parts of a few lines
    data = "\n".join(cmep_mixed_lines()).encode()
    batches = parse_bytes("cmep", data, batch_reads=100)
    assert all(len(b.intervals) <= 100 for b in batches)
    assert columns(batches) == columns(cmep_line_by_line(data))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (",R0,", ",X0,"),
        (",R0,", ",R0x,"),
        (",R0,0.", ",R0,,0."),
        (",R0,", ",N0,"),
        ("0.", "0.4x"),
        ("0.", "1e"),
        ("00,R0", "00,,R0"),
        ("202601050300", "202601050200"),
        ("202601050300", "202601050230"),
        ("202601050300", "202602300300"),
        ("202601050300", "2026010503"),
        ("202601050000", ""),  # a blank first date/time
        (",KWH,", ",KVARH,"),
        (",1,00000100,", ",0,00000100,"),
        (",00000100,", ",00000000,"),
        (",24,", ",23,"),
        (",E,", ",W,"),
        (",BM031,", ",,"),  # no meter ID
        ("MEPMD01", "MEPMD02"),
    ],
)
def test_cmep_block_reader_reports_the_line_readers_fault(
    old: str, new: str, cmep_reader: str
) -> None:
    lines = cmep_mixed_lines()
    assert ",BM031," in lines[44]  # a plain day among plain days
    lines[44] = lines[44].replace(old, new, 1)
    data = "\n".join(lines).encode()
    error = reject("cmep", data)
    with pytest.raises(ReadFileError) as expected:
        cmep_line_by_line(data)
    assert error.line == expected.value.line == 45
    assert error.reason == expected.value.reason


def test_cmep_blank_first_stamp_is_not_filled_from_the_line_before() -> None:
    # A blank date/time is the previous one + an interval, but never across lines: here the
    # line before ends exactly one interval earlier, and still the blank is a fault.
    day_before = readings(local_labels("2026-01-04T05:00:00+00:00", 24))
    day = readings(local_labels("2026-01-05T05:00:00+00:00", 24))
    lines = [cmep_line("M1", day_before), cmep_line("M1", [("", *day[0][1:]), *day[1:]]), ""]
    error = reject("cmep", "\n".join(lines).encode())  # both lines in one block
    assert error.line == 2 and "triplet 1 has no date/time" in error.reason


def test_cmep_bad_utf8_later_in_the_block_is_reported_first() -> None:
    # As the per-line reader did: a block of lines is decoded before any of its lines is read.
    lines = cmep_mixed_lines()
    lines[3] = lines[3].replace(",R0,", ",X0,", 1)
    data = "\n".join(lines).encode().replace(b"BM030", b"BM\xff30")
    assert "UTF-8" in reject("cmep", data).reason


ODD_STAMPS = ["202603070100", "202602290000", "202402290000", "190001010000", "219912312359"]
ODD_STAMPS += ["189912312359", "220001010000", "202613010000", "202600010000", "202601320000"]
ODD_STAMPS += ["202601012400", "202601010060", "2026010100/0", "20260101000:", "20260431 000"]
ODD_STAMPS += ["", "2026010100", "2026010100000", " 02601010000", "20260101000\xe9", "x"]
ODD_CODES = [
    "R0",
    "A0",
    "E",
    "S12",
    "N0",
    "R 00 00",
    "",
    "X0",
    "R0x",
    "r0",
    "\xe90",
    "R" + "0" * 30,
]
ODD_VALUES = ["0.371", "-0.000", "+.5", "1.", "00.10", "12345678", "123456789012345", "-1234.5"]
ODD_VALUES += ["9007199254740993", ".", "-", "+", "", "1.2.3", "1-2", "--1", "1e3", " 1", "nan"]
ODD_VALUES += ["0.1234567890123", "-.5", "5", "-5.", "99999.999", "1_0", "1.5 ", "\xe9"]


def test_cmep_compiled_and_numpy_readers_read_every_field_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if cmep_interface._compiled is None:
        pytest.skip("the C extension meters.reads.interfaces._cmepscan is not built")
    rng = random.Random(7)
    triplets = [
        (rng.choice(ODD_STAMPS), rng.choice(ODD_CODES), rng.choice(ODD_VALUES)) for _ in range(3000)
    ]
    triplets += [(s, c, v) for s in ODD_STAMPS for c in ODD_CODES[:3] for v in ODD_VALUES[:2]]
    triplets += [(ODD_STAMPS[0], c, v) for c in ODD_CODES for v in ODD_VALUES]
    lines = [cmep_line(f"M{i}", triplets[i : i + 7]) for i in range(0, len(triplets), 7)]
    raw = "\n".join(lines).encode() + b"\n"
    block = cmep_interface._split(raw, 1, raw.isascii())
    # The fields and lines found 16 bytes at a time, and byte by byte at the end: as numpy does.
    compiled_module = cmep_interface._compiled
    for cut in (len(raw), len(raw) - 1, 17, 16, 15, 1):
        part = raw[:cut] if raw[:cut].endswith(b"\n") else raw[:cut] + b"\n"
        by_c = cmep_interface._split(part, 1, True)
        monkeypatch.setattr(cmep_interface, "_compiled", None)
        by_numpy = cmep_interface._split(part, 1, True)
        monkeypatch.setattr(cmep_interface, "_compiled", compiled_module)
        for name in ("start", "stop", "first", "count"):
            assert getattr(by_c, name).tolist() == getattr(by_numpy, name).tolist(), (cut, name)
    rows = np.arange(block.first.size)
    counts = (block.count - cmep_interface.HEADER_FIELDS) // 3
    _, head = cmep_interface._layout(rows, counts)
    compiled = cmep_interface._scan_c(block, rows, counts, head)
    numpy = cmep_interface._scan_numpy(block, rows, counts, head)
    read = compiled.stamp == cmep_interface._READ
    assert compiled.stamp.tolist() == numpy.stamp.tolist()
    assert compiled.naive[read].tolist() == numpy.naive[read].tolist()
    assert compiled.quality.tolist() == numpy.quality.tolist()
    assert compiled.value.tolist() == numpy.value.tolist()
    assert [repr(v) for v in compiled.values] == [repr(v) for v in numpy.values]  # -0.0 too
    # Each field as the per-line reader's own helpers read it.
    for k, (stamp, code, value) in enumerate(triplets):
        try:
            expected = int(_localtime.parse_ccyymmddhhmm([stamp])[0])
            assert compiled.stamp[k] == cmep_interface._READ and compiled.naive[k] == expected
        except _localtime.StampError:
            assert compiled.stamp[k] == (
                cmep_interface._BLANK if not stamp else cmep_interface._UNREAD
            ), stamp
        try:
            quality = cmep_interface._quality([code])[0]
            assert compiled.quality[k] == quality, code
        except cmep_interface._RecordError:
            assert compiled.quality[k] == cmep_interface._NO_QUALITY, code
        try:
            number = float(_textfile.parse_decimals([value])[0])
        except _textfile.NumberError:
            assert compiled.value[k] != cmep_interface._READ, value
            continue
        if compiled.value[k] == cmep_interface._READ or len(value) <= 15:
            assert repr(float(compiled.values[k])) == repr(number), value


def test_cmep_compiled_reader_refuses_bounds_that_do_not_fit() -> None:
    if cmep_interface._compiled is None:
        pytest.skip("the C extension meters.reads.interfaces._cmepscan is not built")
    buf = np.frombuffer(b"202601010000,R0,1\n", dtype=np.uint8)
    stop = np.array([12, 15, 17], dtype=np.int64)
    out = [np.empty(1, np.int64), *(np.empty(1, np.uint8),) * 2, np.empty(1), np.empty(1, np.uint8)]
    table = cmep_interface._QUALITY_OF_BYTE
    for before, counts in (([-1], [1]), ([0], [1]), ([-1], [2])):
        with pytest.raises(ValueError, match="do not agree"):
            cmep_interface._compiled.triplets(
                buf, stop, np.array(before, np.int64), np.array(counts, np.int64), table, *out
            )


@pytest.mark.skipif(
    not __import__("os").environ.get("OPENMDMR_REQUIRE_SERVICES"),
    reason="CI (OPENMDMR_REQUIRE_SERVICES) checks that the C reader was built",
)
def test_cmep_compiled_reader_is_built_in_ci() -> None:
    assert cmep_interface._compiled is not None


def test_cmep_decimals_read_as_float_reads_them() -> None:
    texts = ["0.371", "-0.000", "+.5", "1.", "00.10", "12345678", "123456789012345", "-1234.5"]
    texts += ["9007199254740993", ".", "-", "+", "", "1.2.3", "1-2", "--1", "1e3", " 1", "nan"]
    texts += ["0.1234567890123", "-.5", "5", "-5.", "99999.999", "1_0", "1.5 "]
    raw = ",".join(texts).encode() + b"\n"
    buf = np.frombuffer(raw, dtype=np.uint8)
    stops = np.flatnonzero((buf == ord(",")) | (buf == ord("\n")))
    starts = np.concatenate([[0], stops[:-1] + 1])
    values, ok = _textfile.decimal_spans(buf, _textfile.byte_words(raw), starts, stops)
    for text, value, read in zip(texts, values.tolist(), ok.tolist(), strict=True):
        try:
            expected = float(_textfile.parse_decimals([text])[0])
        except _textfile.NumberError:
            assert not read, text
            continue
        if read or len(text) <= 15:  # 16 characters and more are left to the slow reader
            assert read and repr(value) == repr(expected), text


def test_ccyymmddhhmm_words_reads_as_parse_ccyymmddhhmm() -> None:
    texts = ["202603070100", "202602290000", "202402290000", "190001010000", "219912312359"]
    texts += ["189912312359", "220001010000", "202613010000", "202600010000", "202601320000"]
    texts += ["202601012400", "202601010060", "2026010100/0", "20260101000:", "20260431 000"]
    raw = ",".join(texts).encode() + b","
    starts = np.arange(len(texts)) * 13 + np.arange(len(texts)) % 1
    seconds, ok = _localtime.ccyymmddhhmm_words(
        *_textfile.words_at(_textfile.byte_words(raw), starts, 2)
    )
    for text, second, read in zip(texts, seconds.tolist(), ok.tolist(), strict=True):
        try:
            expected = int(_localtime.parse_ccyymmddhhmm([text])[0])
        except _localtime.StampError:
            assert not read, text
            continue
        assert read and second == expected, text


def cmep_daily_file(meters: int = 2000) -> bytes:
    """One record per meter and day, as head-ends send them: 24 hourly triplets a line."""
    labels = local_labels("2026-01-05T05:00:00+00:00", 24)
    return "\n".join(cmep_line(f"M{m}", readings(labels)) for m in range(meters)).encode()


def test_cmep_daily_records_are_read_a_block_at_a_time() -> None:
    data = cmep_daily_file()
    parse_bytes("cmep", data)  # warm up
    started = time.process_time()
    parsed = sum(len(b.intervals) for b in parse_bytes("cmep", data))
    elapsed = time.process_time() - started
    assert parsed == 2000 * 24
    # Line by line this layout ran at under 100,000 intervals/s; a block at a time, millions.
    assert parsed / elapsed > 500_000, f"{parsed / elapsed:,.0f} intervals/s"


# MV-90 HHF


def mv90_file(
    d_records: list[tuple[str, str, str]],
    *,
    start: str = "202611010000",
    stop: str = "202611010400",
    minutes: int = 60,
    ke: str = "0.001",
    multiplier: str = "1",
    offset: str = "-0500",
    trailer: str | None = None,
) -> bytes:
    """One recorder; d_records are (interval end, pulses, status)."""
    lines = [
        f"H0,202611030615,MV90XI,HHFTXT1,{offset},N",
        f"R,R1,M1,{start},{stop},{minutes},1",
        f"C,R1,1,KWH,{ke},{multiplier},100.000,200.500",
    ]
    lines += [f"D,R1,1,{end},{pulses},{status}" for end, pulses, status in d_records]
    lines.append(trailer or f"T,1,{len(lines) + 1}")
    return ("\n".join(lines) + "\n").encode()


def hourly(first: int, count: int, day: str = "20261101") -> list[str]:
    return [f"{day}{hour:02d}00" for hour in range(first, first + count)]


def test_mv90_standard_time_ignores_the_fall_back() -> None:
    ends = hourly(1, 4)
    batches = parse_bytes("mv90_hhf", mv90_file([(end, "100", "") for end in ends]))
    iv = intervals(batches)
    assert [iso(s) for s in iv.start] == [f"2026-11-01T0{h}:00:00Z" for h in range(5, 9)]
    assert register_rows(batches) == [
        ("M1", "2026-11-01T05:00:00Z", "100.000"),
        ("M1", "2026-11-01T09:00:00Z", "200.500"),
    ]


def test_mv90_offset_comes_from_h0() -> None:
    data = mv90_file([(end, "100", "") for end in hourly(1, 4)], offset="+0130")
    assert iso(intervals(parse_bytes("mv90_hhf", data)).start[0]) == "2026-10-31T22:30:00Z"


def test_mv90_fifteen_minutes_with_multipliers() -> None:
    ends = ["202611010015", "202611010030", "202611010045", "202611010100"]
    records = [(end, "123", "") for end in ends]
    data = mv90_file(records, stop="202611010100", minutes=15, ke="0.0005", multiplier="40")
    iv = intervals(parse_bytes("mv90_hhf", data))
    assert iv.wh.tolist() == [2460] * 4  # 123 pulses x 0.0005 kWh x 40 = 2.46 kWh
    assert iv.minutes.tolist() == [15] * 4
    assert iv.start.tolist() == [utc("2026-11-01T05:00:00Z") + 900 * i for i in range(4)]


@pytest.mark.parametrize(
    ("status", "quality"),
    [
        ("", Quality.ACTUAL),
        ("1", Quality.ACTUAL),
        ("9;12", Quality.ACTUAL),
        ("3", Quality.SUSPECT),
        ("18", Quality.SUSPECT),
        ("16", Quality.ESTIMATED),
        ("2;14", Quality.ESTIMATED),
        ("7", Quality.MISSING),
        ("16;7", Quality.MISSING),
    ],
)
def test_mv90_status_codes(status: str, quality: Quality) -> None:
    records = [(end, "250", status if end.endswith("0200") else "") for end in hourly(1, 4)]
    iv = intervals(parse_bytes("mv90_hhf", mv90_file(records)))
    assert iv.quality.tolist()[1] == quality
    assert iv.wh.tolist()[1] == (0 if quality == Quality.MISSING else 250)


@pytest.mark.parametrize("status", ["x", "7;", ";", "1.5", "-1"])
def test_mv90_bad_status_is_rejected(status: str) -> None:
    records = [(end, "250", status if end.endswith("0300") else "") for end in hourly(1, 4)]
    error = reject("mv90_hhf", mv90_file(records))
    assert error.line == 6 and "status" in error.reason


def test_mv90_gap_in_d_records_is_rejected() -> None:
    ends = hourly(1, 2) + hourly(4, 1)
    error = reject("mv90_hhf", mv90_file([(end, "1", "") for end in ends], stop="202611010400"))
    assert error.line == 6 and "contiguous" in error.reason


def test_mv90_recorder_stopping_early_is_rejected() -> None:
    error = reject("mv90_hhf", mv90_file([(end, "1", "") for end in hourly(1, 3)]))
    assert error.line == 7 and "data stop" in error.reason


def test_mv90_d_record_after_stop_is_rejected() -> None:
    error = reject("mv90_hhf", mv90_file([(end, "1", "") for end in hourly(1, 5)]))
    assert error.line == 8 and "after the recorder's data stop" in error.reason


@pytest.mark.parametrize("trailer", ["T,1,99", "T,2,8", "T,1"])
def test_mv90_trailer_must_count_the_file(trailer: str) -> None:
    error = reject("mv90_hhf", mv90_file([(e, "1", "") for e in hourly(1, 4)], trailer=trailer))
    assert error.line == 8


def test_mv90_record_after_trailer_is_rejected() -> None:
    data = mv90_file([(end, "1", "") for end in hourly(1, 4)]) + b"D,R1,1,202611010500,1,\n"
    assert reject("mv90_hhf", data).line == 9


def test_mv90_d_record_of_another_recorder_is_rejected() -> None:
    data = mv90_file([(end, "1", "") for end in hourly(1, 4)]).replace(
        b"D,R1,1,202611010300", b"D,R2,1,202611010300"
    )
    error = reject("mv90_hhf", data)
    assert error.line == 6 and "R2" in error.reason


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        (b"HHFTXT1", b"HHFTXT2", 1),
        (b"-0500,N", b"-0500,Y", 1),
        (b"-0500", b"EST", 1),
        (b",60,1\n", b",60,2\n", 2),
        (b"KWH,", b"KVARH,", 3),
        (b"0.001,", b"abc,", 3),
    ],
)
def test_mv90_bad_header_records_are_rejected(old: bytes, new: bytes, line: int) -> None:
    data = mv90_file([(end, "1", "") for end in hourly(1, 4)]).replace(old, new, 1)
    assert reject("mv90_hhf", data).line == line


def test_mv90_crlf_is_accepted(sample_set: SampleSet) -> None:
    data = sample_set.file("mv90_hhf").read_bytes().replace(b"\n", b"\r\n")
    assert interval_rows(parse_bytes("mv90_hhf", data)) == sample_set.expected_intervals()


# CSV


def test_csv_fifteen_minutes_and_zulu() -> None:
    rows = [
        "meter_id,timestamp,kwh,quality_flag,interval_minutes",
        "M1,2026-11-01T05:15:00Z,0.100,A,15",
        "M1,2026-11-01T05:30:00Z,0.200,E,15",
        "M1,2026-11-01T01:45:00-04:00,,M,15",
        "M1,2026-11-01T06:00:00+00:00,0.400,S,15",
        "M2,2026-11-01T01:00:00-05:00,1.000,A,60",
    ]
    iv = intervals(parse_bytes("csv", "\n".join(rows).encode()))
    assert [iso(s) for s in iv.start] == [
        "2026-11-01T05:00:00Z",
        "2026-11-01T05:15:00Z",
        "2026-11-01T05:30:00Z",
        "2026-11-01T05:45:00Z",
        "2026-11-01T05:00:00Z",
    ]
    assert iv.minutes.tolist() == [15, 15, 15, 15, 60]
    assert iv.wh.tolist() == [100, 200, 0, 400, 1000]
    assert iv.quality.tolist() == [0, 2, 3, 1, 0]


def test_csv_timestamp_without_offset_is_rejected() -> None:
    data = b"meter_id,timestamp,kwh,quality_flag\nM1,2026-03-07T01:00:00,0.1,A\n"
    error = reject("csv", data)
    assert error.line == 2 and "offset" in error.reason


@pytest.mark.parametrize("flag", ["X", "a", "", "AA"])
def test_csv_unknown_flag_is_rejected(flag: str) -> None:
    data = f"meter_id,timestamp,kwh,quality_flag\nM1,2026-03-07T01:00:00Z,0.1,{flag}\n"
    error = reject("csv", data.encode())
    assert error.line == 2 and "quality_flag" in error.reason


@pytest.mark.parametrize(
    ("row", "word"),
    [
        ("M1,2026-03-07T01:00:00Z,,A", "empty"),
        ("M1,2026-03-07T01:00:00Z,0.000,M", "missing"),
        (",2026-03-07T01:00:00Z,0.1,A", "meter_id"),
        ("M1,2026-02-30T01:00:00Z,0.1,A", "timestamp"),
    ],
)
def test_csv_bad_rows_are_rejected(row: str, word: str) -> None:
    data = f"meter_id,timestamp,kwh,quality_flag\nM1,2026-03-07T00:00:00Z,0.1,A\n{row}\n"
    error = reject("csv", data.encode())
    assert error.line == 3 and word in error.reason


@pytest.mark.parametrize(
    "header",
    ["meter_id,timestamp,kwh", "meter,timestamp,kwh,quality_flag", "METER_ID,timestamp,kwh,q"],
)
def test_csv_header_must_be_exact(header: str) -> None:
    assert reject("csv", f"{header}\nM1,2026-03-07T01:00:00Z,0.1,A\n".encode()).line == 1


def test_csv_bom_crlf_and_quotes_give_the_same_rows(sample_set: SampleSet) -> None:
    data = sample_set.file("csv").read_bytes()
    crlf = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
    quoted = data.replace(b"MTR-1002,", b'"MTR-1002",')
    assert quoted != data
    for variant in (crlf, quoted):
        assert interval_rows(parse_bytes("csv", variant)) == sample_set.expected_intervals()


def test_csv_fast_path_reads_the_sample(sample_set: SampleSet) -> None:
    lines = sample_set.file("csv").read_bytes().split(b"\n", 1)[1]
    chunk = csv_interface._fast_chunk(lines, 2, 4)
    assert chunk is not None and len(chunk.lines) == 141


def test_csv_other_iso_layouts_are_read() -> None:
    rows = ["M1,2026-03-07T01:00-05:00,0.1,A", "M1,2026-03-07 07:00:00+0000,0.2,A"]
    data = "meter_id,timestamp,kwh,quality_flag\n" + "\n".join(rows)
    iv = intervals(parse_bytes("csv", data.encode()))
    assert [iso(s) for s in iv.start] == ["2026-03-07T05:00:00Z", "2026-03-07T06:00:00Z"]


def test_csv_blank_lines_are_skipped_and_meters_interleave() -> None:
    rows = [
        "meter_id,timestamp,kwh,quality_flag",
        "",
        "B,2026-03-07T01:00:00Z,0.1,A",
        "A,2026-03-07T01:00:00Z,0.2,A",
        "",
        "B,2026-03-07T02:00:00Z,0.3,A",
        "A,2026-03-07T02:00:00Z,0.4,A",
    ]
    iv = intervals(parse_bytes("csv", "\n".join(rows).encode()))
    assert iv.meter.tolist() == ["B", "A", "B", "A"]
    assert iv.line.tolist() == [3, 4, 6, 7]


def test_csv_out_of_order_across_blocks_is_rejected() -> None:
    data = csv_big_file(meters=2, hours=30_000)  # several 1 MB blocks
    lines = data.decode().split("\n")
    lines.append(lines[1])  # MTR-000000's first row again, at the very end
    error = reject("csv", "\n".join(lines).encode())
    assert error.line == len(lines) and "MTR-000000" in error.reason
    assert "line 30001" in error.reason


def test_csv_header_and_blank_lines_only_hold_nothing() -> None:
    data = b"meter_id,timestamp,kwh,quality_flag\r\n\r\n\n"
    assert sum(len(b.intervals) for b in parse_bytes("csv", data)) == 0


def test_csv_interval_minutes_must_be_a_whole_number() -> None:
    data = (
        b"meter_id,timestamp,kwh,quality_flag,interval_minutes\nM1,2026-03-07T01:00:00Z,0.1,A,x\n"
    )
    assert "interval_minutes" in reject("csv", data).reason


# The vectorised clock


@pytest.mark.parametrize(
    "zone", ["America/Toronto", "Australia/Lord_Howe", "Europe/London", "America/St_Johns"]
)
def test_local_to_utc_matches_zoneinfo(zone: str) -> None:
    tz = ZoneInfo(zone)
    naive = np.arange(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"), 900)
    resolved = local_to_utc(naive, tz)
    for i in range(0, naive.size, 3):
        wall = datetime(1970, 1, 1) + timedelta(seconds=int(naive[i]))
        first = int(wall.replace(tzinfo=tz, fold=0).timestamp())
        second = int(wall.replace(tzinfo=tz, fold=1).timestamp())
        exists = datetime.fromtimestamp(first, tz).replace(tzinfo=None) == wall
        assert bool(resolved.nonexistent[i]) is not exists, wall
        if exists:
            assert int(resolved.first[i]) == min(first, second), wall
            assert int(resolved.second[i]) == max(first, second), wall


def test_parse_ccyymmddhhmm_matches_datetime() -> None:
    rng = np.random.default_rng(3)
    seconds = rng.integers(utc("1950-01-01T00:00:00Z"), utc("2150-01-01T00:00:00Z"), 5000) // 60
    seconds *= 60
    texts = [datetime.fromtimestamp(int(s), UTC).strftime("%Y%m%d%H%M") for s in seconds]
    assert np.array_equal(_localtime.parse_ccyymmddhhmm(texts), seconds)


@pytest.mark.parametrize(
    "text", ["202602290000", "202613010000", "202601012400", "20260101000", "2026010100000", "x"]
)
def test_parse_ccyymmddhhmm_names_the_bad_one(text: str) -> None:
    with pytest.raises(_localtime.StampError) as caught:
        _localtime.parse_ccyymmddhhmm(["202601010000", text, "202601010000"])
    assert caught.value.index == 1


# Generated files and speed


def cmep_year_file(meters: int = 40) -> bytes:
    labels = local_labels("2026-01-01T05:00:00+00:00", 720)
    return "\n".join(cmep_line(f"M{m}", readings(labels)) for m in range(meters)).encode()


def csv_big_file(meters: int = 20, hours: int = 3000) -> bytes:
    stamps = [iso(utc("2026-01-01T01:00:00Z") + 3600 * h) for h in range(hours)]
    rows = ["meter_id,timestamp,kwh,quality_flag"]
    for m in range(meters):
        rows += [f"MTR-{m:06d},{stamp},{h % 3000 / 1000:.3f},A" for h, stamp in enumerate(stamps)]
    return "\n".join(rows).encode()


def mv90_big_file(recorders: int = 20, hours: int = 2000) -> bytes:
    base = datetime(2026, 1, 1)
    labels = [(base + timedelta(hours=h)).strftime("%Y%m%d%H%M") for h in range(hours + 1)]
    lines = ["H0,202603090615,MV90XI,HHFTXT1,-0500,N"]
    for r in range(recorders):
        lines += [f"R,R{r},M{r},{labels[0]},{labels[-1]},60,1", f"C,R{r},1,KWH,0.001,1,1,2"]
        lines += [f"D,R{r},1,{label},{h % 3000}," for h, label in enumerate(labels[1:])]
    lines.append(f"T,{recorders},{len(lines) + 1}")
    return "\n".join(lines).encode()


@pytest.mark.parametrize(
    ("interface", "make", "count"),
    [
        ("cmep", cmep_year_file, 40 * 720),
        ("csv", csv_big_file, 20 * 3000),
        ("mv90_hhf", mv90_big_file, 20 * 2000),
    ],
)
def test_parsing_is_fast(interface: str, make: Callable[[], bytes], count: int) -> None:
    data = make()
    parse_bytes(interface, data)  # warm up: zone tables and imports are built once per process
    started = time.process_time()
    parsed = sum(len(b.intervals) for b in parse_bytes(interface, data))
    elapsed = time.process_time() - started
    assert parsed == count
    assert count / elapsed > 100_000, f"{count / elapsed:,.0f} intervals/s"  # generous bound
