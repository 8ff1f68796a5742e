#!/bin/sh
# Builds the larger Fashion-MNIST datasets (not committed; `make datasets-fashion` calls this):
#   datasets/fashion/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
#       the IDX files exactly as Debian's dataset-fashion-mnist ships them (symbolic links)
#   datasets/fashion-images-10k/<label>/<NNNNN>.png
#       the 10,000 test images as 28x28 8-bit gray PNGs (ImageFolder layout, NNNNN = the
#       0-based index in t10k-images), the stand-in for the original workflow's 10k run
#
# Usage: sh datasets/make-fashion.sh [DATASETS_DIR]   (default: the folder holding this script)
# Installs the Debian package with apt-get when it is missing (needs root). Idempotent: the
# PNG folder is rebuilt only when missing or older than the IDX files. Exit status non-zero on
# any failure, leaving no half-written folder behind.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
source=/usr/share/datasets/fashion-mnist
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

missing=no
for f in $files; do [ -f "$source/$f" ] || missing=yes; done
if [ "$missing" = yes ]; then
    echo "make-fashion: installing Debian's dataset-fashion-mnist" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "make-fashion: need root to run apt-get install dataset-fashion-mnist" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist >&2 \
        || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist >&2; }
fi

mkdir -p "$out/fashion"
for f in $files; do
    [ -f "$source/$f" ] || { echo "make-fashion: $source/$f is missing after installing" >&2; exit 1; }
    ln -sf "$source/$f" "$out/fashion/$f"
done

pngs="$out/fashion-images-10k"
if [ -d "$pngs" ] && [ -z "$(find "$source/t10k-images-idx3-ubyte.gz" -newer "$pngs")" ]; then
    echo "make-fashion: $pngs is up to date" >&2
else
    python3 "$here/pngdata.py" idx-to-folder "$out/fashion/t10k-images-idx3-ubyte.gz" \
        "$out/fashion/t10k-labels-idx1-ubyte.gz" "$pngs"
fi
