"""glibc's malloc tuned while a read file's batches load: arrays reuse the heap instead of being
mapped and faulted in afresh, and the heap is given back after the file (no Django here)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@functools.cache
def _glibc() -> Any:
    """The C library when it is glibc (its malloc tuning calls), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


# glibc's malloc while batches load (reused): blocks up to this size come from the heap
# and are reused, and up to this much free memory stays at a heap's top. Otherwise: blocks
# from 1 MiB on are mapped, and given back as soon as they are freed.
MALLOC_REUSE_BYTES = 64 << 20
MALLOC_RETURN_BYTES = 1 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_LOADS = {"running": 0}
_LOADS_LOCK = threading.Lock()


@contextmanager
def reused() -> Iterator[None]:
    """While batches load, glibc's mmap and trim thresholds at MALLOC_REUSE_BYTES; after, a
    fixed 1 MiB mmap threshold (and glibc's default 128 KiB trim threshold).

    Left to itself glibc moves both thresholds as large blocks come and go, and with two
    loader threads the process kept about twice a batch's arrays per thread (a 1 GB file
    peaked at 431 MB). At a fixed 1 MiB mmap threshold memory stays flat, but every array of a
    batch was mapped fresh and faulted in a page at a time: 120,000-210,000 page faults and
    0.3-0.5 s of system time per 10,000 x 30 load (1.6 M faults, 6.9 s for 1 GB). At 64 MiB a
    batch's arrays reuse the heap's memory (18,000 faults, 0.12-0.22 s; 1 GB: 24,000 faults,
    2.0 s; peak 226 MB instead of 218 MB). Set for the whole process, the 64 MiB kept the
    receive's and other work's buffers (the bench's process tree peaked at 311-324 MB instead
    of 245-285); after a load, large blocks go back at once and the heap is trimmed. Several
    loads at once in one process: the thresholds go back when the last one ends."""
    libc = _glibc()
    if libc is None:
        yield
        return
    with _LOADS_LOCK:
        _LOADS["running"] += 1
        libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_REUSE_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, MALLOC_REUSE_BYTES)
    try:
        yield
    finally:
        with _LOADS_LOCK:
            _LOADS["running"] -= 1
            if not _LOADS["running"]:
                libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_RETURN_BYTES)
                libc.mallopt(_M_TRIM_THRESHOLD, 128 << 10)
                libc.malloc_trim(0)


def trim() -> None:
    """Give the heap's free memory back to the system after a file (glibc; ~2 ms): a loaded
    file otherwise left this process ~40 MB larger (154 MB -> 115 MB after 10,000 x 30 days),
    which the next file's parsing workers came on top of."""
    if (libc := _glibc()) is not None:
        libc.malloc_trim(0)
