# RUNNER=http: every Grove tool a recipe calls becomes a request to a grove-stage serving it,
# the rest of the recipe (bash, mv, grep) runs here, as the driver. The stage for a call is the
# first line of pipelines/serverless/stages.tsv for that tool whose literal words all appear in
# the call and whose length fits; its URL is STAGE_URL_<name> (dashes as underscores), else
# STAGE_URL_PATTERN with {name} replaced (e.g. http://{name}.grove.example.com), else
# $STAGES_DIR/stages.env as `make stages` writes it.
#
# A call's inputs are its arguments that name this task's prerequisites (STAGE_INPUTS) or a
# folder holding them. One input file, or none (the call reads standard input), is streamed
# as the body; several go as a tar (entry N for argument N). The response is the output
# (Grove-Output: N names the argument it replaces, or stdout) or a tar of outputs. A 5xx or a
# connection error is retried (STAGE_RETRIES times, backoff from 0.2 s); a 4xx, 422 for bad
# data, fails the task with the stage's message.
#
# STORE=s3://BUCKET/PREFIX: by reference, the original's shape. Every call whose inputs are files
# becomes a JSON request naming objects (docs/STAGE.md); a local path P is the object
# PREFIX/P (relative to the run's folder; an absolute path outside it is PREFIX/abs/P). Inputs
# not yet in the store (the dataset, once) are uploaded, a folder as one tar object; the stages
# (started with --s3-bucket BUCKET) fetch the inputs, run the tool and upload its outputs, and
# the driver downloads each output the stage wrote to its path here, because make decides what
# to run from local files and the recipes' own shell (grep, mv, grove-report) reads them. What
# is already in the store is remembered per endpoint in $STAGES_DIR/store/ (a marker newer
# than the file). Calls that read standard input still go by value. The driver's own
# transfers use curl --aws-sigv4 (a few ms each, where the aws CLI takes ~0.5 s to start);
# endpoint and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_SESSION_TOKEN, AWS_REGION.
run_task() {
  shift
  "$@"
}

_stage_table=${STAGES_TABLE:-$GROVE_PIPELINES/serverless/stages.tsv}
# URLs already in the environment win over the file's.
if [[ -z ${STAGE_URL_PATTERN:-} && -f ${STAGES_DIR:-.stages}/stages.env ]]; then
  while IFS='=' read -r _var _val; do
    [[ -z ${!_var:-} ]] && printf -v "$_var" '%s' "$_val"
  done < "${STAGES_DIR:-.stages}/stages.env"
  unset _var _val
fi

# The table, read once per shell: names and templates (with TREE_FLAGS) side by side.
_stage_names=() _stage_templates=()
while IFS=$'\t' read -r _n _t; do
  [[ -z $_n || $_n == \#* ]] && continue
  _stage_names+=("$_n"); _stage_templates+=("${_t//\$TREE_FLAGS/${TREE_FLAGS:-}}")
done < "$_stage_table"
unset _n _t

# stage_pick ARGV...: sets REPLY to the stage name for a call (and _stage_k to its line).
stage_pick() {
  local k words w a hit found n=$# all=" ${*:2} "
  for k in "${!_stage_names[@]}"; do
    read -ra words <<< "${_stage_templates[k]}"
    [[ ${words[0]} == "$1" ]] || continue
    if [[ " ${words[*]} " == *" {inputs} "* ]]; then ((n >= ${#words[@]})) || continue
    else ((n == ${#words[@]})) || continue; fi
    found=1
    for w in "${words[@]:1}"; do
      [[ $w == \{*\} ]] && continue
      [[ $all == *" $w "* ]] || { found=0; break; }
    done
    ((found)) && { REPLY=${_stage_names[k]}; _stage_k=$k; return 0; }
  done
  echo "http runner: no stage in $_stage_table serves: $*" >&2
  return 64
}

# stage_url NAME: sets REPLY to the stage's URL.
stage_url() {
  local var="STAGE_URL_${1//-/_}"
  if [[ -n ${!var:-} ]]; then REPLY=${!var}
  elif [[ -n ${STAGE_URL_PATTERN:-} ]]; then REPLY=${STAGE_URL_PATTERN//\{name\}/$1}
  else echo "http runner: no URL for stage $1: set $var or STAGE_URL_PATTERN, or run 'make stages'" >&2; return 64; fi
}

# Sets REPLY to the arguments percent-encoded, space-separated (the Grove-Argv header).
stage_argv_header() {
  local LC_ALL=C out="" a i c enc
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9._/,{}-]+$ ]]; then enc=$a
    else
      enc=""
      for ((i = 0; i < ${#a}; i++)); do
        c=${a:i:1}
        case $c in [A-Za-z0-9._/,{}-]) enc+=$c ;; *) printf -v c '%%%02X' "'$c"; enc+=$c ;; esac
      done
    fi
    out+="${out:+ }$enc"
  done
  REPLY=$out
}

stage_is_input() {
  local tok=$1 p
  [[ -e $tok ]] || return 1
  for p in ${STAGE_INPUTS:-}; do
    [[ $p == "$tok" || $p == "$tok"/* ]] && return 0
  done
  return 1
}

# stage_send NAME URL WORK CURL-ARGS...: POSTs until a 2xx (the response in WORK/response, its
# headers in WORK/headers), retrying 5xx answers and connection errors with backoff. Returns 1
# on a 4xx (the stage's message on stderr) or when the retries are spent, 2 on a 415.
stage_send() {
  local name=$1 url=$2 work=$3 attempt=0 code delay_ms=200 rc
  shift 3
  while :; do
    rc=0
    code=$(curl -sS -X POST --request-target / "$@" -H 'Expect:' \
      --max-time "${STAGE_TIMEOUT:-600}" -D "$work/headers" -o "$work/response" \
      -w '%{http_code}' "$url/" 2>"$work/curl.err") || rc=$?
    if [[ $rc == 0 && $code == 2?? ]]; then return 0; fi
    [[ $rc == 0 && $code == 415 ]] && return 2
    if [[ $rc == 0 && $code == 4?? ]]; then
      echo "stage $name ($url) answered $code: $(head -c 4000 "$work/response")" >&2
      return 1
    fi
    if ((attempt >= ${STAGE_RETRIES:-4})); then
      echo "stage $name ($url): giving up after $((attempt + 1)) attempts: ${code/000/no response} $(head -c 2000 "$work/response" 2>/dev/null) $(cat "$work/curl.err")" >&2
      return 1
    fi
    echo "stage $name ($url): ${code/000/connection error} (attempt $((attempt + 1))), retrying in ${delay_ms} ms" >&2
    sleep "$((delay_ms / 1000)).$(printf %03d $((delay_ms % 1000)))"; delay_ms=$((delay_ms * 2)); attempt=$((attempt + 1))
  done
}

# stage_request TOOL ARGS...: one tool call as a request; outputs land where the call names them.
stage_request() {
  local argv=("$@") name url
  stage_pick "${argv[@]}" || return 64
  name=$REPLY
  stage_url "$name" || return 64
  url=$REPLY
  if [[ -n ${STORE:-} ]]; then
    stage_by_reference "$name" "$url" "${argv[@]}" && return 0
    ((_stage_ref_rc == 3)) || return "$_stage_ref_rc"
  fi
  local inputs=() i rc
  for ((i = 1; i < ${#argv[@]}; i++)); do stage_is_input "${argv[i]}" && inputs+=("$i"); done
  local work=${TMPDIR:-/tmp}/grove-http.$BASHPID.$RANDOM$RANDOM
  mkdir -m 700 "$work" || return 1
  local body=() type=application/x-zmat tar=0
  # A pattern output ({i}) or several inputs need a tar; one input file or standard input streams.
  [[ " ${argv[*]} " == *"{i}"* ]] && tar=1
  if ((${#inputs[@]} == 0)); then
    cat > "$work/body"; body=(-T "$work/body")
  elif ((${#inputs[@]} == 1 && !tar)) && [[ -f ${argv[inputs[0]]} ]]; then
    body=(-T "${argv[inputs[0]]}")
  else
    tar=1
  fi
  stage_tar_body() {
    mkdir -p "$work/in"
    for i in "${inputs[@]}"; do
      local abs=${argv[i]}; [[ $abs == /* ]] || abs=$PWD/$abs
      ln -sfn "$abs" "$work/in/$i"
    done
    (cd "$work/in" && tar -chf "$work/body.tar" --owner=0 --group=0 "${inputs[@]}")
    body=(-T "$work/body.tar"); type=application/x-tar
  }
  ((tar)) && stage_tar_body
  stage_argv_header "${argv[@]}"
  local header=$REPLY
  while :; do
    rc=0
    stage_send "$name" "$url" "$work" "${body[@]}" -H "Content-Type: $type" -H "Grove-Argv: $header" || rc=$?
    ((rc == 0)) && break
    # 415: this stage's command line takes files a stream cannot carry (a second output, say).
    if ((rc == 2)) && [[ $type != application/x-tar ]] && ((${#inputs[@]} > 0)); then
      stage_tar_body; continue
    fi
    rm -rf "$work"; return 1
  done
  local output="" line
  while IFS= read -r line; do
    line=${line%$'\r'}
    [[ ${line,,} == grove-output:* ]] && { output=${line#*:}; output=${output# }; }
  done < "$work/headers"
  stage_place() {  # stage_place FILE ARG-INDEX [i]: atomically to the argument's path
    local dest=${argv[$2]} dir base
    [[ -n ${3:-} ]] && dest=${dest//\{i\}/$3}
    [[ $dest == */* ]] && dir=${dest%/*} || dir=.
    base=${dest##*/}
    mv "$1" "$dir/.$base.http.$$" && mv "$dir/.$base.http.$$" "$dest"
  }
  case $output in
  stdout) cat "$work/response" ;;
  tar)
    mkdir "$work/out" && tar -xf "$work/response" -C "$work/out"
    [[ -f $work/out/stdout ]] && cat "$work/out/stdout"
    local e j
    for e in "$work"/out/*; do
      e=${e##*/}
      [[ $e == stdout ]] && continue
      if [[ -d $work/out/$e ]]; then
        for j in "$work/out/$e"/*; do stage_place "$j" "$e" "${j##*/}"; done
      else
        stage_place "$work/out/$e" "$e"
      fi
    done ;;
  [0-9]*) stage_place "$work/response" "$output" ;;
  *) echo "stage $name ($url): response without a Grove-Output header" >&2; rm -rf "$work"; return 1 ;;
  esac
  rm -rf "$work"
}

# --- by reference (STORE=s3://BUCKET/PREFIX) ---------------------------------------------------

if [[ -n ${STORE:-} ]]; then
  [[ $STORE =~ ^s3://([a-z0-9.-]+)(/(.*))?$ ]] || { echo "http runner: STORE '$STORE' is not s3://BUCKET/PREFIX" >&2; return 64; }
  _store_bucket=${BASH_REMATCH[1]} _store_prefix=${BASH_REMATCH[3]%/}
  _store_endpoint=${AWS_ENDPOINT_URL_S3:-${AWS_ENDPOINT_URL:-}}
  if [[ -z $_store_endpoint || -z ${AWS_ACCESS_KEY_ID:-} || -z ${AWS_SECRET_ACCESS_KEY:-} ]]; then
    echo "http runner: STORE=$STORE needs AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" >&2; return 64
  fi
  _store_marks=${STAGES_DIR:-.stages}/store/${_store_endpoint//[^A-Za-z0-9.-]/_}/$_store_bucket
fi

# store_curl URL CURL-ARGS...: one signed request to the store (the secret goes through a
# config on a pipe, never on a command line).
store_curl() {
  local u=$1; shift
  curl -sS --fail-with-body --max-time "${STAGE_TIMEOUT:-600}" --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" \
    -K <(printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY") \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' ${AWS_SESSION_TOKEN:+-H "x-amz-security-token: $AWS_SESSION_TOKEN"} \
    "$@" "$_store_endpoint/$_store_bucket/$u"
}

# store_key PATH: sets REPLY to the path's object key.
store_key() {
  local p=$1
  [[ $p == "$PWD"/* ]] && p=${p#"$PWD"/}
  [[ $p == /* ]] && p=abs$p
  while [[ $p == ./* ]]; do p=${p#./}; done
  REPLY=${_store_prefix:+$_store_prefix/}$p
}

# store_put PATH WORK: puts a file (or a folder, as KEY.tar) in the store unless its marker is
# newer than it; sets REPLY to the JSON naming it in a request's inputs.
store_put() {
  local p=$1 work=$2 key mark
  store_key "$p"; key=$REPLY
  if [[ -d $p ]]; then
    key+=.tar mark=$_store_marks/$key
    if [[ ! -f $mark || -n $(find "$p" -newer "$mark" -print -quit) ]]; then
      tar -cf "$work/folder.tar" -C "$p" --sort=name --owner=0 --group=0 --numeric-owner . &&
        store_curl "$key" -o /dev/null -T "$work/folder.tar" || { echo "http runner: uploading $p to the store failed" >&2; return 1; }
      rm -f "$work/folder.tar"; mkdir -p "${mark%/*}"; : > "$mark"
    fi
    json_string "$key"; REPLY="{\"tar\": $REPLY}"
  else
    mark=$_store_marks/$key
    if [[ ! -f $mark || $p -nt $mark ]]; then
      store_curl "$key" -o /dev/null -T "$p" || { echo "http runner: uploading $p to the store failed" >&2; return 1; }
      mkdir -p "${mark%/*}"; : > "$mark"
    fi
    json_string "$key"
  fi
}

# store_get KEY PATH: downloads an object to PATH (atomically), and marks it as in the store.
store_get() {
  local dir base
  [[ $2 == */* ]] && dir=${2%/*} || dir=.
  base=${2##*/}
  store_curl "$1" -o "$dir/.$base.s3.$$" || { rm -f "$dir/.$base.s3.$$"; echo "http runner: downloading $1 failed" >&2; return 1; }
  mv "$dir/.$base.s3.$$" "$2"
  mkdir -p "$_store_marks/${1%/*}"; : > "$_store_marks/$1"
}

json_string() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  REPLY="\"$s\""
}

# stage_by_reference NAME URL ARGV...: the call as a by-reference request. Sets _stage_ref_rc:
# 3 when the call cannot go by reference (it reads standard input), else its status.
stage_by_reference() {
  local name=$1 url=$2; shift 2
  local argv=("$@") words kinds=() i j n s t
  read -ra words <<< "${_stage_templates[_stage_k]}"
  # The slot of every argument, as the stage matches them: one to one up to {inputs}, which
  # takes what the tokens after it leave.
  n=$((${#argv[@]} - 1)) t=$((${#words[@]} - 1)) s=-1
  for ((j = 1; j <= t; j++)); do [[ ${words[j]} == '{inputs}' ]] && s=$j; done
  for ((i = 1; i <= n; i++)); do
    if ((s < 0 || i < s)); then j=$i
    elif ((i <= n - (t - s))); then j=$s
    else j=$((i - n + t)); fi
    kinds[i]=${words[j]}
  done
  _stage_ref_rc=3
  for ((i = 1; i <= n; i++)); do
    [[ ${kinds[i]} == '{input}' || ${kinds[i]} == '{inputs}' ]] && [[ ! -e ${argv[i]} ]] && return 1
  done
  [[ " ${kinds[*]} " == *" {input"* ]] || return 1
  _stage_ref_rc=1
  local work=${TMPDIR:-/tmp}/grove-http.$BASHPID.$RANDOM$RANDOM
  mkdir -m 700 "$work" || return 1
  local ins="" outs="" av="" key
  for ((i = 0; i <= n; i++)); do json_string "${argv[i]}"; av+="${av:+, }$REPLY"; done
  for ((i = 1; i <= n; i++)); do
    case ${kinds[i]} in
    '{input}' | '{inputs}')
      store_put "${argv[i]}" "$work" || { rm -rf "$work"; return 1; }
      key=$REPLY; json_string "${argv[i]}"; ins+="${ins:+, }$REPLY: $key" ;;
    '{output}' | '{pattern}')
      store_key "${argv[i]}"; json_string "$REPLY"; key=$REPLY
      json_string "${argv[i]}"; outs+="${outs:+, }$REPLY: $key" ;;
    esac
  done
  store_key ".stdout/$BASHPID.$RANDOM$RANDOM"; local out_key=$REPLY
  json_string "$out_key"
  printf '{"argv": [%s], "inputs": {%s}, "outputs": {%s}, "stdout": %s}\n' "$av" "$ins" "$outs" "$REPLY" > "$work/request.json"
  stage_send "$name" "$url" "$work" -H 'Content-Type: application/json' --data-binary @"$work/request.json" ||
    { rm -rf "$work"; return 1; }
  # One written object per line: "argument": "N" (or "stdout"), "key": "...", "size": N.
  local line re='"argument": "([^"]*)", "key": "([^"]*)", "size": ([0-9]+)' arg dest pre post
  while IFS= read -r line; do
    [[ $line =~ $re ]] || continue
    arg=${BASH_REMATCH[1]} key=${BASH_REMATCH[2]}
    if [[ $arg == stdout ]]; then
      ((BASH_REMATCH[3] > 0)) && { store_curl "$key" || { rm -rf "$work"; return 1; }; }
      continue
    fi
    dest=${argv[arg]}
    if [[ $dest == *'{i}'* ]]; then  # a pattern's file: the number the stage put for {i}
      store_key "$dest"; pre=${REPLY%%'{i}'*} post=${REPLY#*'{i}'}
      j=${key#"$pre"}; j=${j%"$post"}
      dest=${dest//'{i}'/$j}
    fi
    store_get "$key" "$dest" || { rm -rf "$work"; return 1; }
  done < "$work/response"
  rm -rf "$work"
  _stage_ref_rc=0
}

# Every tool the stages serve stands for a request to its stage.
for _tool in $(for _t in "${_stage_templates[@]}"; do echo "${_t%% *}"; done | sort -u); do
  eval "$_tool() { stage_request $_tool \"\$@\"; }"
done
unset _tool _t
