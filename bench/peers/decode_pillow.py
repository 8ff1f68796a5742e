"""Python peer of mnist-decode: decode an ImageFolder of PNGs
(`<label>/<name>.png`, paths sorted) with Pillow into a uint8 array plus int32
labels, or an IDX (gz) image/label pair with numpy.

    python decode_pillow.py DIR [-o out.npy]
    python decode_pillow.py IMAGES.idx[.gz] [LABELS.idx[.gz]] [-o out.npy]

Prints one JSON line: images, seconds (decode, excluding interpreter start),
images/s, input MB/s (bytes of the files read), output MB (uint8 pixels),
peak RSS. With -o the pixels are saved with numpy.save (inside the timing).
"""

import argparse
import os

import numpy as np
from PIL import Image

from common import Timer, read_idx, report


def decode_folder(root):
    paths = []
    for label in sorted(os.listdir(root)):
        sub = os.path.join(root, label)
        if not os.path.isdir(sub):
            continue
        int(label)  # a label folder must be a number, as for mnist-decode
        paths.extend(os.path.join(sub, n) for n in sorted(os.listdir(sub)) if n.endswith(".png"))
    paths.sort()
    pixels, labels, in_bytes = [], [], 0
    width = None
    for path in paths:
        in_bytes += os.path.getsize(path)
        with Image.open(path) as im:
            if im.mode in ("I;16", "I;16B", "I"):
                # 16-bit gray: v*257 -> v, the rounding mnist-decode documents.
                a = np.asarray(im, dtype=np.uint32)
                a = ((a + 128) // 257).astype(np.uint8)
            else:
                a = np.asarray(im.convert("L"), dtype=np.uint8)
        flat = a.reshape(-1)
        if width is None:
            width = flat.size
        elif flat.size != width:
            raise ValueError(f"{path}: {a.shape} pixels, expected {width}")
        pixels.append(flat)
        labels.append(int(os.path.basename(os.path.dirname(path))))
    X = np.stack(pixels) if pixels else np.zeros((0, 0), np.uint8)
    return X, np.array(labels, dtype=np.int32), in_bytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="DIR, or IMAGES.idx[.gz] [LABELS.idx[.gz]]")
    ap.add_argument("-o", "--output", help="save the pixels with numpy.save")
    args = ap.parse_args()

    with Timer() as t:
        if os.path.isdir(args.inputs[0]):
            kind = "png-folder"
            X, y, in_bytes = decode_folder(args.inputs[0])
        else:
            kind = "idx"
            X = read_idx(args.inputs[0])
            y = read_idx(args.inputs[1]).astype(np.int32) if len(args.inputs) > 1 else None
            in_bytes = sum(os.path.getsize(p) for p in args.inputs)
            if y is not None and len(y) != len(X):
                raise ValueError(f"{args.inputs[1]}: {len(y)} labels for {len(X)} images")
        if args.output:
            np.save(args.output, X)
    report(peer="python-pillow-numpy", input=kind, images=int(X.shape[0]),
           columns=int(X.shape[1]) if X.ndim == 2 else 0, seconds=t.seconds,
           images_per_s=X.shape[0] / t.seconds, input_mb=in_bytes / 1e6,
           input_mb_per_s=in_bytes / 1e6 / t.seconds, output_mb=X.nbytes / 1e6,
           output_mb_per_s=X.nbytes / 1e6 / t.seconds)


if __name__ == "__main__":
    main()
