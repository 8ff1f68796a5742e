# The measuring runner (benchmarks, issue 10): runs a task here as the local runner does, under
# GNU time, appending "stage <TAB> peak RSS KiB <TAB> wall s <TAB> user s <TAB> sys s <TAB> first
# output" to $STAGE_RSS (default: standard error).
run_task() {
  local name=$1
  shift
  /usr/bin/time -a -o "${STAGE_RSS:-/dev/stderr}" -f "$name	%M	%e	%U	%S	${STAGE_OUTPUTS%% *}" "$@"
}
