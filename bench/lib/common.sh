# Shared by the bench/*.sh drivers (sourced, not run). Runs each case N times
# under /usr/bin/time, appends one JSON record per run to
# bench/results/<driver>-<UTC stamp>.jsonl, and leaves the Markdown summary to
# bench/lib/summarize.py.
#
# Environment:
#   GROVE_BIN  folder of the Grove binaries (default .build/release)
#   REPEATS    runs per short case (default 5); REPEATS_LONG for long ones (3)
#   PEERS=0    Grove only; GROVE=0 peers only
# shellcheck shell=bash

LC_NUMERIC=C  # EPOCHREALTIME with a "." decimal point
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
GROVE_BIN=${GROVE_BIN:-.build/release}
case $GROVE_BIN in /*) ;; *) GROVE_BIN="$REPO_DIR/$GROVE_BIN" ;; esac
REPEATS=${REPEATS:-5}
REPEATS_LONG=${REPEATS_LONG:-3}
VENV_PY="$BENCH_DIR/.venv/bin/python"
PEERS_DIR="$BENCH_DIR/peers"
CACHE_DIR=${BENCH_CACHE:-$BENCH_DIR/.cache}
FASHION_DIR=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
# numpy/OpenBLAS: this machine may pin OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in
# the environment; peers run without them so OpenBLAS picks its own kernel
# (threadpoolctl's choice is recorded in each peer's JSON, key "blas").
PEER_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)

note() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }

# bench_init NAME: results file, scratch folder (removed on exit), header notes.
bench_init() {
    BENCH_NAME=$1
    mkdir -p "$BENCH_DIR/results"
    STAMP=$(date -u +%Y%m%dT%H%M%SZ)
    RESULTS="$BENCH_DIR/results/$BENCH_NAME-$STAMP.jsonl"
    : >"$RESULTS"
    SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/grove-bench-$BENCH_NAME.XXXXXX")
    trap 'rm -rf "$SCRATCH"' EXIT
    [[ -x /usr/bin/time ]] || { note "needs GNU time (/usr/bin/time; apt-get install time)"; exit 1; }
    note "results: $RESULTS"
    note "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (timings are noisy on a shared machine)"
    if awk -v n="$(nproc)" '{exit !($1 > n / 2)}' /proc/loadavg; then
        note "WARNING: the machine is busy (load above half the cores): numbers will be noisy, and"
        note "  multi-threaded peers (OpenBLAS, n_jobs=2) suffer more than single-threaded runs"
    fi
}

# grove_tool NAME: prints the binary's path when it exists and is not the
# "Not built yet." stub; otherwise notes why and returns 1.
grove_tool() {
    local bin="$GROVE_BIN/$1"
    if [[ ${GROVE:-1} == 0 ]]; then return 1; fi
    if [[ ! -x $bin ]]; then
        note "skip Grove $1: $bin not built (make build, or set GROVE_BIN)"
        return 1
    fi
    local help
    help=$("$bin" --help 2>&1 || true)
    if [[ $help == *"Not built yet"* ]]; then
        note "skip Grove $1: $bin is still a stub"
        return 1
    fi
    printf '%s\n' "$bin"
}

# have_python_peers / have_ranger / have_opencv: peers are optional.
have_python_peers() {
    [[ ${PEERS:-1} != 0 ]] || return 1
    if [[ -x $VENV_PY ]] && "$VENV_PY" -c 'import numpy, sklearn, PIL' 2>/dev/null; then return 0; fi
    note "skip Python peers: bench/.venv missing (run bench/setup-peers.sh)"
    return 1
}
have_opencv() {
    have_python_peers 2>/dev/null || return 1
    "$VENV_PY" -c 'import cv2; cv2.ml.RTrees_create' 2>/dev/null && return 0
    note "skip OpenCV peer: cv2 with the ml module missing (bench/setup-peers.sh installs opencv<5)"
    return 1
}
have_ranger() {
    [[ ${PEERS:-1} != 0 ]] || return 1
    if command -v Rscript >/dev/null && Rscript -e 'library(ranger)' >/dev/null 2>&1; then return 0; fi
    note "skip ranger: Rscript or r-cran-ranger missing (bench/setup-peers.sh)"
    return 1
}

# run_case BENCH WHO NAME KEY N [k=v ...] -- CMD...
#   BENCH  groups rows whose Grove/peer ratios are compared ("pca-fit 60k")
#   WHO    grove | peer
#   KEY    field of the command's JSON line that times the work inside the
#          process ("-" = none; the whole-process wall is used)
#   k=v    numbers attached to the case: mb= (input MB, gives MB/s),
#          items= (images or rows, gives items/s)
# The command's stdout is kept; its last JSON line, or an "accuracy: X" line,
# becomes the record's "inner" fields. A failing run is recorded with its exit
# code and stderr tail, and the driver goes on.
run_case() {
    local bench=$1 who=$2 name=$3 key=$4 n=$5
    shift 5
    local extras=()
    while [[ $1 != -- ]]; do extras+=("$1"); shift; done
    shift
    local i rc t0 t1 out="$SCRATCH/run.out" err="$SCRATCH/run.err" tim="$SCRATCH/run.time"
    for ((i = 1; i <= n; i++)); do
        rc=0
        # Wall from bash's microsecond clock (GNU time's %e has 10 ms steps);
        # CPU and peak RSS from GNU time.
        t0=$EPOCHREALTIME
        /usr/bin/time -f '%e %U %S %M' -o "$tim" "$@" >"$out" 2>"$err" || rc=$?
        t1=$EPOCHREALTIME
        python3 "$BENCH_DIR/lib/record.py" "$bench" "$who" "$name" "$key" "$i" "$rc" \
            "$tim" "$out" "$err" "${extras[@]}" "wall_us=$(( ${t1/./} - ${t0/./} ))" -- "$@" >>"$RESULTS"
        if ((rc != 0)); then
            note "$name failed (exit $rc): $(tail -n 3 "$err" | tr '\n' ' ')"
            break
        fi
    done
    printf '%s: %s: %d run(s)\n' "$BENCH_NAME" "$name" "$((i > n ? n : i))" >&2
}

summarize() { python3 "$BENCH_DIR/lib/summarize.py" "$RESULTS"; }

# derive_case FROM_BENCH TO_BENCH KEY: copies this run's peer records of one
# group into another with a different timed key, so one peer run (train and
# predict timed inside one process) fills two comparisons.
derive_case() {
    python3 - "$RESULTS" "$1" "$2" "$3" <<'PY'
import json, sys
path, src, dst, key = sys.argv[1:]
records = [json.loads(l) for l in open(path) if l.strip()]
with open(path, "a") as out:
    for r in records:
        if r["bench"] == src and r["who"] == "peer" and not r.get("derived"):
            r = dict(r, bench=dst, key=key, derived=True)
            r.pop("mb", None); r.pop("items", None)
            out.write(json.dumps(r) + "\n")
PY
}
