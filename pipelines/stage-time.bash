# Sourced by every recipe's bash (BASH_ENV): `stage NAME COMMAND...` runs COMMAND and appends
# "NAME<TAB>start<TAB>end" (epoch seconds) to $STAGE_TIMES, so the DAG can report per-stage wall
# times however make schedules it. A function and $EPOCHREALTIME: no extra processes per task.
stage() {
  local name=$1 start=$EPOCHREALTIME
  shift
  "$@" || return
  printf '%s\t%s\t%s\n' "$name" "$start" "$EPOCHREALTIME" >> "${STAGE_TIMES:-/dev/null}"
}
