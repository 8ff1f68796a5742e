"""Times grove_zmat on a zmat file (default fashion.zmat): load, iter_blocks and save, with the
xxhash accelerator and with the pure-Python hash; then the pure hash alone and np.load of the
same matrix as .npy. Usage: python python/bench/load_save.py [FILE]; writes copy.zmat and X.npy
in the current folder (BENCHMARKS.md, "Python: grove_zmat load and save")."""

import sys

import time

import numpy as np
import zstandard

import grove_zmat as zmat
from grove_zmat._xxh64 import XXH64, PureXXH64

SOURCE = sys.argv[1] if len(sys.argv) > 1 else "fashion.zmat"


def best(f, n=3):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); r = f(); ts.append(time.perf_counter() - t)
    return min(ts), r
print("zstandard", zstandard.__version__, "libzstd", zstandard.ZSTD_VERSION, "numpy", np.__version__)
for accel in (True, False):
    XXH64.use_accelerator = accel
    n = 3 if accel else 1
    t_load, (X, y, meta) = best(lambda: zmat.load(SOURCE), n)
    t_iter, rows = best(lambda: sum(b.shape[0] for b, _ in zmat.iter_blocks(SOURCE)), n)
    t_save, h = best(lambda: zmat.save("copy.zmat", X, y, meta), n)
    same = open("copy.zmat", "rb").read() == open(SOURCE, "rb").read()
    print(f"{'xxhash' if accel else 'pure'}: load {t_load:.2f} s, iter_blocks {t_iter:.2f} s, save {t_save:.2f} s; "
          f"{X.shape} {X.dtype}; save byte-identical to the input: {same}")
data = np.random.default_rng(0).integers(0, 256, 16 << 20, dtype=np.uint8).tobytes()
h = PureXXH64(); t = time.perf_counter(); h.update(data); dt = time.perf_counter() - t
print(f"pure XXH64: {len(data) / dt / 1e6:.1f} MB/s")
np.save("X.npy", X)
t_npy, _ = best(lambda: np.load("X.npy"))
print(f"np.load of the 47 MB .npy: {t_npy:.3f} s")
