"""Shared helpers: where the Swift tools are, raw content building, temporary folders."""

from __future__ import annotations

import ctypes
import os
import shutil
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import zstandard

REPO = Path(__file__).resolve().parents[2]
MAGIC = b"ZMAT\r\n\x1a\n"


def swift_bin() -> Optional[Path]:
    """The folder of the Swift tools: $GROVE_BIN (then they must be there), else PATH."""
    configured = os.environ.get("GROVE_BIN")
    if configured:
        folder = Path(configured)
        if not (folder / "zmat").exists():
            raise RuntimeError(f"GROVE_BIN={configured} holds no zmat binary: run `make build`")
        return folder
    found = shutil.which("zmat")
    return Path(found).parent if found else None


def needs_swift(case: type) -> type:
    """Skips a test class when no Swift tools are reachable (`make test-python` always has them)."""
    return unittest.skipIf(swift_bin() is None, "Grove's Swift tools not found (set GROVE_BIN)")(case)


def tools_zstd_version() -> Optional[Tuple[int, int, int]]:
    """The libzstd version the Swift tools run with (from the library `zmat` links), or None
    when it cannot be told (a statically linked build)."""
    for line in run(["ldd", tool("zmat")], check=False).stdout.decode().splitlines():
        if "libzstd" in line and "=>" in line:
            library = line.split("=>", 1)[1].split("(")[0].strip()
            number = ctypes.CDLL(library).ZSTD_versionNumber()
            return number // 10000, number // 100 % 100, number % 100
    return None


def tool(name: str) -> str:
    folder = swift_bin()
    assert folder is not None
    return str(folder / name)


def run(args: Sequence[str], cwd: Optional[Path] = None, stdin: Optional[bytes] = None,
        check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), cwd=cwd, input=stdin, capture_output=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr.decode(errors='replace')}")
    return result


def verify_message(path: Path) -> str:
    """What `zmat verify` says about a damaged stream, without its `zmat verify: ` prefix."""
    result = run([tool("zmat"), "verify", str(path)], check=False)
    err = result.stderr.decode().strip()
    assert result.returncode == 1, f"zmat verify exited {result.returncode} for {path}: {err}"
    prefix = "zmat verify: "
    assert err.startswith(prefix), err
    return err[len(prefix):]


def verify_hash(path: Path) -> str:
    """The `xxh64:...` hash `zmat verify` prints for a good stream."""
    out = run([tool("zmat"), "verify", str(path)]).stdout.decode()
    return out.rsplit("xxh64:", 1)[1].strip()


def metadata_bytes(meta: Dict[str, str]) -> bytes:
    out = struct.pack("<I", len(meta))
    for k, v in meta.items():
        kb, vb = k.encode(), v.encode()
        out += struct.pack("<H", len(kb)) + kb + struct.pack("<I", len(vb)) + vb
    return out


def pad(b: bytes) -> bytes:
    return b + bytes(-len(b) % 8)


def header_bytes(code: int = 1, columns: int = 3, flags: int = 0, meta: Optional[Dict[str, str]] = None,
                 version: int = 1, magic: bytes = MAGIC, meta_raw: Optional[bytes] = None,
                 meta_length: Optional[int] = None) -> bytes:
    raw = metadata_bytes(meta or {}) if meta_raw is None else meta_raw
    length = len(raw) if meta_length is None else meta_length
    return pad(magic + struct.pack("<HBBIII", version, code, flags, columns, length, 0) + raw)


def block_bytes(rows: int, elements: bytes, labels: Optional[bytes] = None) -> bytes:
    out = b"ROWS" + struct.pack("<I", rows)
    if labels is not None:
        out += pad(labels)
    return out + pad(elements)


def end_bytes(rows: int, content_hash: int) -> bytes:
    return b"END." + struct.pack("<IQQ", 0, rows, content_hash)


def compress(content: bytes) -> bytes:
    """One zstd frame with its checksum, as Grove writes."""
    return zstandard.ZstdCompressor(level=1, write_checksum=True).compress(content)


def decompress(stream: bytes) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True).read()


class TempDirCase(unittest.TestCase):
    """A test case with a fresh temporary folder `self.dir`, removed afterwards."""

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="grove-zmat-test-")
        self.dir = Path(self._tmp.name)

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        return path


def random_matrix(rng: np.random.Generator, dtype: np.dtype, rows: int, columns: int) -> np.ndarray:
    """Values that exercise a type: full integer ranges; floats with signs, tiny, huge, -0."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=(rows, columns), endpoint=True, dtype=dtype)
    values = rng.standard_normal((rows, columns)) * 10.0 ** rng.integers(-30, 30, size=(rows, columns))
    out = values.astype(dtype)
    if out.size:
        out.flat[0] = -0.0
    return out


def labels_for(rng: np.random.Generator, rows: int) -> np.ndarray:
    return rng.integers(-(1 << 31), (1 << 31) - 1, size=rows, endpoint=True).astype(np.int32)


ALL_TYPES: List[np.dtype] = [np.dtype(np.uint8), np.dtype(np.int32), np.dtype(np.float32), np.dtype(np.float64)]
