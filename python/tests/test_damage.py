"""Bad input: every failure is a ZmatError worded as the Swift reader words it, never a numpy
crash or a silently wrong array. Where the Swift tools are reachable, each damaged stream is
also given to `zmat verify` and the two messages are compared."""

from __future__ import annotations

import re
import struct
import unittest
from typing import Dict, Tuple

import numpy as np

import grove_zmat as zmat
from grove_zmat._xxh64 import PureXXH64
from support import (TempDirCase, block_bytes, compress, decompress, end_bytes, header_bytes, needs_swift, run,
                     tool, verify_message)


def xxh(data: bytes) -> int:
    h = PureXXH64()
    h.update(data)
    return h.intdigest()


ELEMENTS = bytes(range(6))          # 2 rows x 3 uint8
GOOD_HASH = xxh(ELEMENTS)
LABELS = struct.pack("<2i", 4, -1)
LABELLED_HASH = xxh(LABELS[:4] + ELEMENTS[:3] + LABELS[4:] + ELEMENTS[3:])


def good_content() -> bytes:
    return header_bytes(meta={"kind": "features"}) + block_bytes(2, ELEMENTS) + end_bytes(2, GOOD_HASH)


# name -> (compressed stream, words the message must contain)
def damaged_streams() -> Dict[str, Tuple[bytes, str]]:
    good = good_content()
    frame = compress(good)
    rest = block_bytes(2, ELEMENTS) + end_bytes(2, GOOD_HASH)
    entry_k = struct.pack("<H", 1) + b"k" + struct.pack("<I", 1) + b"v"
    cases: Dict[str, Tuple[bytes, str]] = {
        "empty file": (b"", "empty input, expected a zmat stream"),
        "not zstd": (
            b"hello, world\n",
            "not a zmat stream: expected zstd magic 28 b5 2f fd at byte 0, found 68 65 6c 6c"),
        "zstd magic cut": (frame[:2], "truncated: the compressed stream ends inside a zstd frame at byte 2"),
        "frame cut short": (frame[:-5], "truncated: the compressed stream ends inside a zstd frame"),
        "checksum flipped": (frame[:-1] + bytes([frame[-1] ^ 0x40]), "corrupt compressed data near byte"),
        "garbage after the frame": (frame + b"\x00\x01\x02\x03junk", "corrupt compressed data near byte"),
        "wrong magic": (
            compress(b"ZMAT\n\x1a\n\x00" + good[8:]),
            "content byte 0: not a zmat stream (wrong magic)"),
        "text, not zmat": (compress(b"label,x0\n1,2\n"), "content byte 0: not a zmat stream (wrong magic)"),
        "cut inside the magic": (
            compress(good[:5]),
            "truncated at content byte 5: expected a 24-byte header"),
        "cut inside the header": (
            compress(good[:20]),
            "truncated at content byte 20: expected a 24-byte header"),
        "empty content": (compress(b""), "truncated at content byte 0: expected a 24-byte header"),
        "version 2": (
            compress(header_bytes(version=2) + good[32:]),
            "content byte 8: format version 2, this reader knows version 1"),
        "element type 9": (
            compress(header_bytes(code=9)),
            "content byte 10: unknown element type code 9, expected 1-4"),
        "flags 2": (compress(header_bytes(flags=2)), "content byte 11: unknown flags 2"),
        "too many columns": (
            compress(header_bytes(columns=(1 << 24) + 1)),
            "content byte 12: 16777217 columns is beyond the limit of 16777216"),
        "metadata too large": (
            compress(header_bytes(meta_raw=b"", meta_length=(16 << 20) + 1)),
            "content byte 16: metadata of 16777217 bytes is beyond the limit of 16777216"),
        "metadata cut": (compress(good[:30]), "truncated at content byte 30: expected 24 bytes of metadata"),
        "metadata key past the end": (
            compress(header_bytes(meta_raw=struct.pack("<IH", 1, 50) + b"k")),
            "content byte 24: metadata byte 6: key runs past the section"),
        "metadata not UTF-8": (
            compress(header_bytes(meta_raw=struct.pack("<IH", 1, 1) + b"\xff" + struct.pack("<I", 0)) + rest),
            "content byte 24: metadata byte 6: key is not UTF-8"),
        "metadata key twice": (
            compress(header_bytes(meta_raw=struct.pack("<I", 2) + 2 * entry_k) + rest),
            "content byte 24: metadata byte 20: key 'k' appears twice"),
        "metadata trailing bytes": (
            compress(header_bytes(meta_raw=struct.pack("<I", 0) + b"xyz")),
            "content byte 24: metadata byte 4: 3 unexpected trailing bytes"),
        "missing end marker": (
            compress(good[:-24]),
            "truncated at content byte 64: expected a block or the end marker (8 bytes), the stream ends"),
        "end marker cut": (
            compress(good[:-10]),
            "truncated at content byte 78: expected the end marker's row count and hash (16 bytes), the stream ends"),
        "rows cut": (
            compress(good[:60]),
            "truncated at content byte 60: expected 2 rows of 3 uint8 (6 bytes), the stream ends"),
        "row padding cut": (
            compress(good[:63]),
            "truncated at content byte 63: expected row padding (2 bytes), the stream ends"),
        "labels cut": (
            compress(header_bytes(flags=1) + b"ROWS" + struct.pack("<I", 2) + LABELS[:5]),
            "truncated at content byte 45: expected 2 labels (8 bytes), the stream ends"),
        "unknown tag": (
            compress(header_bytes() + b"ROWZ" + struct.pack("<I", 2) + ELEMENTS),
            "content byte 32: expected a block tag 'ROWS' or the end marker 'END.'"),
        "block of 0 rows": (
            compress(header_bytes() + block_bytes(0, b"")),
            "content byte 32: a block of 0 rows"),
        "block beyond the limit": (
            compress(header_bytes(columns=1 << 20) + b"ROWS" + struct.pack("<I", 257)),
            "content byte 32: a block of 257 rows x 1048576 uint8 is beyond the block limit of 268435456 bytes"),
        "end marker row count": (
            compress(header_bytes() + block_bytes(2, ELEMENTS) + end_bytes(3, GOOD_HASH)),
            "content byte 48: end marker says 3 rows but the stream held 2"),
        "content hash": (
            compress(header_bytes() + block_bytes(2, ELEMENTS) + end_bytes(2, GOOD_HASH ^ 1)),
            "content byte 48: content hash mismatch: end marker "),
        "a flipped element": (
            compress(good.replace(ELEMENTS, b"\x00\x01\x02\x03\x04\x07")),
            "content hash mismatch"),
        "a flipped label": (
            compress(header_bytes(flags=1) + block_bytes(2, ELEMENTS, struct.pack("<2i", 4, -2)) + end_bytes(2, LABELLED_HASH)),
            "content hash mismatch"),
        "incompatible concatenation": (
            frame + compress(header_bytes(code=3)),
            "content byte 88: a concatenated stream of float32 x 3, no labels cannot follow uint8 x 3, no labels"),
        "content after the end marker": (
            compress(good + b"\x00" * 8),
            "content byte 88: not a zmat stream (wrong magic)"),
        "second stream cut": (
            frame + compress(good[:-24]),
            "truncated at content byte 152: expected a block or the end marker"),
    }
    return cases


def python_error(path) -> zmat.ZmatError:
    try:
        zmat.load(path)
    except zmat.ZmatError as e:
        return e
    raise AssertionError(f"{path}: loaded without an error")


class DamagedStreamTest(TempDirCase):
    def test_each_damage_is_a_zmat_error_with_the_swift_words(self) -> None:
        for name, (stream, words) in damaged_streams().items():
            with self.subTest(name):
                path = self.write("bad.zmat", stream)
                e = python_error(path)
                self.assertTrue(str(e).startswith(f"{path}: "), str(e))
                self.assertIn(words, str(e))
                self.assertEqual(e.file, str(path))

    def test_the_good_stream_loads(self) -> None:
        X, y, meta = zmat.load(self.write("good.zmat", compress(good_content())))
        np.testing.assert_array_equal(X, np.arange(6, dtype=np.uint8).reshape(2, 3))
        self.assertIsNone(y)
        self.assertEqual(meta, {"kind": "features"})

    def test_every_cut_of_a_stream_is_an_error(self) -> None:
        # Two frames, labels, several blocks: a cut at any compressed byte is never a shorter matrix.
        rng = np.random.default_rng(3)
        X = rng.integers(0, 4, size=(40, 5), dtype=np.uint8)
        y = np.arange(40, dtype=np.int32)
        path = self.dir / "whole.zmat"
        with zmat.ZmatWriter(path, np.uint8, 5, labels=True) as w:
            w.append(X, y)
        one = path.read_bytes()
        stream = one + one
        for cut in range(len(stream)):
            if cut == len(one):
                continue  # the first stream alone is a good stream
            bad = self.write("cut.zmat", stream[:cut])
            with self.assertRaises(zmat.ZmatError, msg=f"cut at {cut}"):
                zmat.load(bad)

    def test_every_flipped_bit_is_an_error_or_harmless(self) -> None:
        # One bit in any byte of the compressed stream: the frame checksum, the structure or the
        # content hash catches it, or the bit is one zstd does not need (the frame header's unused
        # bit, the window size, a few entropy-table bits: 7 of 720 flips here) and the matrix
        # read is exactly the one written: never a silently different one.
        path = self.dir / "whole.zmat"
        X = np.arange(60, dtype=np.float32).reshape(12, 5)
        y = np.arange(12, dtype=np.int32)
        zmat.save(path, X, y, {"k": "v"})
        stream = path.read_bytes()
        caught = harmless = 0
        for at in range(len(stream)):
            for bit in (0x01, 0x10, 0x80):
                bad = bytearray(stream)
                bad[at] ^= bit
                try:
                    X2, y2, meta = zmat.load(self.write("flip.zmat", bytes(bad)))
                except zmat.ZmatError:
                    caught += 1
                    continue
                harmless += 1
                np.testing.assert_array_equal(X2, X, err_msg=f"flip {bit:#x} at {at}")
                np.testing.assert_array_equal(y2, y)
                self.assertEqual(meta, {"k": "v"})
        self.assertGreater(caught, 0.95 * (caught + harmless), f"{harmless} flips made no difference")

    def test_errors_name_a_file_object(self) -> None:
        import io

        e = None
        try:
            zmat.load(io.BytesIO(b"nope"))
        except zmat.ZmatError as caught:
            e = caught
        self.assertIsNotNone(e)
        self.assertTrue(str(e).startswith("<stream>: not a zmat stream"), str(e))


@needs_swift
class SwiftAgreesTest(TempDirCase):
    def test_zmat_verify_says_the_same(self) -> None:
        # The zstd error's offset is "near": libzstd's position inside the buffer it was given,
        # which differs with buffer sizes; the rest of the message is compared exactly.
        near = re.compile(r"near byte \d+")
        for name, (stream, _) in damaged_streams().items():
            with self.subTest(name):
                path = self.write("bad.zmat", stream)
                mine = near.sub("near byte N", str(python_error(path)))
                theirs = near.sub("near byte N", verify_message(path))
                self.assertEqual(mine, theirs)

    def test_random_content_damage_is_judged_alike(self) -> None:
        # Bytes of the decompressed content changed at random, then compressed again so that
        # the zstd layer is sound: both readers accept (with the same hash) or refuse alike.
        rng = np.random.default_rng(17)
        X = rng.integers(0, 9, size=(300, 6)).astype(np.float32)
        y = np.arange(300, dtype=np.int32) % 4
        content = decompress(saved_stream(X, y))
        header_end = content.index(b"ROWS")
        outcomes = {"accepted": 0, "refused": 0}
        for trial in range(150):
            damaged = bytearray(content)
            # Every third trial changes only the header: versions, types, lengths, metadata text.
            end = header_end if trial % 3 == 0 else len(content)
            for at in rng.integers(0, end, int(rng.integers(1, 4))):
                damaged[at] = int(rng.integers(0, 256))
            path = self.write("random.zmat", compress(bytes(damaged)))
            with self.subTest(trial=trial):
                result = run([tool("zmat"), "verify", str(path)], check=False)
                try:
                    with zmat.ZmatReader(path) as reader:
                        reader.read_all()
                except zmat.ZmatError as e:
                    outcomes["refused"] += 1
                    self.assertEqual(result.returncode, 1)
                    self.assertEqual(result.stderr.decode().strip(), f"zmat verify: {e}")
                else:
                    outcomes["accepted"] += 1
                    self.assertEqual(result.returncode, 0, result.stderr.decode())
                    self.assertIn(f"xxh64:{reader.content_hash:016x}", result.stdout.decode())
        # Both kinds occur: changed metadata text and padding are accepted, the rest refused.
        self.assertGreater(outcomes["accepted"], 0, outcomes)
        self.assertGreater(outcomes["refused"], 0, outcomes)


def saved_stream(X: np.ndarray, y: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    zmat.save(out, X, y, {"kind": "features", "producer": "test"})
    return out.getvalue()


if __name__ == "__main__":
    unittest.main()
