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

# stage_pick ARGV...: sets REPLY to the stage name for a call.
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
    ((found)) && { REPLY=${_stage_names[k]}; return 0; }
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

# stage_request TOOL ARGS...: one tool call as a request; outputs land where the call names them.
stage_request() {
  local argv=("$@") name url
  stage_pick "${argv[@]}" || return 64
  name=$REPLY
  stage_url "$name" || return 64
  url=$REPLY
  local inputs=() i
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
  local attempt=0 code delay_ms=200 rc
  while :; do
    rc=0
    code=$(curl -sS -X POST --request-target / "${body[@]}" -H "Content-Type: $type" -H 'Expect:' \
      -H "Grove-Argv: $header" --max-time "${STAGE_TIMEOUT:-600}" -D "$work/headers" -o "$work/response" \
      -w '%{http_code}' "$url/" 2>"$work/curl.err") || rc=$?
    if [[ $rc == 0 && $code == 2?? ]]; then break; fi
    # 415: this stage's command line takes files a stream cannot carry (a second output, say).
    if [[ $rc == 0 && $code == 415 && $type != application/x-tar ]] && ((${#inputs[@]} > 0)); then
      stage_tar_body; continue
    fi
    if [[ $rc == 0 && $code == 4?? ]]; then
      echo "stage $name ($url) answered $code: $(head -c 4000 "$work/response")" >&2
      rm -rf "$work"; return 1
    fi
    if ((attempt >= ${STAGE_RETRIES:-4})); then
      echo "stage $name ($url): giving up after $((attempt + 1)) attempts: ${code/000/no response} $(head -c 2000 "$work/response" 2>/dev/null) $(cat "$work/curl.err")" >&2
      rm -rf "$work"; return 1
    fi
    echo "stage $name ($url): ${code/000/connection error} (attempt $((attempt + 1))), retrying in ${delay_ms} ms" >&2
    sleep "$((delay_ms / 1000)).$(printf %03d $((delay_ms % 1000)))"; delay_ms=$((delay_ms * 2)); attempt=$((attempt + 1))
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

for _tool in mnist-decode zmat pca-fit pca-project rf-tree rf-merge rf-predict rf-eval; do
  eval "$_tool() { stage_request $_tool \"\$@\"; }"
done
unset _tool
