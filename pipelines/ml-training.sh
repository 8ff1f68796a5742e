#!/bin/sh
# The ml-training DAG in plain POSIX sh, for machines without make:
#   decode -> partition -> PCA (partial fits, merge, project) -> RF tree tasks -> merge -> validate
# Parallel stages run as background jobs; a failed job fails the run. Same variables as the
# Makefile (environment): DATASET TEST PCA RF TREES K SEED SHUFFLE_SEED OUT TREE_FLAGS.
# The Grove tools must be on PATH (make build; export PATH=$PWD/.build/release:$PATH).
set -eu
DATASET=${DATASET:-datasets/mnist-images-2k}
TEST=${TEST:-datasets/mnist-test-3k}
PCA=${PCA:-2} RF=${RF:-8} TREES=${TREES:-16} K=${K:-10}
SEED=${SEED:-1} SHUFFLE_SEED=${SHUFFLE_SEED:-1} OUT=${OUT:-out-sh} TREE_FLAGS=${TREE_FLAGS:-}

pids=""
spawn() { "$@" & pids="$pids $!"; }
join() {
  status=0
  for p in $pids; do wait "$p" || status=1; done
  pids=""
  [ "$status" -eq 0 ] || { echo "ml-training.sh: a task failed" >&2; exit 1; }
}

mkdir -p "$OUT"
spawn mnist-decode "$DATASET" -o "$OUT/train.zmat"
spawn mnist-decode "$TEST" -o "$OUT/test.zmat"
join

zmat split -n "$PCA" --shuffle --seed "$SHUFFLE_SEED" "$OUT/train.zmat" --pattern "$OUT/shard-{i}.zmat"
# Every tree task gets the full class list, so a shard missing a class still merges.
classes=$(zmat info --json "$OUT/train.zmat" | grep -o '"label_counts": {[^}]*}' | grep -o '"-\{0,1\}[0-9]*":' | tr -d '":' | paste -sd, -)

i=0
while [ "$i" -lt "$PCA" ]; do spawn pca-fit --partial "$OUT/shard-$i.zmat" -o "$OUT/pca-part-$i.zmat"; i=$((i + 1)); done
join
parts=""; i=0
while [ "$i" -lt "$PCA" ]; do parts="$parts $OUT/pca-part-$i.zmat"; i=$((i + 1)); done
# shellcheck disable=SC2086
pca-fit --merge $parts -k "$K" -o "$OUT/pca.zmat"

i=0
while [ "$i" -lt "$PCA" ]; do spawn pca-project -m "$OUT/pca.zmat" "$OUT/shard-$i.zmat" -o "$OUT/features-$i.zmat"; i=$((i + 1)); done
spawn pca-project -m "$OUT/pca.zmat" "$OUT/test.zmat" -o "$OUT/test-features.zmat"
join

j=0
while [ "$j" -lt "$RF" ]; do
  # shellcheck disable=SC2086
  spawn rf-tree "$OUT/features-$((j % PCA)).zmat" --classes "$classes" --trees "$TREES" --seed "$SEED" --tree-index $((j * TREES)) $TREE_FLAGS -o "$OUT/trees-$j.zmat"
  j=$((j + 1))
done
join
trees=""; j=0
while [ "$j" -lt "$RF" ]; do trees="$trees $OUT/trees-$j.zmat"; j=$((j + 1)); done
# shellcheck disable=SC2086
rf-merge $trees -o "$OUT/forest.zmat"
rf-eval -m "$OUT/forest.zmat" "$OUT/test-features.zmat" | tee "$OUT/report.txt"
