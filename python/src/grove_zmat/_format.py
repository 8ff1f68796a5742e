"""The zmat wire layout (docs/FORMAT.md), its limits, and the error every check raises."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

MAGIC = b"ZMAT\r\n\x1a\n"
VERSION = 1
FIXED_HEADER_SIZE = 24
ROWS_TAG = b"ROWS"
END_TAG = b"END."
END_SIZE = 24
MAX_COLUMNS = 1 << 24
MAX_METADATA_BYTES = 16 << 20
MAX_BLOCK_BYTES = 256 << 20
#: Writers cut a block every this many bytes of elements (rows rounded down, at least 1).
TARGET_BLOCK_BYTES = 1 << 20
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

#: Element type codes and their little-endian numpy types, as the header stores them.
DTYPES: Dict[int, np.dtype] = {
    1: np.dtype("<u1"),
    2: np.dtype("<i4"),
    3: np.dtype("<f4"),
    4: np.dtype("<f8"),
}
TYPE_NAMES = {1: "uint8", 2: "int32", 3: "float32", 4: "float64"}
LABEL_DTYPE = np.dtype("<i4")


class ZmatError(ValueError):
    """A stream that is not a valid zmat stream: the message is the Swift reader's.

    ``str(error)`` reads ``FILE: what, with the byte offset`` exactly as Grove's tools print it
    (``zmat verify: FILE: ...``). ``file`` is the name used, ``offset`` the byte offset the
    message names (a content byte for the matrix layer, a compressed byte for the zstd layer),
    or None.
    """

    def __init__(self, file: str, detail: str, offset: Optional[int] = None) -> None:
        super().__init__(f"{file}: {detail}")
        self.file = file
        self.detail = detail
        self.offset = offset

    def __reduce__(self) -> Tuple[type, Tuple[str, str, Optional[int]]]:
        # Picklable (multiprocessing hands exceptions between processes).
        return (ZmatError, (self.file, self.detail, self.offset))


def padded(n: int) -> int:
    """`n` rounded up to a multiple of 8."""
    return (n + 7) & ~7


def type_code(dtype: np.dtype) -> int:
    """The header's element type code of one of the four element dtypes."""
    for code, dt in DTYPES.items():
        if dt == dtype:
            return code
    raise TypeError(f"{dtype} is not a zmat element type (uint8, int32, float32, float64)")


@dataclass
class Header:
    """What a stream says about itself before its rows."""

    type_code: int
    columns: int
    has_labels: bool
    metadata: Dict[str, str] = field(default_factory=dict)

    @property
    def dtype(self) -> np.dtype:
        return DTYPES[self.type_code]

    @property
    def row_bytes(self) -> int:
        return self.columns * self.dtype.itemsize

    def compatible(self, other: "Header") -> bool:
        return (self.type_code, self.columns, self.has_labels) == (
            other.type_code, other.columns, other.has_labels)

    def shape_description(self) -> str:
        """``uint8 x 784, labels``: the shape in the Swift tools' words."""
        labels = ", labels" if self.has_labels else ", no labels"
        return f"{TYPE_NAMES[self.type_code]} x {self.columns}{labels}"

    def encode(self) -> bytes:
        """The header bytes, zero-padded to a multiple of 8."""
        meta = bytearray(struct.pack("<I", len(self.metadata)))
        for key, value in self.metadata.items():
            kb, vb = key.encode("utf-8"), value.encode("utf-8")
            if len(kb) > 0xFFFF:
                raise ValueError(f"metadata key of {len(kb)} bytes: at most 65535")
            meta += struct.pack("<H", len(kb)) + kb + struct.pack("<I", len(vb)) + vb
        if len(meta) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata too large ({len(meta)} bytes, at most {MAX_METADATA_BYTES})")
        out = MAGIC + struct.pack("<HBBIII", VERSION, self.type_code, int(self.has_labels),
                                  self.columns, len(meta), 0) + bytes(meta)
        return out + bytes(padded(len(out)) - len(out))


def decode_metadata(raw: bytes) -> Dict[str, str]:
    """Parses the metadata section; raises ValueError("metadata byte N: ...") like Swift."""

    def fail(at: int, what: str) -> ValueError:
        return ValueError(f"metadata byte {at}: {what}")

    if len(raw) < 4:
        raise fail(0, "expected an entry count")

    def text(at: int, length_format: str, what: str) -> Tuple[str, int]:
        """The length-prefixed UTF-8 `what` at `at`, and the offset after it."""
        size = struct.calcsize(length_format)
        if at + size > len(raw):
            raise fail(at, f"expected a {what} length")
        (n,) = struct.unpack_from(length_format, raw, at)
        at += size
        if at + n > len(raw):
            raise fail(at, f"{what} runs past the section")
        try:
            return raw[at:at + n].decode("utf-8"), at + n
        except UnicodeDecodeError:
            raise fail(at, f"{what} is not UTF-8") from None

    (count,) = struct.unpack_from("<I", raw, 0)
    meta: Dict[str, str] = {}
    at = 4
    for _ in range(count):
        key, at = text(at, "<H", "key")
        value, at = text(at, "<I", "value")
        if key in meta:
            raise fail(at, f"key '{key}' appears twice")
        meta[key] = value
    if at != len(raw):
        raise fail(at, f"{len(raw) - at} unexpected trailing bytes")
    return meta
