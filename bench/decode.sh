#!/usr/bin/env bash
# Decoding benchmark (issue 2): mnist-decode on the 2k PNG folder and on the
# Fashion-MNIST 60k IDX files, against the Python/Pillow/numpy loop doing the
# same (bench/peers/decode_pillow.py); zmat encode/decode MB/s and compression
# ratio at the default level, against the zstd CLI on the same raw bytes.
#
#   bench/decode.sh                 # from the repository root
#   GROVE_BIN=.build/release REPEATS=5 bench/decode.sh
#
# Goals: PNG folder decode >= 3x the Python loop; mnist-decode peak RSS
# < 64 MiB on 60k rows. Markdown on stdout, raw runs in bench/results/.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
bench_init decode

# ---- Inputs ----------------------------------------------------------------
png_dir="$REPO_DIR/datasets/mnist-images-2k"
if ! compgen -G "$png_dir/*/*.png" >/dev/null; then
    if have_python_peers; then
        png_dir="$CACHE_DIR/mnist-images-2k"
        note "datasets/mnist-images-2k not there yet: using $png_dir (bench/peers/make_images.py)"
        "$VENV_PY" "$PEERS_DIR/make_images.py" train "$png_dir" >/dev/null
    else
        png_dir=""
        note "skip PNG folder: no datasets/mnist-images-2k and no venv to make one"
    fi
fi
fx="$FASHION_DIR/train-images-idx3-ubyte.gz"
fy="$FASHION_DIR/train-labels-idx1-ubyte.gz"
if [[ ! -s $fx ]]; then
    note "skip Fashion IDX: $fx missing (apt-get install dataset-fashion-mnist)"
    fx=""
fi

png_count=0 png_mb=0
if [[ -n $png_dir ]]; then
    png_count=$(find -L "$png_dir" -name '*.png' | wc -l)
    png_mb=$(find -L "$png_dir" -name '*.png' -printf '%s\n' | awk '{s+=$1} END {printf "%.6f", s/1e6}')
fi
idx_mb=0
[[ -n $fx ]] && idx_mb=$(stat -c '%s' "$fx" "$fy" | awk '{s+=$1} END {printf "%.6f", s/1e6}')

# ---- mnist-decode vs Python ------------------------------------------------
if [[ -n $png_dir ]]; then
    if decode=$(grove_tool mnist-decode); then
        run_case "decode png 2k" grove "mnist-decode DIR" - "$REPEATS" \
            mb="$png_mb" items="$png_count" unit=images -- \
            "$decode" "$png_dir" -o "$SCRATCH/mnist2k.zmat"
    fi
    if have_python_peers; then
        # "seconds" is the decode loop inside Python; the wall adds the
        # interpreter's start and imports.
        run_case "decode png 2k" peer "Pillow+numpy loop" seconds "$REPEATS" \
            mb="$png_mb" items="$png_count" unit=images -- \
            "${PEER_ENV[@]}" "$VENV_PY" "$PEERS_DIR/decode_pillow.py" "$png_dir" -o "$SCRATCH/py.npy"
    fi
fi
if [[ -n $fx ]]; then
    if decode=$(grove_tool mnist-decode); then
        run_case "decode idx 60k" grove "mnist-decode IDX.gz" - "$REPEATS" \
            mb="$idx_mb" items=60000 unit=images -- \
            "$decode" "$fx" "$fy" -o "$SCRATCH/fashion.zmat"
    fi
    if have_python_peers; then
        run_case "decode idx 60k" peer "numpy gzip+frombuffer" seconds "$REPEATS" \
            mb="$idx_mb" items=60000 unit=images -- \
            "${PEER_ENV[@]}" "$VENV_PY" "$PEERS_DIR/decode_pillow.py" "$fx" "$fy" -o "$SCRATCH/py.npy"
    fi
fi

# ---- zmat encode/decode ----------------------------------------------------
# The first Grove row of a group is the one the ratios use: `zmat verify`
# (decode + checksum, nothing written) for decoding.
# Raw bytes: the Fashion pixels as .npy (from zmat convert when Grove works,
# else from the peer cache), 60000 x 784 uint8 = 47.04 MB.
raw_mb=47.04
raw_npy=""
if zmat=$(grove_tool zmat) && [[ -s $SCRATCH/fashion.zmat ]]; then
    run_case "zmat decode 60k" grove "zmat verify" - "$REPEATS" mb=$raw_mb -- \
        "$zmat" verify "$SCRATCH/fashion.zmat"
    run_case "zmat decode 60k" grove "zmat convert .zmat -> .npy" - "$REPEATS" mb=$raw_mb -- \
        "$zmat" convert "$SCRATCH/fashion.zmat" -o "$SCRATCH/raw.npy"
    [[ -s $SCRATCH/raw.npy ]] && raw_npy="$SCRATCH/raw.npy"
fi
if [[ -z $raw_npy && -s $CACHE_DIR/fashion-raw-train-X.npy ]]; then
    raw_npy="$CACHE_DIR/fashion-raw-train-X.npy"
fi
if [[ -n $raw_npy ]]; then
    if zmat=$(grove_tool zmat); then
        run_case "zmat encode 60k" grove "zmat convert .npy -> .zmat" - "$REPEATS" mb=$raw_mb -- \
            "$zmat" convert "$raw_npy" -o "$SCRATCH/enc.zmat"
        if [[ -s $SCRATCH/enc.zmat ]]; then
            run_case "zmat decode 60k" grove "zmat cat (re-stream)" - "$REPEATS" mb=$raw_mb -- \
                "$zmat" cat "$SCRATCH/enc.zmat"
        fi
    fi
    if [[ ${PEERS:-1} != 0 ]] && command -v zstd >/dev/null; then
        run_case "zmat encode 60k" peer "zstd -3 -T1 (CLI)" - "$REPEATS" mb=$raw_mb -- \
            zstd -q -f -3 -T1 "$raw_npy" -o "$SCRATCH/raw.npy.zst"
        run_case "zmat decode 60k" peer "zstd -d (CLI)" - "$REPEATS" mb=$raw_mb -- \
            zstd -q -f -d "$SCRATCH/raw.npy.zst" -o "$SCRATCH/raw-back.npy"
    fi
fi

echo "## Decoding ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
echo
summarize
echo
echo "Inputs: PNG folder ${png_dir:-none} ($png_count files, $png_mb MB); Fashion IDX $idx_mb MB (gz)."
echo "MB/s of mnist-decode is input (file) bytes; zmat rows are raw uint8 bytes (47.04 MB)."
echo
echo "| file | bytes | raw bytes / file bytes |"
echo "|---|---|---|"
for f in "$SCRATCH/fashion.zmat" "$SCRATCH/enc.zmat" "$SCRATCH/raw.npy.zst" "$SCRATCH/mnist2k.zmat"; do
    [[ -s $f ]] || continue
    raw=47040000
    if [[ $f == *mnist2k* ]]; then raw=$((png_count * 784)); fi
    size=$(stat -c '%s' "$f")
    echo "| $(basename "$f") | $size | $(awk -v r="$raw" -v s="$size" 'BEGIN {printf "%.2f", r/s}') |"
done
