"""raw_block_bounds finds exactly the blocks read_raw_blocks yields, without their bytes."""

from __future__ import annotations

import io

import pytest

from meters.reads.interfaces import _textfile
from meters.reads.interfaces._textfile import _BOM, raw_block_bounds, read_raw_blocks
from meters.reads.interfaces.base import ReadFileError

CASES = {
    "empty": b"",
    "one line": b"a,b,c\n",
    "no final newline": b"a\nbb\nccc",
    "bom": _BOM + b"x,1\ny,2\n" * 50,
    "short lines": b"".join(b"%d,%s\n" % (i, b"z" * (i % 13)) for i in range(500)),
    "a line longer than a block": b"head\n" + b"q" * 300 + b"\ntail\n",
    "only newlines": b"\n" * 70,
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("block_bytes", [7, 64, 1 << 20])
def test_bounds_are_the_blocks_read_raw_blocks_yields(name: str, block_bytes: int) -> None:
    data = CASES[name]
    blocks = list(read_raw_blocks(io.BytesIO(data), "f.txt", block_bytes))
    bounds = list(raw_block_bounds(io.BytesIO(data), "f.txt", block_bytes))
    assert [(first, len(raw)) for first, raw in blocks] == [(f, n) for _, n, f in bounds]
    assert [data[offset : offset + n] for offset, n, _ in bounds] == [raw for _, raw in blocks]


def test_a_line_without_end_is_refused_with_its_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_textfile, "MAX_LINE_BYTES", 100)
    data = b"ok\nok\n" + b"x" * 500
    with pytest.raises(ReadFileError) as raw_error:
        list(read_raw_blocks(io.BytesIO(data), "f.txt", 16))
    with pytest.raises(ReadFileError) as bounds_error:
        list(raw_block_bounds(io.BytesIO(data), "f.txt", 16))
    assert str(bounds_error.value) == str(raw_error.value)
    assert bounds_error.value.line == 3
