"""The compression layer: concatenated zstd frames in, exact runs of content bytes out."""

from __future__ import annotations

from typing import BinaryIO, Optional

import zstandard

from ._format import ZSTD_MAGIC, ZmatError

# Compressed bytes asked of the file per read.
_READ_SIZE = 1 << 16
# Compressed bytes given to libzstd per call. One call's output is kept whole, and zstd can
# expand a few bytes into a 128 KiB block, so this bounds the memory of a hostile stream
# (about 64 MiB for 2 KiB) while costing nothing measurable on real ones.
_FEED_SIZE = 1 << 11


class ContentSource:
    """Decompresses every frame of `file` in turn, verifying each frame's checksum.

    `readinto` fills its buffer completely or stops short only where the compressed input ends
    cleanly between frames; input that ends inside a frame, is not zstd, or fails a checksum
    raises `ZmatError` with the Swift reader's words.
    """

    def __init__(self, file: BinaryIO, name: str) -> None:
        self.name = name
        self._file = file
        # read1 returns what a pipe holds now instead of waiting for a whole chunk: blocks are
        # handed out as soon as a slow producer has written them.
        self._read = getattr(file, "read1", file.read)
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame: Optional[zstandard.ZstdDecompressionObj] = None
        self._input = memoryview(b"")
        self._output = memoryview(b"")
        self._saw_input = False
        #: Compressed bytes given to libzstd so far.
        self.compressed_offset = 0
        #: Content bytes handed out so far.
        self.content_offset = 0

    def _read_file(self) -> bytes:
        chunk = self._read(_READ_SIZE)
        if isinstance(chunk, str):
            raise TypeError(f"{self.name}: opened in text mode; open zmat streams in binary mode ('rb')")
        return chunk or b""

    def _decompress_more(self) -> bool:
        """Adds output to `_output`; False when the input ended cleanly between frames."""
        if len(self._input) == 0:
            chunk = self._read_file()
            if not chunk:
                if self._frame is not None:
                    raise ZmatError(self.name, "truncated: the compressed stream ends inside a zstd frame "
                                    f"at byte {self.compressed_offset}", self.compressed_offset)
                if not self._saw_input:
                    raise ZmatError(self.name, "empty input, expected a zmat stream")
                return False
            if not self._saw_input:
                self._saw_input = True
                head = chunk[:4]
                if head != ZSTD_MAGIC[:len(head)]:
                    found = " ".join(f"{b:02x}" for b in head)
                    raise ZmatError(self.name, "not a zmat stream: expected zstd magic 28 b5 2f fd at byte 0, "
                                    f"found {found}", 0)
            self._input = memoryview(chunk)
        if self._frame is None:
            self._frame = self._decompressor.decompressobj()
        piece = self._input[:_FEED_SIZE]
        try:
            out = self._frame.decompress(piece)
        except zstandard.ZstdError as e:
            why = str(e).split(": ", 1)[-1]
            near = self.compressed_offset + len(piece)
            raise ZmatError(self.name, f"corrupt compressed data near byte {near}: {why}", near) from None
        if self._frame.eof:
            # The frame ended inside `piece`: what follows belongs to the next frame.
            unused = len(self._frame.unused_data)
            consumed = len(piece) - unused
            self._frame = None
        else:
            consumed = len(piece)
        self._input = self._input[consumed:]
        self.compressed_offset += consumed
        self._output = memoryview(out)
        return True

    def readinto(self, buffer: memoryview) -> int:
        """Fills `buffer` (a byte view); returns the count, short only at a clean end."""
        filled, want = 0, len(buffer)
        while filled < want:
            if len(self._output) == 0:
                if not self._decompress_more():
                    break
                continue
            take = min(want - filled, len(self._output))
            buffer[filled:filled + take] = self._output[:take]
            self._output = self._output[take:]
            filled += take
        self.content_offset += filled
        return filled

    def read(self, n: int) -> bytes:
        buffer = bytearray(n)
        got = self.readinto(memoryview(buffer))
        return bytes(buffer[:got])
