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

stage() {
  local name=$1 start=$EPOCHREALTIME status=0
  shift
  run_task "$name" "$@" || status=$?
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$start" "$EPOCHREALTIME" "$status" \
    "${STAGE_WHERE:-${HOSTNAME:-local}}" "$*" >> "${STAGE_TIMES:-/dev/null}"
  return "$status"
}
