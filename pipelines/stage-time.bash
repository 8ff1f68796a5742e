# Sourced by every recipe's bash (BASH_ENV). `stage NAME COMMAND...` runs one DAG task: it hands
# COMMAND to the runner named by $RUNNER (pipelines/runners/$RUNNER.bash; local when unset) and
# appends one record per task to $STAGE_TIMES, so the DAG can report per-stage wall times
# however make schedules it:
#   STAGE <TAB> start <TAB> end <TAB> exit status <TAB> where (host, or what the runner names) <TAB> command
# (epoch seconds; failed tasks are recorded too, with their status). A function and
# $EPOCHREALTIME: no extra processes per task.
#
# The rules in ml-training.mk say what a task computes; the runner says where it runs. A runner
# file defines `run_task NAME COMMAND...` and may define shell functions named after the Grove
# tools (`rf-tree() { ...; }`), which then stand for the tools in every recipe, nested `bash -c`
# pipelines included (BASH_ENV is sourced by those too). Recipes set STAGE_OUTPUTS (the rule's
# targets) and STAGE_INPUTS (its prerequisites) for runners that must know them.
source "${GROVE_PIPELINES:-$(dirname "${BASH_SOURCE[0]}")}/runners/${RUNNER:-local}.bash" || {
  echo "stage: no runner '${RUNNER:-local}' (pipelines/runners/${RUNNER:-local}.bash)" >&2
  exit 64
}

# Fault tolerance (issue 10), for every runner since it wraps run_task:
#  - RETRIES=N (default 0): a failed attempt (any status but 64, a usage error, which no retry
#    mends) is run again, up to N more times, after RETRY_DELAY seconds (default 0.5), doubling.
#    Every attempt gets its own record, so failed attempts stay visible.
#    A failed attempt's outputs are removed.
#  - STAGE_LOSABLE=1 (the DAG sets it on tree tasks when MIN_TREES is set): when the retries are
#    spent, one line "NAME <TAB> outputs <TAB> status <TAB>
#    attempts" is appended to $STAGE_LOST, and stage returns 0 so the DAG goes on without it.
#  - Fault injector, for tests: an injected attempt starts the command and kill -9s it (and its
#    children) after FAIL_AFTER seconds (default 0.05). FAIL_TASKS=rf:3,rf:trees-5 injects the
#    named tasks (NAME:ID, ID the base name of the task's first output or the number in it) for
#    their first FAIL_ATTEMPTS attempts (default: all); FAIL_RATE=0.3 FAIL_SEED=1 injects each
#    attempt of a FAIL_STAGES task (default rf) with that probability, from a hash of the seed,
#    the task and the attempt (reproducible).
stage() {
  local name=$1 start status=0 attempt=0 delay=${RETRY_DELAY:-0.5}
  shift
  while :; do
    start=$EPOCHREALTIME status=0
    if _stage_injected "$name" "$attempt"; then
      run_task "$name" "$@" &
      local pid=$!
      sleep "${FAIL_AFTER:-0.05}"
      _stage_kill_tree "$pid"
      wait "$pid" || status=$?
      [ "$status" != 0 ] || status=137  # it ended before the kill: still counts as killed
      echo "stage: $name ${STAGE_OUTPUTS%% *}: fault injector killed attempt $((attempt + 1))" >&2
    else
      run_task "$name" "$@" || status=$?
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$start" "$EPOCHREALTIME" "$status" \
      "${STAGE_WHERE:-${HOSTNAME:-local}}" "$*" >> "${STAGE_TIMES:-/dev/null}"
    attempt=$((attempt + 1))
    # A failed attempt leaves no outputs (as make's .DELETE_ON_ERROR, for runners make does not
    # watch: RUNNER=slurm), so a retry or a rerun redoes the task.
    # shellcheck disable=SC2086  # STAGE_OUTPUTS is make's space-separated target list
    [ "$status" = 0 ] || rm -f ${STAGE_OUTPUTS:-}
    [ "$status" != 0 ] && [ "$status" != 64 ] && [ "$attempt" -le "${RETRIES:-0}" ] || break
    echo "stage: $name ${STAGE_OUTPUTS%% *}: exit $status, retry $attempt of ${RETRIES} in ${delay} s" >&2
    sleep "$delay"
    delay=$(awk -v d="$delay" 'BEGIN { print d * 2 }')
  done
  if [ "$status" != 0 ] && [ -n "${STAGE_LOSABLE:-}" ]; then
    printf '%s\t%s\t%s\t%s\n' "$name" "${STAGE_OUTPUTS:-}" "$status" "$attempt" >> "${STAGE_LOST:-/dev/null}"
    echo "stage: $name ${STAGE_OUTPUTS%% *}: lost after $attempt attempts (exit $status); the DAG goes on without it" >&2
    return 0
  fi
  return "$status"
}

# Does the fault injector kill attempt $2 (from 0) of task $1? (No processes unless FAIL_* set.)
_stage_injected() {
  [ -n "${FAIL_TASKS:-}${FAIL_RATE:-}" ] || return 1
  local out=${STAGE_OUTPUTS%% *}
  out=${out##*/}
  local id=${out%.*}
  if [ -n "${FAIL_TASKS:-}" ] && [ "$2" -lt "${FAIL_ATTEMPTS:-1000000}" ]; then
    case ",$FAIL_TASKS," in *",$1:$id,"* | *",$1:${id//[!0-9]/},"*) return 0 ;; esac
  fi
  if [ -n "${FAIL_RATE:-}" ] && [[ ",${FAIL_STAGES:-rf}," == *",$1,"* ]]; then
    local h
    h=$(printf '%s' "${FAIL_SEED:-1}:$1:$id:$2" | cksum)
    awk -v h="${h%% *}" -v r="$FAIL_RATE" 'BEGIN { exit !(h % 10000 < r * 10000) }' && return 0
  fi
  return 1
}

# kill -9 process $1 and its descendants (by PID, stopped first so none escapes).
_stage_kill_tree() {
  local child
  kill -STOP "$1" 2>/dev/null || return 0
  for child in $(pgrep -P "$1"); do _stage_kill_tree "$child"; done
  kill -KILL "$1" 2>/dev/null || true
}
