#!/usr/bin/env python3
"""Fashion-MNIST's 60k training images shifted by every offset in {-R..R}x{-R..R} pixels (the
"virtual examples" of Loosli et al.'s infinite MNIST): (2R+1)^2 x 60k rows, R=2 -> 1.5M rows,
1.2 GB of pixels, as raw IDX files the DAG's decode stage reads:
    OUT/train-images-idx3-ubyte  OUT/train-labels-idx1-ubyte
Copy k (offset dy, dx in row-major order, (0, 0) the originals) is rows k*60000 ... ; a pixel
moved out of the frame is dropped, one moved in is 0. Streams: one shifted copy (47 MB) in
memory at a time, written as it is made; files written atomically (temporary, then renamed).
Usage: make-fashion-1m.py SOURCE_DIR OUT_DIR [R]   (SOURCE_DIR holds Debian's train-*.gz)"""
import gzip, os, struct, sys
import numpy as np

def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    r = int(sys.argv[3]) if len(sys.argv) == 4 else 2
    with gzip.open(os.path.join(src, "train-images-idx3-ubyte.gz")) as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        if magic != 0x803:
            sys.exit(f"{src}/train-images-idx3-ubyte.gz: magic {magic:#x}, expected 0x803")
        images = np.frombuffer(f.read(n * h * w), np.uint8).reshape(n, h, w)
    with gzip.open(os.path.join(src, "train-labels-idx1-ubyte.gz")) as f:
        magic, m = struct.unpack(">II", f.read(8))
        if magic != 0x801 or m != n:
            sys.exit(f"{src}/train-labels-idx1-ubyte.gz: magic {magic:#x}, {m} labels; expected 0x801, {n}")
        labels = f.read(n)
    offsets = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    os.makedirs(out, exist_ok=True)
    img_path = os.path.join(out, "train-images-idx3-ubyte")
    lab_path = os.path.join(out, "train-labels-idx1-ubyte")
    total = n * len(offsets)
    with open(img_path + ".tmp", "wb") as fi, open(lab_path + ".tmp", "wb") as fl:
        fi.write(struct.pack(">IIII", 0x803, total, h, w))
        fl.write(struct.pack(">II", 0x801, total))
        shifted = np.empty_like(images)
        for dy, dx in offsets:
            shifted[:] = 0
            ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
            xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
            shifted[:, yd, xd] = images[:, ys, xs]
            fi.write(shifted.tobytes())
            fl.write(labels)
    os.replace(img_path + ".tmp", img_path)
    os.replace(lab_path + ".tmp", lab_path)
    print(f"make-fashion-1m: {total} rows ({len(offsets)} offsets x {n}) in {out}", file=sys.stderr)

main()
