#!/usr/bin/env python3
"""Small, dependency-free helpers for Grove's dataset scripts.

- write_gray_png: an exact 8-bit grayscale PNG (zlib + struct only, no Pillow), deterministic
  bytes for given pixels (no timestamps, no gamma chunk: the numbers are the pixel values).
- read_idx: the IDX files MNIST and Fashion-MNIST ship in, raw or gzip.
- write_image_folder: images + labels -> ImageFolder layout <label>/<NNNNN>.png, written to a
  temporary sibling folder and renamed into place, so an interrupted run leaves nothing half-made.

Command line (used by make-fashion.sh):
    python3 pngdata.py idx-to-folder IMAGES.idx3[.gz] LABELS.idx1[.gz] OUT_DIR
"""
import gzip
import os
import shutil
import struct
import sys
import zlib


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def write_gray_png(path, width, height, pixels):
    """Writes `pixels` (bytes, row-major, width*height values 0..255) as an 8-bit gray PNG."""
    if len(pixels) != width * height:
        raise ValueError(f"{path}: {len(pixels)} pixels, expected {width}x{height}")
    raw = b"".join(b"\x00" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))
    png = (b"\x89PNG\r\n\x1a\n"
           + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
           + _chunk(b"IDAT", zlib.compress(raw, 9))
           + _chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def _open_maybe_gzip(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_idx(path):
    """Returns (dimensions, data bytes) of an unsigned-byte IDX file, checking its sizes."""
    with _open_maybe_gzip(path) as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    ndims = data[3]
    dims = struct.unpack(">" + "I" * ndims, data[4:4 + 4 * ndims])
    body = data[4 + 4 * ndims:]
    expected = 1
    for d in dims:
        expected *= d
    if len(body) != expected:
        raise SystemExit(f"{path}: header declares {dims} ({expected} bytes), data has {len(body)}")
    return dims, body


def write_image_folder(out_dir, width, height, images, names):
    """Writes images (an iterable of (label, pixels)) as out_dir/<label>/<name>.png.

    `names` gives each image's file stem (zero-padded numbers keep sorted order stable).
    The folder is built beside out_dir and renamed over it at the end.
    """
    out_dir = out_dir.rstrip("/")
    tmp = out_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    count = 0
    for (label, pixels), name in zip(images, names):
        folder = os.path.join(tmp, str(label))
        os.makedirs(folder, exist_ok=True)
        write_gray_png(os.path.join(folder, f"{name}.png"), width, height, pixels)
        count += 1
    shutil.rmtree(out_dir, ignore_errors=True)
    os.rename(tmp, out_dir)
    return count


def main(argv):
    if len(argv) != 5 or argv[1] != "idx-to-folder":
        sys.exit(__doc__)
    _, _, images_path, labels_path, out_dir = argv
    (n, h, w), pixels = read_idx(images_path)
    (m,), labels = read_idx(labels_path)
    if m != n:
        sys.exit(f"{labels_path}: {m} labels, but {images_path} has {n} images")
    size = w * h
    images = ((labels[i], pixels[i * size:(i + 1) * size]) for i in range(n))
    names = (f"{i:05d}" for i in range(n))
    count = write_image_folder(out_dir, w, h, images, names)
    print(f"{out_dir}: {count} PNGs ({w}x{h}) from {images_path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
