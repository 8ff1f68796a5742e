#!/usr/bin/env bash
# The containers suite (make test-containers, after `make build images`): every image runs its
# tool's --help as the non-root user with its labels; a pipe through three containers gives the
# local pipe's bytes; bad input through a container exits 1 with the tool's own message; the DAG
# under RUNNER=podman gives make run's files byte for byte; the portable tarball holds no Swift
# runtime; building the images (and the tarball) again gives the same digests; nothing is left
# running or mounted. Every podman call is bounded by `timeout`. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
: "${CONTAINERS_CONF:?run through make test-containers}" "${CONTAINERS_STORAGE_CONF:?}"
MAKE=${MAKE:-make}
ROOT=$PWD/.containers
T=$ROOT/test
TOOLS=${GROVE_TOOLS:?}
BIN=${BIN:-$PWD/.build/release}
rm -rf "$T"; mkdir -p "$T"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
prun() { timeout 120 podman run --rm -i --pull=never --network=none --read-only --user "$(id -u):$(id -g)" -v "$PWD:$PWD:ro" -w "$PWD" "$@"; }
started=$(date +%s)

# --- every image: --help, non-root user, labels, nothing but the tool and its libraries --------
revision=$(git rev-parse HEAD)
for t in $TOOLS; do
  if prun "grove/$t" --help > "$T/help-$t" 2>&1 && grep -q '^USAGE:' "$T/help-$t"; then
    ok "grove/$t --help"
  else
    bad "grove/$t --help: $(head -3 "$T/help-$t")"
  fi
  cfg=$(podman image inspect --format '{{.Config.User}} {{index .Config.Labels "org.opencontainers.image.revision"}} {{index .Config.Labels "org.opencontainers.image.title"}}' "grove/$t")
  check "grove/$t runs as 65532, labelled with commit and title ($cfg)" [ "$cfg" = "65532:65532 $revision $t" ]
  # The layer's files: the tool, ld.so, the libraries ldd names, /etc/passwd and /etc/group.
  layer=$(tar -xOf "$ROOT/images/$t.oci.tar" index.json | grep -o 'sha256:[0-9a-f]*' | head -1)
  layer=$(tar -xOf "$ROOT/images/$t.oci.tar" "blobs/sha256/${layer#sha256:}" | grep -o '"layers":\[[^]]*' | grep -o 'sha256:[0-9a-f]*')
  tar -xOf "$ROOT/images/$t.oci.tar" "blobs/sha256/${layer#sha256:}" | tar -tzf - | grep -v '/$' | sort > "$T/files-$t"
  { echo "etc/group"; echo "etc/passwd"; echo "usr/bin/$t"
    ldd "$PWD/dist/bin/$t" 2>/dev/null | awk '$3 ~ /^\// { print substr($3, 2) } $1 ~ /^\// { print substr($1, 2) }'
  } | sort > "$T/want-$t"
  check "grove/$t holds only its tool, loader and libraries" cmp -s "$T/files-$t" "$T/want-$t"
done
check "no shell in an image" bash -c '! prun grove/zmat --entrypoint /bin/sh -c true 2>/dev/null; ! timeout 60 podman run --rm --pull=never --entrypoint /bin/sh grove/zmat -c true >/dev/null 2>&1'

# --- the DAG: make run, then RUNNER=podman, byte for byte --------------------------------------
# Both into the same OUT (files record their input paths), moved aside after each run.
$MAKE --no-print-directory run OUT="$T/dag" > "$T/run-local.log" 2>&1 || bad "make run (see $T/run-local.log)"
mv "$T/dag" "$T/local"
t0=$EPOCHREALTIME
if $MAKE --no-print-directory run RUNNER=podman OUT="$T/dag" > "$T/run-podman.log" 2>&1; then
  ok "make run RUNNER=podman ($(echo "$EPOCHREALTIME - $t0" | bc) s with make's own work)"
else
  bad "make run RUNNER=podman (see $T/run-podman.log)"
fi
mv "$T/dag" "$T/podman"
check "RUNNER=podman wrote the forest, predictions and reports" \
  bash -c "cd '$T/podman' && [ -s forest.zmat ] && [ -s predictions.zmat ] && [ -s report.txt ] && [ -s confusion.png ]"
# The run's records and its HTML page (which shows them: times, runner) differ by design.
(cd "$T/local" && find . -type f ! -name stage-times.tsv ! -name report.html | sort) > "$T/files-local"
(cd "$T/podman" && find . -type f ! -name stage-times.tsv ! -name report.html | sort) > "$T/files-podman"
check "RUNNER=podman wrote the same $(wc -l < "$T/files-local") files as make run" cmp "$T/files-local" "$T/files-podman"
differ=$(cd "$T/local" && while read -r f; do cmp -s "$f" "$T/podman/$f" || echo "$f"; done < "$T/files-local")
check "RUNNER=podman: every file byte-identical to make run's (forest included)${differ:+; differ: $differ}" [ -z "$differ" ]
check "every RUNNER=podman task recorded as run by podman, all succeeded" \
  awk -F'\t' '$5 != "podman" || $4 != 0 { bad = 1 } END { exit bad || NR < 20 }' "$T/podman/stage-times.tsv"

# --- three containers in a pipe, with the trained model mounted (read-only) --------------------
mnist-decode datasets/mnist-test-3k | pca-project -m "$T/local/pca.zmat" | rf-predict -m "$T/local/forest.zmat" > "$T/pipe-local.zmat"
prun grove/mnist-decode datasets/mnist-test-3k | prun grove/pca-project -m "$T/local/pca.zmat" \
  | prun grove/rf-predict -m "$T/local/forest.zmat" > "$T/pipe-podman.zmat"
check "mnist-decode | pca-project | rf-predict: three containers give the local pipe's bytes" \
  bash -c "[ -s '$T/pipe-local.zmat' ] && cmp '$T/pipe-local.zmat' '$T/pipe-podman.zmat'"

# --- bad input: exit 1 and the tool's own message ----------------------------------------------
badinput() {  # NAME TOOL ARGS...: stdin garbage through the image and the local tool
  local name=$1; shift
  local tool=$1; shift
  printf 'not a zmat stream\n' | prun "grove/$tool" "$@" > /dev/null 2> "$T/bad-$name.podman"; local pst=$?
  printf 'not a zmat stream\n' | "$tool" "$@" > /dev/null 2> "$T/bad-$name.local"; local lst=$?
  check "bad input to grove/$tool $*: exit $pst (local $lst), message '$(head -1 "$T/bad-$name.podman")'" \
    bash -c "[ $pst = 1 ] && [ $lst = 1 ] && [ -s '$T/bad-$name.local' ] && cmp -s '$T/bad-$name.local' '$T/bad-$name.podman'"
}
badinput zmat-info zmat info
badinput rf-predict rf-predict -m "$T/local/forest.zmat"
badinput pca-project pca-project -m "$T/local/pca.zmat"
prun grove/zmat info "$T/missing.zmat" > /dev/null 2> "$T/bad-missing"; st=$?
check "a missing file through a container: exit $st, message names it" \
  bash -c "[ $st = 1 ] && grep -q 'missing.zmat' '$T/bad-missing'"
# The root filesystem is read-only and there is no network.
prun grove/zmat cat "$T/local/train.zmat" -o /usr/bin/x.zmat > /dev/null 2> "$T/ro"; st=$?
check "writing into the read-only root filesystem fails (exit $st: $(head -1 "$T/ro"))" [ "$st" = 1 ]
prun --user "$(id -u):$(id -g)" -v "$T:$T" grove/zmat cat "$T/local/train.zmat" -o "$T/rw.zmat" 2> "$T/rw"; st=$?
zmat cat "$T/local/train.zmat" -o "$T/rw-local.zmat"
check "a mounted folder is writable, files owned by the caller (exit $st)" \
  bash -c "[ $st = 0 ] && cmp -s '$T/rw-local.zmat' '$T/rw.zmat' && [ \"\$(stat -c %u '$T/rw.zmat')\" = $(id -u) ]"

# --- portable tarball --------------------------------------------------------------------------
tarball=$(ls dist/grove-*-linux-x86_64.tar.gz)
check "dist: no tool loads a Swift runtime library" bash -c "! grep -q libswift dist/SHARED-LIBS.txt && grep -q libzstd dist/SHARED-LIBS.txt"
mkdir -p "$T/tarball" && tar -C "$T/tarball" -xzf "$tarball"
check "dist: the tarball's zmat runs with PATH holding only its bin/" \
  bash -c "cd '$T' && env -i PATH='$(echo "$T"/tarball/grove-*/bin)' zmat info local/train.zmat | grep -q rows"

# --- reproducible: build everything again --------------------------------------------------------
cp "$ROOT/images/images.tsv" "$T/images-1.tsv"
sha1=$(sha256sum < "$tarball")
timeout 120 podman rmi -f $(for t in $TOOLS; do echo "grove/$t"; done) > /dev/null
rm -rf "$ROOT/images" "$ROOT/context" "$tarball"
if $MAKE --no-print-directory images dist > "$T/rebuild.log" 2>&1; then
  tarball=$(ls dist/grove-*-linux-x86_64.tar.gz)
  check "images built twice: the same manifest and layer digests" cmp "$T/images-1.tsv" "$ROOT/images/images.tsv"
  check "tarball built twice: the same bytes" [ "$sha1" = "$(sha256sum < "$tarball")" ]
else
  bad "rebuilding images (see $T/rebuild.log)"
fi

# --- sizes against the goal: at most 12 MB per compressed image layer ---------------------------
while IFS=$'\t' read -r image manifest layer bytes raw; do
  [ "$image" = image ] && continue
  # The goal is per tool image; a stage image holds two binaries, each with the Swift runtime.
  case $image in
  */stage-*) echo "info $image layer $bytes bytes compressed (grove-stage + its tool)" ;;
  *) check "$image layer $bytes bytes compressed (goal <= 12000000)" [ "$bytes" -le 12000000 ] ;;
  esac
done < "$ROOT/images/images.tsv"

# --- a stage image serves its tool over HTTP on loopback ---------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if cid=$(timeout 60 podman run -d --rm --pull=never --read-only -p 127.0.0.1:$port:8080 \
    grove/stage-rf-eval --host 0.0.0.0 -- rf-eval --json {input} 2>"$T/stage-run.err"); then
  for _ in $(seq 100); do curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
  code=$(curl -sS --max-time 20 -X POST -H 'Expect:' -H 'Grove-Argv: rf-eval --json p.zmat' -T "$T/local/predictions.zmat" \
    --request-target / -o "$T/stage-report.json" -w '%{http_code}' "http://127.0.0.1:$port/")
  check "grove/stage-rf-eval answers on 127.0.0.1:$port with 200" [ "$code" = 200 ]
  check "and its body is rf-eval --json's report, byte for byte" cmp -s "$T/stage-report.json" "$T/local/report.json"
  timeout 60 podman stop -t 5 "$cid" >/dev/null 2>&1
else
  bad "podman run grove/stage-rf-eval: $(head -3 "$T/stage-run.err")"
fi

# --- left as found -------------------------------------------------------------------------------
check "no container left" [ -z "$(timeout 60 podman ps -aq)" ]
check "nothing mounted under .containers" bash -c "! grep -q ' $ROOT/' /proc/mounts"
echo "containers suite: $(($(date +%s) - started)) s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
