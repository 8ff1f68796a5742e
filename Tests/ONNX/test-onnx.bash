#!/usr/bin/env bash
# test-onnx: rf-export --onnx against onnxruntime. Trains a PCA-10 forest and a raw-pixel forest
# on Fashion-MNIST (Debian's dataset-fashion-mnist; the shipped MNIST digits when it is absent),
# exports them and a PCA+forest pipeline, and has check-onnx.py compare onnxruntime's labels and
# probabilities with rf-predict's on every test row. Then usage errors, then the README's
# "Deploying a forest" example, extracted from README.md and run as written.
# Usage: test-onnx.bash BIN_DIR PYTHON   (make test-onnx passes the built tools and the venv)
set -eo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:?usage: test-onnx.bash BIN_DIR PYTHON}
python=${2:?usage: test-onnx.bash BIN_DIR PYTHON}
export PATH=$bin:$PATH
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grove-test-onnx.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { echo "test-onnx: ok: $*"; passed=$((passed + 1)); }
bad() { echo "test-onnx: FAIL: $*" >&2; failed=$((failed + 1)); }
started=$SECONDS

fashion=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}  # FASHION_DIR=/none tries the fallback
if [ -f "$fashion/t10k-images-idx3-ubyte.gz" ]; then
  # 20k of the 60k training rows keep the raw-pixel forest's training and export short.
  mnist-decode "$fashion/train-images-idx3-ubyte.gz" "$fashion/train-labels-idx1-ubyte.gz" | zmat head -n 20000 -o "$tmp/train.zmat"
  mnist-decode "$fashion/t10k-images-idx3-ubyte.gz" "$fashion/t10k-labels-idx1-ubyte.gz" -o "$tmp/test.zmat"
  echo "test-onnx: Fashion-MNIST, 20000 training rows, 10000 test rows"
else
  mnist-decode "$root/datasets/mnist-images-2k" -o "$tmp/train.zmat"
  mnist-decode "$root/datasets/mnist-test-3k" -o "$tmp/test.zmat"
  echo "test-onnx: $fashion absent: the shipped MNIST digits (2000 training rows, 3000 test rows)"
fi

# Models and rf-predict's answers.
cd "$tmp"
pca-fit -k 10 train.zmat -o pca.zmat
pca-project -m pca.zmat train.zmat | rf-tree --trees 100 --seed 1 -o forest-pca.zmat
rf-tree --trees 30 --seed 1 train.zmat -o forest-raw.zmat
pca-project -m pca.zmat test.zmat -o test-pca.zmat
# Two classes (T-shirt/top and shirt, or digits 0 and 6): class ids that are not indices, and
# the two-class export (every leaf votes for both, as onnxruntime otherwise may take a binary mode).
two_classes() { zmat convert "$1" --to csv | awk -F, 'NR == 1 || $1 == 0 || $1 == 6' | zmat convert --from csv --type float32; }
pca-project -m pca.zmat train.zmat | two_classes - | rf-tree --trees 20 --seed 1 -o forest-two.zmat
two_classes test-pca.zmat > test-two.zmat
for which in pca:test-pca raw:test two:test-two; do
  forest=forest-${which%%:*}.zmat input=${which#*:}.zmat
  rf-predict -m $forest $input | zmat convert -o pred-${which%%:*}.npy
  rf-predict -m $forest --proba $input | zmat convert -o proba-${which%%:*}.npy
done
zmat convert test.zmat -o test-pixels.npy
zmat convert test-pca.zmat -o test-pca.npy
zmat convert test-two.zmat -o test-two.npy
echo "test-onnx: models trained, rf-predict run ($((SECONDS - started)) s)"

rf-export --onnx forest-pca.zmat -o forest-pca.onnx
rf-export --onnx --input-type uint8 forest-raw.zmat -o forest-raw.onnx
rf-export --onnx forest-raw.zmat -o forest-raw-f32.onnx
rf-export --onnx --pca pca.zmat --input-type uint8 forest-pca.zmat -o pipeline.onnx
rf-export --onnx --pca pca.zmat < forest-pca.zmat > pipeline-f32.onnx
rf-export --onnx --pca pca.zmat --input-type float64 forest-pca.zmat -o pipeline-f64.onnx
rf-export --onnx forest-two.zmat -o forest-two.onnx
rf-export --onnx --pca pca.zmat --input-type uint8 forest-pca.zmat -o again.onnx
cmp -s pipeline.onnx again.onnx && ok "the same inputs export byte-identical models" || bad "two exports differ"
echo "test-onnx: exported: $(wc -c forest-pca.onnx forest-raw.onnx pipeline.onnx | head -3 | awk '{printf "%s %s B; ", $2, $1}')"

if timeout 300 "$python" "$here/check-onnx.py" "$tmp"; then ok "onnxruntime agrees with rf-predict"; else bad "check-onnx.py"; fi

# Usage errors: a clear message and exit 1 (bad data) or 64 (usage), never a partial output.
expect() {  # expect CODE PATTERN COMMAND...: exit code and a stderr line matching PATTERN
  local code=$1 pattern=$2; shift 2
  local status=0
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || status=$?
  if [ "$status" = "$code" ] && grep -q -- "$pattern" "$tmp/err"; then
    ok "exit $code: $(head -1 "$tmp/err")"
  else
    bad "'$*' exited $status, expected $code and '$pattern'; stderr: $(head -2 "$tmp/err")"
  fi
}
expect 1 "expected\|kind" rf-export --onnx pca.zmat -o x.onnx
expect 1 "makes 10 components, the forest forest-raw.zmat reads 784" rf-export --onnx --pca pca.zmat forest-raw.zmat -o x.onnx
pca-fit -k 10 test.zmat -o other-pca.zmat
expect 1 "not on this PCA model" rf-export --onnx --pca other-pca.zmat forest-pca.zmat -o x.onnx
expect 64 "name the format" rf-export forest-pca.zmat -o x.onnx
expect 64 "float64 needs --pca" rf-export --onnx --input-type float64 forest-pca.zmat -o x.onnx
expect 64 "input-type" rf-export --onnx --input-type int16 forest-pca.zmat -o x.onnx
expect 1 "No such file\|cannot open" rf-export --onnx missing.zmat -o x.onnx
zmat convert train.zmat --to csv | head -200 > rows.csv
zmat convert rows.csv --type float64 | rf-tree --trees 2 --seed 1 -o forest-f64.zmat
expect 1 "cannot be exported" rf-export --onnx forest-f64.zmat -o x.onnx
[ ! -e x.onnx ] && ok "no output file after the failures" || bad "x.onnx was written"
if command -v script >/dev/null; then
  # A terminal as standard output: refused, nothing written to it.
  status=0
  script -qec "rf-export --onnx $tmp/forest-pca.zmat" /dev/null >"$tmp/tty.log" 2>&1 || status=$?
  grep -q "refusing to write binary data to a terminal" "$tmp/tty.log" && [ "$status" = 1 ] &&
    ok "exit 1: a terminal as output is refused" || bad "terminal output: exit $status, $(head -2 "$tmp/tty.log")"
fi

# The README's "Deploying a forest" example, as written, from a scratch folder.
mkdir readme && cd readme
ln -s "$root/datasets" datasets
awk '/^## Deploying a forest/ {in_section = 1; next} /^## / {in_section = 0}
     in_section && /^```sh$/ {in_code = 1; next} in_code && /^```$/ {in_code = 0; next} in_code' \
  "$root/README.md" > example.sh
[ -s example.sh ] || bad "README.md has no sh block under '## Deploying a forest'"
if PATH=$(dirname "$python"):$PATH timeout 300 bash -e example.sh > example.log 2>&1 &&
   grep -q "^onnxruntime agrees with rf-predict on 3000 of 3000 rows" example.log; then
  ok "README example: $(grep '^onnxruntime agrees' example.log)"
else
  bad "README example: $(tail -5 example.log)"
fi

echo "test-onnx: $((SECONDS - started)) s"
echo "test-onnx: $passed passed, $failed failed"
[ "$failed" = 0 ]
