"""Allocator settings for a process that runs the model: big buffers reused instead of mapped anew.

In: nothing (call `tune_allocator()` once, before model threads start). Out: True when glibc took the
settings. CTranslate2's encoder allocates attention buffers of tens of MB per window; glibc serves
those with mmap and unmaps them on free, so every window page-faults them in again (1.6 M faults and
~18 % of the CPU time on 8 demo clips), and each worker thread gets its own arena to trim. One arena
with no mmap/trim below 1 GiB: 0.1 M faults, the same text. Process-wide, so off with the setting
`tune_allocator = false`; a no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_KEEP_BELOW = 1 << 30  # bytes: blocks up to this size come from (and go back to) the heap


@functools.cache
def tune_allocator() -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in (
        (_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, _KEEP_BELOW), (_M_TRIM_THRESHOLD, _KEEP_BELOW)))
