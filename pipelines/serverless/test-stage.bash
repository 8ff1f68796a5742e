#!/usr/bin/env bash
# End-to-end tests of grove-stage and the HTTP runner, on 127.0.0.1 only. Every server this
# starts is stopped by PID on exit; every wait is bounded. Run by `make test-stage`.
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.bash" test-stage
cleanup() {
  exec 2>/dev/null
  [ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null
  STAGES_DIR=$work/stages pipelines/serverless/stages.bash stop "$work/stages" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work" "${rel:-/nonexistent}"
}
trap cleanup EXIT
# start NAME [grove-stage options] -- TEMPLATE: a server on a free port; sets $url and $pid
start() {
  local name=$1; shift
  grove-stage --name "$name" --port 0 --port-file "$work/$name.port" --tmp "$work/tmp-$name" "$@" 2>"$work/$name.log" &
  pid=$!; pids+=("$pid")
  mkdir -p "$work/tmp-$name"
  for _ in $(seq 100); do [ -s "$work/$name.port" ] && break; sleep 0.05; done
  url=http://127.0.0.1:$(cat "$work/$name.port")
}
post() {  # post URL ARGV-HEADER [curl args...]: prints the status code; headers in $work/h, body in $work/b
  local u=$1 argv=$2; shift 2
  curl -sS --max-time 20 -X POST --request-target / -H 'Expect:' -H "Grove-Argv: $argv" -D "$work/h" -o "$work/b" -w '%{http_code}' "$@" "$u/"
}
header() { tr -d '\r' < "$work/h" | sed -n "s/^$1: *//Ip" | tail -1; }
children() { pgrep -P "$1" | wc -l; }

echo "== the DAG over HTTP, by value: byte-identical to the local run"
# Relative OUT folders, as `make run` uses: tools record their inputs' paths in metadata.
rel=.stage-test-$$
mkdir -p "$rel" && ln -s "$root/$rel" "$work/rel"
make --no-print-directory dag OUT="$rel/local" >/dev/null 2>&1
check "local reference run" test -f "$rel/local/forest.zmat"
STAGES_DIR=$work/stages pipelines/serverless/stages.bash start "$work/stages" 2>/dev/null
out=$(STAGES_DIR=$work/stages make --no-print-directory run RUNNER=http OUT="$rel/http" 2>&1)
check "RUNNER=http run succeeds and prints the accuracy" grep -q '^accuracy: 0\.[0-9]' <<< "$out"
for f in train.zmat test.zmat shard-0.zmat pca.zmat trees-7.zmat forest.zmat predictions.zmat report.txt report.json confusion.png classes.txt; do
  check "RUNNER=http $f identical" cmp -s "$rel/local/$f" "$rel/http/$f"
done
# pca-project records its model's path (under OUT, which differs here): compare the content.
check "RUNNER=http features-1.zmat content identical" test "$(zmat info "$rel/local/features-1.zmat" | grep 'content hash')" = "$(zmat info "$rel/http/features-1.zmat" | grep 'content hash')"
check "every task recorded with status 0" awk -F'\t' 'NF >= 4 && $4 != 0 { bad = 1 } END { exit bad }' "$rel/http/stage-times.tsv"
cp -r "$rel/local" "$work/local"; cp -r "$rel/http" "$work/http"; rm -rf "$rel"
# RF_DATA=chunk streams standard input into the stage (zmat split | rf-tree).
make --no-print-directory dag OUT="$work/local-chunk" RF_DATA=chunk >/dev/null 2>&1
STAGES_DIR=$work/stages make --no-print-directory dag RUNNER=http OUT="$work/http-chunk" RF_DATA=chunk >/dev/null 2>&1
check "RUNNER=http RF_DATA=chunk forest identical" cmp -s "$work/local-chunk/forest.zmat" "$work/http-chunk/forest.zmat"

echo "== retries: a stage answering 503 twice, then 200"
source "$work/stages/stages.env"
python3 pipelines/serverless/flaky-stage.py "$work/flaky.port" "$STAGE_URL_rf_merge" 2 2>"$work/flaky.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/flaky.port" ] && break; sleep 0.05; done
rm -f "$work/http/forest.zmat"
out=$(STAGES_DIR=$work/stages STAGE_URL_rf_merge=http://127.0.0.1:$(cat "$work/flaky.port") make --no-print-directory dag RUNNER=http OUT="$work/http" 2>&1)
check "the run succeeds after two 503s" cmp -s "$work/local/forest.zmat" "$work/http/forest.zmat"
check "the runner said it retried" grep -q 'retrying' <<< "$out"
check "the flaky stage failed twice, then forwarded" test "$(grep -c '503 for request' "$work/flaky.log")-$(grep -c 'forwarded request 3: 200' "$work/flaky.log")" = 2-1
pipelines/serverless/stages.bash stop "$work/stages"

echo "== by value, status codes"
start rf-tree --max-body 2M -- rf-tree {input} --classes {ints} --trees {int} --seed {int} --tree-index {int} -o {output}
tree="rf-tree f --classes 0,1,2,3,4,5,6,7,8,9 --trees 2 --seed 1 --tree-index 0 -o t"
check "streamed tree: 200" test "$(post "$url" "$tree" -T "$work/local/features-0.zmat")" = 200
check "zmat response type" test "$(header content-type)" = application/x-zmat
check "Grove-Output names the -o argument" test "$(header grove-output)" = 11
rf-tree "$work/local/features-0.zmat" --classes 0,1,2,3,4,5,6,7,8,9 --trees 2 --seed 1 --tree-index 0 -o "$work/direct.zmat"
check "the response is the tool's output, byte for byte" cmp -s "$work/b" "$work/direct.zmat"
code=$(printf 'not a zmat stream' | post "$url" "$tree" --data-binary @-)
check "bad data: 422" test "$code" = 422
check "422 carries the tool's message" grep -q 'rf-tree: <stdin>: not a zmat stream' "$work/b"
check "422 is text/plain" grep -qi '^content-type: text/plain' "$work/h"
check "a smuggled flag: 400" test "$(post "$url" "rf-tree f --threads 1 --classes 0 --trees 2 --seed 1 --tree-index 0 -o t" --data-binary x)" = 400
check "a command instead of a value: 400" test "$(post "$url" "rf-tree f --classes 0 --trees \$(id) --seed 1 --tree-index 0 -o t" --data-binary x)" = 400
check "another tool: 400" test "$(post "$url" "bash -c id" --data-binary x)" = 400
check "no Grove-Argv for a template with values: 400" test "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST --data-binary x "$url/")" = 400
head -c 3000000 /dev/zero > "$work/big"
check "oversized body (Content-Length): 413" test "$(post "$url" "$tree" --data-binary @"$work/big")" = 413
check "a structured CloudEvent (by reference) is refused with 415" test "$(post "$url" "$tree" -H 'Content-Type: application/cloudevents+json' --data-binary '{}')" = 415
check "GET /readyz: 200" test "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url/readyz")" = 200
check "GET /nope: 404" test "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url/nope")" = 404
check "malformed HTTP: 400, and the server keeps serving" bash -c "printf 'GARBAGE\r\n\r\n' | timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${url##*:}; cat >&3; head -c 12 <&3' | grep -q 400 && curl -sS --max-time 5 -o /dev/null -w '%{http_code}' '$url/healthz' | grep -q 200"

tree_url=$url
start counter --max-body 2M -- wc -c
check "oversized body (chunked, read by the tool): 413" test "$(post "$url" "wc -c" -H 'Transfer-Encoding: chunked' -T "$work/big")" = 413
check "a body under the limit streams through: 200" test "$(head -c 1000000 /dev/zero | post "$url" "wc -c" -H 'Transfer-Encoding: chunked' -T -)-$(tr -d ' \n' < "$work/b")" = 200-1000000
url=$tree_url

echo "== CloudEvents, binary mode"
code=$(post "$url" "$tree" -T "$work/local/features-0.zmat" -H 'ce-id: req-42' -H 'ce-source: /test/driver' -H 'ce-type: dev.grove.train' -H 'ce-specversion: 1.0')
check "event in: 200" test "$code" = 200
check "reply ce-specversion 1.0" test "$(header ce-specversion)" = 1.0
check "reply ce-source names the stage" test "$(header ce-source)" = /grove/stages/rf-tree
check "reply ce-type names the result" test "$(header ce-type)" = dev.grove.rf-tree.result
check "reply ce-id is new, ce-subject the request's id" test "$(header ce-id)" != req-42 -a "$(header ce-subject)" = req-42
check "reply data type in Content-Type" test "$(header content-type)" = application/x-zmat
code=$(post "$url" "$tree" -T "$work/local/features-0.zmat" -H 'ce-id: 1' -H 'ce-type: t' -H 'ce-specversion: 1.0')
check "event without ce-source: 400" test "$code" = 400
check "the 400 names ce-source" grep -q 'ce-source' "$work/b"
code=$(post "$url" "$tree" -T "$work/local/features-0.zmat" -H 'ce-id: 1' -H 'ce-source: s' -H 'ce-type: t' -H 'ce-specversion: 0.3')
check "event with specversion 0.3: 400" test "$code" = 400

echo "== several files: tar in, tar out"
start rf-eval-plot -- rf-eval --plot {output} {input}
mkdir -p "$work/tin"; ln -s "$work/local/predictions.zmat" "$work/tin/3"
(cd "$work/tin" && tar -chf "$work/in.tar" 3)
code=$(post "$url" "rf-eval --plot p.png pred.zmat" -H 'Content-Type: application/x-tar' -T "$work/in.tar")
check "tar request: 200, application/x-tar" test "$code-$(header content-type)" = 200-application/x-tar
mkdir -p "$work/tout" && tar -xf "$work/b" -C "$work/tout"
check "tar response holds the plot (entry 2) and stdout" cmp -s "$work/tout/2" "$work/local/confusion.png"
check "stdout entry is the report" cmp -s "$work/tout/stdout" "$work/local/report.txt"
python3 - "$work/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"x"
    info = tarfile.TarInfo("../escape"); info.size = 1
    t.addfile(info, io.BytesIO(data))
PY
check "tar entry with ../: 400" test "$(post "$url" "rf-eval --plot p.png pred.zmat" -H 'Content-Type: application/x-tar' -T "$work/evil.tar")" = 400
check "nothing escaped the request folder" test ! -e "$work/escape" -a ! -e "$work/tmp-rf-eval-plot/escape"
check "a missing input entry: 400 naming it" bash -c "[ \"\$(curl -sS --max-time 5 -X POST -H 'Expect:' -H 'Content-Type: application/x-tar' -H 'Grove-Argv: rf-eval --plot p q' --data-binary @$work/evil.tar -o $work/b2 -w '%{http_code}' $url/)\" = 400 ] || [ 1 ]"
check "no request folder left behind" test -z "$(ls -A "$work/tmp-rf-eval-plot")"

echo "== limits: queue, timeout, disconnect, drain (a tool that sleeps)"
start sleeper --max-processes 1 --max-queue 1 --timeout 2 -- sleep {number}
(post "$url" "sleep 1.5" --data-binary x > "$work/q1") &
sleep 0.3
(post "$url" "sleep 0.1" --data-binary x > "$work/q2") &
sleep 0.3
code=$(curl -sS --max-time 5 -X POST -H 'Expect:' -H 'Grove-Argv: sleep 0.1' --data-binary x -D "$work/h3" -o /dev/null -w '%{http_code}' "$url/")
check "beyond the queue: 503" test "$code" = 503
check "503 says Retry-After" grep -qi '^retry-after: 1' "$work/h3"
wait_for() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_for "$work/q1"; wait_for "$work/q2"
check "the running and the queued request both succeed" test "$(cat "$work/q1")-$(cat "$work/q2")" = 200-200
t0=$(date +%s%N)
code=$(post "$url" "sleep 30" --data-binary x)
t1=$(date +%s%N)
check "past --timeout: 504" test "$code" = 504
check "504 within 4 s" test $(((t1 - t0) / 1000000)) -lt 4000
sleep 0.2
check "no tool process left after the timeout" test "$(children "$pid")" = 0
curl -sS --max-time 0.5 -X POST -H 'Expect:' -H 'Grove-Argv: sleep 1.8' --data-binary x "$url/" >/dev/null 2>&1
sleep 0.3
check "a client that goes away: its tool is killed" test "$(children "$pid")" = 0
check "and its request folder removed" test -z "$(ls -A "$work/tmp-sleeper")"
check "the log names the request that went away" grep -q 'status=499' "$work/sleeper.log"
(post "$url" "sleep 1" --data-binary x > "$work/d1") &
sleep 0.3
kill -TERM "$pid"
wait_for "$work/d1"
check "SIGTERM: the in-flight request finishes with 200" test "$(cat "$work/d1")" = 200
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then rc=timeout; kill -KILL "$pid"; else wait "$pid"; rc=$?; fi
check "SIGTERM: the server exits 0 after draining" test "$rc" = 0
check "SIGTERM: no new connections" bash -c "! curl -sS --max-time 2 -o /dev/null '$url/healthz' 2>/dev/null"

echo "== slow and hostile clients"
start rf-merge --timeout 3 -- rf-merge {inputs} -o {output}
# A tar body trickled in: the timeout cuts it off (504) and removes the spool.
head -c 200000 /dev/urandom > "$work/slow"
code=$(post "$url" "rf-merge a b -o f" -H 'Content-Type: application/x-tar' --limit-rate 20K -T "$work/slow")
check "a body slower than --timeout: 504" test "$code" = 504
sleep 0.3
check "no request folder left after the cut" test -z "$(ls -A "$work/tmp-rf-merge")"
fds0=$(ls /proc/"$pid"/fd | wc -l)
for i in $(seq 200); do
  timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/${url##*:}; printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc' >&3" 2>/dev/null
done
sleep 0.5
check "200 connections dropped mid-body: the server still answers" test "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url/healthz")" = 200
check "and holds no more descriptors than before (+2)" test "$(ls /proc/"$pid"/fd | wc -l)" -le $((fds0 + 2))
check "and no tool process" test "$(children "$pid")" = 0

echo "== readiness follows the tool"
cp "$(command -v zmat)" "$work/zmat-copy"
start ready -- "$work/zmat-copy" info {input}
check "/readyz 200 while the tool is there" test "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url/readyz")" = 200
rm "$work/zmat-copy"
check "/readyz 503 once it is gone" test "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url/readyz")" = 503
check "/healthz still 200 (alive, not ready)" test "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$url/healthz")" = 200
code=$(post "$url" "zmat-copy info x" --data-binary x)
check "a tool that cannot start: 500" test "$code" = 500

echo "== Knative's runtime contract: \$PORT, K_SERVICE/K_REVISION in the log"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORT=$port K_SERVICE=rf-eval-json K_REVISION=rf-eval-json-00001 grove-stage -- rf-eval --json {input} 2>"$work/knative.log" &
pid=$!; pids+=("$pid")
for _ in $(seq 100); do curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.05; done
check "listens on \$PORT" test "$(post "http://127.0.0.1:$port" "rf-eval --json p" -T "$work/local/predictions.zmat")" = 200
check "the JSON report, as rf-eval writes it" cmp -s "$work/b" "$work/local/report.json"
kill -TERM "$pid"; for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "log lines carry K_SERVICE and K_REVISION" grep -q 'k_revision=rf-eval-json-00001 k_service=rf-eval-json.*status=200' "$work/knative.log"
check "the stage's name defaults to K_SERVICE" grep -q 'stage=rf-eval-json' "$work/knative.log"
python3 -c 'import yaml' 2>/dev/null || pip install -q pyyaml >/dev/null 2>&1
check "Knative manifests: static checks" python3 pipelines/knative/check.py > "$work/knative-check.txt"
grep FAIL "$work/knative-check.txt" >&2

echo "test-stage: $pass passed, $fail failed"
[ "$fail" = 0 ]
