"""Writing zmat streams: the Swift writer's blocks, bytes and one zstd frame."""

from __future__ import annotations

import os
import stat
import struct
from typing import BinaryIO, List, Mapping, Optional, Union

import numpy as np
import zstandard

from . import _format as fmt
from ._format import Header
from ._reader import PathOrFile, hash_rows
from ._version import __version__
from ._xxh64 import XXH64

#: The Swift tools' zstd level: for matrices passed between stages speed wins.
DEFAULT_LEVEL = 1
DEFAULT_METADATA = {"kind": "features", "producer": f"grove-zmat {__version__}"}

_INTEGER_TYPES = (np.dtype("<u1"), np.dtype("<i4"))


def element_array(X: object, dtype: Optional[np.dtype] = None) -> np.ndarray:
    """`X` as a C-contiguous 2-D array of a zmat element type.

    Without `dtype`: uint8, int32, float32 and float64 are kept; other integer types become
    int32 when every value fits (as `zmat convert` treats .npy files). With `dtype`, integers
    convert to an integer `dtype` whose range holds every value; anything else must match.
    """
    a = np.asarray(X)
    if a.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x columns), got shape {a.shape}")
    if dtype is None:
        dtype = next((dt for dt in fmt.DTYPES.values() if dt == a.dtype.newbyteorder("<")), None)
        if dtype is None:
            if a.dtype.kind not in "iu":
                raise TypeError(f"cannot store {a.dtype} in a zmat stream: element types are uint8, int32, "
                                "float32 and float64 (integers of other widths become int32)")
            dtype = np.dtype("<i4")
    if a.dtype.newbyteorder("<") != dtype:
        if a.dtype.kind in "iu" and dtype in _INTEGER_TYPES:
            info = np.iinfo(dtype)
            if a.size and (a.min() < info.min or a.max() > info.max):
                raise ValueError(f"values from {a.min()} to {a.max()} do not fit {dtype.name}")
        else:
            raise TypeError(f"X is {a.dtype}, the stream holds {dtype.name}")
    return np.ascontiguousarray(a, dtype=dtype)


def label_array(y: object, rows: int) -> np.ndarray:
    """`y` as contiguous little-endian int32 labels, one per row."""
    a = np.asarray(y)
    if a.ndim != 1 or a.shape[0] != rows:
        raise ValueError(f"y must be 1-D with one label per row ({rows}), got shape {a.shape}")
    if a.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got {a.dtype}")
    if a.size and (a.min() < -(1 << 31) or a.max() >= 1 << 31):
        raise ValueError(f"labels from {a.min()} to {a.max()} do not fit int32")
    return np.ascontiguousarray(a, dtype=fmt.LABEL_DTYPE)


class _AtomicFile:
    """A file written to a temporary sibling (``.NAME.tmp.PID``, as the Swift tools name it)
    and renamed over `path` by `commit`; `abandon` removes it. A FIFO or device (/dev/null) is
    written in place: renaming over it would replace the node."""

    def __init__(self, path: str) -> None:
        self.path = path
        directory, base = os.path.split(path)
        if not base:
            raise IsADirectoryError(f"{path}: is a directory name, expected a file name")
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            raise IsADirectoryError(f"{path}: is a directory, expected a file name")
        if mode is not None and not stat.S_ISREG(mode):
            self.temporary: Optional[str] = None
            self.file: BinaryIO = open(path, "wb")
            return
        for attempt in range(100):
            suffix = f"{os.getpid()}" if attempt == 0 else f"{os.getpid()}.{attempt}"
            tmp = os.path.join(directory, f".{base}.tmp.{suffix}")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"{path}: no free temporary name beside it")
        self.temporary = tmp
        self.file = os.fdopen(fd, "wb")

    def commit(self) -> None:
        self.file.close()
        if self.temporary is not None:
            try:
                os.replace(self.temporary, self.path)
            except BaseException:
                self.abandon()
                raise
            self.temporary = None

    def abandon(self) -> None:
        self.file.close()
        if self.temporary is not None:
            try:
                os.unlink(self.temporary)
            except FileNotFoundError:
                pass
            self.temporary = None


class ZmatWriter:
    """Writes a zmat stream: rows appended in any amounts, cut into blocks as the Swift writer
    cuts them, one zstd frame with its checksum, and the end marker from `close`.

    `target` is a path (written atomically: nothing appears there unless `close` succeeds) or
    a binary file object (``sys.stdout.buffer`` to pipe into a Grove tool; it is not closed).
    As a context manager it closes on success and abandons the output on an exception.
    """

    def __init__(self, target: PathOrFile, dtype: Union[np.dtype, str, type], columns: int,
                 labels: bool = False, metadata: Optional[Mapping[str, str]] = None,
                 level: int = DEFAULT_LEVEL) -> None:
        code = fmt.type_code(np.dtype(dtype).newbyteorder("<"))
        if not 0 <= columns <= fmt.MAX_COLUMNS:
            raise ValueError(f"cannot write {columns} columns (at most {fmt.MAX_COLUMNS})")
        meta = dict(DEFAULT_METADATA if metadata is None else metadata)
        for key, value in meta.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"metadata keys and values must be str, got {key!r}: {value!r}")
        self.header = Header(code, columns, bool(labels), meta)
        header_bytes = self.header.encode()
        # Unknown size, as the Swift writer streams: no content size in the frame header.
        self._compressor = zstandard.ZstdCompressor(level=level, write_checksum=True,
                                                    write_content_size=False).compressobj()
        self._block_rows = max(1, min(fmt.TARGET_BLOCK_BYTES // max(1, self.header.row_bytes), 1 << 20))
        self._pending: List[np.ndarray] = []
        self._pending_labels: List[np.ndarray] = []
        self._pending_rows = 0
        self._hasher = XXH64()
        #: Rows written so far.
        self.rows_written = 0
        #: The content hash, once `close` has written it.
        self.content_hash: Optional[int] = None
        self._atomic: Optional[_AtomicFile] = None
        if isinstance(target, (str, bytes, os.PathLike)):
            self._atomic = _AtomicFile(os.fsdecode(target))
            self._out: BinaryIO = self._atomic.file
        else:
            if not hasattr(target, "write"):
                raise TypeError(f"expected a path or a binary file object, got {type(target).__name__}")
            try:
                isatty = target.isatty()
            except (AttributeError, ValueError):
                isatty = False
            if isatty:
                raise ValueError("refusing to write binary data to a terminal; give a file name or a pipe")
            self._out = target
        self._finished = False
        try:
            self._write(header_bytes)
        except BaseException:
            self.abandon()
            raise

    def _write(self, content: bytes) -> None:
        out = self._compressor.compress(content)
        if out:
            self._out.write(out)

    def append(self, X: object, y: object = None) -> None:
        """Appends rows: X of shape (rows, columns), y one integer label per row exactly when
        the stream has labels."""
        if self._finished:
            raise ValueError("append after close")
        h = self.header
        elements = element_array(X, h.dtype)
        if elements.shape[1] != h.columns:
            raise ValueError(f"X has {elements.shape[1]} columns, the stream {h.columns}")
        rows = elements.shape[0]
        if h.has_labels != (y is not None):
            raise ValueError("the stream has labels: give y" if h.has_labels
                             else "the stream has no labels: y must be None")
        labels = label_array(y, rows) if y is not None else None
        done = 0
        while done < rows:
            take = min(self._block_rows - self._pending_rows, rows - done)
            completes = self._pending_rows + take == self._block_rows
            # A part that waits for later rows is copied: the caller may reuse its array.
            part = elements[done:done + take]
            self._pending.append(part if completes else part.copy())
            if labels is not None:
                lpart = labels[done:done + take]
                self._pending_labels.append(lpart if completes else lpart.copy())
            self._pending_rows += take
            done += take
            if completes:
                self._flush()

    def _flush(self) -> None:
        rows = self._pending_rows
        if rows == 0:
            return
        elements = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        labels = None
        if self.header.has_labels:
            labels = (self._pending_labels[0] if len(self._pending_labels) == 1
                      else np.concatenate(self._pending_labels))
        self._write(fmt.ROWS_TAG + struct.pack("<I", rows))
        hash_rows(self._hasher, elements, labels)
        if labels is not None:
            self._write(labels.tobytes() + bytes(fmt.padded(rows * 4) - rows * 4))
        n = elements.nbytes
        self._write(elements.tobytes() + bytes(fmt.padded(n) - n))
        self.rows_written += rows
        self._pending, self._pending_labels, self._pending_rows = [], [], 0

    def close(self) -> int:
        """Writes the last block and the end marker, finishes the frame and (for a path)
        renames the file into place. Returns the content hash."""
        if self._finished:
            raise ValueError("close twice")
        try:
            self._flush()
            content_hash = self._hasher.intdigest()
            self._write(fmt.END_TAG + struct.pack("<IQQ", 0, self.rows_written, content_hash))
            self._out.write(self._compressor.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))
            self._finished = True
            if self._atomic is not None:
                self._atomic.commit()
            else:
                self._out.flush()
        except BaseException:
            self.abandon()
            raise
        self.content_hash = content_hash
        return content_hash

    def abandon(self) -> None:
        """Gives up: a path's temporary file is removed and the target left as it was."""
        self._finished = True
        if self._atomic is not None:
            self._atomic.abandon()

    def __del__(self) -> None:
        # Dropped without `close` (an exception in caller code): leave no temporary behind.
        if not getattr(self, "_finished", True):
            try:
                self.abandon()
            except Exception:
                pass

    def __enter__(self) -> "ZmatWriter":
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            if not self._finished:
                self.close()
        else:
            self.abandon()


def save(target: PathOrFile, X: object, y: object = None, metadata: Optional[Mapping[str, str]] = None,
         level: int = DEFAULT_LEVEL) -> int:
    """Writes X (and labels y) as one zmat stream; returns its content hash.

    X is 2-D: uint8, int32, float32 or float64 (other integer types become int32 when they
    fit). y, if given, is one integer label per row (stored as int32). metadata is a mapping
    of str to str kept in order; None writes ``kind: features`` and ``producer: grove-zmat``.
    A path is written atomically (a temporary sibling renamed into place); a file object
    (``sys.stdout.buffer``) is written and flushed, not closed.
    """
    elements = element_array(X)
    writer = ZmatWriter(target, elements.dtype, elements.shape[1], labels=y is not None,
                        metadata=metadata, level=level)
    with writer:
        writer.append(elements, y)
    assert writer.content_hash is not None
    return writer.content_hash
