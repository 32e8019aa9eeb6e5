"""The tests' data stands in the repository: the generated samples are what generate.py writes,
every sample set holds the README's data set, and the public files are the copies SOURCES.md names.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from tests.data import generate
from tests.meters.samples import PUBLIC, REPO, SAMPLES, SampleSet


def test_committed_samples_are_what_the_generator_writes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.data.generate", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(generate.build())} files in {SAMPLES}" in done.stdout


def test_check_names_each_file_that_differs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert generate.main(["--out", str(tmp_path)]) == 0
    assert generate.main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "csv" / "intervals_20260307_20260308.csv").write_text("meter_id\n")
    (tmp_path / "registry.csv").unlink()
    (tmp_path / "bad" / "csv" / "stray.csv").write_text("x")
    capsys.readouterr()
    assert generate.main(["--out", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert f"differs: {tmp_path / 'csv' / 'intervals_20260307_20260308.csv'}" in err
    assert f"missing: {tmp_path / 'registry.csv'}" in err
    assert f"unexpected: {tmp_path / 'bad' / 'csv' / 'stray.csv'}" in err
    assert generate.main(["--out", str(tmp_path)]) == 0  # writing again repairs all three
    assert generate.main(["--out", str(tmp_path), "--check"]) == 0


def test_a_set_holds_the_readme_data_set(sample_set: SampleSet) -> None:
    rows = sample_set.expected_intervals()
    assert Counter(r[0] for r in rows) == {"MTR-1001": 47, "MTR-1002": 47, "MTR-1003": 47}
    assert (rows[0][1], rows[-1][2]) == ("2026-03-07T05:00:00Z", "2026-03-09T04:00:00Z")
    odd = [r for r in rows if r[4] != "ACTUAL"]
    assert odd == [
        ("MTR-1002", "2026-03-07T19:00:00Z", "2026-03-07T20:00:00Z", "", "MISSING"),
        ("MTR-1003", "2026-03-08T13:00:00Z", "2026-03-08T14:00:00Z", "8.717", "ESTIMATED"),
    ]
    assert all(re.fullmatch(r"\d+\.\d{3}", r[3]) for r in rows if r[4] != "MISSING")
    for meter in ("MTR-1001", "MTR-1002", "MTR-1003"):
        sent = sum(round(Decimal(r[3]) * 1000) for r in rows if r[0] == meter and r[3])
        unsent = sample_set.register_delta_wh(meter) - sent
        # The register counted on through the missing hour of MTR-1002, and only there.
        assert (unsent > 0) if meter == "MTR-1002" else (unsent == 0), (meter, unsent)


def test_generated_values_never_repeat_three_times(sample_set: SampleSet) -> None:
    """Three equal reads in a row are VEE's 'frozen' rule (V08): a sample set has none."""
    rows = sample_set.expected_intervals()
    for a, b, c in zip(rows, rows[1:], rows[2:], strict=False):
        assert not (a[0] == b[0] == c[0] and a[3] == b[3] == c[3] != ""), (a, b, c)


def sources() -> dict[str, str]:
    text = (PUBLIC / "SOURCES.md").read_text()
    return {path: digest for digest, path in re.findall(r"^([0-9a-f]{64})  (\S+)$", text, re.M)}


def test_public_files_are_the_copies_sources_names() -> None:
    on_disk = {
        p.relative_to(PUBLIC).as_posix()
        for p in PUBLIC.rglob("*")
        if p.is_file() and p.name != "SOURCES.md"
    }
    listed = sources()
    assert set(listed) == on_disk
    for path, digest in listed.items():
        assert hashlib.sha256((PUBLIC / path).read_bytes()).hexdigest() == digest, path


@pytest.mark.parametrize("folder", ["green_button", "cmep"])
def test_public_files_keep_their_licence(folder: str) -> None:
    (licence,) = (PUBLIC / folder).glob("LICENSE-*.txt")
    text = licence.read_text()
    assert "Permission is hereby granted" in text or "Apache License" in text
    sources_md = (PUBLIC / "SOURCES.md").read_text()
    for data in (PUBLIC / folder).iterdir():
        if not data.name.startswith("LICENSE"):
            assert f"`{folder}/{data.name}`" in sources_md, data.name
