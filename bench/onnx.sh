#!/usr/bin/env bash
# ONNX export benchmark (issue 13): on Fashion-MNIST (60k training rows, 10k test rows), a PCA-10
# forest and a raw-pixel forest of 100 trees each (rf-tree --seed 1), exported with rf-export
# --onnx (the PCA one also as a pixels-in pipeline). Prints model sizes, then the median wall
# time of REPEATS runs of `rf-predict` as a whole process on the 10k rows against onnxruntime's
# InferenceSession.run on the same 10k rows (in process; session creation timed apart).
#
#   bench/onnx.sh BIN_DIR PYTHON      # e.g. bench/onnx.sh .build/release .build-onnx/venv/bin/python
#   REPEATS=7 bench/onnx.sh ...
# Needs Debian's dataset-fashion-mnist and a Python with onnxruntime and numpy (make onnx-deps).
set -euo pipefail
bin=$(cd "${1:?usage: bench/onnx.sh BIN_DIR PYTHON}" && pwd)
python=${2:?usage: bench/onnx.sh BIN_DIR PYTHON}
[[ $python == */* ]] && python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python")
repeats=${REPEATS:-5}
export PATH=$bin:$PATH
fashion=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grove-bench-onnx.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

mnist-decode "$fashion/train-images-idx3-ubyte.gz" "$fashion/train-labels-idx1-ubyte.gz" -o train.zmat
mnist-decode "$fashion/t10k-images-idx3-ubyte.gz" "$fashion/t10k-labels-idx1-ubyte.gz" -o test.zmat
pca-fit -k 10 train.zmat -o pca.zmat
pca-project -m pca.zmat train.zmat | rf-tree --trees 100 --seed 1 -o forest-pca.zmat
rf-tree --trees 100 --seed 1 train.zmat -o forest-raw.zmat
pca-project -m pca.zmat test.zmat -o test-pca.zmat
zmat convert test.zmat -o pixels.npy
zmat convert test-pca.zmat -o components.npy
rf-export --onnx forest-pca.zmat -o forest-pca.onnx
rf-export --onnx --input-type uint8 forest-raw.zmat -o forest-raw.onnx
rf-export --onnx --pca pca.zmat --input-type uint8 forest-pca.zmat -o pipeline.onnx

# median_wall N COMMAND...: the median wall seconds of N runs.
median_wall() {
  local n=$1; shift
  for _ in $(seq "$n"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "| model | zmat forest | ONNX model | rf-predict, whole process | onnxruntime run (session load) |"
echo "|---|---|---|---|---|"
row() {  # row NAME FOREST ONNX ZMAT_INPUT NPY_INPUT [PCA]
  local name=$1 forest=$2 model=$3 input=$4 npy=$5 pca=${6:-}
  local grove
  if [ -n "$pca" ]; then
    grove=$(median_wall "$repeats" bash -c "pca-project -m $pca test.zmat | rf-predict -m $forest")
  else
    grove=$(median_wall "$repeats" rf-predict -m "$forest" "$input")
  fi
  local ort
  ort=$("$python" - "$model" "$npy" "$repeats" <<'EOF'
import sys, time
import numpy as np, onnxruntime as ort
model, npy, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
x = np.load(npy)
t0 = time.perf_counter()
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
load = time.perf_counter() - t0
name = session.get_inputs()[0].name
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    session.run(None, {name: x})
    times.append(time.perf_counter() - t0)
print(f"{float(np.median(times)):.3f} s ({load:.2f} s)")
EOF
)
  printf '| %s | %s B | %s B | %s s | %s |\n' "$name" "$(stat -c %s "$forest")" "$(stat -c %s "$model")" "$grove" "$ort"
}
row "PCA-10 forest (10 features in)" forest-pca.zmat forest-pca.onnx test-pca.zmat components.npy
row "raw-pixel forest (784 uint8 in)" forest-raw.zmat forest-raw.onnx test.zmat pixels.npy
row "PCA-10 pipeline (784 uint8 in; Grove: pca-project \| rf-predict)" forest-pca.zmat pipeline.onnx test.zmat pixels.npy pca.zmat
echo
echo "rows: 10000; repeats: $repeats (medians); $(grep -m1 'model name' /proc/cpuinfo); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
