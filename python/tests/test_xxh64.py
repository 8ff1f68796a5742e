"""The content hash: published XXH64 values, streaming splits, and the optional accelerator."""

import unittest

import numpy as np

from grove_zmat import _xxh64
from grove_zmat._xxh64 import XXH64, PureXXH64


def pure(data: bytes) -> int:
    h = PureXXH64()
    h.update(data)
    return h.intdigest()


class PureXXH64Test(unittest.TestCase):
    def test_published_values(self) -> None:
        # xxHash's own test vectors for seed 0.
        self.assertEqual(pure(b""), 0xEF46DB3751D8E999)
        self.assertEqual(pure(b"a"), 0xD24EC4F1A98C6E5B)
        self.assertEqual(pure(b"abc"), 0x44BC2CF5AD770999)
        self.assertEqual(pure(b"Nobody inspects the spammish repetition"), 0xFBCEA83C8A378BF1)

    def test_any_split_gives_the_one_shot_hash(self) -> None:
        data = np.random.default_rng(7).integers(0, 256, 300, dtype=np.uint8).tobytes()
        for length in (0, 1, 3, 4, 7, 8, 31, 32, 33, 63, 64, 100, 300):
            whole = pure(data[:length])
            for cut in sorted({0, 1, length // 3, length // 2, length - 1, length}):
                if not 0 <= cut <= length:
                    continue
                h = PureXXH64()
                h.update(data[:cut])
                h.update(memoryview(data[cut:length]))
                self.assertEqual(h.intdigest(), whole, (length, cut))

    @unittest.skipIf(_xxh64._xxhash is None, "the optional xxhash package is not installed")
    def test_accelerator_agrees(self) -> None:
        import xxhash

        rng = np.random.default_rng(8)
        for length in (0, 5, 32, 1000, 65537):
            data = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
            self.assertEqual(pure(data), xxhash.xxh64_intdigest(data), length)
            h = XXH64()
            h.update(data)
            self.assertEqual(h.intdigest(), pure(data))


if __name__ == "__main__":
    unittest.main()
