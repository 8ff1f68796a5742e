#!/usr/bin/env bash
# bench/containers.sh (issue 9): what a container costs. After `make build images`:
#   1. one task, bare tool vs `podman run` of its image (the podman runner's flags): wall and
#      CPU (user+sys of podman; conmon and runc are not its children, so CPU is a lower bound)
#   2. the 2k DAG: `make run` vs `make run RUNNER=podman`, fresh OUT each run
#   3. image sizes from .containers/images/images.tsv
# REPEATS (default 9 for 1, 5 for 2). Prints Markdown; the load average before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
R=${REPEATS:-9}
export CONTAINERS_CONF=$PWD/.containers/containers.conf CONTAINERS_STORAGE_CONF=$PWD/.containers/storage.conf
export PATH=$PWD/.build/release:$PATH
work=$(mktemp -d /tmp/grove-bench-containers.XXXXXX)
trap 'rm -rf "$work"' EXIT
med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
timed() {  # timed OUTFILE CMD...: appends "wall cpu"
  local out=$1; shift
  /usr/bin/time -f '%e %U %S' -o "$work/t" "$@" > /dev/null 2>&1
  awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$work/t" >> "$out"
}
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
mnist-decode datasets/mnist-images-2k -o "$work/train.zmat"
P="podman run --rm -i --pull=never --network=none --read-only --log-driver=none --user $(id -u):$(id -g) -v $PWD:$PWD:ro -v $work:$work -w $PWD"
echo "| task | bare wall s | podman wall s | podman CPU s | overhead s |"
echo "|---|---|---|---|---|"
row() {  # row LABEL TOOL ARGS...
  local label=$1 tool=$2; shift 2
  rm -f "$work/b" "$work/p"
  for i in $(seq "$R"); do timed "$work/b" "$tool" "$@"; timed "$work/p" $P "grove/$tool" "$@"; done
  local bw pw pc
  bw=$(cut -d' ' -f1 "$work/b" | med); pw=$(cut -d' ' -f1 "$work/p" | med); pc=$(cut -d' ' -f2 "$work/p" | med)
  echo "| $label | $bw | $pw | $pc | $(echo "$pw - $bw" | bc) |"
}
row '`zmat info` (2k x 784)' zmat info "$work/train.zmat"
row '`mnist-decode` 2k PNGs' mnist-decode datasets/mnist-images-2k -o "$work/d.zmat"
row '`pca-fit -k 10` (2k x 784)' pca-fit -k 10 "$work/train.zmat" -o "$work/pca.zmat"
echo
echo "| DAG (2k train, 3k test, 20 tasks) | wall s (median of ${DAG_REPEATS:-5}) | min | max | CPU s |"
echo "|---|---|---|---|---|"
for runner in local podman; do
  rm -f "$work/r"
  for i in $(seq "${DAG_REPEATS:-5}"); do
    rm -rf "$work/out"
    timed "$work/r" make --no-print-directory run RUNNER=$runner OUT="$work/out"
  done
  echo "| \`make run RUNNER=$runner\` | $(cut -d' ' -f1 "$work/r" | med) | $(cut -d' ' -f1 "$work/r" | sort -n | head -1) | $(cut -d' ' -f1 "$work/r" | sort -n | tail -1) | $(cut -d' ' -f2 "$work/r" | med) |"
done
echo
echo "| image | compressed layer bytes | root filesystem bytes |"
echo "|---|---|---|"
awk -F'\t' 'NR > 1 { printf "| %s | %s | %s |\n", $1, $4, $5 }' .containers/images/images.tsv
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
