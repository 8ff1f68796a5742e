#!/usr/bin/env bash
# End-to-end tests of grove-stage's by-reference requests and RUNNER=http STORE=s3://..., against
# a real S3 server (SeaweedFS, signatures checked) on 127.0.0.1. Everything this starts is
# stopped by PID on exit; every wait is bounded. Run by `make test-stage` (and `make test-s3`).
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.bash" test-s3
cleanup() {
  exec 2>/dev/null
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
  STAGES_DIR=$work/stages pipelines/serverless/stages.bash stop "$work/stages" 2>/dev/null
  pipelines/serverless/s3-store.bash stop "$work/store" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work" "${rel:-/nonexistent}"
}
trap cleanup EXIT

echo "== a real S3 server on loopback: SeaweedFS"
if ! pipelines/serverless/s3-store.bash start "$work/store" grove; then
  echo "test-s3: could not start SeaweedFS" >&2; exit 1
fi
set -a; source "$work/store/store.env"; set +a
s3() {  # s3 KEY CURL-ARGS...: one signed request to the test bucket
  local key=$1; shift
  curl -sS --fail-with-body --max-time 20 --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@" "$AWS_ENDPOINT_URL/grove/$key"
}
# start NAME [grove-stage options] -- TEMPLATE: a by-reference stage on a free port; sets $url, $pid
start() {
  local name=$1; shift
  mkdir -p "$work/tmp-$name"
  grove-stage --name "$name" --port 0 --port-file "$work/$name.port" --tmp "$work/tmp-$name" --s3-bucket grove "$@" 2>"$work/$name.log" &
  pid=$!; pids+=("$pid")
  for _ in $(seq 100); do [ -s "$work/$name.port" ] && break; sleep 0.05; done
  url=http://127.0.0.1:$(cat "$work/$name.port")
}
ask() {  # ask URL JSON [curl args...]: a by-reference request; prints the status, body in $work/b
  local u=$1 body=$2; shift 2
  curl -sS --max-time 30 -X POST -H "Content-Type: ${ask_type:-application/json}" --data-binary "$body" -D "$work/h" -o "$work/b" -w '%{http_code}' "$@" "$u/"
}
header() { tr -d '\r' < "$work/h" | sed -n "s/^$1: *//Ip" | tail -1; }

# The local run every result is compared with (relative OUT, as `make run` uses).
rel=.stage-test-s3-$$
make --no-print-directory dag OUT="$rel/local" >/dev/null 2>&1
check "local reference run" test -f "$rel/local/forest.zmat"
mkdir -p "$work/direct"
for i in 0 1 2 3; do cp "$rel/local/trees-$i.zmat" "$work/direct/"; s3 "t/trees-$i.zmat" -o /dev/null -T "$rel/local/trees-$i.zmat"; done
cp "$rel/local/train.zmat" "$work/direct/"; s3 t/train.zmat -o /dev/null -T "$rel/local/train.zmat"

echo "== by reference: rf-merge"
start rf-merge -- rf-merge {inputs} -o {output}
merge='{"argv": ["rf-merge", "trees-0.zmat", "trees-1.zmat", "trees-2.zmat", "trees-3.zmat", "-o", "forest.zmat"],
  "inputs": {"trees-0.zmat": "t/trees-0.zmat", "trees-1.zmat": "t/trees-1.zmat", "trees-2.zmat": "t/trees-2.zmat", "trees-3.zmat": "t/trees-3.zmat"},
  "outputs": {"forest.zmat": "out/forest.zmat"}}'
check "rf-merge by reference: 200" test "$(ask "$url" "$merge")" = 200
check "the reply is JSON" test "$(header content-type)" = application/json
(cd "$work/direct" && rf-merge trees-0.zmat trees-1.zmat trees-2.zmat trees-3.zmat -o forest.zmat)
s3 out/forest.zmat -o "$work/forest.zmat"
check "the stored forest is rf-merge's, byte for byte" cmp -s "$work/forest.zmat" "$work/direct/forest.zmat"
check "the reply lists its key, size and ETag" grep -q "\"argument\": \"6\", \"key\": \"out/forest.zmat\", \"size\": $(stat -c %s "$work/direct/forest.zmat"), \"etag\": \"\\\\\"[0-9a-f]" "$work/b"
check "python's json reads the reply" python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert r["objects"][0]["key"] == "out/forest.zmat"' "$work/b"
check "one log line for the request, with its status and bytes" grep -q "bytes_out=$(stat -c %s "$work/direct/forest.zmat").*status=200" "$work/rf-merge.log"
code=$(ask "$url" "${merge/t\/trees-3.zmat/t/no-such.zmat}")
check "a missing input object: 404" test "$code" = 404
check "the 404 names the key" grep -q "'t/no-such.zmat' does not exist" "$work/b"
code=$(ask "$url" "${merge/t\/trees-3.zmat/t/../../etc/passwd}")
check "a key with ../: 400" test "$code" = 400
check "the 400 names the key" grep -q "'t/../../etc/passwd' has a '..' segment" "$work/b"
check "a key with a leading /: 400" test "$(ask "$url" "${merge/t\/trees-3.zmat//etc/passwd}")" = 400
check "a key with a control character: 400" test "$(ask "$url" "${merge/t\/trees-3.zmat/t\\u0001x}")" = 400
check "a key with a space: 400" test "$(ask "$url" "${merge/t\/trees-3.zmat/t x}")" = 400
code=$(ask "$url" "${merge/\"-o\"/\"--threads\", \"1\", \"-o\"}")
check "a smuggled flag in argv: 400" test "$code" = 400
check "the 400 names the flag" grep -q -- "--threads" "$work/b"
check "an input argument without an object: 400" test "$(ask "$url" "${merge/\"trees-3.zmat\": \"t\/trees-3.zmat\"/\"x\": \"t/x\"}")" = 400
check "another tool: 400" test "$(ask "$url" '{"argv": ["bash", "-c", "id"], "inputs": {}, "outputs": {}}')" = 400
check "not JSON: 400" test "$(ask "$url" 'argv=rf-merge')" = 400
check "no request folder left behind" test -z "$(ls -A "$work/tmp-rf-merge")"

echo "== CloudEvents, structured mode, by reference"
event="{\"specversion\": \"1.0\", \"id\": \"ev-7\", \"source\": \"/test/driver\", \"type\": \"dev.grove.merge\", \"datacontenttype\": \"application/json\", \"data\": ${merge/out\/forest.zmat/out/forest-ev.zmat}}"
code=$(ask_type=application/cloudevents+json ask "$url" "$event")
check "a structured event: 200" test "$code" = 200
check "the reply event's subject is the request's id" test "$(header ce-subject)-$(header ce-source)" = ev-7-/grove/stages/rf-merge
check "the event's outputs are in the store" bash -c "$(declare -f s3); s3 out/forest-ev.zmat -o '$work/forest-ev.zmat' && cmp -s '$work/forest-ev.zmat' '$work/direct/forest.zmat'"
check "the log line carries the event's id" grep -q 'ce_id=ev-7' "$work/rf-merge.log"
check "an event without source: 400" test "$(ask_type=application/cloudevents+json ask "$url" "${event/\"source\": \"\/test\/driver\", /}")" = 400
check "the 400 names the attribute" grep -q 'missing attribute source' "$work/b"

echo "== by reference: zmat split --pattern"
start zmat-split -- zmat split -n {int} {input} --pattern {pattern}
split='{"argv": ["zmat", "split", "-n", "3", "train.zmat", "--pattern", "part-{i}.zmat"], "inputs": {"train.zmat": "t/train.zmat"}, "outputs": {"part-{i}.zmat": "out/part-{i}.zmat"}}'
check "zmat split by reference: 200" test "$(ask "$url" "$split")" = 200
check "the reply lists every file of the pattern" test "$(grep -c '"key": "out/part-[0-2].zmat"' "$work/b")" = 3
(cd "$work/direct" && zmat split -n 3 train.zmat --pattern 'part-{i}.zmat')
for i in 0 1 2; do
  s3 "out/part-$i.zmat" -o "$work/part-$i.zmat"
  check "pattern file $i identical" cmp -s "$work/part-$i.zmat" "$work/direct/part-$i.zmat"
done
check "a pattern key without {i}: 400" test "$(ask "$url" "${split/out\/part-\{i\}.zmat/out/part.zmat}")" = 400

echo "== multipart upload (5 MiB parts) of an 8 MB output"
python3 -c '
import numpy, sys
numpy.save(sys.argv[1], numpy.random.default_rng(1).random((1000, 1000), dtype=numpy.float32))' "$work/noise.npy"
zmat convert "$work/noise.npy" -o "$work/direct/noise.zmat"
s3 t/noise.zmat -o /dev/null -T "$work/direct/noise.zmat"
start zmat-cat --s3-part-size 5M -- zmat cat {inputs} -o {output}
cat='{"argv": ["zmat", "cat", "noise.zmat", "noise.zmat", "-o", "big.zmat"], "inputs": {"noise.zmat": "t/noise.zmat"}, "outputs": {"big.zmat": "out/big.zmat"}}'
check "zmat cat of 2 x 4 MB by reference: 200" test "$(ask "$url" "$cat")" = 200
(cd "$work/direct" && zmat cat noise.zmat noise.zmat -o big.zmat)
size=$(stat -c %s "$work/direct/big.zmat")
check "the output is over one part ($size bytes)" test "$size" -gt $((5 << 20))
check "its ETag is a multipart upload's (-2: two parts)" grep -q '"etag": "\\"[0-9a-f]*-2\\""' "$work/b"
check "boto3 reads back the very bytes" python3 - "$work/direct/big.zmat" <<'PY'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
got = s3.get_object(Bucket="grove", Key="out/big.zmat")["Body"].read()
sys.exit(0 if got == open(sys.argv[1], "rb").read() else 1)
PY
check "no multipart upload left open" python3 - <<'PY'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
sys.exit(1 if s3.list_multipart_uploads(Bucket="grove").get("Uploads") else 0)
PY

echo "== the store refuses or is gone"
AWS_SECRET_ACCESS_KEY=wrong-secret start bad-secret -- rf-merge {inputs} -o {output}
code=$(ask "$url" "$merge")
check "a wrong secret key: the store's 403 is a 502" test "$code" = 502
check "the message names the store's 403 and the credentials" grep -q "answered 403 SignatureDoesNotMatch.*credentials" "$work/b"
AWS_ENDPOINT_URL=http://127.0.0.1:9 start no-store -- rf-merge {inputs} -o {output}
code=$(ask "$url" "$merge" -D "$work/h")
check "an unreachable store: 503 with Retry-After" test "$code-$(header retry-after)" = 503-1
check "the message says the store is unreachable" grep -q "unreachable" "$work/b"
check "no request folders left behind" test -z "$(find "$work" -mindepth 2 -maxdepth 2 -path "$work/tmp-*")"

echo "== the DAG by reference: make run RUNNER=http STORE=s3://grove/run"
STORE=s3://grove/run STAGES_DIR=$work/stages pipelines/serverless/stages.bash start "$work/stages" 2>/dev/null
out=$(STAGES_DIR=$work/stages make --no-print-directory run RUNNER=http STORE=s3://grove/run OUT="$rel/s3" 2>&1)
check "RUNNER=http STORE=s3:// run succeeds and prints the accuracy" grep -q '^accuracy: 0\.[0-9]' <<< "$out"
for f in train.zmat test.zmat shard-0.zmat pca.zmat trees-7.zmat forest.zmat predictions.zmat report.txt report.json confusion.png classes.txt; do
  check "STORE=s3:// $f identical" cmp -s "$rel/local/$f" "$rel/s3/$f"
done
check "every task recorded with status 0" awk -F'\t' 'NF >= 4 && $4 != 0 { bad = 1 } END { exit bad }' "$rel/s3/stage-times.tsv"
check "the stages got by-reference requests" grep -q 'stage=rf-merge status=200' "$work/stages/rf-merge.log"
check "the forest is in the store" bash -c "$(declare -f s3); s3 run/$rel/s3/forest.zmat -o '$work/forest-run.zmat' && cmp -s '$work/forest-run.zmat' '$rel/local/forest.zmat'"
check "the dataset went up once, as one tar" bash -c "$(declare -f s3); s3 run/datasets/mnist-images-2k.tar -o /dev/null"

echo "test-s3: $pass passed, $fail failed"
[ "$fail" = 0 ]
