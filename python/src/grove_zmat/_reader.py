"""Reading zmat streams block by block, with every check of docs/FORMAT.md."""

from __future__ import annotations

import io
import os
import struct
from typing import BinaryIO, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from . import _format as fmt
from ._format import Header, ZmatError
from ._xxh64 import XXH64, hex64
from ._zstd import ContentSource

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]
Block = Tuple[np.ndarray, Optional[np.ndarray]]


def _open_source(source: PathOrFile) -> Tuple[BinaryIO, str, bool]:
    """(file, name for messages, whether we opened it and so must close it)."""
    if isinstance(source, (str, bytes, os.PathLike)):
        path = os.fsdecode(source)
        return open(path, "rb"), path, True
    if not hasattr(source, "read"):
        raise TypeError(f"expected a path or a binary file object, got {type(source).__name__}")
    name = getattr(source, "name", None)
    if isinstance(source, io.TextIOBase):
        raise TypeError(f"{name or '<stream>'}: opened in text mode; open zmat streams in binary mode ('rb')")
    return source, name if isinstance(name, str) else "<stream>", False


def byte_view(a: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous array, as one flat view (of any shape, empty too)."""
    return a.reshape(-1).view(np.uint8).data


def _interleaved(labels: np.ndarray, elements: np.ndarray) -> np.ndarray:
    """Rows as the content hash sees them: each row's label (4 bytes LE) then its elements."""
    rows = labels.shape[0]
    out = np.empty((rows, 4 + elements.shape[1] * elements.dtype.itemsize), dtype=np.uint8)
    out[:, :4] = labels.astype(fmt.LABEL_DTYPE, copy=False).view(np.uint8).reshape(rows, 4)
    out[:, 4:] = elements.view(np.uint8).reshape(rows, -1)
    return out


def hash_rows(hasher: XXH64, elements: np.ndarray, labels: Optional[np.ndarray]) -> None:
    """Adds rows to a content hash (blocking does not change the result)."""
    if elements.shape[0] == 0:
        return
    data = elements if labels is None else _interleaved(labels, elements)
    hasher.update(byte_view(np.ascontiguousarray(data)))


class ZmatReader:
    """A zmat stream opened for reading; iterating yields ``(X_block, y_block)`` pairs.

    Blocks are read one at a time (writers make them about 1 MiB), so a stream of any length is
    read in bounded memory. ``y_block`` is None when rows carry no labels. Concatenated streams
    (``cat a.zmat b.zmat``) read as one matrix when their headers agree; ``metadata`` is the
    first header's. Any damage raises `ZmatError` as soon as it is read; the end marker's row
    count and content hash are checked when the iteration reaches it, so rows handed out before
    an error at the end are not yet vouched for (`load` returns nothing in that case).

    `source` is a path or a binary file object (a pipe, ``sys.stdin.buffer``, a socket's file):
    the stream is read front to back, never seeked.
    """

    def __init__(self, source: PathOrFile) -> None:
        self._file, self.name, self._owns_file = _open_source(source)
        try:
            isatty = self._file.isatty()
        except (AttributeError, ValueError):
            isatty = False
        if isatty:
            self.close()
            raise ZmatError(self.name, "refusing to read binary data from a terminal; give a file or a pipe")
        self._zstd = ContentSource(self._file, self.name)
        self._hasher = XXH64()          # every row, for `content_hash`
        self._segment_hasher: Optional[XXH64] = None  # this segment's rows, from the second on
        self._segment_rows = 0
        self._segments = 1
        self._ended = False
        #: Rows handed out so far.
        self.rows_read = 0
        #: The content hash of all rows (an int), once the end has been reached; else None.
        self.content_hash: Optional[int] = None
        try:
            header = self._read_header(allow_clean_end=False)
        except BaseException:
            self.close()
            raise
        assert header is not None
        self.header = header

    # Shape ---------------------------------------------------------------------------------

    @property
    def dtype(self) -> np.dtype:
        """The elements' numpy type: uint8, int32, float32 or float64 (little-endian)."""
        return self.header.dtype

    @property
    def columns(self) -> int:
        return self.header.columns

    @property
    def has_labels(self) -> bool:
        return self.header.has_labels

    @property
    def metadata(self) -> Dict[str, str]:
        """The first header's metadata, in stream order."""
        return dict(self.header.metadata)

    @property
    def compressed_bytes(self) -> int:
        """Compressed bytes consumed so far (the whole input once the end is reached)."""
        return self._zstd.compressed_offset

    # Reading -------------------------------------------------------------------------------

    def _fail(self, detail: str, offset: int) -> ZmatError:
        return ZmatError(self.name, f"content byte {offset}: {detail}", offset)

    def _read_exact(self, buffer: memoryview, what: str) -> None:
        start = self._zstd.content_offset
        n = self._zstd.readinto(buffer)
        if n < len(buffer):
            raise ZmatError(self.name, f"truncated at content byte {start + n}: expected {what} "
                            f"({len(buffer)} bytes), the stream ends", start + n)

    def _skip_padding(self, n: int, what: str) -> None:
        pad = fmt.padded(n) - n
        if pad:
            self._read_exact(memoryview(bytearray(pad)), what)

    def _read_header(self, allow_clean_end: bool) -> Optional[Header]:
        start = self._zstd.content_offset
        fixed = bytearray(fmt.FIXED_HEADER_SIZE)
        n = self._zstd.readinto(memoryview(fixed))
        if n == 0 and allow_clean_end:
            return None
        # A stream cut inside the magic is truncated; a different magic is not a zmat stream.
        if (n >= 8 and fixed[:8] != fmt.MAGIC) or (n < 8 and fixed[:n] != fmt.MAGIC[:n]):
            raise self._fail("not a zmat stream (wrong magic)", start)
        if n < fmt.FIXED_HEADER_SIZE:
            raise ZmatError(self.name, f"truncated at content byte {start + n}: expected a "
                            f"{fmt.FIXED_HEADER_SIZE}-byte header", start + n)
        version, code, flags, columns, meta_bytes = struct.unpack_from("<HBBII", fixed, 8)
        if version != fmt.VERSION:
            raise self._fail(f"format version {version}, this reader knows version {fmt.VERSION}", start + 8)
        if code not in fmt.DTYPES:
            raise self._fail(f"unknown element type code {code}, expected 1-4", start + 10)
        if flags > 1:
            raise self._fail(f"unknown flags {flags}", start + 11)
        if columns > fmt.MAX_COLUMNS:
            raise self._fail(f"{columns} columns is beyond the limit of {fmt.MAX_COLUMNS}", start + 12)
        if meta_bytes > fmt.MAX_METADATA_BYTES:
            raise self._fail(f"metadata of {meta_bytes} bytes is beyond the limit of {fmt.MAX_METADATA_BYTES}",
                             start + 16)
        meta = bytearray(fmt.padded(meta_bytes))
        got = self._zstd.readinto(memoryview(meta))
        if got < len(meta):
            raise ZmatError(self.name, f"truncated at content byte {self._zstd.content_offset}: expected "
                            f"{len(meta)} bytes of metadata", self._zstd.content_offset)
        try:
            metadata = fmt.decode_metadata(bytes(meta[:meta_bytes]))
        except ValueError as e:
            raise self._fail(str(e), start + fmt.FIXED_HEADER_SIZE) from None
        return Header(code, columns, flags == 1, metadata)

    def read_block(self) -> Optional[Block]:
        """The next ``(X_block, y_block)``, or None after the last end marker."""
        while not self._ended:
            tag = bytearray(8)
            tag_offset = self._zstd.content_offset
            self._read_exact(memoryview(tag), "a block or the end marker")
            (value,) = struct.unpack_from("<I", tag, 4)
            if tag[:4] == fmt.ROWS_TAG:
                return self._read_block(value, tag_offset)
            if tag[:4] != fmt.END_TAG:
                raise self._fail("expected a block tag 'ROWS' or the end marker 'END.'", tag_offset)
            rest = bytearray(16)
            self._read_exact(memoryview(rest), "the end marker's row count and hash")
            total, stored = struct.unpack("<QQ", rest)
            if total != self._segment_rows:
                raise self._fail(f"end marker says {total} rows but the stream held {self._segment_rows}",
                                 tag_offset)
            # Each stream's hash covers its own rows; the first stream's are all rows so far.
            hasher = self._segment_hasher or self._hasher
            actual = hasher.intdigest()
            if stored != actual:
                raise self._fail(f"content hash mismatch: end marker {hex64(stored)}, rows hash to "
                                 f"{hex64(actual)}", tag_offset)
            # Another stream may follow (`cat a.zmat b.zmat`).
            next_offset = self._zstd.content_offset
            following = self._read_header(allow_clean_end=True)
            if following is None:
                self._ended = True
                self.content_hash = self._hasher.intdigest()
                self.close()
                return None
            if not following.compatible(self.header):
                raise self._fail(f"a concatenated stream of {following.shape_description()} cannot follow "
                                 f"{self.header.shape_description()}", next_offset)
            self._segments += 1
            self._segment_rows = 0
            self._segment_hasher = XXH64()
        return None

    def _read_block(self, rows: int, offset: int) -> Block:
        h = self.header
        if rows == 0:
            raise self._fail("a block of 0 rows", offset)
        if rows * max(h.row_bytes, 1) > fmt.MAX_BLOCK_BYTES:
            raise self._fail(f"a block of {rows} rows x {h.columns} {fmt.TYPE_NAMES[h.type_code]} is beyond "
                             f"the block limit of {fmt.MAX_BLOCK_BYTES} bytes", offset)
        labels: Optional[np.ndarray] = None
        if h.has_labels:
            labels = np.empty(rows, dtype=fmt.LABEL_DTYPE)
            self._read_exact(byte_view(labels), f"{rows} labels")
            self._skip_padding(rows * 4, "label padding")
        # np.empty leaves the pages untouched until the rows arrive: a block header promising
        # 256 MiB costs nothing when the stream then ends.
        elements = np.empty((rows, h.columns), dtype=h.dtype)
        self._read_exact(byte_view(elements),
                         f"{rows} rows of {h.columns} {fmt.TYPE_NAMES[h.type_code]}")
        self._skip_padding(rows * h.row_bytes, "row padding")
        hash_rows(self._hasher, elements, labels)
        if self._segment_hasher is not None:
            hash_rows(self._segment_hasher, elements, labels)
        self._segment_rows += rows
        self.rows_read += rows
        return elements, labels

    def __iter__(self) -> Iterator[Block]:
        while True:
            block = self.read_block()
            if block is None:
                return
            yield block

    def read_all(self) -> Block:
        """Every remaining row: ``(X, y)``, X of shape (rows, columns), y int32 or None."""
        xs: List[np.ndarray] = []
        ys: List[np.ndarray] = []
        for x, y in self:
            xs.append(x)
            if y is not None:
                ys.append(y)
        if len(xs) == 1:
            return xs[0], (ys[0] if self.has_labels else None)
        X = np.concatenate(xs) if xs else np.empty((0, self.columns), dtype=self.dtype)
        y_all: Optional[np.ndarray] = None
        if self.has_labels:
            y_all = np.concatenate(ys) if ys else np.empty(0, dtype=fmt.LABEL_DTYPE)
        return X, y_all

    # Closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the file if this reader opened it (a file object given stays open)."""
        if self._owns_file:
            self._owns_file = False
            self._file.close()

    def __enter__(self) -> "ZmatReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(source: PathOrFile) -> Tuple[np.ndarray, Optional[np.ndarray], Dict[str, str]]:
    """Reads a whole stream: ``(X, y, metadata)``.

    X has shape (rows, columns) and the stream's type (uint8, int32, float32 or float64); y is
    the int32 row labels, or None when the stream has none; metadata is a dict of str in stream
    order. Everything is checked (frame checksums, structure, end marker, content hash) before
    anything is returned; a damaged stream raises `ZmatError`.
    """
    with ZmatReader(source) as reader:
        X, y = reader.read_all()
        return X, y, reader.metadata


def iter_blocks(source: PathOrFile) -> Iterator[Block]:
    """Yields ``(X_block, y_block)`` for each row block of a stream, in bounded memory.

    The file is closed when the iteration ends or is abandoned. For the header (type, columns,
    metadata) and the content hash, iterate a `ZmatReader` instead.
    """
    with ZmatReader(source) as reader:
        yield from reader
