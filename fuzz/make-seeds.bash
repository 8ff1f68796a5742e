#!/usr/bin/env bash
# Regenerates the committed seed corpora in fuzz/corpus/ from the shipped MNIST PNGs, with the
# Grove tools in $BIN (default .build/release) and python3 (numpy for .npy). Each seed is small
# (a few images at 8x8) so the fuzzer mutates quickly; the edge cases are the shapes the unit
# tests use (zero rows, one column, labels, several streams, gzip).
#
# zmat-reading targets take one control byte then the data: 0x00 = the bytes are a zstd
# stream as on disk; 0x01 = the bytes are the decompressed content (the target compresses it,
# so mutations reach the zmat layer); 0x0a = content cut into several zstd frames.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
C=fuzz/corpus
# A fixed scratch folder: paths recorded in metadata (source.*) stay the same run to run.
tmp=/tmp/grove-fuzz-seeds; rm -rf "$tmp"; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
rm -rf "$C"; mkdir -p "$C"/{zmat,forest,pca-model,idx,mlxtend-csv,csv,npy,png}

imgs=datasets/mnist-images-2k
# Three PNGs of each of three labels, resized to 8x8 (64 uint8 columns + labels).
mkdir -p "$tmp/png"
for d in 0 1 7; do ls "$imgs/$d" | head -3 | while read -r f; do echo "$imgs/$d/$f"; done; done >"$tmp/paths"
"$BIN/mnist-decode" --paths "$tmp/paths" --resize 8x8 -o "$tmp/u8.zmat"
"$BIN/mnist-decode" --paths "$tmp/paths" --resize 4x4 --normalize -o "$tmp/f32.zmat"
"$BIN/zmat" head -n 0 "$tmp/u8.zmat" -o "$tmp/empty.zmat"
"$BIN/zmat" cat "$tmp/u8.zmat" "$tmp/u8.zmat" -o "$tmp/twice.zmat"
cat "$tmp/u8.zmat" "$tmp/u8.zmat" >"$tmp/concat.zmat"     # two streams back to back
printf 'a,b,label\n1.5,-2,3\n0,1e300,4\n' >"$tmp/t.csv"
"$BIN/zmat" convert "$tmp/t.csv" --type float64 -o "$tmp/f64.zmat"
printf "x,label\n-7,1\n2147483647,0\n" | "$BIN/zmat" convert --from csv --type int32 -o "$tmp/i32.zmat"
"$BIN/pca-fit" -k 2 "$tmp/f32.zmat" -o "$tmp/pca.zmat"
"$BIN/pca-fit" -k 2 --whiten "$tmp/f32.zmat" -o "$tmp/pcaw.zmat"
"$BIN/mnist-decode" --paths "$tmp/paths" --resize 4x4 -o "$tmp/u8s.zmat"
"$BIN/pca-fit" --partial "$tmp/u8s.zmat" -o "$tmp/part-int.zmat"
"$BIN/pca-fit" --partial "$tmp/f32.zmat" -o "$tmp/part-float.zmat"
"$BIN/rf-tree" --seed 1 --max-depth 3 "$tmp/f32.zmat" -o "$tmp/tree.zmat"
"$BIN/rf-tree" --seed 1 --trees 2 --max-depth 2 "$tmp/u8.zmat" -o "$tmp/forest.zmat"

# Writes control byte $2 and file $3 (decompressed when $2 is not 00) as seed $1.
seed() {
  if [ "$2" = 00 ]; then { printf "\\x$2"; cat "$3"; } >"$1"
  else { printf "\\x$2"; zstd -dcq "$3"; } >"$1"; fi
}
for f in u8 f32 empty twice concat f64 i32; do
  for m in 00 01 0a; do seed "$C/zmat/$f-$m" $m "$tmp/$f.zmat"; done
done
for f in tree forest; do
  for m in 00 01 0a; do seed "$C/forest/$f-$m" $m "$tmp/$f.zmat"; done
done
for f in pca pcaw; do
  for m in 00 01 0a; do seed "$C/pca-model/$f-$m" $m "$tmp/$f.zmat"; done
done
for f in part-int part-float; do   # bit 7 set: read as a partial
  for m in 80 81 8a; do seed "$C/pca-model/$f-$m" $m "$tmp/$f.zmat"; done
done

python3 - "$C" "$imgs" <<'PY'
import gzip, struct, sys, os, zlib
import numpy as np
C = sys.argv[1]
def w(path, data):
    with open(os.path.join(C, path), "wb") as f: f.write(data)
# IDX: control byte bit 0 = labels, bit 1 = batch of 64.
def idx3(n, h, wd, fill=7): return struct.pack(">IIII", 0x803, n, h, wd) + bytes([fill]) * (n * h * wd)
def idx1(labels): return struct.pack(">II", 0x801, len(labels)) + bytes(labels)
w("idx/images", b"\x00" + idx3(3, 4, 5))
w("idx/images-batch", b"\x02" + idx3(2, 3, 3))
w("idx/images-zero", b"\x00" + idx3(0, 28, 28))
w("idx/images-gz", b"\x00" + gzip.compress(idx3(2, 2, 2), mtime=0))
w("idx/images-2gz", b"\x00" + gzip.compress(idx3(1, 2, 2)[:10], mtime=0) + gzip.compress(idx3(1, 2, 2)[10:], mtime=0))
w("idx/labels", b"\x01" + idx1([0, 1, 2, 9]))
w("idx/labels-batch", b"\x03" + idx1(list(range(10)) * 7))
w("idx/labels-gz", b"\x01" + gzip.compress(idx1([5, 3]), mtime=0))
w("idx/int-type", b"\x00" + struct.pack(">IIII", 0xC03, 1, 1, 1) + b"\0\0\0\1")
# mlxtend CSV: side*side pixels then a label.
w("mlxtend-csv/2x2", b"0,255,17,3,7\n1,2,3,4,0\n")
w("mlxtend-csv/1x1-gz", gzip.compress(b"9,1\n200,2", mtime=0))
w("mlxtend-csv/3x3-crlf", b"0,0,0,0,0,0,0,0,255,5\r\n")
w("mlxtend-csv/28x28", (",".join(["0"] * 784) + ",7\n").encode())
# General CSV: control byte low 2 bits = type, next 2 = label column (none/first/last/index).
w("csv/header-label", b"\x03" + b"a,b,label\n1.5,-2,3\n0,1e300,4\n")
w("csv/u8-first", b"\x04" + b"7,1,2,3\n9,4,5,6\n")
w("csv/i32-last", b"\x09" + b"-5,2147483647,1\n0,0,2\n")
w("csv/f32-none", b"\x02" + b"x0,x1\n1e-3,nan\ninf,-0\n")
w("csv/index", b"\x1d" + b"1,2,3\n4,5,6\n")
w("csv/quoted", b"\x03" + b'"a","label"\n1,2\n')
# .npy: version 1 and 2, every element type Grove reads, 1-D and 2-D, both orders.
def npy(a, version=1):
    import io
    b = io.BytesIO()
    np.lib.format.write_array(b, a, version=(version, 0))
    return b.getvalue()
w("npy/u8", npy(np.arange(12, dtype=np.uint8).reshape(3, 4)))
w("npy/f32", npy(np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)))
w("npy/f64-v2", npy(np.ones((2, 2)), version=2))
w("npy/i32-1d", npy(np.array([1, -2, 3], dtype=np.int32)))
w("npy/i64", npy(np.array([[1, 2]], dtype=np.int64)))
w("npy/i16-be", npy(np.array([[1, 2]], dtype=">i2")))
w("npy/fortran", npy(np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3))))
w("npy/empty", npy(np.zeros((0, 3), dtype=np.float32)))
w("npy/bool", npy(np.array([True, False])))
# PNG: control byte bit 0 = white background. Real MNIST files plus every colour type.
def png(width, height, color, depth, rows, interlace=0, extra=b""):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace)
    raw = b"".join(b"\0" + r for r in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
w("png/gray8", b"\x00" + png(2, 2, 0, 8, [b"\x00\xff", b"\x10\x20"]))
w("png/gray16", b"\x00" + png(1, 2, 0, 16, [b"\x12\x34", b"\xff\xff"]))
w("png/gray1", b"\x00" + png(8, 1, 0, 1, [b"\xa5"]))
w("png/rgb", b"\x00" + png(2, 1, 2, 8, [b"\xff\x00\x00\x00\xff\x00"]))
w("png/rgba", b"\x01" + png(1, 1, 6, 8, [b"\x10\x20\x30\x80"]))
w("png/gray-alpha", b"\x01" + png(1, 1, 4, 8, [b"\x90\x40"]))
plte = struct.pack(">I", 6) + b"PLTE" + b"\x00\x00\x00\xff\xff\xff" + struct.pack(">I", zlib.crc32(b"PLTE\x00\x00\x00\xff\xff\xff") & 0xffffffff)
w("png/palette", b"\x00" + png(2, 1, 3, 8, [b"\x00\x01"], extra=plte))
w("png/interlaced", b"\x00" + png(3, 3, 0, 8, [b"\x01\x02\x03"] * 3, interlace=1))
for d in ("0", "7"):
    name = sorted(os.listdir(os.path.join(sys.argv[2], d)))[0]
    with open(os.path.join(sys.argv[2], d, name), "rb") as f: w("png/mnist-" + d, b"\x00" + f.read())
PY
# The model metadata that crashed Forest loading (FuzzRegressionTests), as content (control 01).
python3 - "$C/forest" <<'PY'
import struct, sys, os
def stream(cols, meta):
    m = struct.pack("<I", len(meta))
    for k, v in meta.items():
        m += struct.pack("<H", len(k)) + k.encode() + struct.pack("<I", len(v)) + v.encode()
    head = b"ZMAT\r\n\x1a\n" + struct.pack("<HBBII", 1, 3, 0, cols, len(m)) + b"\0" * 4
    end = b"END." + b"\0" * 4 + struct.pack("<QQ", 0, 0xEF46DB3751D8E999)  # 0 rows, XXH64 of nothing
    return head + m + b"\0" * (-len(m) % 8) + end
base = {"kind": "forest", "features": "2", "classes": "0,1"}
for name, extra in [("huge-nodes", {"trees": "1", "tree.index": "0", "tree.nodes": "1000000000000000"}),
                    ("overflow-nodes", {"trees": "2", "tree.index": "0,1", "tree.nodes": "4611686018427387904,4611686018427387904"})]:
    with open(os.path.join(sys.argv[1], name), "wb") as f: f.write(b"\x01" + stream(8, {**base, **extra}))
PY
# Inputs the fuzzers flagged (fuzz/regressions/TARGET-NAME), kept as seeds of their target.
for f in fuzz/regressions/*; do t=$(basename "$f"); cp "$f" "$C/${t%%-*}/regression-${t#*-}"; done
echo "seeds: $(find "$C" -type f | wc -l) files, $(du -sh "$C" | cut -f1)"
