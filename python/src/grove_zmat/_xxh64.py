"""XXH64 (xxHash, 64-bit, seed 0), streaming: the zmat content hash.

The pure-Python rounds are the reference; when the optional ``xxhash`` package is installed
its C implementation is used instead (the values are the same, and the tests compare them).
"""

from __future__ import annotations

import struct
from types import ModuleType
from typing import Optional, Protocol, Union

_P1 = 11400714785074694791
_P2 = 14029467366897019727
_P3 = 1609587929392839161
_P4 = 9650029242287828579
_P5 = 2870177450012600261
_MASK = (1 << 64) - 1

Bytes = Union[bytes, bytearray, memoryview]


def _round(acc: int, word: int) -> int:
    x = (acc + word * _P2) & _MASK
    return (((x << 31) | (x >> 33)) * _P1) & _MASK


def _merge_round(acc: int, value: int) -> int:
    return ((acc ^ _round(0, value)) * _P1 + _P4) & _MASK


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK


class PureXXH64:
    """XXH64 in Python integers (about 12 MB/s here): correct everywhere, slow on large streams."""

    __slots__ = ("_v1", "_v2", "_v3", "_v4", "_total", "_tail")

    def __init__(self) -> None:
        self._v1 = (_P1 + _P2) & _MASK
        self._v2 = _P2
        self._v3 = 0
        self._v4 = (-_P1) & _MASK
        self._total = 0
        self._tail = b""

    def update(self, data: Bytes) -> None:
        view = memoryview(data)
        if view.nbytes == 0:
            return
        view = view.cast("B")
        self._total += len(view)
        if self._tail:
            take = min(32 - len(self._tail), len(view))
            self._tail += bytes(view[:take])
            view = view[take:]
            if len(self._tail) < 32:
                return
            self._stripes(self._tail)
            self._tail = b""
        whole = len(view) & ~31
        if whole:
            self._stripes(view[:whole])
        self._tail = bytes(view[whole:])

    def _stripes(self, data: Bytes) -> None:
        # The four lanes inlined: this loop is where all the time goes.
        v1, v2, v3, v4 = self._v1, self._v2, self._v3, self._v4
        p1, p2, m = _P1, _P2, _MASK
        for w1, w2, w3, w4 in struct.iter_unpack("<4Q", data):
            x = (v1 + w1 * p2) & m
            v1 = ((x << 31 | x >> 33) * p1) & m
            x = (v2 + w2 * p2) & m
            v2 = ((x << 31 | x >> 33) * p1) & m
            x = (v3 + w3 * p2) & m
            v3 = ((x << 31 | x >> 33) * p1) & m
            x = (v4 + w4 * p2) & m
            v4 = ((x << 31 | x >> 33) * p1) & m
        self._v1, self._v2, self._v3, self._v4 = v1, v2, v3, v4

    def intdigest(self) -> int:
        if self._total >= 32:
            v1, v2, v3, v4 = self._v1, self._v2, self._v3, self._v4
            h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _MASK
            for v in (v1, v2, v3, v4):
                h = _merge_round(h, v)
        else:
            h = _P5
        h = (h + self._total) & _MASK
        tail, i = self._tail, 0
        while i + 8 <= len(tail):
            (word,) = struct.unpack_from("<Q", tail, i)
            h ^= _round(0, word)
            h = (_rotl(h, 27) * _P1 + _P4) & _MASK
            i += 8
        if i + 4 <= len(tail):
            (word,) = struct.unpack_from("<I", tail, i)
            h ^= (word * _P1) & _MASK
            h = (_rotl(h, 23) * _P2 + _P3) & _MASK
            i += 4
        while i < len(tail):
            h ^= (tail[i] * _P5) & _MASK
            h = (_rotl(h, 11) * _P1) & _MASK
            i += 1
        h ^= h >> 33
        h = (h * _P2) & _MASK
        h ^= h >> 29
        h = (h * _P3) & _MASK
        h ^= h >> 32
        return h


class _Hasher(Protocol):
    def update(self, data: Bytes) -> None: ...

    def intdigest(self) -> int: ...


_xxhash: Optional[ModuleType]
try:
    import xxhash as _xxhash
except ImportError:  # the optional accelerator is absent: the pure rounds serve
    _xxhash = None


class XXH64:
    """The content hasher: xxhash's C code when installed, else `PureXXH64`."""

    __slots__ = ("_impl",)

    #: Set to False (tests do) to force the pure-Python rounds.
    use_accelerator = _xxhash is not None

    def __init__(self) -> None:
        self._impl: _Hasher
        if XXH64.use_accelerator and _xxhash is not None:
            self._impl = _xxhash.xxh64(seed=0)
        else:
            self._impl = PureXXH64()

    def update(self, data: Bytes) -> None:
        self._impl.update(data)

    def intdigest(self) -> int:
        return self._impl.intdigest()


def hex64(value: Optional[int]) -> str:
    """16 lowercase hex digits, as `zmat info` prints content hashes after ``xxh64:``."""
    return format(value or 0, "016x")
