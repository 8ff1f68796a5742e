"""Both ways against Grove's Swift tools: Swift writes every element type and Python reads the
same values and content hash; Python writes and `zmat verify` / `zmat info` agree; a matrix
saved with a tool's metadata is the tool's stream, byte for byte (with the same libzstd)."""

from __future__ import annotations

import io
import json
import subprocess
import threading
import unittest
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import zstandard

import grove_zmat as zmat
from support import (ALL_TYPES, REPO, TempDirCase, decompress, labels_for, needs_swift, random_matrix, run,
                     tool, tools_zstd_version, verify_hash)


def convert_metadata(npy_name: str) -> dict:
    """The metadata `zmat convert X.npy` writes, in its order."""
    return {"kind": "features", "producer": "zmat convert 0.1.0", "source": npy_name}


@needs_swift
class SwiftWritesTest(TempDirCase):
    def swift_stream(self, X: np.ndarray, y=None, name: str = "x") -> "tuple":
        npy = f"{name}.npy"
        np.save(self.dir / npy, X)
        args = [tool("zmat"), "convert", npy, "-o", f"{name}.zmat"]
        if y is not None:
            np.save(self.dir / f"{name}-y.npy", y)
            args += ["--labels-from", f"{name}-y.npy"]
        run(args, cwd=self.dir)
        return self.dir / f"{name}.zmat", npy

    def for_every_type(self, seed: int,
                       check: Callable[[np.ndarray, Optional[np.ndarray], Path, str], None]) -> None:
        """Calls check(X, y, stream path, npy name) in a subtest for each element type, with and
        without labels, on a stream `zmat convert` wrote."""
        rng = np.random.default_rng(seed)
        for dtype in ALL_TYPES:
            for labelled in (False, True):
                # 2,500 x 60 float64 is 1.2 MB: more than one block for the wider types.
                X = random_matrix(rng, dtype, 2500, 60)
                y = labels_for(rng, 2500) if labelled else None
                with self.subTest(dtype=dtype.name, labels=labelled):
                    path, npy = self.swift_stream(X, y)
                    check(X, y, path, npy)

    def test_every_element_type_reads_back(self) -> None:
        def check(X: np.ndarray, y: Optional[np.ndarray], path: Path, npy: str) -> None:
            with zmat.ZmatReader(path) as reader:
                X2, y2 = reader.read_all()
                self.assertEqual(X2.tobytes(), X.tobytes())
                self.assertEqual(X2.dtype, X.dtype)
                if y is not None:
                    self.assertEqual(y2.tobytes(), y.tobytes())
                else:
                    self.assertIsNone(y2)
                self.assertEqual(reader.metadata, convert_metadata(npy))
                self.assertEqual(format(reader.content_hash, "016x"), verify_hash(path))
                self.assertEqual(reader.compressed_bytes, path.stat().st_size)
            # The same matrix saved from Python: the same content, byte for byte.
            mine = self.dir / "mine.zmat"
            zmat.save(mine, X, y, convert_metadata(npy))
            self.assertEqual(decompress(mine.read_bytes()), decompress(path.read_bytes()))

        self.for_every_type(11, check)

    def test_saves_are_byte_identical_to_the_tools(self) -> None:
        # The zstd frames are identical only when both sides run the same libzstd: its releases
        # compress the same input differently (1.5.7 and 1.5.4 differ on Fashion-MNIST's
        # pixels). mk/python.mk installs the zstandard release that bundles the system's.
        theirs = tools_zstd_version()
        if theirs != zstandard.ZSTD_VERSION:
            self.skipTest(f"zstandard bundles libzstd {zstandard.ZSTD_VERSION}, the tools run {theirs}")

        def check(X: np.ndarray, y: Optional[np.ndarray], path: Path, npy: str) -> None:
            mine = self.dir / "mine.zmat"
            zmat.save(mine, X, y, convert_metadata(npy))
            self.assertEqual(mine.read_bytes(), path.read_bytes())

        self.for_every_type(16, check)
        # Decoded pixels (mnist-decode's metadata, 1.6 MB, two blocks) saved again from Python.
        run([tool("mnist-decode"), str(REPO / "datasets/mnist-images-2k"), "-o", "pixels.zmat"], cwd=self.dir)
        X, y, meta = zmat.load(self.dir / "pixels.zmat")
        zmat.save(self.dir / "again.zmat", X, y, meta)
        self.assertEqual((self.dir / "again.zmat").read_bytes(), (self.dir / "pixels.zmat").read_bytes())

    def test_tool_outputs_read_back(self) -> None:
        # Real outputs of the pipeline: decoded pixels, a PCA model, projected features, a forest,
        # predictions and probabilities; values compared with `zmat convert`'s .npy export.
        d = self.dir
        run([tool("mnist-decode"), str(REPO / "datasets/mnist-images-2k"), "-o", "train.zmat"], cwd=d)
        run([tool("pca-fit"), "-k", "6", "train.zmat", "-o", "pca.zmat"], cwd=d)
        run([tool("pca-project"), "-m", "pca.zmat", "train.zmat", "-o", "features.zmat"], cwd=d)
        run([tool("rf-tree"), "--trees", "3", "--seed", "1", "features.zmat", "-o", "forest.zmat"], cwd=d)
        run([tool("rf-predict"), "-m", "forest.zmat", "features.zmat", "-o", "pred.zmat"], cwd=d)
        run([tool("rf-predict"), "--proba", "-m", "forest.zmat", "features.zmat", "-o", "proba.zmat"], cwd=d)
        expected_types = {"train": np.uint8, "pca": np.float64, "features": np.float32, "pred": np.int32,
                          "proba": np.float32}
        for name in ["train", "pca", "features", "forest", "pred", "proba"]:
            with self.subTest(name):
                path = d / f"{name}.zmat"
                X, y, meta = zmat.load(path)
                if name in expected_types:
                    self.assertEqual(X.dtype, expected_types[name])
                run([tool("zmat"), "convert", path.name, "-o", f"{name}.npy"], cwd=d)
                np.testing.assert_array_equal(X, np.load(d / f"{name}.npy"))
                info = json.loads(run([tool("zmat"), "info", "--json", path.name], cwd=d).stdout)
                self.assertEqual(meta, info["metadata"])
                self.assertEqual((info["rows"], info["columns"]), X.shape)
                self.assertEqual(info["labels"], y is not None)
                if y is not None:
                    run([tool("zmat"), "convert", path.name, "--labels", "-o", f"{name}-y.npy"], cwd=d)
                    np.testing.assert_array_equal(y, np.load(d / f"{name}-y.npy"))
                reader = zmat.ZmatReader(path)
                reader.read_all()
                self.assertEqual("xxh64:" + format(reader.content_hash, "016x"), info["content_hash"])
        self.assertEqual(zmat.load(d / "train.zmat")[0].shape, (2000, 784))

    def test_concatenations_read_as_one_matrix(self) -> None:
        rng = np.random.default_rng(12)
        a, _ = self.swift_stream(random_matrix(rng, np.float32, 40, 5), labels_for(rng, 40), "a")
        b, _ = self.swift_stream(random_matrix(rng, np.float32, 30, 5), labels_for(rng, 30), "b")
        catted = self.write("cat.zmat", a.read_bytes() + b.read_bytes())
        run([tool("zmat"), "cat", "a.zmat", "b.zmat", "-o", "zcat.zmat"], cwd=self.dir)
        Xa, ya, _ = zmat.load(a)
        Xb, yb, _ = zmat.load(b)
        for path in (catted, self.dir / "zcat.zmat"):
            with self.subTest(path.name):
                reader = zmat.ZmatReader(path)
                X, y = reader.read_all()
                np.testing.assert_array_equal(X, np.vstack([Xa, Xb]))
                np.testing.assert_array_equal(y, np.concatenate([ya, yb]))
                self.assertEqual(format(reader.content_hash, "016x"), verify_hash(path))

    def test_reading_a_tools_standard_output(self) -> None:
        path, _ = self.swift_stream(np.arange(800, dtype=np.uint8).reshape(100, 8) % 251, np.arange(100))
        with subprocess.Popen([tool("zmat"), "head", "-n", "7", str(path)], stdout=subprocess.PIPE) as p:
            X, y, _ = zmat.load(p.stdout)
        self.assertEqual(p.returncode, 0)
        np.testing.assert_array_equal(X, (np.arange(800).reshape(100, 8) % 251)[:7])
        np.testing.assert_array_equal(y, np.arange(7))


@needs_swift
class PythonWritesTest(TempDirCase):
    def test_zmat_verify_accepts_every_type_and_shape(self) -> None:
        rng = np.random.default_rng(13)
        for dtype in ALL_TYPES:
            for rows, columns in ((0, 4), (5, 0), (1, 1), (3000, 70)):
                for labelled in (False, True):
                    X = random_matrix(rng, dtype, rows, columns)
                    y = labels_for(rng, rows) if labelled else None
                    with self.subTest(dtype=dtype.name, shape=(rows, columns), labels=labelled):
                        path = self.dir / "p.zmat"
                        content_hash = zmat.save(path, X, y, {"kind": "features", "note": "ünïcode ✓"})
                        out = run([tool("zmat"), "verify", str(path)]).stdout.decode()
                        shape = f"{dtype.name} x {columns}, {'labels' if labelled else 'no labels'}"
                        self.assertEqual(out, f"{path}: ok, {rows} rows, {shape}, xxh64:{content_hash:016x}\n")

    def test_zmat_info_describes_it_as_a_swift_written_stream(self) -> None:
        rng = np.random.default_rng(14)
        X, y = random_matrix(rng, np.float32, 2000, 30), rng.integers(0, 10, 2000)
        np.save(self.dir / "X.npy", X)
        np.save(self.dir / "y.npy", y.astype(np.int32))
        run([tool("zmat"), "convert", "X.npy", "--labels-from", "y.npy", "-o", "swift.zmat"], cwd=self.dir)
        zmat.save(self.dir / "python.zmat", X, y, convert_metadata("X.npy"))
        for flags in ([], ["--json"]):
            with self.subTest(flags=flags):
                theirs = run([tool("zmat"), "info", *flags, "swift.zmat"], cwd=self.dir).stdout.decode()
                mine = run([tool("zmat"), "info", *flags, "python.zmat"], cwd=self.dir).stdout.decode()
                self.assertEqual(mine.replace("python.zmat", "swift.zmat"), theirs)
                self.assertIn('"label_counts"' if flags else "labels:        yes, 10 distinct", theirs)

    def test_a_python_stream_through_the_tools(self) -> None:
        # Python -> pipe -> rf-tree -> forest -> rf-predict -> Python.
        rng = np.random.default_rng(15)
        y = rng.integers(0, 3, 600)
        X = (rng.normal(size=(600, 4)) + 3 * y[:, None]).astype(np.float32)
        buffer = io.BytesIO()
        zmat.save(buffer, X, y)
        run([tool("rf-tree"), "--trees", "5", "--seed", "1", "-o", "forest.zmat"], cwd=self.dir,
            stdin=buffer.getvalue())
        with subprocess.Popen([tool("rf-predict"), "-m", "forest.zmat"], cwd=self.dir, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE) as p:
            # Written while rf-predict runs: a pipe both ways, so read its output in a thread.
            result = []
            reader = threading.Thread(target=lambda: result.append(zmat.load(p.stdout)))
            reader.start()
            zmat.save(p.stdin, X, y)
            p.stdin.close()
            reader.join(timeout=30)
        self.assertEqual(p.returncode, 0)
        predicted, truth, meta = result[0]
        self.assertEqual(meta["kind"], "predictions")
        np.testing.assert_array_equal(truth, y)
        self.assertGreater((predicted[:, 0] == y).mean(), 0.95)


if __name__ == "__main__":
    unittest.main()
