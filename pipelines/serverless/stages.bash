#!/usr/bin/env bash
# Starts or stops one grove-stage per line of stages.tsv on loopback, for a local serverless run:
#   stages.bash start DIR    ports chosen by the kernel; DIR/stages.env holds STAGE_URL_<name>;
#                            with STORE=s3://BUCKET/PREFIX every stage gets --s3-bucket BUCKET
#   stages.bash stop DIR     SIGTERM (the stages drain), then SIGKILL after 10 s; DIR emptied
# Every server's pid is in DIR/<name>.pid, its log in DIR/<name>.log.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
action=${1:?usage: stages.bash start|stop DIR}
dir=${2:?usage: stages.bash start|stop DIR}
table=${STAGES_TABLE:-$here/stages.tsv}

stop() {
  local pids=() f
  for f in "$dir"/*.pid; do [ -e "$f" ] && pids+=("$(cat "$f")"); done
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "${pids[@]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  rm -f "$dir"/*.pid "$dir"/*.port "$dir"/stages.env
}

case $action in
start)
  command -v grove-stage >/dev/null || { echo "stages.bash: grove-stage is not in PATH (make build)" >&2; exit 1; }
  mkdir -p "$dir"
  stop
  # STORE=s3://BUCKET/...: every stage also takes by-reference requests on that bucket (endpoint
  # and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
  store_bucket=""
  if [[ -n ${STORE:-} ]]; then
    [[ $STORE =~ ^s3://([a-z0-9.-]+) ]] || { echo "stages.bash: STORE '$STORE' is not s3://BUCKET/PREFIX" >&2; exit 64; }
    store_bucket=${BASH_REMATCH[1]}
  fi
  names=()
  while IFS=$'\t' read -r name template; do
    [[ -z $name || $name == \#* ]] && continue
    template=${template//\$TREE_FLAGS/${TREE_FLAGS:-}}
    read -ra words <<< "$template"
    grove-stage --name "$name" --port 0 --port-file "$dir/$name.port" \
      --max-processes "${STAGE_MAX_PROCESSES:-2}" --max-queue "${STAGE_MAX_QUEUE:-64}" \
      ${store_bucket:+--s3-bucket "$store_bucket"} ${STAGE_FLAGS:-} -- "${words[@]}" 2>>"$dir/$name.log" &
    echo $! > "$dir/$name.pid"
    names+=("$name")
  done < "$table"
  # Ready when every server has written its port (bounded: 10 s).
  for _ in $(seq 200); do
    missing=0
    for n in "${names[@]}"; do [ -s "$dir/$n.port" ] || missing=1; done
    [ $missing = 0 ] && break
    sleep 0.05
  done
  : > "$dir/stages.env.tmp"
  for n in "${names[@]}"; do
    [ -s "$dir/$n.port" ] || { echo "stages.bash: stage $n did not start; see $dir/$n.log" >&2; tail -3 "$dir/$n.log" >&2; stop; exit 1; }
    echo "STAGE_URL_${n//-/_}=http://127.0.0.1:$(cat "$dir/$n.port")" >> "$dir/stages.env.tmp"
  done
  mv "$dir/stages.env.tmp" "$dir/stages.env"
  echo "stages: ${#names[@]} grove-stage servers on 127.0.0.1 ($dir/stages.env)" >&2
  ;;
stop) stop ;;
*) echo "usage: stages.bash start|stop DIR" >&2; exit 64 ;;
esac
