"""Python writes, Python reads: random shapes and types, blocks, pipes, atomic saves, input checks."""

from __future__ import annotations

import io
import os
import threading
import unittest
from typing import List

import numpy as np

import grove_zmat as zmat
from grove_zmat._xxh64 import XXH64
from support import ALL_TYPES, REPO, TempDirCase, compress, decompress, labels_for, random_matrix


def saved_bytes(X, y=None, metadata=None) -> bytes:
    out = io.BytesIO()
    zmat.save(out, X, y, metadata)
    return out.getvalue()


def assert_same(case: unittest.TestCase, got: np.ndarray, want: np.ndarray) -> None:
    """Same type, shape and bits (so -0.0 and NaN payloads count)."""
    case.assertEqual(got.dtype, want.dtype)
    case.assertEqual(got.shape, want.shape)
    case.assertEqual(got.tobytes(), want.tobytes())


class TrickleReader(io.RawIOBase):
    """A non-seekable source that hands out a few bytes per read, and counts them."""

    def __init__(self, data: bytes, most: int = 7) -> None:
        self._data, self._at, self._most, self._calls = data, 0, most, 0
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._calls += 1
        n = min(len(buffer), 1 + self._calls % self._most, len(self._data) - self._at)
        buffer[:n] = self._data[self._at:self._at + n]
        self._at += n
        self.bytes_read += n
        return n


class RoundTripTest(TempDirCase):
    def test_random_matrices_round_trip(self) -> None:
        rng = np.random.default_rng(20261203)
        for trial in range(60):
            dtype = ALL_TYPES[rng.integers(len(ALL_TYPES))]
            rows, columns = int(rng.integers(0, 300)), int(rng.integers(0, 40))
            X = random_matrix(rng, dtype, rows, columns)
            y = labels_for(rng, rows) if rng.random() < 0.5 else None
            meta = {f"key{i}-é": "".join(chr(int(c)) for c in rng.integers(32, 0x2FFF, int(rng.integers(0, 12))))
                    for i in range(int(rng.integers(0, 4)))}
            with self.subTest(trial=trial, dtype=dtype.name, shape=(rows, columns), labels=y is not None):
                stream = saved_bytes(X, y, meta)
                X2, y2, meta2 = zmat.load(io.BytesIO(stream))
                assert_same(self, X2, X)
                if y is None:
                    self.assertIsNone(y2)
                else:
                    assert_same(self, y2, y)
                self.assertEqual(list(meta2.items()), list(meta.items()))
                # Appending the same rows in arbitrary pieces writes the same bytes.
                out = io.BytesIO()
                with zmat.ZmatWriter(out, dtype, columns, labels=y is not None, metadata=meta) as w:
                    at = 0
                    while at < rows:
                        n = int(rng.integers(1, 50))
                        w.append(X[at:at + n], None if y is None else y[at:at + n])
                        at += n
                self.assertEqual(out.getvalue(), stream)

    def test_blocks_are_cut_as_the_swift_writer_cuts_them(self) -> None:
        # float64 x 100: 800-byte rows, 1 MiB blocks of 1310 rows.
        X = np.arange(3000 * 100, dtype=np.float64).reshape(3000, 100)
        path = self.dir / "big.zmat"
        zmat.save(path, X, np.arange(3000))
        sizes = [(b.shape, yb.shape) for b, yb in zmat.iter_blocks(path)]
        self.assertEqual(sizes, [((1310, 100), (1310,)), ((1310, 100), (1310,)), ((380, 100), (380,))])
        X2, y2, _ = zmat.load(path)
        assert_same(self, X2, X)
        assert_same(self, y2, np.arange(3000, dtype=np.int32))

    def test_zero_rows_and_zero_columns(self) -> None:
        for X in (np.zeros((0, 5), np.float32), np.zeros((7, 0), np.uint8), np.zeros((0, 0), np.int32)):
            with self.subTest(shape=X.shape):
                X2, y2, _ = zmat.load(io.BytesIO(saved_bytes(X, np.arange(X.shape[0]))))
                assert_same(self, X2, X)
                self.assertEqual(y2.shape, (X.shape[0],))

    def test_iteration_reads_as_it_goes(self) -> None:
        # Random bytes barely compress: the first block arrives long before the input ends.
        X = np.random.default_rng(1).integers(0, 256, size=(5000, 784), dtype=np.uint8)
        stream = saved_bytes(X)
        source = TrickleReader(stream, most=4096)
        reader = zmat.ZmatReader(source)
        blocks = iter(reader)
        first, _ = next(blocks)
        self.assertEqual(first.shape, (1337, 784))
        self.assertLess(source.bytes_read, len(stream) // 2)
        self.assertIsNone(reader.content_hash)
        rest = [b for b, _ in blocks]
        assert_same(self, np.concatenate([first] + rest), X)
        self.assertEqual(reader.content_hash, zmat.save(io.BytesIO(), X))
        self.assertEqual(reader.rows_read, 5000)
        self.assertEqual(reader.compressed_bytes, len(stream))

    def test_non_seekable_sources(self) -> None:
        X = random_matrix(np.random.default_rng(2), np.float32, 500, 9)
        stream = saved_bytes(X, np.arange(500), {"kind": "features"})
        X2, _, _ = zmat.load(TrickleReader(stream))
        assert_same(self, X2, X)
        # A real pipe, written by another thread while we read.
        r, w = os.pipe()

        def feed() -> None:
            with os.fdopen(w, "wb") as f:
                for i in range(0, len(stream), 1000):
                    f.write(stream[i:i + 1000])

        writer = threading.Thread(target=feed)
        writer.start()
        with os.fdopen(r, "rb", buffering=0) as f:
            X3, y3, meta = zmat.load(f)
        writer.join(timeout=10)
        assert_same(self, X3, X)
        self.assertEqual(meta, {"kind": "features"})

    def test_save_to_a_pipe(self) -> None:
        X = np.arange(12, dtype=np.int32).reshape(3, 4)
        r, w = os.pipe()
        result: List[object] = []
        def read() -> None:
            with os.fdopen(r, "rb") as f:
                result.append(zmat.load(f))

        reader = threading.Thread(target=read)
        reader.start()
        with os.fdopen(w, "wb") as f:
            zmat.save(f, X)
            self.assertFalse(f.closed)
        reader.join(timeout=10)
        assert_same(self, result[0][0], X)

    def test_concatenated_streams_read_as_one(self) -> None:
        rng = np.random.default_rng(4)
        a, b = random_matrix(rng, np.float64, 30, 3), random_matrix(rng, np.float64, 20, 3)
        ya, yb = labels_for(rng, 30), labels_for(rng, 20)
        first = saved_bytes(a, ya, {"kind": "features", "part": "a"})
        second = saved_bytes(b, yb, {"kind": "features", "part": "b"})
        reader = zmat.ZmatReader(io.BytesIO(first + second))
        X, y = reader.read_all()
        assert_same(self, X, np.vstack([a, b]))
        assert_same(self, y, np.concatenate([ya, yb]))
        self.assertEqual(reader.metadata["part"], "a")
        self.assertEqual(reader.content_hash, zmat.save(io.BytesIO(), np.vstack([a, b]), np.concatenate([ya, yb])))

    def test_a_later_stream_with_a_wrong_hash_is_refused(self) -> None:
        # Each stream's end marker vouches for its own rows, the second one's too.
        good = saved_bytes(np.ones((2, 2), np.uint8))
        content = bytearray(decompress(good))
        content[-1] ^= 1
        end_marker = 2 * len(content) - 24
        with self.assertRaisesRegex(zmat.ZmatError, rf"content byte {end_marker}: content hash mismatch"):
            zmat.load(io.BytesIO(good + compress(bytes(content))))

    def test_the_pure_python_hash_reads_and_writes_the_same(self) -> None:
        X = random_matrix(np.random.default_rng(5), np.uint8, 200, 33)
        y = np.arange(200)
        fast = saved_bytes(X, y)
        saved, XXH64.use_accelerator = XXH64.use_accelerator, False
        try:
            self.assertEqual(saved_bytes(X, y), fast)
            X2, _, _ = zmat.load(io.BytesIO(fast))
        finally:
            XXH64.use_accelerator = saved
        assert_same(self, X2, X)


class AtomicSaveTest(TempDirCase):
    def test_target_appears_only_when_complete(self) -> None:
        path = self.dir / "out.zmat"
        with zmat.ZmatWriter(path, np.uint8, 4) as w:
            w.append(np.zeros((10, 4), np.uint8))
            self.assertFalse(path.exists())
            self.assertEqual(len(list(self.dir.iterdir())), 1)  # the temporary sibling
        self.assertEqual([p.name for p in self.dir.iterdir()], ["out.zmat"])
        self.assertEqual(zmat.load(path)[0].shape, (10, 4))
        self.assertEqual(oct(path.stat().st_mode & 0o777), oct(0o644 & ~self.umask()))

    @staticmethod
    def umask() -> int:
        mask = os.umask(0)
        os.umask(mask)
        return mask

    def test_a_failure_leaves_the_old_file_and_no_temporary(self) -> None:
        path = self.dir / "out.zmat"
        zmat.save(path, np.ones((3, 3), np.float32))
        before = path.read_bytes()
        with self.assertRaises(ValueError):
            zmat.save(path, np.ones((3, 3), np.float32), y=[1, 2])  # one label short
        with self.assertRaises(RuntimeError):
            with zmat.ZmatWriter(path, np.float32, 3) as w:
                w.append(np.zeros((100000, 3), np.float32))
                raise RuntimeError("interrupted")
        self.assertEqual(path.read_bytes(), before)
        self.assertEqual([p.name for p in self.dir.iterdir()], ["out.zmat"])

    def test_a_writer_dropped_unclosed_leaves_nothing(self) -> None:
        w = zmat.ZmatWriter(self.dir / "out.zmat", np.uint8, 2)
        w.append(np.zeros((4, 2), np.uint8))
        del w
        self.assertEqual(list(self.dir.iterdir()), [])

    def test_a_directory_is_refused_before_writing(self) -> None:
        with self.assertRaisesRegex(IsADirectoryError, "is a directory"):
            zmat.save(self.dir, np.zeros((1, 1), np.uint8))
        self.assertEqual(list(self.dir.iterdir()), [])

    def test_devices_are_written_in_place(self) -> None:
        zmat.save(os.devnull, np.ones((3, 3), np.uint8))
        self.assertTrue(os.path.exists(os.devnull))


class InputCheckTest(unittest.TestCase):
    def test_types_are_kept_or_narrowed_safely(self) -> None:
        X, _, _ = zmat.load(io.BytesIO(saved_bytes(np.arange(6).reshape(2, 3))))   # int64 values that fit
        self.assertEqual(X.dtype, np.int32)
        X, _, _ = zmat.load(io.BytesIO(saved_bytes(np.arange(6, dtype=">f8").reshape(2, 3))))
        assert_same(self, X, np.arange(6, dtype=np.float64).reshape(2, 3))
        X, y, _ = zmat.load(io.BytesIO(saved_bytes(np.zeros((2, 1), np.uint16), np.array([7, 8], np.uint8))))
        self.assertEqual((X.dtype, y.dtype, list(y)), (np.int32, np.int32, [7, 8]))

    def test_what_a_stream_cannot_hold_is_refused(self) -> None:
        cases = [
            ((np.arange(3),), ValueError, "2-D"),
            ((np.zeros((2, 2), np.complex64),), TypeError, "cannot store complex64"),
            ((np.zeros((2, 2), np.float16),), TypeError, "cannot store float16"),
            ((np.array([[1 << 40]]),), ValueError, "do not fit int32"),
            ((np.zeros((2, 2), np.uint8), np.array([0.5, 1.0])), TypeError, "labels must be integers"),
            ((np.zeros((2, 2), np.uint8), np.array([0, 1 << 33])), ValueError, "do not fit int32"),
            ((np.zeros((2, 2), np.uint8), None, {"k": 1}), TypeError, "must be str"),
        ]
        for args, error, words in cases:
            with self.subTest(words):
                with self.assertRaisesRegex(error, words):
                    zmat.save(io.BytesIO(), *args)

    def test_appended_blocks_must_match_the_stream(self) -> None:
        w = zmat.ZmatWriter(io.BytesIO(), np.uint8, 3, labels=True)
        with self.assertRaisesRegex(ValueError, "4 columns, the stream 3"):
            w.append(np.zeros((1, 4), np.uint8), [0])
        with self.assertRaisesRegex(ValueError, "give y"):
            w.append(np.zeros((1, 3), np.uint8))
        with self.assertRaisesRegex(ValueError, "do not fit uint8"):
            w.append(np.array([[0, 1, 300]]), [0])
        with self.assertRaisesRegex(TypeError, "the stream holds uint8"):
            w.append(np.zeros((1, 3), np.float32), [0])

    def test_the_version_is_groves(self) -> None:
        swift = (REPO / "Sources/Grove/Support/GroveError.swift").read_text()
        self.assertIn(f'public static let string = "{zmat.__version__}"', swift)

    def test_default_metadata(self) -> None:
        _, _, meta = zmat.load(io.BytesIO(saved_bytes(np.zeros((1, 1), np.uint8))))
        self.assertEqual(meta, {"kind": "features", "producer": f"grove-zmat {zmat.__version__}"})

    def test_terminals_are_refused(self) -> None:
        leader, follower = os.openpty()
        try:
            with open(follower, "rb", buffering=0, closefd=False) as tty:
                with self.assertRaisesRegex(zmat.ZmatError, "refusing to read binary data from a terminal"):
                    zmat.load(tty)
            with open(follower, "wb", buffering=0, closefd=False) as tty:
                with self.assertRaisesRegex(ValueError, "refusing to write binary data to a terminal"):
                    zmat.save(tty, np.zeros((1, 1), np.uint8))
        finally:
            os.close(leader)
            os.close(follower)

    def test_errors_survive_pickling(self) -> None:
        import pickle

        e = zmat.ZmatError("a.zmat", "content byte 8: format version 2, this reader knows version 1", 8)
        again = pickle.loads(pickle.dumps(e))
        self.assertEqual((str(again), again.file, again.offset), (str(e), "a.zmat", 8))

    def test_text_mode_is_refused(self) -> None:
        with self.assertRaisesRegex(TypeError, "binary mode"):
            zmat.load(io.StringIO("ZMAT"))


if __name__ == "__main__":
    unittest.main()
